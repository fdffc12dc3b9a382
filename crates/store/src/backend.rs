//! The operations a storage engine implements. Each method is one transaction (or one
//! statement); the gateway's `Store` adds the group commit, the payload staging and the
//! process's audit chain around them.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use sedgate_base::audit::{AuditEntry, AuditReport};
use sedgate_base::domain::{CaseId, InstitutionId, MessageId};
use sedgate_db::{Engine, StoreResult};

use crate::chain::{AuditChain, AuditEvent};
use crate::ir::{AccessPoint, ImportCounts, InstitutionUpsert, IrSnapshot};
use crate::model::*;
use crate::stats::Stats;

/// A write of the hot path; concurrent ones share one transaction (group commit).
#[derive(Debug, Clone)]
pub enum GroupWrite {
    Accept(Box<Submission>),
    Delivered(Box<Delivery>),
    Inbound(Box<InboundMessage>),
}

/// What a write produced, handed to its caller after the commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupDone {
    Accept(AcceptOutcome),
    Delivered(bool),
    Inbound(InboundOutcome),
}

/// How `write_batch` ended.
#[derive(Debug)]
pub enum BatchOutcome {
    /// Committed; one result per write, in order.
    Committed(Vec<GroupDone>),
    /// Write `at` needs a transaction of its own (it failed, or met a conflict that must
    /// roll back only its rows): nothing of the batch was stored. The writes before it
    /// were fine; the caller runs `at` with `write_alone` and batches the others again.
    Isolate { at: usize },
}

/// A process (an incarnation of a node) as the store records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incarnation {
    /// Stable across restarts (configuration, or a file in the data directory).
    pub node: String,
    /// New at every start.
    pub id: String,
}

/// What a start found and released.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StartReport {
    /// Outbox claims of earlier incarnations of this node, released at once.
    pub released_claims: u64,
    /// Another incarnation of the same node that still heartbeats (a second process
    /// configured with the same node id), if any.
    pub live_twin: Option<String>,
}

