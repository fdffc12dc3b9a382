//! WS-Security evidence: the exact envelope and receipt bytes of an exchange, the signed
//! references and the verification outcome, kept so a receipt can be re-verified later.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::messages::Direction;
use super::{from_millis, parse_col, to_millis, Store, StoreError, StoreResult};
use sedgate_base::domain::MessageId;

/// One signed reference: what was digested and the digest (base64).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceReference {
    pub uri: String,
    /// The DigestMethod algorithm URI.
    pub digest_alg: String,
    pub digest: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub message_id: MessageId,
    pub direction: Direction,
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

pub(super) async fn upsert_evidence(
    conn: &mut AnyConnection,
    evidence: &Evidence,
) -> StoreResult<()> {
    let refs = serde_json::to_string(&evidence.references)
        .map_err(|e| StoreError::Corrupt(format!("evidence references: {e}")))?;
    sqlx::query(
        "INSERT INTO evidence (message_id, direction, envelope, refs, receipt, peer_cert, verification, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (message_id, direction) DO UPDATE SET envelope = excluded.envelope, \
         refs = excluded.refs, receipt = excluded.receipt, peer_cert = excluded.peer_cert, \
         verification = excluded.verification, at = excluded.at",
    )
    .bind(evidence.message_id.as_str())
    .bind(evidence.direction.as_str())
    .bind(evidence.envelope.as_slice())
    .bind(refs)
    .bind(evidence.receipt.as_deref())
    .bind(evidence.peer_cert.as_deref())
    .bind(evidence.verification.as_str())
    .bind(to_millis(evidence.at))
    .execute(conn)
    .await?;
    Ok(())
}

fn evidence_from_row(row: &AnyRow) -> StoreResult<Evidence> {
    let refs: String = row.try_get("refs")?;
    Ok(Evidence {
        message_id: parse_col(row, "message_id")?,
        direction: parse_col(row, "direction")?,
        envelope: row.try_get("envelope")?,
        references: serde_json::from_str(&refs)
            .map_err(|e| StoreError::Corrupt(format!("evidence references: {e}")))?,
        receipt: row.try_get("receipt")?,
        peer_cert: row.try_get("peer_cert")?,
        verification: row.try_get("verification")?,
        at: from_millis(row.try_get("at")?)?,
    })
}

impl Store {
    /// Records (or replaces, for a later attempt) the evidence of one exchange.
    pub async fn record_evidence(&self, evidence: &Evidence) -> StoreResult<()> {
        let mut conn = self.writer.acquire().await?;
        upsert_evidence(&mut conn, evidence).await
    }

    /// The evidence kept for a message (one row per direction).
    pub async fn evidence(&self, id: &MessageId) -> StoreResult<Vec<Evidence>> {
        let rows = sqlx::query(
            "SELECT message_id, direction, envelope, refs, receipt, peer_cert, verification, at \
             FROM evidence WHERE message_id = $1 ORDER BY direction",
        )
        .bind(id.as_str())
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(evidence_from_row).collect()
    }
}
