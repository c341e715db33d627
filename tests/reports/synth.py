"""Build a warehouse with seeded synthetic series (direct inserts into a tmp DuckDB file)."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

SKILLS = {
    "orchestration": "Workflow orchestration",
    "mlops": "MLOps and ML platforms",
    "noise": "Noise test skill",
}


def month_starts(as_of: date, n: int) -> list[date]:
    """The first days of the ``n`` complete months before ``as_of``'s month, oldest first."""
    out = []
    y, m = as_of.year, as_of.month
    for _ in range(n):
        m -= 1
        if m == 0:
            y, m = y - 1, 12
        out.append(date(y, m, 1))
    return out[::-1]


def _next_month(d: date) -> date:
    return date(d.year + (d.month == 12), d.month % 12 + 1, 1)


def noisy(
    base: float, n: int, seed: int, *, growth_per_year: float = 1.0, noise: float = 0.2
) -> list[float]:
    """Monthly values: base * growth^(t/12) * U(1-noise, 1+noise), seeded."""
    rng = random.Random(seed)
    return [
        base * growth_per_year ** (t / 12.0) * rng.uniform(1 - noise, 1 + noise) for t in range(n)
    ]


class Synth:
    """Writes tools and their series into a migrated DuckDB file."""

    def __init__(self, db: Path, as_of: date) -> None:
        from tracker.warehouse import open_db

        self.db = db
        self.as_of = as_of
        self.con = open_db(db)
        for pos, (skill, title) in enumerate(SKILLS.items()):
            self.con.execute(
                "INSERT INTO skills VALUES (?, ?, ?) ON CONFLICT DO NOTHING", [skill, title, pos]
            )

    def close(self) -> None:
        self.con.close()

    def tool(
        self,
        tool_id: str,
        *,
        skill: str = "orchestration",
        name: str | None = None,
        github: str | None = None,
        pypi: Sequence[str] = (),
        trackable: bool = True,
        notes: str | None = None,
        formerly: Sequence[str] = (),
    ) -> None:
        self.con.execute(
            "INSERT INTO tools VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, true, ?)",
            [
                tool_id,
                name or tool_id.title(),
                skill,
                github,
                list(pypi),
                trackable,
                notes,
                list(formerly),
                datetime(2020, 1, 1),
            ],
        )

    def downloads(
        self,
        tool_id: str,
        monthly: Sequence[float],
        *,
        package: str | None = None,
        source: str = "clickpy",
        skip_days: Callable[[date], bool] | None = None,
    ) -> None:
        """Daily rows spreading each monthly value over its days; ends before as_of's month."""
        months = month_starts(self.as_of, len(monthly))
        tids, pkgs, days, vals, srcs = [], [], [], [], []
        for start, value in zip(months, monthly, strict=True):
            end = _next_month(start)
            n = (end - start).days
            d = start
            while d < end:
                if skip_days is None or not skip_days(d):
                    tids.append(tool_id)
                    pkgs.append(package or tool_id)
                    days.append(d)
                    vals.append(round(value / n))
                    srcs.append(source)
                d += timedelta(days=1)
        self.con.execute(
            "INSERT INTO downloads_daily SELECT unnest($1), unnest($2), unnest($3), unnest($4),"
            " unnest($5)",
            [tids, pkgs, days, vals, srcs],
        )

    def stars(
        self,
        tool_id: str,
        monthly: Sequence[float],
        *,
        source: str = "github",
        extra: dict[date, int] | None = None,
    ) -> None:
        """Weekly rows: each month's value split over the Sundays that start in it."""
        months = month_starts(self.as_of, len(monthly))
        weeks: dict[date, int] = {}
        for start, value in zip(months, monthly, strict=True):
            end = _next_month(start)
            d = start + timedelta(days=(6 - start.weekday()) % 7)  # first Sunday
            sundays = []
            while d < end:
                sundays.append(d)
                d += timedelta(days=7)
            for s in sundays:
                weeks[s] = round(value / len(sundays))
        for d, v in (extra or {}).items():
            weeks[d] = weeks.get(d, 0) + v
        keys = sorted(weeks)
        self.con.execute(
            "INSERT INTO star_history SELECT unnest($1), unnest($2), unnest($3), unnest($4),"
            " unnest($5)",
            [
                [tool_id] * len(keys),
                [f"o/{tool_id}"] * len(keys),
                keys,
                [weeks[k] for k in keys],
                [source] * len(keys),
            ],
        )

    def releases(
        self,
        tool_id: str,
        when: Sequence[datetime],
        *,
        source: str = "pypi",
        title: str | None = None,
    ) -> None:
        if not when:
            return
        self.con.execute(
            "INSERT INTO releases SELECT $1, $2, $1, '1.' || unnest($3) || '.0', unnest($4),"
            " false, false, true, $5",
            [tool_id, source, [str(i) for i in range(len(when))], list(when), title],
        )

    def monthly_releases(self, tool_id: str, n_months: int, every: int = 1, **kw: Any) -> None:
        starts = month_starts(self.as_of, n_months)
        self.releases(
            tool_id,
            [datetime.combine(s, datetime.min.time()) + timedelta(days=9) for s in starts[::every]],
            **kw,
        )

    def snapshot(
        self,
        tool_id: str,
        *,
        stars: int = 1000,
        archived: bool = False,
        pushed_at: datetime | None = None,
    ) -> None:
        self.con.execute(
            "INSERT INTO repo_snapshots VALUES (?, ?, ?, ?, 0, 0, 0, ?, ?)",
            [
                tool_id,
                f"o/{tool_id}",
                datetime.combine(self.as_of, datetime.min.time()) - timedelta(days=1),
                stars,
                archived,
                pushed_at or datetime.combine(self.as_of, datetime.min.time()) - timedelta(days=3),
            ],
        )

    def identity(
        self, tool_id: str, *, full_name: str, catalog_name: str, description: str | None
    ) -> None:
        self.con.execute(
            "INSERT INTO repo_identities VALUES (?, ?, ?, ?, NULL, ?, ?)",
            [
                tool_id,
                abs(hash(tool_id)) % 100000,
                full_name,
                catalog_name,
                description,
                datetime(2024, 1, 1),
            ],
        )

    def run(
        self,
        source: str,
        *,
        status: str = "ok",
        finished_at: datetime | None = None,
        error: str | None = None,
        tool_id: str | None = None,
    ) -> None:
        at = finished_at or datetime.combine(self.as_of, datetime.min.time()) - timedelta(hours=6)
        row = self.con.execute(
            "INSERT INTO runs (started_at, finished_at, source, status) VALUES (?, ?, ?, ?)"
            " RETURNING run_id",
            [at - timedelta(minutes=5), at, source, status],
        ).fetchone()
        assert row is not None
        if error:
            self.con.execute(
                "INSERT INTO run_errors VALUES (?, ?, ?, ?, ?)",
                [row[0], source, tool_id, error, at],
            )


def add_demand(
    s: Synth, tool_id: str, source: str, monthly: Sequence[float], total: int = 1000
) -> None:
    """Monthly demand rows (``hn`` job posts or ``stackoverflow`` questions) ending before as_of."""
    months = month_starts(s.as_of, len(monthly))
    s.con.execute(
        "INSERT INTO demand_monthly SELECT $1, $2, unnest($3), unnest($4), $5",
        [tool_id, source, months, [round(v) for v in monthly], total],
    )
