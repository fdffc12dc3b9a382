//! Messages, their parts and payloads, their history; intake with idempotency.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::audit::append_audit;
use super::group::{self, GroupDone, GroupWrite};
use super::{from_millis, parse_col, to_millis, Store, StoreError, StoreResult};
use sedgate_base::domain::{
    BucType, CaseId, CdmVersion, CountryCode, InstitutionId, MessageId, SedType,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageState {
    /// Accepted from the back office, waiting in the outbox.
    Accepted,
    /// At least one send attempt made, no receipt yet.
    Sending,
    /// Receipt received and stored.
    Delivered,
    /// The peer refused it with an ebMS error; in the dead-letter queue.
    Failed,
    /// The retry budget ran out without a receipt (EBMS:0301); in the dead-letter queue.
    DeadLettered,
    /// Received from a peer, waiting in the inbox.
    Received,
    /// Collected and acknowledged by the back office.
    Acknowledged,
}

impl MessageState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Sending => "sending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::DeadLettered => "dead_lettered",
            Self::Received => "received",
            Self::Acknowledged => "acknowledged",
        }
    }
}

impl std::str::FromStr for MessageState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "accepted" => Self::Accepted,
            "sending" => Self::Sending,
            "delivered" => Self::Delivered,
            "failed" => Self::Failed,
            "dead_lettered" => Self::DeadLettered,
            "received" => Self::Received,
            "acknowledged" => Self::Acknowledged,
            other => return Err(format!("unknown message state {other:?}")),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Outbound,
    Inbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Outbound => "out",
            Self::Inbound => "in",
        }
    }
}

impl std::str::FromStr for Direction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "out" => Ok(Self::Outbound),
            "in" => Ok(Self::Inbound),
            other => Err(format!("unknown direction {other:?}")),
        }
    }
}

/// The AS4 PartType of a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PartType {
    #[serde(rename = "SED")]
    Sed,
    Attachment,
}

impl PartType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sed => "SED",
            Self::Attachment => "Attachment",
        }
    }
}

impl std::str::FromStr for PartType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "SED" => Ok(Self::Sed),
            "Attachment" => Ok(Self::Attachment),
            other => Err(format!("unknown part type {other:?}")),
        }
    }
}

/// How a new payload's bytes are kept: in the row, or already written to the blob
/// directory under its hash (see `Store::blob_writer`).
#[derive(Debug, Clone)]
pub enum StoredPayload {
    Inline(bytes::Bytes),
    Blob,
}

#[derive(Debug, Clone)]
pub struct NewPart {
    pub part_type: PartType,
    pub content_id: String,
    pub mime_type: String,
    pub filename: Option<String>,
    /// SHA-256, lower-case hex.
    pub hash: String,
    pub size: u64,
    pub stored: StoredPayload,
}

#[derive(Debug, Clone)]
pub struct NewOutboundMessage {
    pub id: MessageId,
    pub case_id: CaseId,
    pub buc: BucType,
    pub sed_type: SedType,
    pub cdm: CdmVersion,
    pub sender: InstitutionId,
    pub receiver: InstitutionId,
    pub peer_country: CountryCode,
    /// The SED first, then attachments.
    pub parts: Vec<NewPart>,
}

#[derive(Debug, Clone)]
pub struct IdempotencyRecord {
    pub key: String,
    /// SHA-256 of the request, to tell a retry from a different request with the same key.
    pub request_hash: String,
    pub status: u16,
    pub response: String,
}

