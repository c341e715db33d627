"""`tracker --help` start-up time (goal: at most 0.3 s). Prints the best and median of N runs.

.venv/bin/python benchmarks/bench_help.py [--runs 15]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    exe = shutil.which("tracker", path=str(Path(sys.executable).parent)) or "tracker"
    times = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        subprocess.run([exe, "--help"], check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    best, median = min(times), statistics.median(times)
    verdict = "ok" if median <= 0.3 else "MISSED"
    print(
        f"tracker --help: best {best:.3f}s, median {median:.3f}s over {args.runs} runs (goal <= 0.3s: {verdict})"
    )


if __name__ == "__main__":
    main()
