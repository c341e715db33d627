"""DuckLake targets: parsing and masking, the missing extra, DDL translation, conflict retries,
and `tracker migrate` (file -> lake, file -> Parquet export -> lake, identical row counts)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.backends import backend_params
from tracker.cli import app
from tracker.config import load_settings
from tracker.errors import ConfigError, WarehouseError
from tracker.warehouse.db import migrations
from tracker.warehouse.lake import LakeTarget, mask_secrets, parse_target, translate_ddl

# ---- targets (no lake needed) ----------------------------------------------------------------


def test_plain_path_stays_a_file() -> None:
    settings = load_settings({"TRACKER_DB": "x/t.duckdb"})
    assert settings.lake is None and settings.db_target == Path("x/t.duckdb")
    assert load_settings({}).db_target == Path("./tracker.duckdb")


def test_file_catalog_defaults_its_data_beside_it(tmp_path: Path) -> None:
    target = parse_target(f"ducklake:{tmp_path}/cat.ducklake")
    assert target == LakeTarget(str(tmp_path / "cat.ducklake"), f"{tmp_path}/cat.ducklake.files/")
    other = parse_target(f"ducklake:{tmp_path}/cat.ducklake", str(tmp_path / "data"))
    assert other is not None and other.data_path == f"{tmp_path}/data/"
    s3 = parse_target("ducklake:/c.ducklake", "s3://bucket/lake")
    assert s3 is not None and s3.data_path == "s3://bucket/lake/"


def test_postgres_catalog_needs_a_data_path() -> None:
    with pytest.raises(ConfigError, match="TRACKER_DATA_PATH is required"):
        load_settings({"TRACKER_DB": "ducklake:postgres:dbname=tracker host=db"})
    settings = load_settings(
        {"TRACKER_DB": "ducklake:postgres:dbname=tracker host=db", "TRACKER_DATA_PATH": "/d"}
    )
    assert settings.lake is not None and settings.lake.is_postgres
    assert settings.db_label == "ducklake:postgres:dbname=tracker host=db"


def test_db_flag_wins_over_a_broken_env() -> None:
    env = {"TRACKER_DB": "ducklake:postgres:dbname=x"}  # no data path: an error if used
    assert load_settings(env, db="f.duckdb").db_target == Path("f.duckdb")


@pytest.mark.parametrize(
    "value",
    ["ducklake:", "ducklake:postgres:", "ducklake:sqlite:/x.db", "ducklake:mysql:db=x"],
)
def test_bad_targets_are_config_errors(value: str) -> None:
    with pytest.raises(ConfigError):
        load_settings({"TRACKER_DB": value, "TRACKER_DATA_PATH": "/d"})


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("dbname=t password=s3cret host=h", "dbname=t password=*** host=h"),
        ("dbname=t PASSWORD = 'a b\\'c' host=h", "dbname=t PASSWORD = *** host=h"),
        ("postgresql://joe:s3cret@db/t", "postgresql://joe:***@db/t"),
        ("dbname=t host=h", "dbname=t host=h"),
    ],
)
def test_passwords_are_masked(text: str, masked: str) -> None:
    assert mask_secrets(text) == masked


def test_settings_never_show_the_password() -> None:
    settings = load_settings(
        {
            "TRACKER_DB": "ducklake:postgres:dbname=t password=s3cret host=h",
            "TRACKER_DATA_PATH": "/d",
        }
    )
    assert settings.lake is not None
    for text in (repr(settings), settings.db_label, str(settings.lake), repr(settings.lake)):
        assert "s3cret" not in text
    assert settings.lake.mask("failed: password s3cret rejected") == "failed: password *** rejected"


def test_missing_extra_is_one_line_naming_pip(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name.startswith("duckdb_extension_") else real(name, *a),
    )
    r = CliRunner().invoke(
        app, ["collect", "--source", "pypi", "--db", f"ducklake:{tmp_path}/c.ducklake"]
    )
    assert r.exit_code == 2
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "pip install 'tracker[lake]'" in lines[0], r.output


@pytest.mark.lake
def test_wrong_duckdb_version_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tests.backends import lake_extra_missing

    if lake_extra_missing():
        pytest.skip("needs the extension packages installed")
    import duckdb

    monkeypatch.setattr(duckdb, "__version__", "9.9.9")
    from tracker.warehouse.lake import extension_files

    with pytest.raises(WarehouseError, match=r"built for DuckDB 1\.5.*DuckDB 9\.9\.9 is installed"):
        extension_files()


def test_migrations_translate_to_the_lake_dialect() -> None:
    for _, _, sql in migrations():
        lake_sql = translate_ddl(sql).upper()
        assert "PRIMARY KEY" not in lake_sql and "NEXTVAL" not in lake_sql
        assert "CREATE SEQUENCE" not in lake_sql and "CREATE INDEX" not in lake_sql
    assert "INSERT INTO lake_sequences VALUES ('run_id_seq', 0);" in translate_ddl(
        migrations()[0][2]
    )


# ---- on a lake ------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", backend_params("lake-pg"), indirect=True)
def test_conflicting_commit_is_retried_not_failed(backend: Any) -> None:
    from tracker.records import ReleaseRecord, ToolBatch
    from tracker.warehouse import Store

    a, b = backend.connect(), backend.connect()
    try:
        sleeps: list[float] = []
        store_a, store_b = Store(a), Store(b, sleep=sleeps.append)
        real = store_b._upsert
        calls = []

        def interleaved(spec: Any, rows: Any) -> int:
            if spec.name == "downloads_daily" and not calls:  # after this batch's releases
                calls.append(spec.name)
                # another process commits a write to the same table meanwhile
                store_a.write_batch(
                    ToolBatch(
                        "dagster",
                        releases=(
                            ReleaseRecord("dagster", "pypi", "dagster", "1.0", None, False, False),
                        ),
                    )
                )
            return real(spec, rows)

        store_b._upsert = interleaved  # type: ignore[method-assign]
        rel = ReleaseRecord("airflow", "pypi", "apache-airflow", "2.0", None, False, False)
        assert store_b.write_batch(ToolBatch("airflow", releases=(rel,))) == 1
        assert store_b.conflicts_retried == 1 and len(sleeps) == 1
        rows = b.execute("SELECT tool_id, version FROM releases ORDER BY 1").fetchall()
        assert rows == [("airflow", "2.0"), ("dagster", "1.0")]
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("backend", backend_params("lake-pg"), indirect=True)
def test_run_ids_stay_unique_across_connections(backend: Any) -> None:
    from tracker.warehouse import Store

    a, b = backend.connect(), backend.connect()
    try:
        ids = [Store(con).start_run("pypi") for con in (a, b, a, b)]
        assert ids == sorted(set(ids))
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("backend", backend_params("lake-pg"), indirect=True)
def test_processes_creating_one_new_lake_at_once_all_open_it(backend: Any) -> None:
    """Each opener of a brand-new PostgreSQL lake tries to create its catalog tables; the ones
    that lose the race attach again instead of failing (then migrate under retried commits)."""
    from concurrent.futures import ThreadPoolExecutor

    def open_close(_: int) -> int:
        con = backend.connect()
        try:
            row = con.execute("SELECT max(version) FROM schema_migrations").fetchone()
            return int(row[0])
        finally:
            con.close()

    with ThreadPoolExecutor(3) as pool:
        versions = list(pool.map(open_close, range(3)))
    assert versions == [migrations()[-1][0]] * 3
    assert backend.query("SELECT count(*) FROM schema_migrations") == [(len(migrations()),)]


def test_only_a_lost_creation_race_is_retried() -> None:
    from tracker.warehouse.lake import _is_init_race

    race = (
        'Failed to initialize DuckLake: Failed to execute query "CREATE TABLE ...": ERROR:  '
        'duplicate key value violates unique constraint "pg_type_typname_nsp_index"'
    )
    assert _is_init_race(Exception(race))
    assert _is_init_race(Exception('Failed to initialize DuckLake: relation "x" already exists'))
    assert not _is_init_race(Exception("Failed to initialize DuckLake: permission denied"))
    assert not _is_init_race(Exception("duplicate key value violates unique constraint"))


def _landscape_file(tmp_path: Path, *, labels: bool = False) -> Path:
    """A file made by today's tracker: the report landscape plus demand rows; with ``labels``,
    two reports' labels in `tool_labels` / `skill_labels` (written by `tracker report`)."""
    from tests.reports.conftest import AS_OF, build_landscape
    from tests.reports.synth import Synth, add_demand, noisy

    db = tmp_path / "landscape.duckdb"
    build_landscape(db)
    s = Synth(db, AS_OF)
    for i, tool in enumerate(("oozie", "airflow", "dagster", "prefect")):
        add_demand(s, tool, "hn", noisy(30, 30, 400 + i))
        add_demand(s, tool, "stackoverflow", noisy(200, 30, 500 + i))
    s.close()
    if labels:
        for as_of in ("2025-03-10", "2025-06-15"):
            r = CliRunner().invoke(
                app,
                ["report", "--db", str(db), "--out", str(tmp_path / "pre"), "--as-of", as_of],
            )
            assert r.exit_code == 0, r.output
    return db


