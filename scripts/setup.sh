#!/usr/bin/env bash
# Installs what building and testing sedgate needs on a fresh Debian machine, and
# makes sure PostgreSQL answers. Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# chromium and chromium-driver: the browser tests (tests/it/browser.rs) drive headless Chromium;
# poppler-utils: pdftotext and pdftoppm read the PDFs the MISSOC tests produce.
apt_packages=(pkg-config libclang-dev clang libxml2-dev python3-venv chromium chromium-driver poppler-utils)
missing=()
for p in "${apt_packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Python tools for the tests: xmlschema (differential XSD check) in its own venv.
venv=.venv-test
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import xmlschema" 2>/dev/null; then
    echo "setup: creating $venv with xmlschema"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check 'xmlschema==4.3.2'
fi

# The interop peer (PyPI `as4`, pinned) in its own virtualenv .venv-interop: the WS-Security
# interop tests (tests/wssec_interop.rs, tests/it/interop_live.rs) run it in both directions.
bash tests/interop/setup.sh
