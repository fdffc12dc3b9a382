//! Storage: the gateway's `Store` around one engine of `sedgate-store` (SQLite, embedded
//! by default, or PostgreSQL), each with typed queries checked at compile time.
//!
//! The engine runs transactions; this module adds what belongs to a running process:
//! - `group`: concurrent hot-path writes (intake, settlement, inbound) share one
//!   transaction and one fsync, linked on this process's audit chain;
//! - `node`: this process as an incarnation of a node, its heartbeat, its clean stop (its
//!   outbox claims are free at once; a killed process's claims are freed by its successor
//!   or, after `stale_after`, by the other nodes);
//! - `payloads`: large payloads staged while they stream in, promoted only with the
//!   commit that stores their row, removed on every refusal, swept at start;
//! - `clients`: back-office API clients cached for a few seconds (no statement per request).

mod clients;
mod group;
mod node;
mod payloads;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Mutex;

use sedgate_base::domain::{CaseId, InstitutionId, MessageId};
pub use sedgate_store::{
    AcceptOutcome, Activity, ApiClient, AuditEntry, AuditEvent, AuditReport, CaseInfo, DeadLetter,
    Delivery, Direction, Engine, Evidence, EvidenceReference, IdempotencyRecord, InboundMessage,
    InboundOutcome, InboxItem, LastImport, MessageEvent, MessageQuery, MessageRecord, MessageState,
    NewApiClient, NewOutboundMessage, NewPart, Operation, Operator, OperatorSession, OutboxItem,
    PartRecord, PartType, PayloadData, Redrive, SavedResponse, StagedPayload, StoreError,
    StoreResult, StoredPayload, Submission,
};
use sedgate_store::{AuditChain, Backend, Incarnation};

pub use group::GroupCommitStats;
pub use payloads::{PayloadBody, PayloadWriter, StagedPart};

use crate::ir::model::{AccessPoint, ImportCounts, InstitutionUpsert, IrSnapshot};

/// Where the store keeps its data and who this process is.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub engine: Engine,
    pub url: String,
    pub max_connections: u32,
    /// Payloads larger than this are staged while they stream (SQLite: a file of
    /// `blob_dir`; PostgreSQL: chunks in the database).
    pub inline_payload_bytes: u64,
    pub blob_dir: PathBuf,
    /// The node this process is (stable across restarts; several nodes may share one
    /// PostgreSQL database).
    pub node: String,
    /// A process that runs the gateway (claims outbox rows) or a one-off tool (a CLI
    /// command): a tool never releases the claims of the running gateway of its node.
    pub role: Role,
    pub heartbeat: Duration,
    /// A node silent for this long is gone: the others take over its claims.
    pub stale_after: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Gateway,
    Tool,
}

impl StoreConfig {
    /// Defaults for everything but where the data is.
    pub fn new(engine: Engine, url: impl Into<String>, blob_dir: PathBuf) -> StoreConfig {
        StoreConfig {
            engine,
            url: url.into(),
            max_connections: 8,
            inline_payload_bytes: 256 * 1024,
            blob_dir,
            node: "node-1".into(),
            role: Role::Gateway,
            heartbeat: Duration::from_secs(2),
            stale_after: Duration::from_secs(10),
        }
    }
}

/// The database of one gateway process. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Arc<dyn Backend>,
    blob_dir: PathBuf,
    inline_payload_bytes: u64,
    me: Incarnation,
    stale_after: Duration,
    /// This process's audit chain: every audited write links on it (one at a time).
    chain: Mutex<AuditChain>,
    group: group::GroupCommit,
    clients: clients::ClientCache,
    heartbeat: parking_lot::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("engine", &self.engine())
            .field("incarnation", &self.inner.me.id)
            .finish()
    }
}

impl Store {
    /// Connects, applies pending migrations, registers this process and sweeps what an
    /// earlier process of this node left half done.
    pub async fn open(config: &StoreConfig) -> StoreResult<Store> {
        let backend: Arc<dyn Backend> = match config.engine {
            Engine::Sqlite => {
                std::fs::create_dir_all(&config.blob_dir)?;
                Arc::new(
                    sedgate_store_sqlite::SqliteBackend::open(&config.url, config.max_connections)
                        .await?,
                )
            }
            Engine::Postgres => Arc::new(
                sedgate_store_postgres::PgBackend::open(&config.url, config.max_connections)
                    .await?,
            ),
        };
        let node = match config.role {
            Role::Gateway => config.node.clone(),
            Role::Tool => format!("{}:tool", config.node),
        };
        let me = Incarnation {
            id: format!("{node}/{}", uuid::Uuid::new_v4().simple()),
            node,
        };
        let store = Store {
            inner: Arc::new(Inner {
                chain: Mutex::new(AuditChain::new(me.id.clone())),
                backend,
                blob_dir: config.blob_dir.clone(),
                inline_payload_bytes: config.inline_payload_bytes,
                me,
                stale_after: config.stale_after,
                group: group::GroupCommit::default(),
                clients: clients::ClientCache::default(),
                heartbeat: parking_lot::Mutex::new(None),
            }),
        };
        store.start(config.heartbeat).await?;
        Ok(store)
    }

