"""GitHub: repo snapshots, exact weekly star history, published releases, renames, rate limits.

Per tool and run: metadata and the first release page, with a token from one GraphQL request per
``batch_size`` repos (aliases); without a token (or when a GraphQL request fails) from REST
``GET /repos/{o}/{r}`` (conditional, ETag in ``http_cache``) and ``/releases``; then the star
history (steps.py). Each tool runs under ``isolate``: an unexpected error fails that tool only.
A rate limit that will not reset soon, or an unreachable host, stops the source; the tools left
get one line each.
Docs: https://docs.github.com/rest/repos/repos#get-a-repository ,
https://docs.github.com/rest/releases/releases#list-releases ,
https://docs.github.com/rest/activity/starring?apiVersion=2026-03-10
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator, Sequence
from dataclasses import KW_ONLY, dataclass, replace
from typing import ClassVar

from tracker.catalog import Tool
from tracker.collectors.base import BaseCollector, CollectContext, isolate, register
from tracker.collectors.github import fetch, parse, steps
from tracker.collectors.github.fetch import GitHubApi
from tracker.collectors.github.parse import ReleasePage, RepoInfo
from tracker.errors import RateLimitedError, SourceUnreachableError, TrackerError
from tracker.records import (
    RepoSnapshotRecord,
    ToolFailure,
    ToolOutcome,
)

__all__ = ["GithubCollector"]

log = logging.getLogger(__name__)

SOURCE = "github"
_Batch = tuple[dict[str, tuple[RepoInfo, ReleasePage]], dict[str, str]]  # by tool id


@dataclass(slots=True)
class _Run:
    """Why the source stopped (a far rate-limit reset, an unreachable host), once it has."""

    reason: str | None = None
    unreachable: SourceUnreachableError | None = None

    def stop(self, exc: RateLimitedError | SourceUnreachableError) -> str:
        """Record the stop; return the text a tool's error line gives for it."""
        if isinstance(exc, SourceUnreachableError):
            self.reason, self.unreachable = exc.reason, exc
            return str(exc)  # names the URL this tool asked for
        self.reason = exc.reason
        return exc.reason

    def failure(self, tool: Tool, api: GitHubApi) -> ToolFailure:
        """Return the failure of a tool not tried after the stop (naming its own repo URL)."""
        if self.unreachable is not None:
            url = api.absolute(f"/repos/{tool.github}")
            return ToolFailure(tool.id, self.unreachable.for_url(url).not_collected)
        return ToolFailure(tool.id, f"not collected: {self.reason}")


