#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for SECONDS_PER_TARGET (default 600), at most
# FUZZ_JOBS targets at a time (default 2), each seeded from tests/fixtures. Needs
# `cargo install cargo-fuzz`; RUSTC_BOOTSTRAP=1 lets its nightly flags work on stable.
# Crashes land in fuzz/artifacts/<target>/; each run's log in fuzz/logs/<target>.log.
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(xml mime as4_header signature ir_import gzip)
fi
jobs="${FUZZ_JOBS:-2}"
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || { echo "fuzz.sh: cargo install cargo-fuzz first" >&2; exit 2; }

seeds=fuzz/corpus
mkdir -p fuzz/logs
python3 scripts/fuzz_seeds.py "$seeds"

# Its own target dir: the sanitizer flags would otherwise rebuild the main crate's.
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$PWD/fuzz/target}"
(cd fuzz && nice -n 19 cargo fuzz build -O)

run() {
    local target="$1"
    mkdir -p "fuzz/artifacts/$target"
    (cd fuzz && nice -n 19 cargo fuzz run -O "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        > "logs/$target.log" 2>&1) && status=ok || status="FAILED (see fuzz/logs/$target.log)"
    local execs
    execs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "fuzz/logs/$target.log" | grep -Eo '[0-9]+$' || echo "?")
    echo "$target: $status, $execs executions in ${seconds}s"
}

running=0
for t in "${targets[@]}"; do
    run "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n || true
        running=$((running - 1))
    fi
done
wait
