#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs the build and test
# dependencies, makes sure PostgreSQL answers, checks formatting and lints, runs
# every test against SQLite and PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
scripts/ensure-postgres.sh

# Leftover databases of earlier runs on this machine.
psql -h 127.0.0.1 -U postgres -d postgres -Atc \
    "SELECT datname FROM pg_database WHERE datname LIKE 'sedgate_test_%'" 2>/dev/null |
    while read -r db; do psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS \"$db\"" >/dev/null 2>&1 || true; done

export SEDGATE_TEST_PYTHON="$PWD/.venv-test/bin/python"
export SEDGATE_INTEROP_PYTHON="$PWD/.venv-interop/bin/python"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --all-targets --locked
