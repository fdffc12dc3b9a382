//! A hash-chained audit table and its head row (`sedgate_base::audit` hashes): appended
//! inside the caller's transaction, walked by streaming its rows. Each product has its own
//! pair of tables, so their chains never wait for each other.

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use sedgate_base::audit::{entry_hash, AuditEntry, AuditReport, ChainWalk};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};

use crate::column::{from_millis, to_millis};
use crate::StoreResult;

/// The tables of one chain: entries (`seq, at, actor, action, subject, detail, prev_hash,
/// hash`) and its one-row head (`id = 1, seq, hash`).
#[derive(Debug, Clone, Copy)]
pub struct AuditTables {
    pub entries: &'static str,
    pub head: &'static str,
}

/// One event to record.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    pub at: DateTime<Utc>,
    pub actor: &'a str,
    pub action: &'a str,
    pub subject: Option<&'a str>,
    pub detail: Option<&'a str>,
}

impl AuditTables {
    /// Appends `event` inside the caller's transaction.
    pub async fn append(&self, conn: &mut AnyConnection, event: Event<'_>) -> StoreResult<()> {
        // The UPDATE takes the head's row lock first (PostgreSQL), so concurrent appenders
        // queue here instead of both linking to the same predecessor.
        let head = sqlx::query(&format!(
            "UPDATE {} SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash",
            self.head
        ))
        .fetch_one(&mut *conn)
        .await?;
        let entry = AuditEntry {
            seq: head.try_get("seq")?,
            at: event.at,
            actor: event.actor.to_owned(),
            action: event.action.to_owned(),
            subject: event.subject.map(str::to_owned),
            detail: event.detail.map(str::to_owned),
        };
        let prev: String = head.try_get("hash")?;
        let hash = entry_hash(&prev, &entry);
        sqlx::query(&format!(
            "INSERT INTO {} (seq, at, actor, action, subject, detail, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            self.entries
        ))
        .bind(entry.seq)
        .bind(to_millis(event.at))
        .bind(event.actor)
        .bind(event.action)
        .bind(event.subject)
        .bind(event.detail)
        .bind(&prev)
        .bind(&hash)
        .execute(&mut *conn)
        .await?;
        sqlx::query(&format!("UPDATE {} SET hash = $1 WHERE id = 1", self.head))
            .bind(&hash)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// Walks the chain, streaming its rows, and reports the first broken link (an altered
    /// row, a deleted one, or rows deleted at the end).
    pub async fn verify(&self, pool: &AnyPool) -> StoreResult<AuditReport> {
        let mut conn = pool.acquire().await?;
        let head = sqlx::query(&format!("SELECT seq, hash FROM {} WHERE id = 1", self.head))
            .fetch_one(&mut *conn)
            .await?;
        let head_seq: i64 = head.try_get("seq")?;
        let head_hash: String = head.try_get("hash")?;
        let mut walk = ChainWalk::default();
        let sql = format!(
            "SELECT seq, at, actor, action, subject, detail, prev_hash, hash FROM {} \
             WHERE seq <= $1 ORDER BY seq",
            self.entries
        );
        let mut rows = sqlx::query(&sql).bind(head_seq).fetch(&mut *conn);
        while let Some(row) = rows.try_next().await? {
            let prev: String = row.try_get("prev_hash")?;
            let hash: String = row.try_get("hash")?;
            walk.push(&entry_from_row(&row)?, &prev, &hash);
        }
        drop(rows);
        Ok(walk.finish(Some((head_seq, &head_hash))))
    }

    /// The newest entries first.
    pub async fn tail(&self, pool: &AnyPool, limit: i64) -> StoreResult<Vec<AuditEntry>> {
        let rows = sqlx::query(&format!(
            "SELECT seq, at, actor, action, subject, detail FROM {} ORDER BY seq DESC LIMIT $1",
            self.entries
        ))
        .bind(limit)
        .fetch_all(pool)
        .await?;
        rows.iter().map(entry_from_row).collect()
    }
}

fn entry_from_row(row: &AnyRow) -> StoreResult<AuditEntry> {
    Ok(AuditEntry {
        seq: row.try_get("seq")?,
        at: from_millis(row.try_get("at")?)?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        subject: row.try_get("subject")?,
        detail: row.try_get("detail")?,
    })
}
