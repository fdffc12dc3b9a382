//! The outbox: due rows are claimed with a lease, then settled as delivered, retried
//! or dead-lettered. A claim whose process died expires and is claimed again; the
//! receiver's MessageId dedup makes that resend harmless.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{AnyConnection, Row};

use super::audit::append_audit;
use super::group::{self, GroupDone, GroupWrite};
use super::messages::{
    add_event, load_parts, message_from_row, set_state, MessageRecord, MessageState, PartRecord,
    MESSAGE_COLUMNS,
};
use super::{from_millis, parse_col, postgres, sqlite, to_millis, Engine, Store, StoreResult};
use sedgate_base::domain::MessageId;

#[derive(Debug, Clone)]
pub struct OutboxItem {
    pub message: MessageRecord,
    pub parts: Vec<PartRecord>,
    /// Attempts made before this one.
    pub attempts: u32,
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

impl Store {
    /// Claims up to `limit` due messages for `lease`.
    pub async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<OutboxItem>> {
        let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::minutes(5));
        let sql = match self.engine {
            Engine::Sqlite => sqlite::CLAIM_DUE,
            Engine::Postgres => postgres::CLAIM_DUE,
        };
        let mut tx = self.writer.begin().await?;
        let claimed = sqlx::query(sql)
            .bind(to_millis(until))
            .bind(to_millis(now))
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await?;
        let mut claims = Vec::with_capacity(claimed.len());
        for row in &claimed {
            let id: MessageId = parse_col(row, "message_id")?;
            let attempts = u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(u32::MAX);
            sqlx::query(
                "UPDATE messages SET state = $1, updated_at = $2 WHERE id = $3 AND state = $4",
            )
            .bind(MessageState::Sending.as_str())
            .bind(to_millis(now))
            .bind(id.as_str())
            .bind(MessageState::Accepted.as_str())
            .execute(&mut *tx)
            .await?;
            claims.push((id, attempts));
        }
        tx.commit().await?;