#[derive(Debug, Clone)]
pub struct Submission {
    pub client_id: String,
    pub submission_id: String,
    pub messages: Vec<NewOutboundMessage>,
    pub idempotency: Option<IdempotencyRecord>,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedResponse {
    pub request_hash: String,
    pub status: u16,
    pub response: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcceptOutcome {
    Accepted,
    /// The same key was used before for the same request: answer as then.
    Replayed(SavedResponse),
    /// The same key was used before for a different request.
    KeyReused,
}

#[derive(Debug, Clone, Serialize)]
pub struct MessageRecord {
    pub id: MessageId,
    pub direction: Direction,
    pub case_id: CaseId,
    pub buc: BucType,
    pub sed_type: SedType,
    pub cdm_version: CdmVersion,
    pub sender: InstitutionId,
    pub receiver: InstitutionId,
    pub peer_country: CountryCode,
    pub state: MessageState,
    pub sed_hash: String,
    pub error_code: Option<String>,
    pub error_detail: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MessageEvent {
    pub at: DateTime<Utc>,
    pub state: String,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PartRecord {
    pub idx: i64,
    pub part_type: PartType,
    pub content_id: String,
    pub mime_type: String,
    pub filename: Option<String>,
    pub hash: String,
    pub size: u64,
}

/// A payload's bytes: from the row, or a file in the blob directory.
#[derive(Debug, Clone)]
pub enum PayloadData {
    Inline(Vec<u8>),
    Blob(PathBuf),
}

/// What is known of a case from the messages stored for it.
#[derive(Debug, Clone)]
pub struct CaseInfo {
    pub buc: BucType,
    /// The first message of the case went out from this gateway: we own the case.
    pub started_here: bool,
    pub messages: u64,
}

pub(super) const MESSAGE_COLUMNS: &str = "m.id, m.direction, m.case_id, m.buc, m.sed_type, \
    m.cdm_version, m.sender, m.receiver, m.peer_country, m.state, m.sed_hash, m.error_code, \
    m.error_detail, m.created_at, m.updated_at";

pub(super) fn message_from_row(row: &AnyRow) -> StoreResult<MessageRecord> {
    Ok(MessageRecord {
        id: parse_col(row, "id")?,
        direction: parse_col(row, "direction")?,
        case_id: parse_col(row, "case_id")?,
        buc: parse_col(row, "buc")?,
        sed_type: parse_col(row, "sed_type")?,
        cdm_version: parse_col(row, "cdm_version")?,
        sender: parse_col(row, "sender")?,
        receiver: parse_col(row, "receiver")?,
        peer_country: parse_col(row, "peer_country")?,
        state: parse_col(row, "state")?,
        sed_hash: row.try_get("sed_hash")?,
        error_code: row.try_get("error_code")?,
        error_detail: row.try_get("error_detail")?,
        created_at: from_millis(row.try_get("created_at")?)?,
        updated_at: from_millis(row.try_get("updated_at")?)?,
    })
}

/// The fields a message row needs, shared by outbound and inbound inserts.
pub(super) struct MessageInsert<'a> {
    pub id: &'a MessageId,
    pub direction: Direction,
    pub case_id: &'a CaseId,
    pub buc: &'a BucType,
    pub sed_type: &'a SedType,
    pub cdm: CdmVersion,
    pub sender: &'a InstitutionId,
    pub receiver: &'a InstitutionId,
    pub peer_country: &'a CountryCode,
    pub state: MessageState,
    pub client_id: Option<&'a str>,
    pub submission_id: Option<&'a str>,
    pub parts: &'a [NewPart],
    pub now: DateTime<Utc>,
    /// Who stored it and why, for the audit entry written with it.
    pub actor: &'a str,
    pub audit_action: &'static str,
}

/// Inserts a message with its parts, payloads, first history event and audit entry.
pub(super) async fn insert_message(
    conn: &mut AnyConnection,
    m: &MessageInsert<'_>,
) -> StoreResult<()> {
    let sed_hash = m
        .parts
        .first()
        .map(|p| p.hash.clone())
        .ok_or_else(|| StoreError::Conflict("a message needs at least its SED part".into()))?;
    let now = to_millis(m.now);
    sqlx::query(
        "INSERT INTO messages (id, direction, case_id, buc, sed_type, cdm_version, sender, receiver, \
         peer_country, state, sed_hash, client_id, submission_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)",
    )
    .bind(m.id.as_str())
    .bind(m.direction.as_str())
    .bind(m.case_id.as_str())
    .bind(m.buc.as_str())
    .bind(m.sed_type.as_str())
    .bind(m.cdm.as_str())
    .bind(m.sender.as_str())
    .bind(m.receiver.as_str())
    .bind(m.peer_country.as_str())
    .bind(m.state.as_str())
    .bind(&sed_hash)
    .bind(m.client_id)
    .bind(m.submission_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    for (idx, part) in m.parts.iter().enumerate() {
        let (location, content) = match &part.stored {
            StoredPayload::Inline(bytes) => ("db", Some(bytes.to_vec())),
            StoredPayload::Blob => ("blob", None),
        };
        let size = i64::try_from(part.size).unwrap_or(i64::MAX);
        sqlx::query(
            "INSERT INTO payloads (hash, size, location, content, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (hash) DO NOTHING",
        )
        .bind(&part.hash)
        .bind(size)
        .bind(location)
        .bind(content)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "INSERT INTO message_parts (message_id, idx, part_type, content_id, mime_type, filename, \
             payload_hash, size) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(m.id.as_str())
        .bind(i64::try_from(idx).unwrap_or(i64::MAX))
        .bind(part.part_type.as_str())
        .bind(&part.content_id)
        .bind(&part.mime_type)
        .bind(part.filename.as_deref())
        .bind(&part.hash)
        .bind(size)
        .execute(&mut *conn)
        .await?;
    }
    add_event(conn, m.id, m.state.as_str(), None, m.now).await?;
    let detail = format!(
        "{} {} {} -> {} case {}",
        m.buc, m.sed_type, m.sender, m.receiver, m.case_id
    );
    append_audit(
        conn,
        m.now,
        m.actor,
        m.audit_action,
        Some(m.id.as_str()),
        Some(&detail),
    )
    .await
}

pub(super) async fn add_event(
    conn: &mut AnyConnection,
    id: &MessageId,
    state: &str,
    detail: Option<&str>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO message_events (message_id, at, state, detail) VALUES ($1, $2, $3, $4)",
    )
    .bind(id.as_str())
    .bind(to_millis(now))
    .bind(state)
    .bind(detail)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(super) async fn set_state(
    conn: &mut AnyConnection,
    id: &MessageId,
    state: MessageState,
    error: Option<(&str, &str)>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE messages SET state = $1, error_code = $2, error_detail = $3, updated_at = $4 WHERE id = $5",
    )
    .bind(state.as_str())
    .bind(error.map(|e| e.0))
    .bind(error.map(|e| e.1))
    .bind(to_millis(now))
    .bind(id.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(super) async fn load_parts(
    conn: &mut AnyConnection,
    id: &MessageId,
) -> StoreResult<Vec<PartRecord>> {
    let rows = sqlx::query(
        "SELECT idx, part_type, content_id, mime_type, filename, payload_hash, size \
         FROM message_parts WHERE message_id = $1 ORDER BY idx",
    )
    .bind(id.as_str())
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(PartRecord {
                idx: row.try_get("idx")?,
                part_type: parse_col(row, "part_type")?,
                content_id: row.try_get("content_id")?,
                mime_type: row.try_get("mime_type")?,
                filename: row.try_get("filename")?,
                hash: row.try_get("payload_hash")?,
                size: u64::try_from(row.try_get::<i64, _>("size")?).unwrap_or(0),
            })
        })
        .collect()
}

impl Store {
    /// The answer saved for an idempotency key, if any (checked before doing work).
    pub async fn saved_response(
        &self,
        client_id: &str,
        key: &str,
    ) -> StoreResult<Option<SavedResponse>> {
        let row = sqlx::query(
            "SELECT request_hash, status, response FROM idempotency WHERE client_id = $1 AND key = $2",
        )
        .bind(client_id)
        .bind(key)
        .fetch_optional(&self.reader)
        .await?;
        row.map(|row| saved_from_row(&row)).transpose()
    }

    /// Stores a back-office submission: every message with its payloads, history,
    /// audit entry and outbox row, and the idempotency answer, in one transaction
    /// (shared with concurrent writes: `group`). Returns after the commit.
    pub async fn accept_submission(&self, sub: &Submission) -> StoreResult<AcceptOutcome> {
        match self
            .group_write(GroupWrite::Accept(Box::new(sub.clone())))
            .await?
        {
            GroupDone::Accept(outcome) => Ok(outcome),
            _ => Err(group::mismatched()),
        }
    }

    pub async fn message(&self, id: &MessageId) -> StoreResult<Option<MessageRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.id = $1"
        ))
        .bind(id.as_str())
        .fetch_optional(&self.reader)
        .await?;
        row.map(|r| message_from_row(&r)).transpose()
    }

