#!/usr/bin/env bash
# The main job: set up, load the 2006 Auvergne deployment into the embedded SQLite database
# (idempotent) and run the control plane on 127.0.0.1 until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PVP_DATA_DIR="${PVP_DATA_DIR:-$PWD/var}"
exec .venv/bin/pvp serve --plan provisioning/auvergne-2006.yaml "$@"