    fn backend(&self) -> &dyn Backend {
        self.inner.backend.as_ref()
    }

    pub fn engine(&self) -> Engine {
        self.backend().engine()
    }

    pub fn blob_dir(&self) -> &Path {
        &self.inner.blob_dir
    }

    pub fn inline_payload_bytes(&self) -> u64 {
        self.inner.inline_payload_bytes
    }

    /// The incarnation this process writes as (its audit chain has the same name).
    pub fn incarnation(&self) -> &str {
        &self.inner.me.id
    }

    /// Statements sent to the database by operation, since the store was opened.
    pub fn statements(&self, op: Operation) -> u64 {
        self.backend().stats().statements(op)
    }

    pub async fn migrations_applied(&self) -> StoreResult<bool> {
        self.backend().migrations_applied().await
    }

    /// A round trip to the database.
    pub async fn ping(&self) -> StoreResult<()> {
        self.backend().ping().await
    }

    /// Connections in use and idle, for metrics.
    pub fn pool_status(&self) -> (u32, u32) {
        self.backend().pool_status()
    }

    /// Writes audit entries of their own (operator actions without other rows).
    pub async fn audit(&self, events: &[AuditEvent]) -> StoreResult<()> {
        let mut chain = self.inner.chain.lock().await;
        self.backend().audit(events, &mut chain).await
    }

    // ---- the exchange ----

    /// What our institution `local` knows of `case`.
    pub async fn case_info(
        &self,
        case: &CaseId,
        local: &InstitutionId,
    ) -> StoreResult<Option<CaseInfo>> {
        self.backend().case_info(case, local).await
    }

    pub async fn saved_response(
        &self,
        client_id: &str,
        key: &str,
    ) -> StoreResult<Option<SavedResponse>> {
        self.backend().saved_response(client_id, key).await
    }

    /// The receipt we sent for a message received from `peer_country`.
    pub async fn inbound_receipt(
        &self,
        id: &MessageId,
        peer_country: &str,
    ) -> StoreResult<Option<Vec<u8>>> {
        self.backend().inbound_receipt(id, peer_country).await
    }

    // ---- outbox ----

    /// Claims up to `limit` due messages for this process (each with its parts and
    /// inline payloads). A claim lasts while this process heartbeats.
    pub async fn claim_due(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<OutboxItem>> {
        self.backend()
            .claim_due(&self.inner.me, now, self.inner.stale_after, limit)
            .await
    }

    pub async fn next_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        self.backend().next_due().await
    }

    pub async fn record_retry(
        &self,
        id: &MessageId,
        attempts: u32,
        next_attempt_at: DateTime<Utc>,
        error: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.backend()
            .record_retry(id, attempts, next_attempt_at, error, now)
            .await
    }

    pub async fn record_dead(
        &self,
        id: &MessageId,
        attempts: u32,
        state: MessageState,
        code: &str,
        detail: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut chain = self.inner.chain.lock().await;
        self.backend()
            .record_dead(id, attempts, state, code, detail, now, &mut chain)
            .await
    }

    pub async fn dead_letters(&self) -> StoreResult<Vec<DeadLetter>> {
        self.backend().dead_letters().await
    }