@register(SOURCE)
@dataclass(eq=False)
class GithubCollector(BaseCollector):
    """Collects GitHub snapshots, star history and releases; serial, rate-limit aware."""

    name: ClassVar[str] = SOURCE
    _: KW_ONLY
    batch_size: int = 20  # repos a GraphQL query asks for (with a token)
    max_rate_wait: float = 300.0
    backoff_base: float = 1.0

    def applicable(self, tool: Tool) -> bool:
        """Return True when the tool names a GitHub repo."""
        return bool(tool.github)

    def collect(self, ctx: CollectContext, tools: Sequence[Tool]) -> Iterator[ToolOutcome]:
        """Yield one outcome per tool; after a stop, one failure per remaining tool."""
        api = GitHubApi(
            ctx,
            transport=self.transport,
            max_rate_wait=self.max_rate_wait,
            backoff_base=self.backoff_base,
        )
        run = _Run()
        done: set[str] = set()
        with api:
            try:
                for outcome in self._chunks(ctx, api, run, tools):
                    done.add(outcome.tool_id)
                    yield outcome
            finally:
                log.info("github: rate limits after the run: %s", api.rates.summary() or "unknown")
        if run.reason is not None:
            yield from (run.failure(tool, api) for tool in tools if tool.id not in done)

    def _chunks(
        self, ctx: CollectContext, api: GitHubApi, run: _Run, tools: Sequence[Tool]
    ) -> Iterator[ToolOutcome]:
        token = ctx.settings.github_token
        size = max(1, self.batch_size) if token else 1
        for start in range(0, len(tools), size):
            chunk = tools[start : start + size]
            batch = self._graphql_batch(api, run, chunk) if token else None
            if run.unreachable is not None:  # the tool whose batch asked: its own line
                yield ToolFailure(chunk[0].id, run.unreachable.not_collected)
            if run.reason is not None:
                return
            for tool in chunk:
                one = functools.partial(self._one, ctx, api, run, tool, batch)
                yield isolate(tool.id, one)
                if run.reason is not None or ctx.stop_requested():
                    return

    def _graphql_batch(self, api: GitHubApi, run: _Run, chunk: Sequence[Tool]) -> _Batch | None:
        """Return metadata and first release pages of ``chunk`` by tool id; None: use REST."""
        aliases = {f"r{i}": (tool.id, str(tool.github)) for i, tool in enumerate(chunk)}
        try:
            body = fetch.fetch_graphql_batch(api, [str(t.github) for t in chunk])
            batch = parse.parse_graphql_batch(body, aliases, url=api.graphql_url)
        except steps.STOPS as exc:
            run.stop(exc)
            return None
        except TrackerError as exc:
            log.warning("github: GraphQL failed, using REST for %d repos: %s", len(chunk), exc)
            return None
        found = {aliases[a][0]: meta for a, meta in batch.repos.items()}
        return found, {aliases[a][0]: why for a, why in batch.missing.items()}

    def _one(
        self, ctx: CollectContext, api: GitHubApi, run: _Run, tool: Tool, batch: _Batch | None
    ) -> ToolOutcome:
        """Return one tool's outcome; a stop keeps what was read and says what was not."""
        work = steps.ToolWork(tool)
        if batch is not None and tool.id in batch[1]:
            return ToolFailure(tool.id, batch[1][tool.id])
        meta = batch[0].get(tool.id) if batch is not None else None
        try:
            self._tool(ctx, api, work, meta)
        except steps.STOPS as exc:
            why = run.stop(exc)
            partly = work.snapshots or work.releases or work.star_weeks
            work.errors.append(f"not {'fully ' if partly else ''}collected: {why}")
        except TrackerError as exc:
            work.errors.append(str(exc))
        return work.outcome()

    def _tool(
        self,
        ctx: CollectContext,
        api: GitHubApi,
        work: steps.ToolWork,
        meta: tuple[RepoInfo, ReleasePage] | None,
    ) -> None:
        tool = work.tool
        catalog_name = str(tool.github)
        previous = ctx.state.latest_snapshot_record(tool.id)
        if meta is not None:
            info: RepoInfo | None = meta[0]
            work.snapshots.append(parse.snapshot_record(tool.id, meta[0], ctx.now()))
        else:
            info = self._rest_repo(ctx, api, work, previous)
        if not work.snapshots:
            return
        now_snap = work.snapshots[0]
        current = now_snap.repo
        if info is not None:
            work.identities.append(parse.identity_record(tool.id, info, catalog_name))
        if current.lower() != catalog_name.lower():
            work.warnings.append(
                f"catalog says {catalog_name}, GitHub says {current}: update the catalog"
            )
            work.count("renamed_repos")
        same_push = previous is not None and (previous.pushed_at, previous.archived) == (
            now_snap.pushed_at,
            now_snap.archived,
        )
        same_stars = previous is not None and previous.stars == now_snap.stars
        steps.guarded(
            work, "releases", lambda: steps.read_releases(ctx, api, work, current, meta, same_push)
        )
        steps.guarded(
            work,
            "star history",
            lambda: steps.read_star_history(ctx, api, work, current, same_stars),
        )

    def _rest_repo(
        self,
        ctx: CollectContext,
        api: GitHubApi,
        work: steps.ToolWork,
        previous: RepoSnapshotRecord | None,
    ) -> RepoInfo | None:
        """Fetch the repo (conditionally); fill the snapshot; return None after a 304."""
        tool = work.tool
        key = api.absolute(f"/repos/{tool.github}")
        etag = ctx.state.http_validators(key)[0] if previous else None
        response = fetch.fetch_repo(api, str(tool.github), etag=etag)
        if response.status == 304 and previous is not None:
            # unchanged since the stored snapshot: the server confirms the same counters now
            work.snapshots.append(replace(previous, observed_at=ctx.now()))
            work.count("repos_not_modified")
            return None
        if response.status == 404:
            work.errors.append(
                f"repo {tool.github} not found (HTTP 404 from {response.url}):"
                " check the catalog's github field"
            )
            return None
        if response.status != 200:
            work.errors.append(steps.fail_message(response, f"repo {tool.github}"))
            return None
        info = parse.parse_repo(response.data, url=response.url)
        work.snapshots.append(parse.snapshot_record(tool.id, info, ctx.now()))
        work.cache(response, ctx.now())
        return info
