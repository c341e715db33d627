"""Which catalog tools a job post names: each tool's ``job_terms`` rules, one regex pass a post.

A tool's ``job_terms`` entry in the catalog (all keys optional; a plain list is short for
``terms``)::

    job_terms:
      terms: [Apache Spark, PySpark]   # name the tool wherever they appear, in any case
      cased: [dbt]                     # name the tool only in exactly this case
      weak: [Spark]                    # common words: name the tool only with context nearby
      weak_cased: [DBT]                # the same, in exactly this case
      context: [Hadoop, big data]      # words/phrases (any case) that confirm a weak term
      context_tools: true              # another tool named nearby confirms a weak term (default)
      tech_context: true               # a common tech word nearby confirms one (default; TECH_WORDS)
      veto: [therapy, therapist]       # words near a weak term that cancel it (win over context)
      forbid: [Spark Capital]          # phrases that contain a term but never name the tool
      window: 12                       # "nearby" = within this many words either side (default)

Rules, in the order they apply:

1. The post's HTML becomes text: tags are dropped (link targets and other attributes never name
   a tool; a link's visible text does), entities are decoded, and URLs and e-mail addresses in
   the text are removed too (``https://spark.apache.org`` or ``jobs@prefect.io`` name no tool).
2. One regex (a trie of every term, context word, veto word and forbidden phrase of every tool)
   scans the text once. Terms match at word boundaries: not inside a longer word ("Sparkling",
   "Helmet", "Kafkaesque"), not after ``@`` or a word joined by ``-`` or ``.`` ("X-Ray",
   ``@helm``), not before ``.x`` (``helm.sh``); a hyphen after a term is fine ("Spark-based").
   Spaces in a term match any run of whitespace.
3. At each position the **longest** phrase wins and owns its span; the scan goes on after it.
   So a forbidden phrase ("at the helm", "Franz Kafka") hides the term inside it, and a post
   saying "Docker Compose" names Docker Compose, **not Docker**: Docker is named only when
   "Docker" also appears on its own. The same goes for every tool whose own (listed) name
   contains another's: "AWS CLI", "Grafana Loki". A phrase no tool lists does not hide anything:
   "Azure Data Factory" names Azure. A context, veto or tech phrase that contains a term
   ("dbt tests") is scanned again for terms, so it never hides one.
4. ``terms`` and ``cased`` occurrences name their tool. ``weak``/``weak_cased`` occurrences name
   it only when, within ``window`` words, there is one of the tool's ``context`` phrases, a
   ``TECH_WORDS`` word (if ``tech_context``), or another tool's confirmed name (if
   ``context_tools``; confirmed weak names count too, found by repeating until nothing
   changes), and none of the tool's ``veto`` words.

A tool without ``job_terms`` is never matched. The same phrase may be a term of two tools: then
it names both.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass

__all__ = [
    "JOB_TERMS_KEYS",
    "TECH_WORDS",
    "JobTerms",
    "JobTermsError",
    "norm_phrase",
]

DEFAULT_WINDOW = 12
MAX_WINDOW = 60

# Words that, next to a weak term, show that the sentence is about software (``tech_context``).
TECH_WORDS: tuple[str, ...] = (
    "Python",
    "Java",
    "Scala",
    "Kotlin",
    "Golang",
    "Rust",
    "C++",
    "TypeScript",
    "JavaScript",
    "SQL",
    "NoSQL",
    "Postgres",
    "PostgreSQL",
    "MySQL",
    "Redis",
    "MongoDB",
    "Cassandra",
    "React",
    "Node.js",
    "NodeJS",
    "Django",
    "Flask",
    "FastAPI",
    "Rails",
    "AWS",
    "GCP",
    "Linux",
    "ETL",
    "ELT",
    "data pipeline",
    "data pipelines",
    "pipeline",
    "pipelines",
    "data engineering",
    "data engineer",
    "data engineers",
    "data platform",
    "data infrastructure",
    "big data",
    "data lake",
    "data warehouse",
    "backend",
    "back-end",
    "microservices",
    "distributed systems",
    "machine learning",
    "MLOps",
    "DevOps",
    "SRE",
    "tech stack",
    "our stack",
    "stack",
    "tooling",
    "open source",
    "open-source",
    "cluster",
    "clusters",
    "deployment",
    "deployments",
    "infrastructure",
    "cloud",
    "API",
    "APIs",
)

_LIST_KEYS = ("terms", "cased", "weak", "weak_cased", "context", "veto", "forbid")
_BOOL_KEYS = ("context_tools", "tech_context")
_INT_KEYS = ("window",)
JOB_TERMS_KEYS: tuple[str, ...] = _LIST_KEYS + _BOOL_KEYS + _INT_KEYS
MAX_TERM_LEN = 60
_HAS_WORD = re.compile(r"\w")


class JobTermsError(ValueError):
    """A ``job_terms`` entry is malformed; ``key`` is the sub-key at fault (or None)."""

    def __init__(self, reason: str, key: str | None = None, index: int | None = None):
        self.key = key
        self.index = index  # position in the key's list, when one item is at fault
        self.reason = reason
        super().__init__(reason if key is None else f"{key}: {reason}")


@dataclass(frozen=True, slots=True)
class JobTerms:
    """How job posts name one tool (parsed from its ``job_terms`` catalog entry)."""

    terms: tuple[str, ...] = ()
    cased: tuple[str, ...] = ()
    weak: tuple[str, ...] = ()
    weak_cased: tuple[str, ...] = ()
    context: tuple[str, ...] = ()
    context_tools: bool = True
    tech_context: bool = True
    veto: tuple[str, ...] = ()
    forbid: tuple[str, ...] = ()
    window: int = DEFAULT_WINDOW

    @property
    def names(self) -> tuple[str, ...]:
        """Every phrase that can name the tool (strong and weak, any case mode)."""
        return self.terms + self.cased + self.weak + self.weak_cased

    @classmethod
    def from_value(cls, value: object) -> JobTerms:
        """Build from a parsed YAML value (a mapping, or a list meaning ``terms``).

        Raises JobTermsError naming the sub-key (and list index) at fault.
        """
        if isinstance(value, list | tuple):
            value = {"terms": list(value)}
        if not isinstance(value, Mapping):
            raise JobTermsError(
                "must be a list of terms or a mapping with keys " + ", ".join(JOB_TERMS_KEYS)
            )
        fields: dict[str, object] = {}
        for key, item in value.items():
            if key not in JOB_TERMS_KEYS:
                raise JobTermsError(f"unknown key (allowed: {', '.join(JOB_TERMS_KEYS)})", key)
            if key in _LIST_KEYS:
                fields[key] = _phrases(key, item)
            elif key in _BOOL_KEYS:
                if not isinstance(item, bool):
                    raise JobTermsError("must be true or false", key)
                fields[key] = item
            else:
                if isinstance(item, bool) or not isinstance(item, int):
                    raise JobTermsError("must be a whole number of words", key)
                if not 1 <= item <= MAX_WINDOW:
                    raise JobTermsError(f"must be between 1 and {MAX_WINDOW}", key)
                fields[key] = item
        terms = cls(**fields)  # type: ignore[arg-type]
        terms.check()
        return terms

    def check(self) -> None:
        """Raise JobTermsError when the rules cannot work as written."""
        if not self.names:
            raise JobTermsError("give at least one of terms, cased, weak, weak_cased")
        seen: dict[str, str] = {}
        for key in ("terms", "cased", "weak", "weak_cased"):
            for i, phrase in enumerate(getattr(self, key)):
                norm = (
                    norm_phrase(phrase)
                    if key in ("cased", "weak_cased")
                    else norm_phrase(phrase).lower()
                )
                tag = f"{key}:{norm}"
                if tag in seen:
                    raise JobTermsError(f"{phrase!r} is given twice", key, i)
                seen[tag] = key
        if (self.weak or self.weak_cased) and not (
            self.context or self.context_tools or self.tech_context
        ):
            raise JobTermsError(
                "weak terms need context words, context_tools or tech_context", "weak"
            )
        lowered = [norm_phrase(n).lower() for n in self.names]
        for i, phrase in enumerate(self.forbid):
            low = norm_phrase(phrase).lower()
            if not any(_contains_word(low, name) for name in lowered):
                raise JobTermsError(
                    f"{phrase!r} contains none of the tool's terms (a forbidden phrase hides a "
                    "term inside it)",
                    "forbid",
                    i,
                )
            if low in lowered:
                raise JobTermsError(f"{phrase!r} is also a term of the tool", "forbid", i)


def _phrases(key: str, item: object) -> tuple[str, ...]:
    if isinstance(item, str):
        item = [item]
    if not isinstance(item, list | tuple):
        raise JobTermsError("must be a list of phrases", key)
    out: list[str] = []
    for i, phrase in enumerate(item):
        if not isinstance(phrase, str) or isinstance(phrase, bool):
            raise JobTermsError("must be a list of text phrases", key, i)
        if phrase != phrase.strip() or not phrase:
            raise JobTermsError(f"{phrase!r} must not be empty or start/end with space", key, i)
        if len(phrase) > MAX_TERM_LEN:
            raise JobTermsError(f"{phrase[:20]!r}... is longer than {MAX_TERM_LEN}", key, i)
        if not _HAS_WORD.search(phrase) or "<" in phrase or ">" in phrase:
            raise JobTermsError(f"{phrase!r} needs a letter or digit and no '<' or '>'", key, i)
        if not (_is_word(phrase[0]) or phrase[0] == ".") or not (
            _is_word(phrase[-1]) or phrase[-1] in "+#"
        ):
            raise JobTermsError(f"{phrase!r} must start and end with a letter or digit", key, i)
        out.append(phrase)
    return tuple(out)


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


_SPACES = re.compile(r"\s+")


def norm_phrase(text: str) -> str:
    """``text`` with its whitespace runs made one space and its ends stripped."""
    return _SPACES.sub(" ", text.strip())


def _contains_word(haystack: str, needle: str) -> bool:
    return re.search(r"(?<!\w)" + re.escape(needle) + r"(?!\w)", haystack) is not None
