//! What the gateway stores and reads back, engine-neutral.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use sedgate_base::domain::{
    BucType, CaseId, CdmVersion, CountryCode, InstitutionId, MessageId, SedType,
};

use crate::ir::ImportCounts;

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// The stored (and serialised) form.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    other => Err(format!(concat!("unknown ", stringify!($name), " {:?}"), other)),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

text_enum! {
    MessageState {
        /// Accepted from the back office, waiting in the outbox.
        Accepted = "accepted",
        /// At least one send attempt made, no receipt yet.
        Sending = "sending",
        /// Receipt received and stored.
        Delivered = "delivered",
        /// The peer refused it with an ebMS error; in the dead-letter queue.
        Failed = "failed",
        /// The retry budget ran out without a receipt (EBMS:0301); in the dead-letter queue.
        DeadLettered = "dead_lettered",
        /// Received from a peer, waiting in the inbox.
        Received = "received",
        /// Collected and acknowledged by the back office.
        Acknowledged = "acknowledged",
    }
}

text_enum! {
    Direction {
        Outbound = "out",
        Inbound = "in",
    }
}

text_enum! {
    /// The AS4 PartType of a payload.
    PartType {
        Sed = "SED",
        Attachment = "Attachment",
    }
}

/// How a new payload's bytes are kept until the commit that stores its row: in memory (to
/// go in the row), or staged in the payload store (a temporary file on SQLite, chunks
/// under an upload id on PostgreSQL) and promoted by that commit.
#[derive(Debug, Clone)]
pub enum StoredPayload {
    Inline(bytes::Bytes),
    Staged(StagedPayload),
}

/// A payload written to the payload store but not yet part of any committed row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StagedPayload {
    /// SQLite: a temporary file of the blob directory, renamed to its hash on commit.
    File(PathBuf),
    /// PostgreSQL: chunks stored under this upload id.
    Upload(String),
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

/// One step of a message's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageEvent {
    pub at: DateTime<Utc>,
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartRecord {
    pub idx: i64,
    pub part_type: PartType,
    pub content_id: String,
    pub mime_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    pub hash: String,
    pub size: u64,
}

impl PartRecord {
    /// The parts of a new message as stored in its row.
    pub fn of(parts: &[NewPart]) -> Vec<PartRecord> {
        parts
            .iter()
            .enumerate()
            .map(|(idx, p)| PartRecord {
                idx: i64::try_from(idx).unwrap_or(i64::MAX),
                part_type: p.part_type,
                content_id: p.content_id.clone(),
                mime_type: p.mime_type.clone(),
                filename: p.filename.clone(),
                hash: p.hash.clone(),
                size: p.size,
            })
            .collect()
    }
}

/// A payload's bytes: from the row, a file of the blob directory (SQLite; where in it is
/// the gateway's business, by hash), or chunks of an upload (PostgreSQL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadData {
    Inline(Vec<u8>),
    Blob,
    Chunks { upload_id: String, size: u64 },
}

/// What is known of a case at one of our institutions, from the messages stored for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseInfo {
    pub buc: BucType,
    /// The first message of the case went out from this institution: it owns the case.
    pub started_here: bool,
    /// The institutions of other countries that took part so far.
    pub participants: Vec<InstitutionId>,
    pub messages: u64,
}

