#!/usr/bin/env bash
# Install everything rpg-bench needs into .venv (idempotent). Used by the README
# commands and by .ci/run. Set WITH_BROWSER=1 to also install Debian's chromium
# (for the report's browser check).
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
# (grep drops pip's notes about this machine's optional local package indexes)
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.lock 2>&1 \
    | { grep -v "^WARNING: Location 'file://" || true; }
if [ "${WITH_BROWSER:-0}" = 1 ] && ! command -v chromium >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends chromium
fi
