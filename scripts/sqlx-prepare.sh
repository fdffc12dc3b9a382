#!/usr/bin/env bash
# Regenerates the offline query data (crates/store-{postgres,sqlite}/.sqlx) that lets a
# fresh clone build without a database (each engine crate's .env sets SQLX_OFFLINE=true).
# Run it after changing a query or a migration of the gateway's store; it needs
# PostgreSQL at 127.0.0.1:5432 and python3 (for the SQLite file), not sqlx-cli: the
# sqlx macros write their data themselves when SQLX_OFFLINE_DIR is set.
# `scripts/sqlx-prepare.sh --check` fails when the committed data is stale.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-}"
pg_url="postgres://postgres@127.0.0.1:5432/sedgate_sqlx"
sqlite_file="$PWD/target/sqlx-sqlite.db"
mkdir -p target

# Fresh databases with the current migrations: the queries are checked against these.
psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS sedgate_sqlx" >/dev/null
psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE sedgate_sqlx" >/dev/null
for m in crates/store-postgres/migrations/*.sql; do
    psql -h 127.0.0.1 -U postgres -d sedgate_sqlx -q -v ON_ERROR_STOP=1 -f "$m" >/dev/null
done
rm -f "$sqlite_file"
python3 - "$sqlite_file" crates/store-sqlite/migrations/*.sql <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for path in sys.argv[2:]:
    db.executescript(open(path).read())
db.commit()
EOF

prepare() {
    local crate="$1" url="$2" out
    out="$(mktemp -d)"
    # Touch the crate so its macros run again, then let them write into $out.
    touch "crates/$crate/src/lib.rs"
    SQLX_OFFLINE=false DATABASE_URL="$url" SQLX_OFFLINE_DIR="$out" \
        cargo check --quiet -p "sedgate-$crate" --all-targets
    if [ "$mode" = "--check" ]; then
        if ! diff -r -q "$out" "crates/$crate/.sqlx" >/dev/null; then
            echo "crates/$crate/.sqlx is stale: run scripts/sqlx-prepare.sh" >&2
            rm -rf "$out"
            return 1
        fi
        rm -rf "$out"
    else
        rm -rf "crates/$crate/.sqlx"
        mv "$out" "crates/$crate/.sqlx"
        echo "crates/$crate/.sqlx: $(ls "crates/$crate/.sqlx" | wc -l) queries"
    fi
}
prepare store-postgres "$pg_url"
prepare store-sqlite "sqlite://$sqlite_file"
