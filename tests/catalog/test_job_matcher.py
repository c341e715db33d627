"""Precision and recall of the job-post matcher on a hand-labelled corpus of HN job posts.

``tests/fixtures/hn/job_posts/posts.jsonl``: one post a line, ``{"id", "tools", "html"}``, the
HTML in the form HN's API sends (``<p>`` paragraphs, ``&#x2F;`` and other entities, ``<a href>``
links, ``<i>``). ``tools`` is what a human reader says the post names, among the catalog's
trackable tools, labelled by hand under the conventions of docs/catalog.md ("Matching job
posts"): a cloud SDK tool stands for its platform (AWS -> boto3); a tool's own longer name owns
its words ("Docker Compose" names docker-compose, not docker); a mention counts even when the
post says it is leaving the tool; link targets and bare URLs name nothing.

``pytest -s`` prints the per-tool table; a failure prints it too.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from tracker.catalog import JobMatcher, load_catalog

CORPUS = Path(__file__).parent.parent / "fixtures" / "hn" / "job_posts" / "posts.jsonl"
THRESHOLD = 0.95
# The words the issue names as hard: each must occur in the corpus, named and not named.
HARD_TOOLS = (
    "airflow",
    "helm",
    "vault",
    "consul",
    "spark",
    "beam",
    "ray",
    "luigi",
    "prefect",
    "kafka",
    "elasticsearch",
    "beats",
    "docker",
    "docker-compose",
    "kubernetes",
    "dbt",
)


@dataclass(frozen=True, slots=True)
class Post:
    id: str
    tools: frozenset[str]
    html: str


def _load() -> list[Post]:
    posts = []
    with CORPUS.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            posts.append(Post(row["id"], frozenset(row["tools"]), row["html"]))
    return posts


@pytest.fixture(scope="module")
def posts() -> list[Post]:
    return _load()


@pytest.fixture(scope="module")
def matcher() -> JobMatcher:
    return JobMatcher.from_tools(load_catalog().tools)


def _table(rows: list[tuple[str, int, int, int, float, float]]) -> str:
    lines = [
        f"{'tool':<24} {'posts':>5} {'TP':>4} {'FP':>4} {'FN':>4} {'precision':>9} {'recall':>7}"
    ]
    for tool, n, tp, fp, fn, p, r in rows:  # type: ignore[misc]
        lines.append(f"{tool:<24} {n:>5} {tp:>4} {fp:>4} {fn:>4} {p:>9.3f} {r:>7.3f}")
    return "\n".join(lines)


def test_corpus_is_big_and_covers_the_hard_words(posts: list[Post], matcher: JobMatcher) -> None:
    assert len(posts) >= 200
    assert len({p.id for p in posts}) == len(posts)
    unknown = {t for p in posts for t in p.tools} - matcher.tool_ids
    assert not unknown, f"labels that are not trackable catalog tools with job_terms: {unknown}"
    named = Counter(t for p in posts for t in p.tools)
    for tool in HARD_TOOLS:
        assert named[tool] >= 3, f"{tool}: only {named[tool]} posts name it"
    assert sum(1 for p in posts if not p.tools) >= 40  # posts that name no tool at all
    assert sum(1 for p in posts if "<a href" in p.html) >= 10
    entities = ("&#x2F;", "&#x27;", "&amp;", "&quot;", "&gt;")
    assert sum(1 for p in posts if any(e in p.html for e in entities)) >= 75


def test_precision_and_recall_per_tool(posts: list[Post], matcher: JobMatcher) -> None:
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    errors = []
    for post in posts:
        got = matcher.match(post.html)
        for tool in got & post.tools:
            tp[tool] += 1
        for tool in got - post.tools:
            fp[tool] += 1
            errors.append(f"{post.id}: false positive {tool}")
        for tool in post.tools - got:
            fn[tool] += 1
            errors.append(f"{post.id}: missed {tool}")
    rows = []
    for tool in sorted(set(tp) | set(fp) | set(fn)):
        p = tp[tool] / (tp[tool] + fp[tool]) if tp[tool] + fp[tool] else 0.0
        r = tp[tool] / (tp[tool] + fn[tool]) if tp[tool] + fn[tool] else 0.0
        rows.append((tool, tp[tool] + fn[tool], tp[tool], fp[tool], fn[tool], p, r))
    all_tp, all_fp, all_fn = sum(tp.values()), sum(fp.values()), sum(fn.values())
    overall_p = all_tp / (all_tp + all_fp)
    overall_r = all_tp / (all_tp + all_fn)
    report = "\n".join(
        [
            _table(rows),
            f"{len(posts)} posts, {len(rows)} tools; overall precision {overall_p:.3f}, "
            f"recall {overall_r:.3f}; lowest per tool: precision "
            f"{min(r[5] for r in rows):.3f}, recall {min(r[6] for r in rows):.3f}",
            *errors,
        ]
    )
    print("\n" + report)
    bad = [r[0] for r in rows if r[5] < THRESHOLD or r[6] < THRESHOLD]
    assert not bad and overall_p >= THRESHOLD and overall_r >= THRESHOLD, (
        f"below {THRESHOLD}: {bad}\n{report}"
    )
