"""The demand emulators: Algolia's HN Search API and the Stack Exchange API 2.3."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from fakes.core import Request, Response, iso_z

# ---- Hacker News (Algolia HN Search API) -----------------------------------------------------

_MONTH_NAMES = tuple(date(2001, m, 1).strftime("%B") for m in range(1, 13))


@dataclass(slots=True)
class HnPost:
    """One top-level comment of a thread; ``text`` None: deleted (author and text null)."""

    id: int
    text: str | None
    replies: list[str] = field(default_factory=list)
    dead: bool = False  # HN hides it; Algolia keeps the node without text


@dataclass(slots=True)
class HnStory:
    """One story of the account ``whoishiring`` (hiring threads hold posts)."""

    id: int
    title: str
    created_at: datetime
    posts: list[HnPost] = field(default_factory=list)

    @property
    def month(self) -> date:
        return date(self.created_at.year, self.created_at.month, 1)


class HnEmulator:
    """``/api/v1/search_by_date`` (tags, numericFilters on created_at_i, hitsPerPage, page; at most
    1,000 hits a query) and ``/api/v1/items/<id>`` (the whole tree) in Algolia's shapes."""

    MAX_HITS = 1000

    def __init__(self) -> None:
        self.stories: dict[int, HnStory] = {}
        self._next_id = 20_000_000
        self._lock = threading.Lock()

    def _new_id(self) -> int:
        with self._lock:
            self._next_id += 1000
            return self._next_id

    def add_month(self, month: date, posts: Iterable[str | None] = ()) -> HnStory:
        """Add the three stories of ``month`` (hiring, wants to be hired, freelancer) and return
        the hiring thread with ``posts`` (None: a deleted comment)."""
        name = f"{_MONTH_NAMES[month.month - 1]} {month.year}"
        created = datetime(month.year, month.month, 1, 16, 0, 7, tzinfo=UTC)
        hiring = HnStory(self._new_id(), f"Ask HN: Who is hiring? ({name})", created)
        others = (
            HnStory(hiring.id - 2, f"Ask HN: Who wants to be hired? ({name})", created),
            HnStory(hiring.id - 1, f"Ask HN: Freelancer? Seeking freelancer? ({name})", created),
        )
        for story in (hiring, *others):
            self.stories[story.id] = story
        for text in posts:
            self.add_post(hiring, text)
        return hiring

    def add_post(
        self, story: HnStory, text: str | None, *, replies: Sequence[str] = (), dead: bool = False
    ) -> HnPost:
        """Add a top-level comment to ``story`` (a thread growing after a first read)."""
        post = HnPost(story.id + 1 + len(story.posts), text, list(replies), dead)
        story.posts.append(post)
        return post

    def hiring(self, month: date) -> HnStory:
        """Return the hiring thread of ``month``."""
        return next(s for s in self.stories.values() if s.month == month and "hiring?" in s.title)

    def _hit(self, s: HnStory) -> dict[str, object]:
        return {
            "_highlightResult": {
                "title": {"matchLevel": "none", "matchedWords": [], "value": s.title}
            },
            "_tags": ["story", "author_whoishiring", f"story_{s.id}", "ask_hn"],
            "author": "whoishiring",
            "children": [p.id for p in s.posts],
            "created_at": iso_z(s.created_at),
            "created_at_i": int(s.created_at.timestamp()),
            "num_comments": len(s.posts) + sum(len(p.replies) for p in s.posts),
            "objectID": str(s.id),
            "points": 300,
            "story_id": s.id,
            "title": s.title,
            "updated_at": iso_z(s.created_at),
        }

    def _comment(
        self,
        cid: int,
        parent: int,
        story: HnStory,
        author: str | None,
        text: str | None,
        children: list[dict[str, object]],
    ) -> dict[str, object]:
        return {
            "author": author,
            "children": children,
            "created_at": iso_z(story.created_at),
            "created_at_i": int(story.created_at.timestamp()),
            "id": cid,
            "options": [],
            "parent_id": parent,
            "points": None,
            "story_id": story.id,
            "text": text,
            "title": None,
            "type": "comment",
            "url": None,
        }

    def item(self, s: HnStory) -> dict[str, object]:
        """Return the ``/items/<id>`` tree of a story."""
        children = []
        for p in s.posts:
            replies = [
                self._comment(p.id * 10 + i, p.id, s, "replier", r, [])
                for i, r in enumerate(p.replies)
            ]
            removed = p.text is None or p.dead
            children.append(
                self._comment(
                    p.id,
                    s.id,
                    s,
                    None if removed else f"company{p.id}",
                    None if removed else p.text,
                    replies,
                )
            )
        return {
            "author": "whoishiring",
            "children": children,
            "created_at": iso_z(s.created_at),
            "created_at_i": int(s.created_at.timestamp()),
            "id": s.id,
            "options": [],
            "parent_id": None,
            "points": 300,
            "story_id": s.id,
            "text": "Please state the location and include REMOTE for remote work.",
            "title": s.title,
            "type": "story",
            "url": None,
        }

    def handle(self, req: Request) -> Response:
        if req.method != "GET":
            return Response.json({"message": "Method not allowed", "status": 405}, 405)
        item = re.fullmatch(r"/api/v1/items/(\d+)", req.path)
        if item:
            story = self.stories.get(int(item.group(1)))
            if story is None:
                return Response.json({"status": 404, "error": "Not Found"}, 404)
            return Response.json(self.item(story))
        if req.path != "/api/v1/search_by_date":
            return Response.json({"message": "Not Found", "status": 404}, 404)
        tags = set((req.arg("tags") or "").split(","))
        stories = sorted(self.stories.values(), key=lambda s: (-s.created_at.timestamp(), -s.id))
        if not tags >= {"story", "author_whoishiring"}:
            stories = []
        for cond in (req.arg("numericFilters") or "").split(","):
            m = re.fullmatch(r"created_at_i(>=|<=|>|<|=)(\d+)", cond.strip())
            if cond.strip() and not m:
                return Response.json(
                    {"message": f"invalid numericFilters: {cond}", "status": 400}, 400
                )
            if m:
                op, value = m.group(1), int(m.group(2))
                stories = [s for s in stories if _COMPARE[op](s.created_at.timestamp(), value)]
        try:
            per_page = max(1, min(1000, int(req.arg("hitsPerPage") or 20)))
            page = max(0, int(req.arg("page") or 0))
        except ValueError:
            return Response.json({"message": "invalid hitsPerPage or page", "status": 400}, 400)
        reachable = stories[: self.MAX_HITS]  # paginationLimitedTo
        chunk = reachable[page * per_page : (page + 1) * per_page]
        return Response.json(
            {
                "exhaustive": {"nbHits": True, "typo": True},
                "exhaustiveNbHits": True,
                "hits": [self._hit(s) for s in chunk],
                "hitsPerPage": per_page,
                "nbHits": len(stories),
                "nbPages": -(-len(reachable) // per_page),
                "page": page,
                "params": "",
                "processingTimeMS": 1,
                "query": "",
            }
        )


_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    "=": lambda a, b: a == b,
}


