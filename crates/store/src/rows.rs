//! Rows as both engines' queries return them (`sqlx::query_as!` fills these), and their
//! conversion to the model. Domain values come back as text and are parsed here once.

use chrono::{DateTime, Utc};

use crate::model::*;
use crate::{from_json, parse_stored, unsigned, StoreResult};

/// The columns of a message that `MessageRecord` shows.
#[derive(Debug, Clone)]
pub struct MessageRow {
    pub id: String,
    pub direction: String,
    pub case_id: String,
    pub buc: String,
    pub sed_type: String,
    pub cdm_version: String,
    pub sender: String,
    pub receiver: String,
    pub peer_country: String,
    pub state: String,
    pub sed_hash: String,
    pub error_code: Option<String>,
    pub error_detail: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A [`MessageRow`] from any query record that selected its columns (each `query!` has
/// its own record type, so a function cannot take them all).
#[macro_export]
macro_rules! message_row {
    ($r:ident) => {
        $crate::rows::MessageRow {
            id: $r.id,
            direction: $r.direction,
            case_id: $r.case_id,
            buc: $r.buc,
            sed_type: $r.sed_type,
            cdm_version: $r.cdm_version,
            sender: $r.sender,
            receiver: $r.receiver,
            peer_country: $r.peer_country,
            state: $r.state,
            sed_hash: $r.sed_hash,
            error_code: $r.error_code,
            error_detail: $r.error_detail,
            created_at: $r.created_at,
            updated_at: $r.updated_at,
        }
    };
}

impl MessageRow {
    pub fn record(self) -> StoreResult<MessageRecord> {
        Ok(MessageRecord {
            id: parse_stored("id", &self.id)?,
            direction: parse_stored("direction", &self.direction)?,
            case_id: parse_stored("case_id", &self.case_id)?,
            buc: parse_stored("buc", &self.buc)?,
            sed_type: parse_stored("sed_type", &self.sed_type)?,
            cdm_version: parse_stored("cdm_version", &self.cdm_version)?,
            sender: parse_stored("sender", &self.sender)?,
            receiver: parse_stored("receiver", &self.receiver)?,
            peer_country: parse_stored("peer_country", &self.peer_country)?,
            state: parse_stored("state", &self.state)?,
            sed_hash: self.sed_hash,
            error_code: self.error_code,
            error_detail: self.error_detail,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// An inbox row: the message, its parts and its inbox state.
#[derive(Debug, Clone)]
pub struct InboxRow {
    pub seq: i64,
    pub acked_at: Option<DateTime<Utc>>,
    pub parts: String,
    pub message: MessageRow,
}

impl InboxRow {
    pub fn item(self) -> StoreResult<InboxItem> {
        Ok(InboxItem {
            seq: self.seq,
            parts: from_json("parts", &self.parts)?,
            acked_at: self.acked_at,
            message: self.message.record()?,
        })
    }
}

/// A claimed outbox row.
#[derive(Debug, Clone)]
pub struct ClaimRow {
    pub message: MessageRow,
    pub parts: String,
    pub attempts: i32,
    /// `(hash, content)` of the parts stored inline.
    pub inline: Vec<(String, Vec<u8>)>,
}

impl ClaimRow {
    pub fn item(self) -> StoreResult<OutboxItem> {
        Ok(OutboxItem {
            parts: from_json("parts", &self.parts)?,
            attempts: u32::try_from(self.attempts).unwrap_or(0),
            inline: self.inline,
            message: self.message.record()?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct DeadLetterRow {
    pub id: String,
    pub state: String,
    pub error_code: Option<String>,
    pub error_detail: Option<String>,
    pub attempts: i32,
    pub updated_at: DateTime<Utc>,
}

impl DeadLetterRow {
    pub fn dead_letter(self) -> StoreResult<DeadLetter> {
        Ok(DeadLetter {
            id: parse_stored("id", &self.id)?,
            state: parse_stored("state", &self.state)?,
            error_code: self.error_code,
            error_detail: self.error_detail,
            attempts: u32::try_from(self.attempts).unwrap_or(0),
            updated_at: self.updated_at,
        })
    }
}

#[derive(Debug, Clone)]
pub struct EvidenceRow {
    pub message_id: String,
    pub direction: String,
    pub peer_country: String,
    pub envelope: Vec<u8>,
    pub refs: String,
    pub receipt: Option<Vec<u8>>,
    pub peer_cert: Option<Vec<u8>>,
    pub verification: String,
    pub at: DateTime<Utc>,
}

impl EvidenceRow {
    pub fn evidence(self) -> StoreResult<Evidence> {
        Ok(Evidence {
            message_id: parse_stored("message_id", &self.message_id)?,
            direction: parse_stored("direction", &self.direction)?,
            peer_country: parse_stored("peer_country", &self.peer_country)?,
            envelope: self.envelope,
            references: from_json("refs", &self.refs)?,
            receipt: self.receipt,
            peer_cert: self.peer_cert,
            verification: self.verification,
            at: self.at,
        })
    }
}

/// The first message of a case at one institution and what the case's messages add up to.
#[derive(Debug, Clone)]
pub struct CaseRow {
    pub buc: String,
    pub direction: String,
    pub messages: i64,
    /// The other side of every message of the case, as a JSON array.
    pub participants: String,
}

impl CaseRow {
    pub fn info(self) -> StoreResult<CaseInfo> {
        let mut participants: Vec<String> = from_json("participants", &self.participants)?;
        participants.sort();
        participants.dedup();
        Ok(CaseInfo {
            buc: parse_stored("buc", &self.buc)?,
            started_here: parse_stored::<Direction>("direction", &self.direction)?
                == Direction::Outbound,
            participants: participants
                .iter()
                .map(|p| parse_stored("participants", p))
                .collect::<StoreResult<_>>()?,
            messages: unsigned("messages", self.messages)?,
        })
    }
}

/// The saved answer of an idempotency key.
#[derive(Debug, Clone)]
pub struct SavedRow {
    pub request_hash: Option<String>,
    pub response_status: Option<i32>,
    pub response: Option<String>,
}

impl SavedRow {
    pub fn saved(self) -> StoreResult<SavedResponse> {
        let missing = || crate::StoreError::Corrupt("idempotency answer incomplete".into());
        Ok(SavedResponse {
            request_hash: self.request_hash.ok_or_else(missing)?,
            status: self
                .response_status
                .and_then(|s| u16::try_from(s).ok())
                .ok_or_else(missing)?,
            response: self.response.ok_or_else(missing)?,
        })
    }
}

/// A history event as appended to a message row.
pub fn event_json(at: DateTime<Utc>, state: &str, detail: Option<&str>) -> StoreResult<String> {
    crate::to_json(&MessageEvent {
        at,
        state: state.to_owned(),
        detail: detail.map(str::to_owned),
    })
}

/// The audit event of a stored message.
pub fn message_audit(
    actor: &str,
    action: &str,
    id: &sedgate_base::domain::MessageId,
    summary: String,
    at: DateTime<Utc>,
) -> crate::AuditEvent {
    crate::AuditEvent::new(at, actor, action, Some(id.as_str()), Some(summary))
}
