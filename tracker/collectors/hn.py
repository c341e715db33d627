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
import logging
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar

import httpx

from tracker.catalog import Tool
from tracker.catalog.job_matcher import JobMatcher
from tracker.collectors._demand import (
    DEMAND_SINCE,
    add_months,
    demand_client,
    has_job_terms,
    iter_months,
    month_of,
    month_start_ts,
)
from tracker.collectors._hn_parse import (
    HiringThread,
    ListingPage,
    PostMatcher,
    choose_threads,
    count_mentions,
    hiring_month,
    parse_listing,
    parse_thread,
)
from tracker.collectors._http import json_body
from tracker.collectors.base import (
    BaseCollector,
    CollectContext,
    describe_body,
    isolate,
    register,
)
from tracker.errors import SourceUnreachableError, TrackerError, UpstreamError
from tracker.records import DemandRecord, ToolBatch, ToolFailure, ToolOutcome

__all__ = [
    "HiringThread",
    "HnCollector",
    "ListingPage",
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

MatcherFactory = Callable[[Sequence[Tool]], PostMatcher]


def default_matcher(tools: Sequence[Tool]) -> PostMatcher:
    """Return the catalog's JobMatcher for ``tools`` (``tracker.catalog.job_terms``)."""
    return JobMatcher.from_tools(tools)


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
        return json_body(response)
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError, or a huge number
        raise UpstreamError(
            f"invalid JSON ({describe_body(response)})", source=SOURCE, url=url, status=200
        ) from exc


@register(SOURCE)
@dataclass(eq=False)
class HnCollector(BaseCollector):
    """Reads one "Who is hiring?" thread per month and counts the job posts naming each tool."""

    name: ClassVar[str] = SOURCE
    matcher_factory: MatcherFactory = default_matcher
    page_size: int = PAGE_SIZE

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
        needed = months_to_read(current, ctx.state.demand_months(SOURCE), tools)
        if not needed:  # before 2015: nothing to do
            for tool in tools:
                yield ToolBatch(tool_id=tool.id)
            return
        with demand_client(ctx, SOURCE, ctx.settings.hn_url, self.transport) as client:
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
            run = _Run(gaps=sorted(m for m in needed if m not in threads and m < current))
            todo = sorted((m for m in needed if m in threads), reverse=True)  # newest first
            self._read_threads(ctx, client, [threads[m] for m in todo], tools, run)
        yield from run.outcomes(tools)

    def _read_threads(
        self,
        ctx: CollectContext,
        client: httpx.Client,
        threads: Sequence[HiringThread],
        tools: Sequence[Tool],
        run: _Run,
    ) -> None:
        """Read ``threads`` (newest first) and count their posts per tool into ``run``."""
        tool_ids = frozenset(t.id for t in tools)
        matcher = self.matcher_factory(tools)
        for index, thread in enumerate(threads):
            month = thread.month
            if ctx.stop_requested():
                run.errors.append(f"{len(threads) - index} month(s) not read (stop requested)")
                return
            path = ITEM_PATH.format(thread.story_id)
            url = str(client.build_request("GET", path).url)
            try:
                posts = parse_thread(_get_json(client, path), story_id=thread.story_id, url=url)
                mentions = count_mentions(posts, matcher, tool_ids)
            except SourceUnreachableError as exc:
                run.errors.append(f"{month:%Y-%m}: {exc}")
                if index + 1 < len(threads):
                    left = len(threads) - index - 1
                    run.errors.append(f"{left} older month(s) not read: host unreachable")
                return
            except TrackerError as exc:
                run.errors.append(f"{month:%Y-%m}: {exc}")
                continue
            except Exception as exc:  # a matcher bug costs one month, not the source
                log.exception("hn: unexpected error on thread %s", thread.story_id)
                run.errors.append(f"{month:%Y-%m}: unexpected error: {type(exc).__name__}: {exc}")
                continue
            run.results[month] = _MonthResult(len(posts), mentions)


def months_to_read(
    current: date, stored: Mapping[str, frozenset[date]], tools: Sequence[Tool]
) -> set[date]:
    """The months to read: the current and the previous (threads keep growing), and every month
    since 2015 that some tool has no row for (the cursor is the stored rows)."""
    months = list(iter_months(DEMAND_SINCE, current))
    needed = {current, add_months(current, -1)} & set(months)
    for tool in tools:
        have = stored.get(tool.id, frozenset())
        needed.update(m for m in months if m not in have)
    return needed


@dataclass(slots=True)
class _Run:
    """What one run read: per month the posts and mentions, the errors and the missing months."""

    results: dict[date, _MonthResult] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    gaps: list[date] = field(default_factory=list)

    def outcomes(self, tools: Sequence[Tool]) -> Iterator[ToolOutcome]:
        """One outcome per tool; source-wide counters and warnings go on the first tool only."""
        warnings: tuple[str, ...] = ()
        if self.gaps:  # whoishiring has posted every month since 2011: a gap is worth a look
            gaps = self.gaps
            shown = ", ".join(f"{m:%Y-%m}" for m in gaps[:12]) + (" ..." if len(gaps) > 12 else "")
            warnings = (
                f"no 'Ask HN: Who is hiring?' thread found for {len(gaps)} month(s): {shown}",
            )
        posts_read = sum(r.total for r in self.results.values())
        counters = (("threads_read", len(self.results)), ("posts_read", posts_read))
        for index, tool in enumerate(tools):
            first = index == 0
            yield isolate(
                tool.id,
                functools.partial(
                    _outcome,
                    tool.id,
                    self.results,
                    tuple(self.errors),
                    counters if first else (),
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
