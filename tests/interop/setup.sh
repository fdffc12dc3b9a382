#!/usr/bin/env bash
# Installs the interop peer (PyPI `as4`, pinned) into its own virtualenv .venv-interop at the
# repository root: it pins cryptography<47 and must not touch any other Python environment.
# Safe to run again. The Rust interop test finds it through SEDGATE_INTEROP_PYTHON or this path.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="$root/.venv-interop"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import as4" 2>/dev/null; then
    echo "interop: creating $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$root/tests/interop/requirements.txt"
fi
"$venv/bin/python" -c "import importlib.metadata as m; print('interop: as4', m.version('as4'))"
