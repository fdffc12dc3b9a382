//! The hash-chained audit log. Each entry's hash covers the previous entry's hash and
//! its own fields, so changing or deleting a row breaks the chain from there on.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};

use super::{from_millis, to_millis, Store, StoreResult};

#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub subject: Option<String>,
    pub detail: Option<String>,
}

/// Result of walking the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    pub entries: u64,
    /// The first entry whose hash or link does not match, if any.
    pub first_broken: Option<i64>,
}

fn entry_hash(prev: &str, e: &AuditEntry) -> String {
    // JSON of a tuple: unambiguous field boundaries whatever the text contains.
    let canonical = serde_json::json!([
        prev,
        e.seq,
        to_millis(e.at),
        e.actor,
        e.action,
        e.subject,
        e.detail
    ])
    .to_string();
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

/// Appends an entry inside the caller's transaction.
pub(super) async fn append_audit(
    conn: &mut AnyConnection,
    at: DateTime<Utc>,
    actor: &str,
    action: &str,
    subject: Option<&str>,
    detail: Option<&str>,
) -> StoreResult<()> {
    // The UPDATE takes the row lock first (PostgreSQL), so concurrent appenders queue
    // here instead of both linking to the same predecessor.
    sqlx::query("UPDATE audit_head SET seq = seq + 1 WHERE id = 1")
        .execute(&mut *conn)
        .await?;
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_one(&mut *conn)
        .await?;
    let seq: i64 = head.try_get("seq")?;
    let prev: String = head.try_get("hash")?;
    let entry = AuditEntry {
        seq,
        at,
        actor: actor.to_owned(),
        action: action.to_owned(),
        subject: subject.map(str::to_owned),
        detail: detail.map(str::to_owned),
    };
    let hash = entry_hash(&prev, &entry);
    sqlx::query(
        "INSERT INTO audit (seq, at, actor, action, subject, detail, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(seq)
    .bind(to_millis(at))
    .bind(actor)
    .bind(action)
    .bind(subject)
    .bind(detail)
    .bind(&prev)
    .bind(&hash)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
        .bind(&hash)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

impl Store {
    /// Walks the whole chain and reports the first broken link.
    pub async fn audit_verify(&self) -> StoreResult<AuditReport> {
        let rows = sqlx::query(
            "SELECT seq, at, actor, action, subject, detail, prev_hash, hash FROM audit ORDER BY seq",
        )
        .fetch_all(&self.reader)
        .await?;
        let mut prev = "0".repeat(64);
        let mut expected_seq = 1;
        for row in &rows {
            let entry = AuditEntry {
                seq: row.try_get("seq")?,
                at: from_millis(row.try_get("at")?)?,
                actor: row.try_get("actor")?,
                action: row.try_get("action")?,
                subject: row.try_get("subject")?,
                detail: row.try_get("detail")?,
            };
            let stored_prev: String = row.try_get("prev_hash")?;
            let stored_hash: String = row.try_get("hash")?;
            if entry.seq != expected_seq
                || stored_prev != prev
                || entry_hash(&prev, &entry) != stored_hash
            {
                return Ok(AuditReport {
                    entries: rows.len() as u64,
                    first_broken: Some(entry.seq.min(expected_seq)),
                });
            }
            prev = stored_hash;
            expected_seq += 1;
        }
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(&self.reader)
            .await?;
        let head_seq: i64 = head.try_get("seq")?;
        let head_hash: String = head.try_get("hash")?;
        let first_broken =
            (head_seq != expected_seq - 1 || head_hash != prev).then_some(expected_seq);
        Ok(AuditReport {
            entries: rows.len() as u64,
            first_broken,
        })
    }

    /// The newest entries first, for operators.
    pub async fn audit_tail(&self, limit: i64) -> StoreResult<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT seq, at, actor, action, subject, detail FROM audit ORDER BY seq DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(AuditEntry {
                    seq: row.try_get("seq")?,
                    at: from_millis(row.try_get("at")?)?,
                    actor: row.try_get("actor")?,
                    action: row.try_get("action")?,
                    subject: row.try_get("subject")?,
                    detail: row.try_get("detail")?,
                })
            })
            .collect()
    }
}