    /// Puts dead letters back in the outbox; returns the ids re-driven.
    pub async fn redrive(
        &self,
        which: &Redrive,
        actor: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<MessageId>> {
        let mut chain = self.inner.chain.lock().await;
        self.backend().redrive(which, actor, now, &mut chain).await
    }

    /// (pending, dead).
    pub async fn outbox_counts(&self) -> StoreResult<(u64, u64)> {
        self.backend().outbox_counts().await
    }

    pub async fn outbound_receipt(&self, id: &MessageId) -> StoreResult<Option<Vec<u8>>> {
        self.backend().outbound_receipt(id).await
    }

    /// Keeps the signed envelope of a message before it is first sent.
    pub async fn record_evidence(&self, evidence: &Evidence) -> StoreResult<()> {
        self.backend().record_evidence(evidence).await
    }

    pub async fn evidence(&self, id: &MessageId) -> StoreResult<Vec<Evidence>> {
        self.backend().evidence(id).await
    }

    // ---- messages ----

    pub async fn message(&self, id: &MessageId) -> StoreResult<Option<MessageRecord>> {
        self.backend().message(id).await
    }

    pub async fn message_events(&self, id: &MessageId) -> StoreResult<Vec<MessageEvent>> {
        self.backend().message_events(id).await
    }

    pub async fn message_parts(&self, id: &MessageId) -> StoreResult<Vec<PartRecord>> {
        self.backend().message_parts(id).await
    }

    pub async fn case_messages(&self, case: &CaseId) -> StoreResult<Vec<MessageRecord>> {
        self.backend().case_messages(case).await
    }

    /// (direction, state, count).
    pub async fn message_counts(&self) -> StoreResult<Vec<(String, String, u64)>> {
        self.backend().message_counts().await
    }

    /// (peer country, direction, count).
    pub async fn message_counts_by_peer(&self) -> StoreResult<Vec<(String, String, u64)>> {
        self.backend().message_counts_by_peer().await
    }

    pub async fn search_messages(&self, q: &MessageQuery) -> StoreResult<Vec<MessageRecord>> {
        self.backend().search_messages(q).await
    }

    pub async fn activity_since(&self, since: DateTime<Utc>) -> StoreResult<Activity> {
        self.backend().activity_since(since).await
    }

    // ---- inbox ----

    pub async fn inbox_list(
        &self,
        receivers: &[InstitutionId],
        after: i64,
        limit: i64,
        include_acked: bool,
    ) -> StoreResult<Vec<InboxItem>> {
        self.backend()
            .inbox_list(receivers, after, limit, include_acked)
            .await
    }

    pub async fn inbox_item(&self, id: &MessageId) -> StoreResult<Option<InboxItem>> {
        self.backend().inbox_item(id).await
    }

    /// Marks an inbox item collected; false when it was not waiting.
    pub async fn inbox_ack(
        &self,
        id: &MessageId,
        actor: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut chain = self.inner.chain.lock().await;
        self.backend().inbox_ack(id, actor, now, &mut chain).await
    }

    // ---- operators ----

    pub async fn add_operator(
        &self,
        id: &str,
        name: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut chain = self.inner.chain.lock().await;
        self.backend()
            .add_operator(id, name, password_hash, now, &mut chain)
            .await
    }

    pub async fn operator_by_name(&self, name: &str) -> StoreResult<Option<Operator>> {
        self.backend().operator_by_name(name).await
    }

    pub async fn create_operator_session(
        &self,
        operator: &Operator,
        token_hash: &str,
        csrf_token: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut chain = self.inner.chain.lock().await;
        self.backend()
            .create_operator_session(
                operator, token_hash, csrf_token, now, expires_at, &mut chain,
            )
            .await
    }

    pub async fn operator_session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<OperatorSession>> {
        self.backend().operator_session(token_hash, now).await
    }

    pub async fn delete_operator_session(&self, token_hash: &str) -> StoreResult<()> {
        self.backend().delete_operator_session(token_hash).await
    }

    // ---- institution repository ----

    pub async fn import_institutions(
        &self,
        batch: &[InstitutionUpsert],
        source: &str,
        rejected: u64,
        now: DateTime<Utc>,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> StoreResult<ImportCounts> {
        let mut chain = self.inner.chain.lock().await;
        self.backend()
            .import_institutions(batch, source, rejected, now, &mut chain, progress)
            .await
    }

    pub async fn import_access_points(
        &self,
        batch: &[AccessPoint],
        source: &str,
        rejected: u64,
        now: DateTime<Utc>,
    ) -> StoreResult<ImportCounts> {
        let mut chain = self.inner.chain.lock().await;
        self.backend()
            .import_access_points(batch, source, rejected, now, &mut chain)
            .await
    }

    pub async fn load_ir(&self) -> StoreResult<IrSnapshot> {
        self.backend().load_ir().await
    }

    pub async fn last_import(&self) -> StoreResult<Option<LastImport>> {
        self.backend().last_import().await
    }

    // ---- audit ----

    /// Walks every chain (one per process that ever wrote), streaming rows.
    pub async fn audit_verify(&self) -> StoreResult<ChainsReport> {
        // Our own head first, so that a deleted tail of our chain shows too.
        self.heartbeat_now().await?;
        Ok(ChainsReport::of(self.backend().audit_verify().await?))
    }

    /// The newest entries first, for operators.
    pub async fn audit_tail(&self, limit: i64) -> StoreResult<Vec<AuditEntry>> {
        self.backend().audit_tail(limit).await
    }
}

/// `audit verify` over all chains of a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainsReport {
    /// Entries of all chains.
    pub entries: u64,
    /// The first altered or missing entry of the first broken chain.
    pub first_broken: Option<i64>,
    /// Which chain that is.
    pub broken_chain: Option<String>,
    pub chains: Vec<(String, AuditReport)>,
}

impl ChainsReport {
    fn of(chains: Vec<(String, AuditReport)>) -> ChainsReport {
        let broken = chains
            .iter()
            .find_map(|(chain, r)| r.first_broken.map(|seq| (chain.clone(), seq)));
        ChainsReport {
            entries: chains.iter().map(|(_, r)| r.entries).sum(),
            first_broken: broken.as_ref().map(|(_, seq)| *seq),
            broken_chain: broken.map(|(chain, _)| chain),
            chains,
        }
    }
}
