"""Hacker News "Ask HN: Who is hiring?": per month, the job posts naming each tool, and the total.

Docs: https://hn.algolia.com/api (Algolia's HN Search API, no key, about 10,000 requests an hour).

- The account ``whoishiring`` opens one thread a month, "Ask HN: Who is hiring? (Month Year)";
  every top-level comment is one job post. It also posts "Who wants to be hired?" and
  "Freelancer? Seeking freelancer?" threads: only titles starting "Ask HN: Who is hiring?" count.
- Listing: ``GET /api/v1/search_by_date?tags=story,author_whoishiring&hitsPerPage=N
  &numericFilters=created_at_i>=T`` gives the account's stories newest first (``objectID``,
  ``title``, ``created_at_i``, ``num_comments``, and ``nbHits``). Algolia serves at most 1,000
  hits per query, so the listing pages by time (``created_at_i<=`` the oldest hit seen) rather
  than by ``page``: 120 months (about 360 stories) fit in one request of 500.
- Thread: ``GET /api/v1/items/<id>`` returns the whole tree in one answer; the story's direct
  ``children`` are the job posts (``text`` is HTML). Deleted and dead comments come back without
  text (``text``/``author`` null): they are not posts and are not counted.

Each month's thread is read once, then matched locally against every tool's ``job_terms`` (the
catalog's JobMatcher), so a month costs one request whatever the number of tools. Threads keep
growing for weeks: the current and the previous month are read again on every run, older months
only while some selected tool has no row for them (the cursor is the stored rows).
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, ClassVar, Protocol

import httpx

from tracker.catalog import Tool
from tracker.catalog.job_terms import JobMatcher
from tracker.collectors._demand import (
    DEMAND_SINCE,
    add_months,
    has_job_terms,
    iter_months,
    month_of,
    month_start_ts,
)
from tracker.collectors.base import CollectContext, describe_body, isolate, make_client, register
from tracker.errors import ParseError, SourceUnreachableError, TrackerError, UpstreamError
from tracker.records import DemandRecord, ToolBatch, ToolFailure, ToolOutcome

__all__ = [
    "HiringThread",
    "HnCollector",
    "PostMatcher",
    "choose_threads",
    "count_mentions",
    "hiring_month",
    "parse_listing",
    "parse_thread",
]

log = logging.getLogger(__name__)

SOURCE = "hn"
SEARCH_PATH = "/api/v1/search_by_date"
ITEM_PATH = "/api/v1/items/{}"
AUTHOR = "whoishiring"
PAGE_SIZE = 500  # hits per listing request (Algolia allows up to 1,000)
MAX_LISTING_REQUESTS = 20  # 10,000 stories: far beyond any real listing, a guard against loops
# a month's thread is posted on its 1st (about 15:00 UTC); list a few days earlier to be safe
LISTING_MARGIN_DAYS = 7

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


MatcherFactory = Callable[[Sequence[Tool]], PostMatcher]


def default_matcher(tools: Sequence[Tool]) -> PostMatcher:
    """Return the catalog's JobMatcher for ``tools`` (``tracker.catalog.job_terms``)."""
    return JobMatcher.from_tools(tools)


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


@dataclass(slots=True)
class _MonthResult:
    total: int
    mentions: Counter[str]


def _get_json(client: httpx.Client, path: str, params: Mapping[str, str] | None = None) -> Any:
    response = client.get(path, params=params)
    url = str(response.request.url)
    if response.status_code != 200:
        raise UpstreamError(
            describe_body(response), source=SOURCE, url=url, status=response.status_code
        )
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError, or a huge number
        raise UpstreamError(
            f"invalid JSON ({describe_body(response)})", source=SOURCE, url=url, status=200
        ) from exc


