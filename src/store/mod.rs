//! Storage: one `Store` over SQLite (embedded default) and PostgreSQL.
//!
//! Both engines go through sqlx's `Any` driver with SQL that both accept, so the two
//! cannot drift; what really differs (connection set-up, the outbox claim) lives in
//! `sqlite.rs` and `postgres.rs`. Every public method is one whole transaction.
//! Times are stored as Unix milliseconds, booleans as 0/1.

mod audit;
mod clients;
mod console;
mod evidence;
mod group;
mod inbox;
mod ir;
mod messages;
mod missoc;
mod outbox;
mod payloads;
mod postgres;
mod sqlite;

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

pub use crate::config::Engine;
pub use audit::{AuditEntry, AuditReport};
pub use clients::{ApiClient, NewApiClient};
pub use console::{Activity, MessageQuery, Operator, OperatorSession};
pub use evidence::{Evidence, EvidenceReference};
pub use group::GroupCommitStats;
pub use inbox::{InboundMessage, InboundOutcome, InboxItem};
pub use ir::LastImport;
pub use messages::{
    AcceptOutcome, CaseInfo, Direction, IdempotencyRecord, MessageEvent, MessageRecord,
    MessageState, NewOutboundMessage, NewPart, PartRecord, PartType, PayloadData, SavedResponse,
    StoredPayload, Submission,
};
pub use missoc::{
    ChangeSet, EditionSummary, MissocImportSummary, MissocSession, NewMissocUser, Review,
};
pub use outbox::{DeadLetter, OutboxItem, Redrive};
pub use payloads::{BlobWriter, WrittenBlob};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Backend(#[source] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("payload storage: {0}")]
    Io(#[from] std::io::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_) => StoreError::Unavailable(e.to_string()),
            _ => StoreError::Backend(e),
        }
    }
}

impl StoreError {
    /// True when the database could not be reached (answer 503, retry later).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Where the store keeps its data.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub engine: Engine,
    pub url: String,
    pub max_connections: u32,
    /// Payloads larger than this go to `blob_dir` instead of the database.
    pub inline_payload_bytes: u64,
    pub blob_dir: PathBuf,
}

/// The database of one gateway. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    engine: Engine,
    /// All writes. SQLite allows one writer at a time, so there it is one connection;
    /// waiting in the pool is cheaper than SQLITE_BUSY retries.
    writer: AnyPool,
    /// Reads. On PostgreSQL the same pool as `writer`.
    reader: AnyPool,
    blob_dir: PathBuf,
    inline_payload_bytes: u64,
    /// Concurrent hot-path writes share one transaction (see `group`).
    group: std::sync::Arc<group::GroupCommit>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("engine", &self.engine)
            .finish()
    }
}

impl Store {
    /// Connects (creating an SQLite file if needed) without migrating.
    pub async fn connect(config: &StoreConfig) -> StoreResult<Store> {
        sqlx::any::install_default_drivers();
        std::fs::create_dir_all(&config.blob_dir)?;
        let (writer, reader) = match config.engine {
            Engine::Sqlite => sqlite::connect(&config.url, config.max_connections).await?,
            Engine::Postgres => {
                let pool = postgres::connect(&config.url, config.max_connections).await?;
                (pool.clone(), pool)
            }
        };
        Ok(Store {
            engine: config.engine,
            writer,
            reader,
            blob_dir: config.blob_dir.clone(),
            inline_payload_bytes: config.inline_payload_bytes,
            group: Default::default(),
        })
    }

    /// Connects and applies pending migrations.
    pub async fn open(config: &StoreConfig) -> StoreResult<Store> {
        let store = Self::connect(config).await?;
        store.migrate().await?;
        Ok(store)
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    pub fn blob_dir(&self) -> &Path {
        &self.blob_dir
    }

    pub fn inline_payload_bytes(&self) -> u64 {
        self.inline_payload_bytes
    }

    pub async fn migrate(&self) -> StoreResult<()> {
        match self.engine {
            Engine::Sqlite => {
                sqlx::migrate!("migrations/sqlite")
                    .run(&self.writer)
                    .await?
            }
            Engine::Postgres => {
                sqlx::migrate!("migrations/postgres")
                    .run(&self.writer)
                    .await?
            }
        }
        Ok(())
    }

    /// Whether every migration this build knows has been applied.
    pub async fn migrations_applied(&self) -> StoreResult<bool> {
        let known = match self.engine {
            Engine::Sqlite => sqlx::migrate!("migrations/sqlite").migrations.len(),
            Engine::Postgres => sqlx::migrate!("migrations/postgres").migrations.len(),
        };
        let applied: i64 = sqlx::query("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = $1")
            .bind(true)
            .fetch_one(&self.reader)
            .await
            .map(|row| row.get(0))
            .unwrap_or(0);
        Ok(usize::try_from(applied).unwrap_or(0) >= known)
    }

    /// A round trip to the database.
    pub async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    /// Connections in use and idle, for metrics.
    pub fn pool_status(&self) -> (u32, u32) {
        (
            self.reader.size(),
            u32::try_from(self.reader.num_idle()).unwrap_or(u32::MAX),
        )
    }

    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}

pub(crate) fn pool_options(max_connections: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(std::time::Duration::from_secs(5))
}

pub(crate) fn to_millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn from_millis(ms: i64) -> StoreResult<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .ok_or_else(|| StoreError::Corrupt(format!("timestamp {ms} out of range")))
}

pub(crate) fn opt_from_millis(ms: Option<i64>) -> StoreResult<Option<DateTime<Utc>>> {
    ms.map(from_millis).transpose()
}

/// Parses a stored string into a domain type; a failure means the row is corrupt.
pub(crate) fn parse_col<T: std::str::FromStr>(row: &AnyRow, col: &str) -> StoreResult<T>
where
    T::Err: std::fmt::Display,
{
    let raw: String = row.try_get(col)?;
    raw.parse()
        .map_err(|e: T::Err| StoreError::Corrupt(format!("column {col} value {raw:?}: {e}")))
}
