#!/usr/bin/env bash
# The main job: set up, load the 2006 Auvergne deployment into the embedded SQLite database
# (idempotent) and run the control plane on 127.0.0.1 (with FreeSWITCH where a binary is found)
# until Ctrl-C. On the first run it creates the panel's first region admin and shows its
# password once.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PVP_DATA_DIR="${PVP_DATA_DIR:-$PWD/var}"
if [ -z "$(.venv/bin/pvp user list)" ]; then
  password=$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(12))')
  .venv/bin/pvp user add admin --role region_admin --temporary --password-stdin <<<"$password" >/dev/null
  echo "panel account created: admin / $password (shown once, temporary: the panel asks for a new one at the first sign-in)"
fi
exec .venv/bin/pvp serve --plan provisioning/auvergne-2006.yaml "$@"
