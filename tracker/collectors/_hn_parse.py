"""Parsing the Hacker News answers the ``hn`` source reads (pure functions, no HTTP): the listing
of the ``whoishiring`` account's stories, the month a hiring thread is for, and a thread's
top-level job posts. The source and its rules are described in ``tracker.collectors.hn``.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Protocol

from tracker.collectors._demand import month_of
from tracker.errors import ParseError

log = logging.getLogger("tracker.collectors.hn")

SOURCE = "hn"
_HIRING_RE = re.compile(r"^\s*Ask HN:\s*Who is hiring\?", re.IGNORECASE)
_MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_TITLE_MONTH_RE = re.compile(r"\(\s*([A-Za-z]+)\.?\s+(\d{4})\s*\)")
# text Algolia or HN put in place of a removed comment (defensive: removed ones normally have none)
_REMOVED_TEXTS = frozenset({"[dead]", "[deleted]", "[flagged]"})


class PostMatcher(Protocol):
    """Names the tools a job post mentions (the catalog's JobMatcher)."""

    def match(self, html: str) -> frozenset[str]:
        """Return the tool ids named by one job post (its HTML as HN sends it)."""
        ...


@dataclass(frozen=True, slots=True)
class HiringThread:
    """One "Ask HN: Who is hiring?" story."""

    story_id: int
    month: date  # the month the title names (else the month it was posted in, UTC)
    title: str
    created_at: datetime
    num_comments: int


@dataclass(frozen=True, slots=True)
class ListingPage:
    """One listing answer: the hiring threads in it, and how to ask for the next page."""

    threads: tuple[HiringThread, ...]
    hits: int  # stories in this answer (all titles)
    nb_hits: int | None  # stories matching the query in all (Algolia's nbHits)
    oldest_ts: int | None  # created_at_i of the oldest story in this answer
    ids: frozenset[int]  # every story id in this answer


def hiring_month(title: str, created_at: datetime) -> date | None:
    """Return the month a hiring thread is for, or None when ``title`` is not a hiring thread.

    The title names it ("Ask HN: Who is hiring? (January 2015)"); when it does not, the month the
    story was posted in (UTC) stands in.
    """
    if not _HIRING_RE.match(title):
        return None
    match = _TITLE_MONTH_RE.search(title)
    if match:
        name, year = match.group(1).lower(), int(match.group(2))
        for number, month in enumerate(_MONTHS, start=1):
            if len(name) >= 3 and month.startswith(name) and 1970 <= year <= 9999:
                return date(year, number, 1)
    return month_of(created_at)


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    return None


def parse_listing(payload: object, *, url: str) -> ListingPage:
    """Return the hiring threads of a ``search_by_date`` answer (other stories are skipped)."""
    if not isinstance(payload, dict):
        raise ParseError("payload is not a JSON object", source=SOURCE, field="$", url=url)
    hits = payload.get("hits")
    if not isinstance(hits, list):
        raise ParseError("missing or not a list", source=SOURCE, field="hits", url=url)
    threads: list[HiringThread] = []
    ids: set[int] = set()
    oldest: int | None = None
    for hit in hits:
        if not isinstance(hit, dict):
            raise ParseError("hit is not an object", source=SOURCE, field="hits[]", url=url)
        story_id = _int(hit.get("objectID"))
        created = _int(hit.get("created_at_i"))
        title = hit.get("title")
        if story_id is None or created is None or not isinstance(title, str):
            log.debug("hn: listing hit without objectID/created_at_i/title skipped: %r", hit)
            continue
        ids.add(story_id)
        oldest = created if oldest is None else min(oldest, created)
        try:
            created_at = datetime.fromtimestamp(created, UTC)
        except (OverflowError, OSError, ValueError):
            continue
        month = hiring_month(title, created_at)
        if month is None:
            continue
        comments = _int(hit.get("num_comments"))
        threads.append(HiringThread(story_id, month, title, created_at, comments or 0))
    nb_hits = _int(payload.get("nbHits"))
    return ListingPage(tuple(threads), len(hits), nb_hits, oldest, frozenset(ids))


def choose_threads(threads: Sequence[HiringThread]) -> dict[date, HiringThread]:
    """Return one thread per month: the one with the most comments (then the earliest).

    A month normally has exactly one; a re-posted or duplicated story must not double the month.
    """
    chosen: dict[date, HiringThread] = {}
    for thread in threads:
        best = chosen.get(thread.month)
        if best is None or (thread.num_comments, -thread.created_at.timestamp()) > (
            best.num_comments,
            -best.created_at.timestamp(),
        ):
            chosen[thread.month] = thread
    return chosen


def parse_thread(payload: object, *, story_id: int, url: str) -> list[str]:
    """Return the HTML of every top-level job post of a thread (``/items/<id>`` answer).

    Deleted or dead comments (no text) are not posts: they are left out.
    """
    if not isinstance(payload, dict):
        raise ParseError("payload is not a JSON object", source=SOURCE, field="$", url=url)
    got_id = _int(payload.get("id"))
    if got_id is not None and got_id != story_id:
        raise ParseError(
            f"answer is item {got_id}, not {story_id}", source=SOURCE, field="id", url=url
        )
    children = payload.get("children")
    if not isinstance(children, list):
        raise ParseError("missing or not a list", source=SOURCE, field="children", url=url)
    posts: list[str] = []
    for child in children:
        if not isinstance(child, dict):
            raise ParseError("child is not an object", source=SOURCE, field="children[]", url=url)
        if child.get("type") not in (None, "comment"):
            continue
        if child.get("deleted") is True or child.get("dead") is True:
            continue
        text = child.get("text")
        if not isinstance(text, str) or not text.strip() or text.strip() in _REMOVED_TEXTS:
            continue
        posts.append(text)
    return posts


def count_mentions(
    posts: Sequence[str], matcher: PostMatcher, tool_ids: frozenset[str]
) -> Counter[str]:
    """Return, per tool of ``tool_ids``, how many of ``posts`` name it (each post counts once)."""
    counts: Counter[str] = Counter()
    for post in posts:
        counts.update(matcher.match(post) & tool_ids)
    return counts
