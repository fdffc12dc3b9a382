//! What is particular to SQLite: WAL, durable commits, one writer connection.

use sqlx::{AnyPool, Executor};

use super::{pool_options, StoreResult};

// FULL: a commit survives power loss, which is what "acknowledge only what is
// committed" means. busy_timeout covers the short overlap of reader and writer pools.
const PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                       PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;";

pub(super) async fn connect(url: &str, max_connections: u32) -> StoreResult<(AnyPool, AnyPool)> {
    let url = with_create_mode(url);
    let writer = pool_options(1)
        .after_connect(|conn, _| Box::pin(async move { conn.execute(PRAGMAS).await.map(|_| ()) }))
        .connect(&url)
        .await?;
    let reader = pool_options(max_connections.max(1))
        .after_connect(|conn, _| Box::pin(async move { conn.execute(PRAGMAS).await.map(|_| ()) }))
        .connect(&url)
        .await?;
    Ok((writer, reader))
}

/// `sqlite://path` creates the file when missing.
fn with_create_mode(url: &str) -> String {
    if url.contains("mode=") || url.contains(":memory:") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

/// Claims due outbox rows. SQLite has one writer, so a plain UPDATE … RETURNING in the
/// write transaction is already exclusive.
pub(super) const CLAIM_DUE: &str = "UPDATE outbox SET claimed_until = $1 \
     WHERE message_id IN (SELECT message_id FROM outbox \
        WHERE dead = 0 AND next_attempt_at <= $2 AND (claimed_until IS NULL OR claimed_until < $2) \
        ORDER BY next_attempt_at LIMIT $3) \
     RETURNING message_id, attempts";
