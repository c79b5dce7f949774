#!/usr/bin/env bash
# The whole test suite: set up, lint, then every test (live FreeSWITCH tests included where
# FreeSWITCH is installed; they skip, saying why, where it is not). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check pvp tests testkit benchmarks
status=0
.venv/bin/pytest "$@" || status=$?
# pytest's 5 means "no test collected": a failure for a suite that must run tests.
exit $status