# ---- Stack Exchange API 2.3 ------------------------------------------------------------------


class StackExchangeEmulator:
    """``GET /2.3/questions?site=stackoverflow&tagged=&fromdate=&todate=&filter=total``.

    Every answer is gzip-compressed. Counts come from ``questions[(tag, month)]`` and
    ``site_totals[month]`` (0 when absent); the window must be whole UTC months. A daily quota
    counts down (300, or 10,000 with a key in ``valid_keys``/any key when it is None); at 0 the
    answer is HTTP 400 ``throttle_violation`` "more requests available in N seconds".
    ``quota_in_answer`` adds ``quota_max``/``quota_remaining`` to ``filter=total`` answers (the
    real filter strips them); ``backoff_next`` queues ``backoff`` values for the next answers.
    """

    def __init__(self) -> None:
        self.questions: dict[tuple[str, date], int] = {}
        self.site_totals: dict[date, int] = {}
        self.valid_keys: set[str] | None = None
        self.quota_max = 300
        self.quota_max_with_key = 10_000
        self.quota_used: dict[bool, int] = {False: 0, True: 0}  # per (with key)
        self.quota_in_answer = False
        self.backoff_next: list[int] = []
        self.reset_in = 3600 * 10  # seconds to "more requests available" once exhausted
        self.asked: list[tuple[str | None, date]] = []  # answered counts, in order
        self._lock = threading.Lock()

    def add_tag(self, tag: str, counts: Mapping[date, int]) -> None:
        """Set the questions of ``tag`` per month."""
        for month, n in counts.items():
            self.questions[(tag, month)] = n

    def count(self, tag: str | None, month: date) -> int:
        """Return what the fake answers for ``tag`` (None: the site) in ``month``."""
        if tag is None:
            return self.site_totals.get(month, 0)
        return self.questions.get((tag, month), 0)

    @staticmethod
    def _answer(payload: Mapping[str, object], status: int = 200) -> Response:
        body = json.dumps(payload).encode()
        return Response(
            status,
            _gzip(body),
            {"Content-Type": "application/json; charset=utf-8", "Content-Encoding": "gzip"},
        )

    def _error(self, error_id: int, name: str, message: str) -> Response:
        return self._answer(
            {"error_id": error_id, "error_message": message, "error_name": name}, 400
        )

    def handle(self, req: Request) -> Response:
        if req.method != "GET":
            return self._error(404, "no_method", "no method found with this name")
        if req.path != "/2.3/questions":
            return self._error(404, "no_method", "no method found with this name")
        key = req.arg("key")
        if key is not None and self.valid_keys is not None and key not in self.valid_keys:
            return self._error(400, "bad_parameter", "key")
        with_key = key is not None
        limit = self.quota_max_with_key if with_key else self.quota_max
        with self._lock:
            if self.quota_used[with_key] >= limit:
                return self._error(
                    502,
                    "throttle_violation",
                    f"too many requests from this IP, more requests available in "
                    f"{self.reset_in} seconds",
                )
            self.quota_used[with_key] += 1
            remaining = limit - self.quota_used[with_key]
        if req.arg("site") != "stackoverflow":
            return self._error(400, "bad_parameter", "site")
        try:
            start = datetime.fromtimestamp(int(req.arg("fromdate") or ""), UTC)
            end = int(req.arg("todate") or "")
        except ValueError:
            return self._error(400, "bad_parameter", "fromdate")
        month = start.date().replace(day=1)
        nxt = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        whole = int(datetime(nxt.year, nxt.month, 1, tzinfo=UTC).timestamp()) - 1
        if start != datetime(month.year, month.month, 1, tzinfo=UTC) or end != whole:
            return self._error(400, "bad_parameter", "the fake answers whole UTC months only")
        tag = req.arg("tagged")
        if tag is not None and (";" in tag or not tag):
            return self._error(400, "bad_parameter", "the fake answers one tag at a time")
        if req.arg("filter") != "total":
            return self._error(400, "bad_parameter", "filter")
        with self._lock:
            self.asked.append((tag, month))
            payload: dict[str, object] = {"total": self.count(tag, month)}
            if self.backoff_next:
                payload["backoff"] = self.backoff_next.pop(0)
        if self.quota_in_answer:
            payload.update(quota_max=limit, quota_remaining=remaining)
        return self._answer(payload)


def _gzip(body: bytes) -> bytes:
    import gzip

    return gzip.compress(body, mtime=0)
