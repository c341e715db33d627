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

import html as _html
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tracker.catalog._loader import Tool

__all__ = [
    "JOB_TERMS_KEYS",
    "TECH_WORDS",
    "JobMatcher",
    "JobTerms",
    "JobTermsError",
    "html_to_text",
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
                norm = _norm(phrase) if key in ("cased", "weak_cased") else _norm(phrase).lower()
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
        lowered = [_norm(n).lower() for n in self.names]
        for i, phrase in enumerate(self.forbid):
            low = _norm(phrase).lower()
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


def _norm(text: str) -> str:
    return _SPACES.sub(" ", text.strip())


def _contains_word(haystack: str, needle: str) -> bool:
    return re.search(r"(?<!\w)" + re.escape(needle) + r"(?!\w)", haystack) is not None


# --------------------------------------------------------------------------------- HTML to text

_BLOCK_TAG = re.compile(r"<\s*/?\s*(?:p|br|div|li|ul|ol|pre|h[1-6]|tr|blockquote)\b[^>]*>", re.I)
_ANY_TAG = re.compile(r"<[^>]*>")
_URL = re.compile(r"(?:\b(?:https?|ftp)://|\bwww\.)\S+", re.I)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def html_to_text(html: str) -> str:
    """Return the visible text of a job post as HN sends it (``<p>``, entities, links).

    Block tags become line breaks; other tags vanish with their attributes (so an ``href``
    never reaches the matcher); entities are decoded; URLs and e-mail addresses are removed.
    """
    text = _BLOCK_TAG.sub("\n", html)
    text = _ANY_TAG.sub("", text)
    text = _html.unescape(text)
    text = _URL.sub(" ", text)
    return _EMAIL.sub(" ", text)


# ------------------------------------------------------------------------------------- matching

_TERM, _WEAK, _CONTEXT, _VETO, _FORBID, _TECH = range(6)
_NAMING = (_TERM, _WEAK, _FORBID)

# A term starts where no word character, '@', or "word-"/"word." precedes it, and ends where no
# word character, '@' or ".x" follows it.
_LEFT = r"(?<![\w@])(?<!\w[.\-])"
_RIGHT = r"(?![\w@])(?!\.\w)"


@dataclass(frozen=True, slots=True)
class _Entry:
    tool: str | None  # None: a shared TECH_WORDS entry
    kind: int
    exact: str | None  # the required spelling (whitespace-normalised) for cased kinds


def _trie_regex(keys: Iterable[str]) -> str:
    """Return a regex alternation of ``keys`` (lowercase) as a character trie.

    Longer continuations come before the end of a key, so the longest key matching at a
    position wins (backtracking still finds a shorter key when the boundary check fails).
    """
    root: dict[str, dict[str, object]] = {}
    end = ""  # marker key
    for key in keys:
        node: dict[str, object] = root  # type: ignore[assignment]
        for ch in key:
            node = node.setdefault(ch, {})  # type: ignore[assignment]
        node[end] = {}

    def emit(node: dict[str, object]) -> str:
        branches = []
        for ch in sorted(k for k in node if k != end):
            piece = r"\s+" if ch == " " else re.escape(ch)
            branches.append(piece + emit(node[ch]))  # type: ignore[arg-type]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if end in node:
            return "(?:" + body + ")?"
        return body

    return emit(root)  # type: ignore[arg-type]


def _compile(table: Mapping[str, object]) -> re.Pattern[str] | None:
    if not table:
        return None
    pattern = _LEFT + "(?:" + _trie_regex(sorted(table)) + ")" + _RIGHT
    return re.compile(pattern, re.IGNORECASE)


class JobMatcher:
    """Matches job posts against the ``job_terms`` of a set of tools."""

    __slots__ = ("_inner", "_names_regex", "_regex", "_rules", "_table")

    def __init__(self, rules: Mapping[str, JobTerms]):
        self._rules: dict[str, JobTerms] = dict(rules)
        table: dict[str, list[_Entry]] = {}

        def add(phrase: str, entry: _Entry) -> None:
            table.setdefault(_norm(phrase).lower(), []).append(entry)

        for tool_id, jt in self._rules.items():
            for p in jt.terms:
                add(p, _Entry(tool_id, _TERM, None))
            for p in jt.cased:
                add(p, _Entry(tool_id, _TERM, _norm(p)))
            for p in jt.weak:
                add(p, _Entry(tool_id, _WEAK, None))
            for p in jt.weak_cased:
                add(p, _Entry(tool_id, _WEAK, _norm(p)))
            for p in jt.context:
                add(p, _Entry(tool_id, _CONTEXT, None))
            for p in jt.veto:
                add(p, _Entry(tool_id, _VETO, None))
            for p in jt.forbid:
                add(p, _Entry(tool_id, _FORBID, None))
        if any(jt.tech_context for jt in self._rules.values()):
            for p in TECH_WORDS:
                add(p, _Entry(None, _TECH, None))
        self._table = table
        self._regex = _compile(table)
        # A context, veto or tech phrase that contains a term ("dbt tests" holds dbt) would hide
        # the term by owning the span: such spans are scanned again for terms alone.
        naming = {k: v for k, v in table.items() if any(e.kind in _NAMING for e in v)}
        self._names_regex = _compile(naming)
        self._inner: frozenset[str] = frozenset(
            key
            for key, entries in table.items()
            if key not in naming
            and self._names_regex is not None
            and self._names_regex.search(key) is not None
        )

    @classmethod
    def from_tools(cls, tools: Iterable[Tool]) -> JobMatcher:
        """Return a matcher for every trackable tool that has ``job_terms``."""
        return cls({t.id: t.job_terms for t in tools if t.trackable and t.job_terms is not None})

    @property
    def tool_ids(self) -> frozenset[str]:
        """The tools this matcher can name."""
        return frozenset(self._rules)

    def match(self, html: str) -> frozenset[str]:
        """Return the ids of the tools one job post (HN comment HTML) names."""
        return self.match_text(html_to_text(html))

    def match_text(self, text: str) -> frozenset[str]:
        """Like ``match`` for text that is already plain (no tags, no entities)."""
        if self._regex is None:
            return frozenset()
        found: set[str] = set()
        named: list[tuple[int, str]] = []  # (char offset, tool) of strong names
        weak: list[tuple[int, str]] = []
        context: dict[str, list[int]] = {}
        veto: dict[str, list[int]] = {}
        tech: list[int] = []
        spans: list[tuple[int, str]] = []
        for m in self._regex.finditer(text):
            spans.append((m.start(), m.group()))
            if self._names_regex is not None and _norm(m.group()).lower() in self._inner:
                spans.extend(
                    (m.start() + sub.start(), sub.group())
                    for sub in self._names_regex.finditer(m.group())
                )
        for pos, span in spans:
            entries = self._table.get(_norm(span).lower())
            if not entries:  # pragma: no cover - every trie key is in the table
                continue
            spelled: str | None = None
            for e in entries:
                if e.exact is not None:
                    if spelled is None:
                        spelled = _norm(span)
                    if spelled != e.exact:
                        continue
                if e.kind == _TERM:
                    assert e.tool is not None
                    found.add(e.tool)
                    named.append((pos, e.tool))
                elif e.kind == _WEAK:
                    assert e.tool is not None
                    weak.append((pos, e.tool))
                elif e.kind == _CONTEXT:
                    assert e.tool is not None
                    context.setdefault(e.tool, []).append(pos)
                elif e.kind == _VETO:
                    assert e.tool is not None
                    veto.setdefault(e.tool, []).append(pos)
                elif e.kind == _TECH:
                    tech.append(pos)
                # _FORBID: the phrase only claims its span
        for positions in (*context.values(), *veto.values()):
            positions.sort()
        pending = [(pos, tool) for pos, tool in weak if tool not in found]
        if not pending:
            return frozenset(found)
        starts = [w.start() for w in _WORDS.finditer(text)]

        def word_at(pos: int) -> int:
            return bisect_right(starts, pos) - 1

        def near(positions: list[int], w: int, window: int) -> bool:
            # word indexes of ``positions`` (sorted char offsets) within ``window`` of ``w``
            lo = bisect_left(positions, starts[max(0, w - window)])
            hi_word = w + window + 1
            hi_pos = starts[hi_word] if hi_word < len(starts) else len(text) + 1
            return any(p < hi_pos for p in positions[lo : lo + 1])

        tech.sort()
        confirmed: list[tuple[int, str]] = sorted(named)
        while pending:
            still: list[tuple[int, str]] = []
            progress = False
            for pos, tool in pending:
                if tool in found:
                    continue
                jt = self._rules[tool]
                w = word_at(pos)
                if near(veto.get(tool, []), w, jt.window):
                    continue  # vetoed for good
                ok = near(context.get(tool, []), w, jt.window) or (
                    jt.tech_context and near(tech, w, jt.window)
                )
                if not ok and jt.context_tools:
                    others = [p for p, t in confirmed if t != tool]
                    ok = near(others, w, jt.window)
                if ok:
                    found.add(tool)
                    confirmed.append((pos, tool))
                    confirmed.sort()
                    progress = True
                else:
                    still.append((pos, tool))
            if not progress:
                break
            pending = still
        return frozenset(found)


_WORDS = re.compile(r"\w+")