/// One storage engine (SQLite or PostgreSQL) with typed, checked queries.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    fn engine(&self) -> Engine;
    fn stats(&self) -> &Stats;

    // ---- database ----
    async fn migrations_applied(&self) -> StoreResult<bool>;
    async fn ping(&self) -> StoreResult<()>;
    /// Connections (in use + idle, idle).
    fn pool_status(&self) -> (u32, u32);
    async fn close(&self);

    // ---- processes ----
    /// Registers `me`, releases the outbox claims of earlier incarnations of the same node
    /// and reports a live twin. Its audit chain is registered too.
    async fn start_incarnation(
        &self,
        me: &Incarnation,
        now: DateTime<Utc>,
        stale_after: Duration,
    ) -> StoreResult<StartReport>;
    /// Records that `me` is alive and where its audit chain stands.
    async fn heartbeat(
        &self,
        me: &Incarnation,
        now: DateTime<Utc>,
        head: &AuditChain,
    ) -> StoreResult<()>;
    /// A clean stop: its claims are released at once.
    async fn stop_incarnation(
        &self,
        me: &Incarnation,
        now: DateTime<Utc>,
        head: &AuditChain,
    ) -> StoreResult<()>;

    // ---- the exchange ----
    /// What our institution `local` knows of `case` (one statement).
    async fn case_info(
        &self,
        case: &CaseId,
        local: &InstitutionId,
    ) -> StoreResult<Option<CaseInfo>>;
    async fn saved_response(
        &self,
        client_id: &str,
        key: &str,
    ) -> StoreResult<Option<SavedResponse>>;
    /// Runs `writes` in one transaction and commits, linking their audit entries on
    /// `chain` (left as it was when nothing commits).
    async fn write_batch(
        &self,
        writes: &[GroupWrite],
        chain: &mut AuditChain,
    ) -> StoreResult<BatchOutcome>;
    /// Runs one write in a transaction of its own.
    async fn write_alone(
        &self,
        write: &GroupWrite,
        chain: &mut AuditChain,
    ) -> StoreResult<GroupDone>;
    /// The receipt already sent for a message received from `peer_country`.
    async fn inbound_receipt(
        &self,
        id: &MessageId,
        peer_country: &str,
    ) -> StoreResult<Option<Vec<u8>>>;

    // ---- outbox ----
    /// Claims up to `limit` due messages for `me`: rows nobody holds, rows `me` holds
    /// (one dispatcher per incarnation claims in rounds, so when it claims nothing of its
    /// own is in flight: such a row is a claim whose answer was lost or whose settlement
    /// failed), or held by an incarnation that stopped or has not heartbeated for
    /// `stale_after`. Returns each
    /// with its parts and the contents of its inline payloads (one statement).
    async fn claim_due(
        &self,
        me: &Incarnation,
        now: DateTime<Utc>,
        stale_after: Duration,
        limit: u32,
    ) -> StoreResult<Vec<OutboxItem>>;
    async fn next_due(&self) -> StoreResult<Option<DateTime<Utc>>>;
    async fn record_retry(
        &self,
        id: &MessageId,
        attempts: u32,
        next_attempt_at: DateTime<Utc>,
        error: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    #[allow(clippy::too_many_arguments)]
    async fn record_dead(
        &self,
        id: &MessageId,
        attempts: u32,
        state: MessageState,
        code: &str,
        detail: &str,
        now: DateTime<Utc>,
        chain: &mut AuditChain,
    ) -> StoreResult<()>;
    async fn dead_letters(&self) -> StoreResult<Vec<DeadLetter>>;
    async fn redrive(
        &self,
        which: &Redrive,
        actor: &str,
        now: DateTime<Utc>,
        chain: &mut AuditChain,
    ) -> StoreResult<Vec<MessageId>>;
    /// (pending, dead).
    async fn outbox_counts(&self) -> StoreResult<(u64, u64)>;
    async fn outbound_receipt(&self, id: &MessageId) -> StoreResult<Option<Vec<u8>>>;
    /// Keeps the signed envelope of a message before it is first sent (re-sent byte for
    /// byte on retries).
    async fn record_evidence(&self, evidence: &Evidence) -> StoreResult<()>;
    async fn evidence(&self, id: &MessageId) -> StoreResult<Vec<Evidence>>;

    // ---- messages ----
    async fn message(&self, id: &MessageId) -> StoreResult<Option<MessageRecord>>;
    async fn message_events(&self, id: &MessageId) -> StoreResult<Vec<MessageEvent>>;
    async fn message_parts(&self, id: &MessageId) -> StoreResult<Vec<PartRecord>>;
    async fn case_messages(&self, case: &CaseId) -> StoreResult<Vec<MessageRecord>>;
    /// (direction, state, count).
    async fn message_counts(&self) -> StoreResult<Vec<(String, String, u64)>>;
    /// (peer country, direction, count).
    async fn message_counts_by_peer(&self) -> StoreResult<Vec<(String, String, u64)>>;
    async fn search_messages(&self, q: &MessageQuery) -> StoreResult<Vec<MessageRecord>>;
    async fn activity_since(&self, since: DateTime<Utc>) -> StoreResult<Activity>;

    // ---- payloads ----
    /// Where a payload's bytes are (`Blob` paths are relative to the blob directory).
    async fn payload(&self, hash: &str) -> StoreResult<Option<PayloadData>>;
    /// PostgreSQL: stores chunk `idx` of an upload (committed at once, so memory stays
    /// bounded; unreferenced uploads are removed by `discard_upload` or swept).
    async fn write_upload_chunk(
        &self,
        upload_id: &str,
        incarnation: &str,
        idx: i32,
        data: &[u8],
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// PostgreSQL: chunks `from..from+count` of an upload, in order.
    async fn read_upload_chunks(
        &self,
        upload_id: &str,
        from: i32,
        count: i32,
    ) -> StoreResult<Vec<Vec<u8>>>;
    /// Removes an upload unless a payload row refers to it (a refusal, a duplicate).
    async fn discard_upload(&self, upload_id: &str) -> StoreResult<()>;
    /// Removes uploads no payload refers to whose incarnation is gone; returns how many.
    async fn sweep_uploads(&self, now: DateTime<Utc>, stale_after: Duration) -> StoreResult<u64>;
    /// Whether a payload row with this hash exists.
    async fn payload_exists(&self, hash: &str) -> StoreResult<bool>;

    // ---- inbox ----
    async fn inbox_list(
        &self,
        receivers: &[InstitutionId],
        after: i64,
        limit: i64,
        include_acked: bool,
    ) -> StoreResult<Vec<InboxItem>>;
    async fn inbox_item(&self, id: &MessageId) -> StoreResult<Option<InboxItem>>;
    async fn inbox_ack(
        &self,
        id: &MessageId,
        actor: &str,
        now: DateTime<Utc>,
        chain: &mut AuditChain,
    ) -> StoreResult<bool>;

    // ---- back-office clients and operators ----
    async fn add_api_client(
        &self,
        client: &NewApiClient,
        now: DateTime<Utc>,
        chain: &mut AuditChain,
    ) -> StoreResult<()>;
    async fn api_client_by_token_hash(&self, token_hash: &str) -> StoreResult<Option<ApiClient>>;
    async fn revoke_api_client(
        &self,
        name: &str,
        now: DateTime<Utc>,
        chain: &mut AuditChain,
    ) -> StoreResult<()>;
    async fn add_operator(
        &self,
        id: &str,
        name: &str,
        password_hash: &str,
        now: DateTime<Utc>,
        chain: &mut AuditChain,
    ) -> StoreResult<()>;
    async fn operator_by_name(&self, name: &str) -> StoreResult<Option<Operator>>;
    /// Starts a session (audited as a login) and drops expired ones.
    #[allow(clippy::too_many_arguments)]
    async fn create_operator_session(
        &self,
        operator: &Operator,
        token_hash: &str,
        csrf_token: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        chain: &mut AuditChain,
    ) -> StoreResult<()>;
    async fn operator_session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<OperatorSession>>;
    async fn delete_operator_session(&self, token_hash: &str) -> StoreResult<()>;

    // ---- institution repository ----
    async fn import_institutions(
        &self,
        batch: &[InstitutionUpsert],
        source: &str,
        rejected: u64,
        now: DateTime<Utc>,
        chain: &mut AuditChain,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> StoreResult<ImportCounts>;
    async fn import_access_points(
        &self,
        batch: &[AccessPoint],
        source: &str,
        rejected: u64,
        now: DateTime<Utc>,
        chain: &mut AuditChain,
    ) -> StoreResult<ImportCounts>;
    async fn load_ir(&self) -> StoreResult<IrSnapshot>;
    async fn last_import(&self) -> StoreResult<Option<LastImport>>;

    // ---- audit ----
    /// Writes `events` alone (outside any other write), linked on `chain`.
    async fn audit(&self, events: &[AuditEvent], chain: &mut AuditChain) -> StoreResult<()>;
    /// Walks every chain, streaming rows; the first broken link of each broken chain.
    async fn audit_verify(&self) -> StoreResult<Vec<(String, AuditReport)>>;
    /// The newest entries of all chains first.
    async fn audit_tail(&self, limit: i64) -> StoreResult<Vec<AuditEntry>>;
}
