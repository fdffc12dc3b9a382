//! The gateway store on SQLite: one file, WAL, `synchronous = FULL` (a commit survives power
//! loss), one writer connection (every write and every transaction; waiting in the pool is
//! cheaper than SQLITE_BUSY retries) and a pool of readers. Declared column types that sqlx
//! reads as typed values (DATETIME, BOOLEAN, JSON text for lists), multi-row writes as one
//! statement over a JSON array (`json_each`), payloads over 256 KB as files of the blob
//! directory named by their hash. Every query is checked at compile time against the schema
//! in `migrations/` (offline data in `.sqlx`, see `scripts/sqlx-prepare.sh`).
//!
//! Each connection of each pool is a connection to the same file, so an in-memory URL
//! (`sqlite::memory:`) gives the writer and the readers different databases: use a file.
#![forbid(unsafe_code)]

mod admin;
mod audit;
mod exchange;
mod ir;
mod messages;
mod nodes;
mod outbox;
mod payloads;

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use sedgate_db::{Engine, StoreResult};
use sedgate_store::{Operation, Stats};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

/// The gateway store on one SQLite file.
pub struct SqliteBackend {
    /// One connection: every write and every transaction.
    writer: SqlitePool,
    /// Reads outside transactions.
    reader: SqlitePool,
    stats: Stats,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

impl SqliteBackend {
    /// Opens (creating the file when missing) and applies the migrations.
    pub async fn open(url: &str, max_connections: u32) -> StoreResult<SqliteBackend> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            // Covers the short overlap of the reader and writer pools.
            .busy_timeout(Duration::from_secs(10));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options.clone())
            .await?;
        MIGRATOR
            .run(&writer)
            .await
            .map_err(sedgate_store::migration_failed)?;
        let reader = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        Ok(SqliteBackend {
            writer,
            reader,
            stats: Stats::default(),
        })
    }

    fn count(&self, op: Operation, n: u64) {
        self.stats.add(op, n);
    }

    /// A write transaction on the writer connection. `BEGIN IMMEDIATE` takes the write lock
    /// at once (waiting up to the busy timeout), so a transaction that reads before it
    /// writes cannot fail with SQLITE_BUSY when another process (a CLI command on the same
    /// file) wrote in between.
    async fn begin_write(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }
}

/// `now - stale_after`: an incarnation whose heartbeat is not later than this is gone
/// (PostgreSQL computes it in SQL with `make_interval`).
fn cutoff(now: DateTime<Utc>, stale_after: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(stale_after)
        .ok()
        .and_then(|d| now.checked_sub_signed(d))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// A time as sqlx stores a `DateTime<Utc>` in SQLite (RFC 3339, `+00:00`), for values that
/// reach a DATETIME column through a JSON parameter: stored times then compare and sort as
/// text the same whichever way they were written.
fn sql_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

fn i32_of(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn i64_of(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl SqliteBackend {
    fn engine_impl(&self) -> Engine {
        Engine::Sqlite
    }

    async fn migrations_applied_impl(&self) -> StoreResult<bool> {
        use sqlx::migrate::Migrate;
        let mut conn = self.reader.acquire().await?;
        let applied = conn.list_applied_migrations().await?;
        self.count(Operation::Read, 1);
        Ok(applied.len() >= MIGRATOR.migrations.len())
    }

    async fn ping_impl(&self) -> StoreResult<()> {
        sqlx::query!("SELECT 1 AS one")
            .fetch_one(&self.reader)
            .await?;
        self.count(Operation::Read, 1);
        Ok(())
    }

    fn pool_status_impl(&self) -> (u32, u32) {
        let idle = |p: &SqlitePool| u32::try_from(p.num_idle()).unwrap_or(u32::MAX);
        (
            self.writer.size().saturating_add(self.reader.size()),
            idle(&self.writer).saturating_add(idle(&self.reader)),
        )
    }

    async fn close_impl(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}

sedgate_store::impl_backend!(SqliteBackend);

#[cfg(test)]
mod tests;
