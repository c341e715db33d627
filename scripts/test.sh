#!/usr/bin/env bash
# Sets up a virtualenv with the dev extras, then runs every check: ruff (lint + format),
# mypy --strict and the whole pytest suite (including the headless-Chromium report test).
#
# Two DuckDB versions: .venv has the base install (DuckDB 2.x) and runs every test not marked
# `lake`; .venv-lake has `.[dev,lake]` (DuckDB 1.5 + the DuckLake extension wheels) and runs the
# tests marked `lake` (the backend-parametrized warehouse, collect, report and migrate tests on a
# DuckLake) against a throwaway PostgreSQL (scripts/pg-throwaway.sh: installed from Debian when
# missing, data in a temp dir, Unix socket only), stopped at the end. TRACKER_TEST_LAKE=0 skips
# the lake part locally; under CI=true it always runs.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install -q -e '.[dev]' 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -c "import tracker, pytest, respx" # fail here if the install did not work

# The browser test needs Debian's chromium; install it when missing and we are root.
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing chromium for the browser test (apt-get)..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "warning: could not install chromium; the browser test will report it"
fi

echo "== ruff"
.venv/bin/ruff check tracker fakes tests benchmarks scripts
.venv/bin/ruff format --check tracker fakes tests benchmarks scripts
echo "== mypy --strict"
.venv/bin/mypy
echo "== pytest (file backend, DuckDB $(.venv/bin/python -c 'import duckdb; print(duckdb.__version__)'))"
set +e
.venv/bin/python -m pytest -m "not lake" "$@"
rc=$?
set -e
if [ "$rc" = 5 ] && [ $# = 0 ]; then
  echo "pytest collected no test: failing" >&2
  exit 1
fi
[ "$rc" = 5 ] && rc=0

if [ "${CI:-}" != true ] && [ "${TRACKER_TEST_LAKE:-1}" = 0 ]; then
  echo "== lake tests skipped (TRACKER_TEST_LAKE=0)"
  exit "$rc"
fi

echo "== lake venv (.venv-lake: .[dev,lake])"
if [ ! -x .venv-lake/bin/python ]; then
  "$PY" -m venv .venv-lake
fi
.venv-lake/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
.venv-lake/bin/python -m pip install -q -e '.[dev,lake]' 2>&1 | grep -v "^WARNING: Location" || true
.venv-lake/bin/python -c "import tracker, pytest, duckdb_extension_ducklake"

echo "== throwaway PostgreSQL"
pg_env=$(bash scripts/pg-throwaway.sh start)
eval "$pg_env"
trap 'bash scripts/pg-throwaway.sh stop "$TRACKER_TEST_PG_DIR"' EXIT

echo "== pytest -m lake (DuckLake, DuckDB $(.venv-lake/bin/python -c 'import duckdb; print(duckdb.__version__)'))"
set +e
.venv-lake/bin/python -m pytest -m lake "$@"
lake_rc=$?
set -e
if [ "$lake_rc" = 5 ] && [ $# = 0 ]; then
  echo "pytest -m lake collected no test: failing" >&2
  exit 1
fi
[ "$lake_rc" = 5 ] && lake_rc=0
[ "$rc" != 0 ] && exit "$rc"
exit "$lake_rc"