    pub async fn message_events(&self, id: &MessageId) -> StoreResult<Vec<MessageEvent>> {
        let rows = sqlx::query(
            "SELECT at, state, detail FROM message_events WHERE message_id = $1 ORDER BY id",
        )
        .bind(id.as_str())
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(MessageEvent {
                    at: from_millis(row.try_get("at")?)?,
                    state: row.try_get("state")?,
                    detail: row.try_get("detail")?,
                })
            })
            .collect()
    }

    pub async fn message_parts(&self, id: &MessageId) -> StoreResult<Vec<PartRecord>> {
        let mut conn = self.reader.acquire().await?;
        load_parts(&mut conn, id).await
    }

    /// The messages of a case in the order they were stored.
    pub async fn case_messages(&self, case: &CaseId) -> StoreResult<Vec<MessageRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.case_id = $1 ORDER BY m.created_at, m.id"
        ))
        .bind(case.as_str())
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(message_from_row).collect()
    }

    pub async fn case_info(&self, case: &CaseId) -> StoreResult<Option<CaseInfo>> {
        let first = sqlx::query(
            "SELECT buc, direction FROM messages WHERE case_id = $1 ORDER BY created_at, id LIMIT 1",
        )
        .bind(case.as_str())
        .fetch_optional(&self.reader)
        .await?;
        let Some(first) = first else { return Ok(None) };
        let count: i64 = sqlx::query("SELECT COUNT(*) FROM messages WHERE case_id = $1")
            .bind(case.as_str())
            .fetch_one(&self.reader)
            .await?
            .try_get(0)?;
        let direction: Direction = parse_col(&first, "direction")?;
        Ok(Some(CaseInfo {
            buc: parse_col(&first, "buc")?,
            started_here: direction == Direction::Outbound,
            messages: u64::try_from(count).unwrap_or(0),
        }))
    }

    /// A payload's bytes or file.
    pub async fn payload(&self, hash: &str) -> StoreResult<Option<PayloadData>> {
        let row = sqlx::query("SELECT location, content FROM payloads WHERE hash = $1")
            .bind(hash)
            .fetch_optional(&self.reader)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let location: String = row.try_get("location")?;
        match location.as_str() {
            "db" => {
                let content: Option<Vec<u8>> = row.try_get("content")?;
                content
                    .map(|c| Some(PayloadData::Inline(c)))
                    .ok_or_else(|| StoreError::Corrupt(format!("payload {hash} has no content")))
            }
            "blob" => Ok(Some(PayloadData::Blob(self.blob_path(hash)))),
            other => Err(StoreError::Corrupt(format!(
                "payload {hash} location {other:?}"
            ))),
        }
    }

    /// Message counts by state, for metrics and the console.
    pub async fn message_counts(&self) -> StoreResult<Vec<(String, String, u64)>> {
        let rows = sqlx::query(
            "SELECT direction, state, COUNT(*) AS n FROM messages GROUP BY direction, state",
        )
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("direction")?,
                    row.try_get("state")?,
                    u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0),
                ))
            })
            .collect()
    }
}

