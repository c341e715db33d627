"""Job-post matcher speed on the bundled catalog: build once, then match a month of posts.

A month of "Who is hiring?" has about 1,000 top-level posts; this matches N posts (the test
corpus repeated) against every trackable tool and prints the time.

.venv/bin/python benchmarks/bench_matcher.py [--posts 1000] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from tracker.catalog import JobMatcher, load_catalog

CORPUS = Path(__file__).parent.parent / "tests" / "fixtures" / "hn" / "job_posts" / "posts.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    corpus = [json.loads(line)["html"] for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    posts = (corpus * (args.posts // len(corpus) + 1))[: args.posts]
    tools = load_catalog().tools
    t0 = time.perf_counter()
    matcher = JobMatcher.from_tools(tools)
    build = time.perf_counter() - t0
    times = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        named = sum(len(matcher.match(p)) for p in posts)
        times.append(time.perf_counter() - t0)
    median = statistics.median(times)
    print(
        f"matcher: {len(matcher.tool_ids)} tools, built in {build:.2f}s; {len(posts)} posts "
        f"matched in {median:.3f}s median of {args.runs} ({1000 * median / len(posts):.2f} ms a "
        f"post, {named} tool mentions)"
    )


if __name__ == "__main__":
    main()
