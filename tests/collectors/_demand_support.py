"""Helpers of the hn and stackoverflow collector tests: tools with demand keys and generators of
Algolia payloads in the real shape."""

from __future__ import annotations

import operator
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tracker.catalog import Tool
from tracker.catalog.job_terms import JobTerms


def tool(
    tool_id: str,
    *,
    terms: Sequence[str] = (),
    cased: Sequence[str] = (),
    tags: Sequence[str] = (),
    skill: str = "orchestration",
) -> Tool:
    """Return a tool with job terms (any case / exact case) and Stack Overflow tags."""
    job_terms = JobTerms(terms=tuple(terms), cased=tuple(cased)) if terms or cased else None
    return Tool(
        id=tool_id,
        name=tool_id.title(),
        skill=skill,
        job_terms=job_terms,
        stackoverflow_tags=tuple(tags),
    )


MONTH_NAMES = tuple(date(2001, m, 1).strftime("%B") for m in range(1, 13))


def hiring_title(month: date) -> str:
    return f"Ask HN: Who is hiring? ({MONTH_NAMES[month.month - 1]} {month.year})"


def story_hit(story_id: int, title: str, created: datetime, num_comments: int) -> dict[str, Any]:
    """Return one ``search_by_date`` hit as Algolia sends it."""
    return {
        "_highlightResult": {"title": {"matchLevel": "none", "matchedWords": [], "value": title}},
        "_tags": ["story", "author_whoishiring", f"story_{story_id}", "ask_hn"],
        "author": "whoishiring",
        "children": [],
        "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "created_at_i": int(created.timestamp()),
        "num_comments": num_comments,
        "objectID": str(story_id),
        "points": 300,
        "story_id": story_id,
        "title": title,
        "updated_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


@dataclass(slots=True)
class Thread:
    """A fake month: its story id and its top-level posts (None: a deleted comment)."""

    month: date
    story_id: int
    posts: list[str | None]

    @property
    def created(self) -> datetime:
        return datetime(self.month.year, self.month.month, 1, 16, 0, 7, tzinfo=UTC)


def monthly_threads(months: Sequence[date], posts: Mapping[date, list[str | None]]) -> list[Thread]:
    """Return one thread per month (ids grow with time), with the given posts (default none)."""
    return [Thread(m, 30_000_000 + 1000 * i, list(posts.get(m, []))) for i, m in enumerate(months)]


def listing_hits(threads: Sequence[Thread]) -> list[dict[str, Any]]:
    """Return the account's stories for ``threads``: 3 a month (hiring, hired, freelancer)."""
    hits = []
    for th in threads:
        name = f"{MONTH_NAMES[th.month.month - 1]} {th.month.year}"
        hits.append(story_hit(th.story_id, hiring_title(th.month), th.created, len(th.posts)))
        hits.append(
            story_hit(
                th.story_id - 1,
                f"Ask HN: Who wants to be hired? ({name})",
                th.created - timedelta(seconds=2),
                50,
            )
        )
        hits.append(
            story_hit(
                th.story_id - 2,
                f"Ask HN: Freelancer? Seeking freelancer? ({name})",
                th.created - timedelta(seconds=1),
                20,
            )
        )
    return sorted(hits, key=lambda h: -h["created_at_i"])


_OPS = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "=": operator.eq,
}


def search_answer(
    hits: Sequence[dict[str, Any]], params: Mapping[str, str], hits_per_page: int
) -> dict[str, Any]:
    """Return a ``search_by_date`` answer for ``params`` (numericFilters on created_at_i)."""
    chosen = list(hits)
    for cond in (params.get("numericFilters") or "").split(","):
        m = re.fullmatch(r"created_at_i(>=|<=|>|<|=)(\d+)", cond.strip())
        if not m:
            continue
        compare = _OPS[m.group(1)]
        value = int(m.group(2))
        chosen = [h for h in chosen if compare(h["created_at_i"], value)]
    per_page = min(1000, int(params.get("hitsPerPage") or hits_per_page))
    page = int(params.get("page") or 0)
    return {
        "exhaustiveNbHits": True,
        "hits": chosen[page * per_page : (page + 1) * per_page],
        "hitsPerPage": per_page,
        "nbHits": len(chosen),
        "nbPages": -(-len(chosen) // per_page),
        "page": page,
        "params": "",
        "processingTimeMS": 1,
        "query": "",
    }


def item_answer(thread: Thread) -> dict[str, Any]:
    """Return the ``/items/<id>`` tree of a thread (deleted posts: author and text null)."""
    children = []
    for i, text in enumerate(thread.posts):
        cid = thread.story_id + 1 + i
        children.append(
            {
                "author": None if text is None else f"company{i}",
                "children": [],
                "created_at": thread.created.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "created_at_i": int(thread.created.timestamp()) + i,
                "id": cid,
                "options": [],
                "parent_id": thread.story_id,
                "points": None,
                "story_id": thread.story_id,
                "text": text,
                "title": None,
                "type": "comment",
                "url": None,
            }
        )
    return {
        "author": "whoishiring",
        "children": children,
        "created_at": thread.created.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "created_at_i": int(thread.created.timestamp()),
        "id": thread.story_id,
        "options": [],
        "parent_id": None,
        "points": 300,
        "story_id": thread.story_id,
        "text": "Please state the location and include REMOTE for remote work.",
        "title": hiring_title(thread.month),
        "type": "story",
        "url": None,
    }


def stored_demand(store: Any, source: str) -> list[tuple[Any, ...]]:
    """Return the stored (tool_id, month, mentions, total) of ``source``, in order."""
    return [
        tuple(r)
        for r in store.con.execute(
            "SELECT tool_id, month, mentions, total FROM demand_monthly WHERE source = ?"
            " ORDER BY tool_id, month",
            [source],
        ).fetchall()
    ]
