#!/usr/bin/env bash
# The main job, from a fresh machine: installs the build dependencies, builds sedgate and
# runs `sedgate demo` (two gateways, embedded SQLite, a development PKI, one SED end to end).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo run --locked --quiet -- demo "$@"
