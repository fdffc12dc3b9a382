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
mod outbox;
mod payloads;
mod postgres;
mod sqlite;

use std::path::{Path, PathBuf};

use sqlx::{AnyPool, Row};

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
pub use outbox::{DeadLetter, OutboxItem, Redrive};
pub use payloads::{BlobWriter, WrittenBlob};
pub use sedgate_db::Engine;

pub use sedgate_db::{StoreError, StoreResult};

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
        std::fs::create_dir_all(&config.blob_dir)?;
        let pools = sedgate_db::Pools::connect(&config.url, config.max_connections, None).await?;
        Ok(Store {
            engine: pools.engine,
            writer: pools.writer,
            reader: pools.reader,
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

pub(crate) use sedgate_db::column::{from_millis, opt_from_millis, parse_col, to_millis};
