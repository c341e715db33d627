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

# setup_venv DIR EXTRAS IMPORTS: a venv with the editable install, failing here if it did not work
setup_venv() {
  if [ ! -x "$1/bin/python" ]; then
    "$PY" -m venv "$1"
  fi
  "$1/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
  "$1/bin/python" -m pip install -q -e ".[$2]" 2>&1 | grep -v "^WARNING: Location" || true
  "$1/bin/python" -c "import $3"
}

# run_pytest DIR MARK [ARGS...]: pytest -m MARK; collecting no test fails unless ARGS select some
run_pytest() {
  local venv=$1 mark=$2 rc
  shift 2
  set +e
  "$venv/bin/python" -m pytest -m "$mark" "$@"
  rc=$?
  set -e
  if [ "$rc" = 5 ] && [ $# = 0 ]; then
    echo "pytest -m '$mark' collected no test: failing" >&2
    return 1
  fi
  [ "$rc" = 5 ] && rc=0
  return "$rc"
}

setup_venv .venv dev "tracker, pytest, respx"

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
rc=0
run_pytest .venv "not lake" "$@" || rc=$?

if [ "${CI:-}" != true ] && [ "${TRACKER_TEST_LAKE:-1}" = 0 ]; then
  echo "== lake tests skipped (TRACKER_TEST_LAKE=0)"
  exit "$rc"
fi

echo "== lake venv (.venv-lake: .[dev,lake])"
setup_venv .venv-lake dev,lake "tracker, pytest, duckdb_extension_ducklake"

echo "== throwaway PostgreSQL"
pg_env=$(bash scripts/pg-throwaway.sh start)
eval "$pg_env"
trap 'bash scripts/pg-throwaway.sh stop "$TRACKER_TEST_PG_DIR"' EXIT

echo "== pytest -m lake (DuckLake, DuckDB $(.venv-lake/bin/python -c 'import duckdb; print(duckdb.__version__)'))"
lake_rc=0
run_pytest .venv-lake lake "$@" || lake_rc=$?
[ "$rc" != 0 ] && exit "$rc"
exit "$lake_rc"