@register(SOURCE)
class HnCollector:
    """Reads one "Who is hiring?" thread per month and counts the job posts naming each tool."""

    name: ClassVar[str] = SOURCE

    def __init__(
        self,
        transport: httpx.BaseTransport | None = None,
        matcher_factory: MatcherFactory | None = None,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self.transport = transport
        self.matcher_factory = matcher_factory or default_matcher
        self.page_size = page_size

    def applicable(self, tool: Tool) -> bool:
        """Return True when the catalog says how a job post names the tool (``job_terms``)."""
        return has_job_terms(tool)

    # ---- listing -----------------------------------------------------------------------------
    def list_threads(self, client: httpx.Client, since: date) -> dict[date, HiringThread]:
        """Return the hiring thread of every month from ``since`` on (one per month)."""
        since_ts = month_start_ts(since) - LISTING_MARGIN_DAYS * 86400
        found: list[HiringThread] = []
        seen: set[int] = set()
        upper: int | None = None
        for _ in range(MAX_LISTING_REQUESTS):
            filters = f"created_at_i>={since_ts}"
            if upper is not None:
                filters += f",created_at_i<={upper}"
            params = {
                "tags": f"story,author_{AUTHOR}",
                "hitsPerPage": str(self.page_size),
                "numericFilters": filters,
            }
            url = str(client.build_request("GET", SEARCH_PATH, params=params).url)
            page = parse_listing(_get_json(client, SEARCH_PATH, params), url=url)
            new_ids = page.ids - seen
            seen |= page.ids
            found.extend(t for t in page.threads if t.story_id in new_ids)
            complete = page.nb_hits is not None and page.nb_hits <= page.hits
            if complete or page.hits < self.page_size or not new_ids or page.oldest_ts is None:
                break
            upper = page.oldest_ts  # `<=`: stories posted in the same second are not lost
        else:
            log.warning("hn: listing stopped after %d requests", MAX_LISTING_REQUESTS)
        return choose_threads([t for t in found if t.month >= since])

    # ---- collect -----------------------------------------------------------------------------
    def collect(self, ctx: CollectContext, tools: Sequence[Tool]) -> Iterator[ToolOutcome]:
        """Yield one outcome per tool: its month rows for every thread read in this run."""
        current = month_of(ctx.now())
        months = list(iter_months(DEMAND_SINCE, current))
        stored = ctx.state.demand_months(SOURCE)
        needed = {current, add_months(current, -1)} & set(months)
        for tool in tools:
            have = stored.get(tool.id, frozenset())
            needed.update(m for m in months if m not in have)
        if not needed:  # before 2015: nothing to do
            for tool in tools:
                yield ToolBatch(tool_id=tool.id)
            return
        results: dict[date, _MonthResult] = {}
        errors: list[str] = []
        gaps: list[date] = []
        with make_client(
            ctx,
            source=SOURCE,
            base_url=ctx.settings.hn_url,
            headers={"Accept": "application/json"},
            transport=self.transport,
            check_json=True,
        ) as client:
            try:
                threads = self.list_threads(client, min(needed))
            except TrackerError as exc:
                # one listing serves every tool: its URL is each tool's own
                why = (
                    exc.not_collected
                    if isinstance(exc, SourceUnreachableError)
                    else f"not collected: listing failed: {exc}"
                )
                for tool in tools:
                    yield ToolFailure(tool.id, why)
                return
            tool_ids = frozenset(t.id for t in tools)
            matcher = self.matcher_factory(tools)
            todo = sorted((m for m in needed if m in threads), reverse=True)  # newest first
            gaps = sorted(m for m in needed if m not in threads and m < current)
            for month in todo:
                if ctx.stop_requested():
                    left = [m for m in todo if m <= month]
                    errors.append(f"{len(left)} month(s) not read (stop requested)")
                    break
                thread = threads[month]
                path = ITEM_PATH.format(thread.story_id)
                url = str(client.build_request("GET", path).url)
                try:
                    posts = parse_thread(_get_json(client, path), story_id=thread.story_id, url=url)
                    mentions = count_mentions(posts, matcher, tool_ids)
                except SourceUnreachableError as exc:
                    errors.append(f"{month:%Y-%m}: {exc}")
                    left = [m for m in todo if m < month]
                    if left:
                        errors.append(f"{len(left)} older month(s) not read: host unreachable")
                    break
                except TrackerError as exc:
                    errors.append(f"{month:%Y-%m}: {exc}")
                    continue
                except Exception as exc:  # a matcher bug costs one month, not the source
                    log.exception("hn: unexpected error on thread %s", thread.story_id)
                    errors.append(f"{month:%Y-%m}: unexpected error: {type(exc).__name__}: {exc}")
                    continue
                results[month] = _MonthResult(len(posts), mentions)
        warnings: tuple[str, ...] = ()
        if gaps:  # whoishiring has posted every month since 2011: a gap is worth a look
            shown = ", ".join(f"{m:%Y-%m}" for m in gaps[:12]) + (" ..." if len(gaps) > 12 else "")
            warnings = (
                f"no 'Ask HN: Who is hiring?' thread found for {len(gaps)} month(s): {shown}",
            )
        posts_read = sum(r.total for r in results.values())
        for index, tool in enumerate(tools):
            first = index == 0  # source-wide counters and warnings go on the first tool only
            counters = (("threads_read", len(results)), ("posts_read", posts_read)) if first else ()
            yield isolate(
                tool.id,
                functools.partial(
                    _outcome,
                    tool.id,
                    results,
                    tuple(errors),
                    counters,
                    warnings if first else (),
                ),
            )


def _outcome(
    tool_id: str,
    results: Mapping[date, _MonthResult],
    errors: tuple[str, ...],
    counters: tuple[tuple[str, int], ...],
    warnings: tuple[str, ...],
) -> ToolOutcome:
    records = tuple(
        DemandRecord(
            tool_id=tool_id,
            source=SOURCE,
            month=month,
            mentions=result.mentions.get(tool_id, 0),
            total=result.total,
        )
        for month, result in sorted(results.items())
    )
    if errors and not records:
        return ToolFailure(tool_id, "; ".join(errors)[:2000])
    return ToolBatch(
        tool_id=tool_id, demand=records, errors=errors, warnings=warnings, counters=counters
    )