        let mut conn = self.reader.acquire().await?;
        let mut items = Vec::with_capacity(claims.len());
        for (id, attempts) in claims {
            let row = sqlx::query(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.id = $1"
            ))
            .bind(id.as_str())
            .fetch_one(&mut *conn)
            .await?;
            items.push(OutboxItem {
                message: message_from_row(&row)?,
                parts: load_parts(&mut conn, &id).await?,
                attempts,
            });
        }
        Ok(items)
    }

    /// The earliest time a message becomes due, to sleep until then.
    pub async fn next_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        let row = sqlx::query(
            "SELECT MIN(CASE WHEN claimed_until IS NOT NULL AND claimed_until > next_attempt_at \
             THEN claimed_until ELSE next_attempt_at END) AS due FROM outbox WHERE dead = 0",
        )
        .fetch_one(&self.reader)
        .await?;
        row.try_get::<Option<i64>, _>("due")?
            .map(from_millis)
            .transpose()
    }

    /// A receipt arrived: the message is delivered. Returns false when it was already
    /// settled (a late duplicate receipt changes nothing). The transaction may be shared
    /// with concurrent writes (`group`); returns after the commit.
    pub async fn record_delivered(
        &self,
        id: &MessageId,
        receipt: &[u8],
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let write = GroupWrite::Delivered {
            id: id.clone(),
            receipt: receipt.to_vec(),
            now,
        };
        match self.group_write(write).await? {
            GroupDone::Delivered(settled) => Ok(settled),
            _ => Err(group::mismatched()),
        }
    }

    /// An attempt failed and will be retried at `next_attempt_at`.
    pub async fn record_retry(
        &self,
        id: &MessageId,
        attempts: u32,
        next_attempt_at: DateTime<Utc>,
        error: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "UPDATE outbox SET attempts = $1, next_attempt_at = $2, claimed_until = NULL, last_error = $3 \
             WHERE message_id = $4",
        )
        .bind(i64::from(attempts))
        .bind(to_millis(next_attempt_at))
        .bind(error)
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
        let detail = format!(
            "attempt {attempts} failed: {error}; next attempt at {}",
            next_attempt_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        );
        add_event(&mut tx, id, "retry", Some(&detail), now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The message goes to the dead-letter queue: `Failed` (the peer refused it) or
    /// `DeadLettered` (retry budget spent, EBMS:0301).
    pub async fn record_dead(
        &self,
        id: &MessageId,
        attempts: u32,
        state: MessageState,
        code: &str,
        detail: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "UPDATE outbox SET attempts = $1, dead = 1, claimed_until = NULL, last_error = $2 WHERE message_id = $3",
        )
        .bind(i64::from(attempts))
        .bind(format!("{code}: {detail}"))
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
        set_state(&mut tx, id, state, Some((code, detail)), now).await?;
        add_event(
            &mut tx,
            id,
            state.as_str(),
            Some(&format!("{code}: {detail}")),
            now,
        )
        .await?;
        append_audit(
            &mut tx,
            now,
            "outbox",
            "message.dead_lettered",
            Some(id.as_str()),
            Some(code),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn dead_letters(&self) -> StoreResult<Vec<DeadLetter>> {
        let rows = sqlx::query(
            "SELECT m.id, m.state, m.error_code, m.error_detail, m.updated_at, o.attempts \
             FROM outbox o JOIN messages m ON m.id = o.message_id WHERE o.dead = 1 ORDER BY m.updated_at, m.id",
        )
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(DeadLetter {
                    id: parse_col(row, "id")?,
                    state: parse_col(row, "state")?,
                    error_code: row.try_get("error_code")?,
                    error_detail: row.try_get("error_detail")?,
                    attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(u32::MAX),
                    updated_at: from_millis(row.try_get("updated_at")?)?,
                })
            })
            .collect()
    }

    /// Puts dead letters back in the outbox with a fresh retry budget.
    pub async fn redrive(
        &self,
        which: &Redrive,
        actor: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<MessageId>> {
        let mut tx = self.writer.begin().await?;
        let rows = match which {
            Redrive::One(id) => {
                sqlx::query("SELECT message_id FROM outbox WHERE dead = 1 AND message_id = $1")
                    .bind(id.as_str())
                    .fetch_all(&mut *tx)
                    .await?
            }
            Redrive::All => {
                sqlx::query("SELECT message_id FROM outbox WHERE dead = 1 ORDER BY message_id")
                    .fetch_all(&mut *tx)
                    .await?
            }
        };
        let mut ids = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: MessageId = parse_col(row, "message_id")?;
            sqlx::query(
                "UPDATE outbox SET dead = 0, attempts = 0, next_attempt_at = $1, claimed_until = NULL \
                 WHERE message_id = $2",
            )
            .bind(to_millis(now))
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
            set_state(&mut tx, &id, MessageState::Accepted, None, now).await?;
            add_event(&mut tx, &id, "redriven", Some(&format!("by {actor}")), now).await?;
            append_audit(
                &mut tx,
                now,
                actor,
                "message.redriven",
                Some(id.as_str()),
                None,
            )
            .await?;
            ids.push(id);
        }
        tx.commit().await?;
        Ok(ids)
    }

    /// (pending, dead) outbox rows.
    pub async fn outbox_counts(&self) -> StoreResult<(u64, u64)> {
        let row = sqlx::query(
            "SELECT COALESCE(SUM(CASE WHEN dead = 0 THEN 1 ELSE 0 END), 0) AS pending, \
             COALESCE(SUM(CASE WHEN dead = 1 THEN 1 ELSE 0 END), 0) AS dead FROM outbox",
        )
        .fetch_one(&self.reader)
        .await?;
        let n = |c: &str| -> StoreResult<u64> {
            Ok(u64::try_from(row.try_get::<i64, _>(c)?).unwrap_or(0))
        };
        Ok((n("pending")?, n("dead")?))
    }

    /// The receipt stored for one of our messages, as evidence.
    pub async fn outbound_receipt(&self, id: &MessageId) -> StoreResult<Option<Vec<u8>>> {
        let row =
            sqlx::query("SELECT content FROM receipts WHERE message_id = $1 AND direction = 'out'")
                .bind(id.as_str())
                .fetch_optional(&self.reader)
                .await?;
        Ok(row.map(|r| r.try_get("content")).transpose()?)
    }
}

/// The writes of `Store::record_delivered`, inside the caller's transaction.
pub(super) async fn record_delivered_in(
    tx: &mut AnyConnection,
    id: &MessageId,
    receipt: &[u8],
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let removed = sqlx::query("DELETE FROM outbox WHERE message_id = $1")
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
    if removed.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO receipts (message_id, direction, content, at) VALUES ($1, 'out', $2, $3) \
         ON CONFLICT (message_id, direction) DO NOTHING",
    )
    .bind(id.as_str())
    .bind(receipt)
    .bind(to_millis(now))
    .execute(&mut *tx)
    .await?;
    set_state(tx, id, MessageState::Delivered, None, now).await?;
    add_event(
        tx,
        id,
        MessageState::Delivered.as_str(),
        Some("receipt received"),
        now,
    )
    .await?;
    append_audit(
        tx,
        now,
        "outbox",
        "message.delivered",
        Some(id.as_str()),
        None,
    )
    .await?;
    Ok(true)
}