def _rows(backend_or_db: Any, table: str, *, exclude: str = "") -> list[tuple[Any, ...]]:
    """Every row of ``table``, ordered (``exclude``: columns left out, e.g. written_at)."""
    from tracker.warehouse.db import open_target

    con = (
        backend_or_db.connect(read_only=True)
        if hasattr(backend_or_db, "connect")
        else open_target(backend_or_db, read_only=True)
    )
    try:
        cols = f"* EXCLUDE ({exclude})" if exclude else "*"
        return con.execute(f'SELECT {cols} FROM "{table}" ORDER BY ALL').fetchall()
    finally:
        con.close()


def _counts(backend_or_db: Any) -> dict[str, int]:
    from tracker.warehouse.db import open_target
    from tracker.warehouse.transfer import _count, _data_tables

    con = (
        backend_or_db.connect(read_only=True)
        if hasattr(backend_or_db, "connect")
        else open_target(backend_or_db, read_only=True)
    )
    try:
        return {t: _count(con, t) for t in _data_tables(con)}
    finally:
        con.close()


LABEL_TABLES = ("tool_labels", "skill_labels")


@pytest.mark.parametrize("backend", backend_params(*("lake-file", "lake-pg")), indirect=True)
def test_migrate_a_file_to_the_lake_keeps_every_row_and_label(
    backend: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = _landscape_file(tmp_path, labels=True)
    for key, value in backend.env().items():
        if key == "TRACKER_DATA_PATH":
            monkeypatch.setenv(key, value)
    r = CliRunner().invoke(app, ["migrate", "--db", str(db), "--to", backend.spec, "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    before = _counts(db)
    assert doc["rows"] == before and _counts(backend) == before
    assert before["releases"] > 0 and before["runs"] == 3
    # every table of today's schema is copied, demand and labels included
    assert {"demand_monthly", *LABEL_TABLES} <= set(before)
    assert before["demand_monthly"] == 4 * 2 * 30 and before["tool_labels"] > 0
    # the labels arrive as they were: identical rows, both as-of dates
    for table in LABEL_TABLES:
        assert _rows(backend, table) == _rows(db, table)
    assert {r[0] for r in _rows(backend, "tool_labels")} == {date(2025, 3, 10), date(2025, 6, 15)}
    # the same report (labels and evidence) from both: a new as-of date and a repeated one
    for as_of in ("2025-05-20", "2025-06-15"):
        for name, spec in (("file", str(db)), ("lake", backend.spec)):
            out = tmp_path / f"{name}-{as_of}"
            r = CliRunner().invoke(
                app, ["report", "--db", spec, "--out", str(out), "--as-of", as_of]
            )
            assert r.exit_code == 0, r.output
        file_json = json.loads((tmp_path / f"file-{as_of}" / "trends.json").read_text())
        lake_json = json.loads((tmp_path / f"lake-{as_of}" / "trends.json").read_text())
        assert lake_json == file_json
    # a report on the lake writes the labels a report on the file writes (written_at aside)
    assert _counts(backend) == _counts(db)
    for table in LABEL_TABLES:
        lake_rows = _rows(backend, table, exclude="written_at")
        assert lake_rows == _rows(db, table, exclude="written_at")
        assert len({r[0] for r in lake_rows}) == 3  # three as-of dates, the repeat replaced
    # a second migrate into the now full lake is refused
    r = CliRunner().invoke(app, ["migrate", "--db", str(db), "--to", backend.spec])
    assert r.exit_code == 2 and "already holds data" in r.output


@pytest.mark.parametrize("backend", backend_params("lake-file"), indirect=True)
def test_migrate_through_a_parquet_export(backend: Any, tmp_path: Path) -> None:
    db = _landscape_file(tmp_path, labels=True)
    export = tmp_path / "export"
    r = CliRunner().invoke(app, ["migrate", "--db", str(db), "--to", f"parquet:{export}"])
    assert r.exit_code == 0, r.output
    assert (export / "manifest.json").is_file() and (export / "releases.parquet").is_file()
    r = CliRunner().invoke(app, ["migrate", "--db", f"parquet:{export}", "--to", backend.spec])
    assert r.exit_code == 0, r.output
    assert _counts(backend) == _counts(db)
    for table in ("demand_monthly", *LABEL_TABLES):
        assert _rows(backend, table) == _rows(db, table)
    from tracker.warehouse import Store

    con = backend.connect()
    try:  # run ids continue after the copied ones
        assert Store(con).start_run("pypi") == 1 + max(
            r[0]
            for r in con.execute("SELECT run_id FROM runs WHERE status <> 'running'").fetchall()
        )
    finally:
        con.close()


def test_export_runs_on_the_base_install(tmp_path: Path) -> None:
    db = _landscape_file(tmp_path, labels=True)
    export = tmp_path / "export"
    r = CliRunner().invoke(app, ["migrate", "--db", str(db), "--to", f"parquet:{export}", "--json"])
    assert r.exit_code == 0, r.output
    manifest = json.loads((export / "manifest.json").read_text())
    assert manifest["tables"] == _counts(db)


@pytest.mark.parametrize("backend", backend_params("lake-pg"), indirect=True)
def test_unreachable_catalog_error_masks_the_password(backend: Any, tmp_path: Path) -> None:
    spec = backend.spec.replace("dbname=", "password=Sup3rSecret dbname=nosuchdb_")
    r = CliRunner().invoke(
        app, ["status", "--db", spec], env={"TRACKER_DATA_PATH": str(tmp_path / "d")}
    )
    assert r.exit_code == 2
    assert "Sup3rSecret" not in r.output and "password=***" in r.output, r.output
    assert len([x for x in r.output.splitlines() if x.strip()]) == 1, r.output


@pytest.mark.parametrize("backend", backend_params("lake-pg"), indirect=True)
def test_report_on_a_new_lake_creates_it_and_says_what_is_missing(
    backend: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a PostgreSQL catalog counts as existing (its database does): the report prepares the lake
    for key, value in backend.env().items():
        monkeypatch.setenv(key, value)
    r = CliRunner().invoke(app, ["report", "--out", str(tmp_path / "rep"), "--json"])
    assert r.exit_code == 0, r.output
    assert any("star history" in m for m in json.loads(r.output)["missing"])
    assert backend.query("SELECT count(*) FROM tool_labels") == [(0,)]


@pytest.mark.parametrize("backend", backend_params("lake-file"), indirect=True)
@pytest.mark.parametrize("command", ["report", "status"])
def test_a_missing_lake_catalog_file_is_refused_not_created(
    backend: Any, tmp_path: Path, command: str
) -> None:
    r = CliRunner().invoke(app, [command, "--db", backend.spec])
    assert r.exit_code == 2
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "no such DuckLake catalog" in lines[0], r.output
    assert f"tracker collect --db {backend.spec}" in lines[0]
    assert not (tmp_path / "cat.ducklake").exists()
