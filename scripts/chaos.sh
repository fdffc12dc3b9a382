#!/usr/bin/env bash
# Long fault runs (CI runs the short defaults): kill -9 both gateways CHAOS_KILLS times under
# load, and network/database faults for CHAOS_SECONDS, on SQLite and PostgreSQL.
# Usage: scripts/chaos.sh [KILLS] [SECONDS]   (CHAOS_SEED=<n> replays a printed seed)
set -euo pipefail
cd "$(dirname "$0")/.."
export CHAOS_KILLS="${1:-200}"
export CHAOS_SECONDS="${2:-300}"
scripts/ensure-postgres.sh
echo "chaos: ${CHAOS_KILLS} kills, ${CHAOS_SECONDS} s of network faults, seed ${CHAOS_SEED:-random}"
cargo test --test it -- --nocapture --test-threads=1 chaos::