/// The writes of `Store::accept_submission`, inside the caller's transaction. A replayed
/// or reused key writes nothing.
pub(super) async fn accept_in(
    tx: &mut AnyConnection,
    sub: &Submission,
) -> StoreResult<AcceptOutcome> {
    if let Some(idem) = &sub.idempotency {
        let inserted = sqlx::query(
            "INSERT INTO idempotency (client_id, key, request_hash, status, response, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (client_id, key) DO NOTHING",
        )
        .bind(&sub.client_id)
        .bind(&idem.key)
        .bind(&idem.request_hash)
        .bind(i64::from(idem.status))
        .bind(&idem.response)
        .bind(to_millis(sub.now))
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            let row = sqlx::query(
                "SELECT request_hash, status, response FROM idempotency WHERE client_id = $1 AND key = $2",
            )
            .bind(&sub.client_id)
            .bind(&idem.key)
            .fetch_one(&mut *tx)
            .await?;
            let saved = saved_from_row(&row)?;
            return Ok(if saved.request_hash == idem.request_hash {
                AcceptOutcome::Replayed(saved)
            } else {
                AcceptOutcome::KeyReused
            });
        }
    }
    let actor = format!("client:{}", sub.client_id);
    for m in &sub.messages {
        insert_message(
            tx,
            &MessageInsert {
                id: &m.id,
                direction: Direction::Outbound,
                case_id: &m.case_id,
                buc: &m.buc,
                sed_type: &m.sed_type,
                cdm: m.cdm,
                sender: &m.sender,
                receiver: &m.receiver,
                peer_country: &m.peer_country,
                state: MessageState::Accepted,
                client_id: Some(&sub.client_id),
                submission_id: Some(&sub.submission_id),
                parts: &m.parts,
                now: sub.now,
                actor: &actor,
                audit_action: "message.accepted",
            },
        )
        .await?;
        sqlx::query("INSERT INTO outbox (message_id, attempts, next_attempt_at, dead) VALUES ($1, 0, $2, 0)")
            .bind(m.id.as_str())
            .bind(to_millis(sub.now))
            .execute(&mut *tx)
            .await?;
    }
    Ok(AcceptOutcome::Accepted)
}

fn saved_from_row(row: &AnyRow) -> StoreResult<SavedResponse> {
    Ok(SavedResponse {
        request_hash: row.try_get("request_hash")?,
        status: u16::try_from(row.try_get::<i64, _>("status")?)
            .map_err(|_| StoreError::Corrupt("idempotency status out of range".into()))?,
        response: row.try_get("response")?,
    })
}
