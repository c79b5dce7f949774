#!/usr/bin/env bash
# Installs everything PVP needs on Debian 12, as root: the Debian packages listed in
# packages.debian, then a virtualenv in .venv with PVP and its test tools. Re-running it is
# cheap: it does nothing when packages.debian and setup.cfg have not changed since.
set -euo pipefail
cd "$(dirname "$0")/.."

stamp=.venv/.pvp-setup
want=$(cat packages.debian setup.cfg pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi

mapfile -t packages < <(sed 's/#.*//' packages.debian | tr -s ' \t' '\n' | grep -v '^$')
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e '.[test]'
echo "$want" > "$stamp"
