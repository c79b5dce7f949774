#!/usr/bin/env bash
# Installs everything PVP needs on Debian 12, as root: the Debian packages listed in
# packages.debian, a virtualenv in .venv with PVP and its test tools, and the browser code
# (web/: JsSIP from the npm lockfile, bundled by esbuild into the package's static files).
# Re-running it is cheap: it does nothing when none of those inputs changed since.
set -euo pipefail
cd "$(dirname "$0")/.."

stamp=.venv/.pvp-setup
bundle=pvp/kiosk/screen/static/build/kiosk-phone.js
console_bundle=pvp/panel/static/build/console-phone.js
want=$(cat packages.debian setup.cfg pyproject.toml web/package-lock.json web/build.mjs web/src/*.js \
  | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$bundle" ] \
  && [ -f "$console_bundle" ]; then
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
# npm: Debian's package, unless a Node.js build that brings its own npm is installed.
if ! command -v npm >/dev/null; then
  apt-get install -y -qq --no-install-recommends npm >/dev/null
fi
(cd web && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build)

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e '.[control,kiosk,test,postgres]'
echo "$want" > "$stamp"
