#!/usr/bin/env bash
# Sets up a virtualenv with the dev extras, then runs every check: ruff (lint + format),
# mypy --strict and the whole pytest suite (including the headless-Chromium report test).
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
.venv/bin/ruff check tracker tests benchmarks scripts
.venv/bin/ruff format --check tracker tests benchmarks scripts
echo "== mypy --strict"
.venv/bin/mypy
echo "== pytest"
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
if [ "$rc" = 5 ]; then
  echo "pytest collected no test: failing" >&2
  exit 1
fi
exit "$rc"
