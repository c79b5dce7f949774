#!/usr/bin/env bash
# The whole test suite: set up, lint, then every test (live FreeSWITCH tests included where
# FreeSWITCH is installed; they skip, saying why, where it is not). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check pvp tests testkit benchmarks
.venv/bin/lint-imports  # the import contract in setup.cfg: two programs over one shared package
.venv/bin/ruff format --check pvp tests testkit benchmarks
.venv/bin/mypy pvp  # strict on the pure core and the shared packages: pyproject.toml
status=0
.venv/bin/pytest "$@" || status=$?
# pytest's 5 means "no test collected": a failure for a suite that must run tests.
exit $status