/// A message received from a peer gateway, ready to store.
#[derive(Debug, Clone)]
pub struct InboundMessage {
    pub id: MessageId,
    pub case_id: CaseId,
    pub buc: BucType,
    pub sed_type: SedType,
    pub cdm: CdmVersion,
    pub sender: InstitutionId,
    pub receiver: InstitutionId,
    pub peer_country: CountryCode,
    pub parts: Vec<NewPart>,
    /// The receipt that will answer this message, stored with it so a resend gets the
    /// very same receipt.
    pub receipt: Vec<u8>,
    /// For a signed message: the signed bytes and the verification, kept with it.
    pub evidence: Option<Evidence>,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboundOutcome {
    Stored,
    /// Seen before (same MessageId from the same country): answer with the receipt sent
    /// then.
    Duplicate {
        receipt: Vec<u8>,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct InboxItem {
    pub seq: i64,
    pub message: MessageRecord,
    pub parts: Vec<PartRecord>,
    pub acked_at: Option<DateTime<Utc>>,
}

/// A claimed message, with what sending it needs.
#[derive(Debug, Clone)]
pub struct OutboxItem {
    pub message: MessageRecord,
    pub parts: Vec<PartRecord>,
    /// The contents of the parts stored inline, by hash (others are read when sent).
    pub inline: Vec<(String, Vec<u8>)>,
    /// Attempts made before this one.
    pub attempts: u32,
}

impl OutboxItem {
    /// A part's bytes when they came with the claim.
    pub fn inline_content(&self, hash: &str) -> Option<&[u8]> {
        self.inline
            .iter()
            .find(|(h, _)| h == hash)
            .map(|(_, c)| c.as_slice())
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    pub id: MessageId,
    pub state: MessageState,
    pub error_code: Option<String>,
    pub error_detail: Option<String>,
    pub attempts: u32,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub enum Redrive {
    One(MessageId),
    All,
}

/// A receipt arrived for one of our messages.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: MessageId,
    pub receipt: Vec<u8>,
    /// For a signed exchange: the envelope sent, the receipt and its verification.
    pub evidence: Option<Evidence>,
    pub now: DateTime<Utc>,
}

/// One signed reference: what was digested and the digest (base64).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceReference {
    pub uri: String,
    /// The DigestMethod algorithm URI.
    pub digest_alg: String,
    pub digest: String,
}

/// WS-Security evidence of one exchange: the exact envelope and receipt bytes, the signed
/// references and the verification outcome, kept so a receipt can be re-verified later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub message_id: MessageId,
    pub direction: Direction,
    pub peer_country: CountryCode,
    /// The SOAP envelope exactly as sent or received.
    pub envelope: Vec<u8>,
    pub references: Vec<EvidenceReference>,
    pub receipt: Option<Vec<u8>>,
    /// DER of the peer's signing certificate.
    pub peer_cert: Option<Vec<u8>>,
    /// `verified`, or why verification failed.
    pub verification: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiClient {
    pub id: String,
    pub name: String,
    pub institutions: Vec<InstitutionId>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked: bool,
}

#[derive(Debug, Clone)]
pub struct NewApiClient {
    pub id: String,
    pub name: String,
    /// SHA-256 of the token, hex. The token itself is never stored.
    pub token_hash: String,
    pub institutions: Vec<InstitutionId>,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct Operator {
    pub id: String,
    pub name: String,
    /// PHC string (argon2id).
    pub password_hash: String,
    pub disabled: bool,
}

#[derive(Debug, Clone)]
pub struct OperatorSession {
    pub operator_id: String,
    pub operator_name: String,
    /// Every console form must carry it back.
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

/// Message search; every given criterion must hold.
#[derive(Debug, Clone, Default)]
pub struct MessageQuery {
    pub id: Option<MessageId>,
    pub case_id: Option<CaseId>,
    /// Sender or receiver.
    pub institution: Option<InstitutionId>,
    pub state: Option<MessageState>,
    /// Stored at or after.
    pub from: Option<DateTime<Utc>>,
    /// Stored before.
    pub to: Option<DateTime<Utc>>,
    pub limit: i64,
}

/// What happened since a point in time, from the messages' history.
#[derive(Debug, Clone, Default)]
pub struct Activity {
    pub accepted: u64,
    pub delivered: u64,
    pub received: u64,
    pub retries: u64,
    pub dead: u64,
    /// Milliseconds from acceptance to receipt of each message delivered in the window.
    pub delivery_latencies_ms: Vec<i64>,
}

/// When the IR was last imported, for readiness and the console.
#[derive(Debug, Clone)]
pub struct LastImport {
    pub source: String,
    pub at: DateTime<Utc>,
    pub counts: ImportCounts,
}
