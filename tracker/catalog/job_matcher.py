"""Matching job posts against the tools' ``job_terms``: HTML to text, one regex pass, context.

The rules are described in ``tracker.catalog.job_terms`` (the catalog key and its keys).
"""

from __future__ import annotations

import html as _html
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tracker.catalog.job_terms import TECH_WORDS, JobTerms, norm_phrase

if TYPE_CHECKING:
    from tracker.catalog._loader import Tool

__all__ = ["JobMatcher", "html_to_text"]

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
            table.setdefault(norm_phrase(phrase).lower(), []).append(entry)

        for tool_id, jt in self._rules.items():
            for p in jt.terms:
                add(p, _Entry(tool_id, _TERM, None))
            for p in jt.cased:
                add(p, _Entry(tool_id, _TERM, norm_phrase(p)))
            for p in jt.weak:
                add(p, _Entry(tool_id, _WEAK, None))
            for p in jt.weak_cased:
                add(p, _Entry(tool_id, _WEAK, norm_phrase(p)))
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
        hits = self._scan(text)
        pending = [(pos, tool) for pos, tool in hits.weak if tool not in hits.found]
        if pending:
            self._confirm_weak(_Words(text), hits, pending)
        return frozenset(hits.found)

    def _spans(self, text: str) -> list[tuple[int, str]]:
        """(offset, phrase) of every phrase the regex finds, plus the terms inside context, veto
        or tech phrases that contain one (rule 3)."""
        assert self._regex is not None
        spans: list[tuple[int, str]] = []
        for m in self._regex.finditer(text):
            spans.append((m.start(), m.group()))
            if self._names_regex is not None and norm_phrase(m.group()).lower() in self._inner:
                spans.extend(
                    (m.start() + sub.start(), sub.group())
                    for sub in self._names_regex.finditer(m.group())
                )
        return spans

    def _scan(self, text: str) -> _Hits:
        """Sort every phrase found by kind: strong names, weak names, context, veto, tech."""
        hits = _Hits()
        for pos, span in self._spans(text):
            spelled = norm_phrase(span)
            entries = self._table.get(spelled.lower())
            if not entries:  # pragma: no cover - every trie key is in the table
                continue
            for e in entries:
                if e.exact is None or spelled == e.exact:
                    hits.add(e, pos)
        for positions in (*hits.context.values(), *hits.veto.values()):
            positions.sort()
        hits.tech.sort()
        return hits

    def _confirm_weak(self, words: _Words, hits: _Hits, pending: list[tuple[int, str]]) -> None:
        """Confirm weak names by context (rule 4), repeating while a confirmed name confirms
        another; confirmed tools are added to ``hits.found``."""
        confirmed: list[tuple[int, str]] = sorted(hits.named)
        while pending:
            still: list[tuple[int, str]] = []
            progress = False
            for pos, tool in pending:
                if tool in hits.found:
                    continue
                jt = self._rules[tool]
                w = words.index_at(pos)
                if words.near(hits.veto.get(tool, []), w, jt.window):
                    continue  # vetoed for good
                ok = words.near(hits.context.get(tool, []), w, jt.window) or (
                    jt.tech_context and words.near(hits.tech, w, jt.window)
                )
                if not ok and jt.context_tools:
                    ok = words.near([p for p, t in confirmed if t != tool], w, jt.window)
                if ok:
                    hits.found.add(tool)
                    confirmed.append((pos, tool))
                    confirmed.sort()
                    progress = True
                else:
                    still.append((pos, tool))
            if not progress:
                break
            pending = still


@dataclass(slots=True)
class _Hits:
    """The phrases one post holds, by kind, as character offsets."""

    found: set[str] = field(default_factory=set)  # tools named (strong, then confirmed weak)
    named: list[tuple[int, str]] = field(default_factory=list)  # strong names
    weak: list[tuple[int, str]] = field(default_factory=list)
    context: dict[str, list[int]] = field(default_factory=dict)
    veto: dict[str, list[int]] = field(default_factory=dict)
    tech: list[int] = field(default_factory=list)

    def add(self, e: _Entry, pos: int) -> None:
        """Record one phrase occurrence (a forbidden phrase only claims its span)."""
        if e.kind == _TECH:
            self.tech.append(pos)
            return
        tool = e.tool
        assert tool is not None
        if e.kind == _TERM:
            self.found.add(tool)
            self.named.append((pos, tool))
        elif e.kind == _WEAK:
            self.weak.append((pos, tool))
        elif e.kind == _CONTEXT:
            self.context.setdefault(tool, []).append(pos)
        elif e.kind == _VETO:
            self.veto.setdefault(tool, []).append(pos)


class _Words:
    """Word positions of a text: "within ``window`` words" in character offsets."""

    __slots__ = ("length", "starts")

    def __init__(self, text: str) -> None:
        self.starts = [w.start() for w in _WORDS.finditer(text)]
        self.length = len(text)

    def index_at(self, pos: int) -> int:
        """The index of the word at (or before) character offset ``pos``."""
        return bisect_right(self.starts, pos) - 1

    def near(self, positions: list[int], w: int, window: int) -> bool:
        """True when one of ``positions`` (sorted offsets) is within ``window`` words of ``w``."""
        starts = self.starts
        lo = bisect_left(positions, starts[max(0, w - window)])
        hi_word = w + window + 1
        hi_pos = starts[hi_word] if hi_word < len(starts) else self.length + 1
        return any(p < hi_pos for p in positions[lo : lo + 1])


_WORDS = re.compile(r"\w+")
