//! Messages received from peer gateways, deduplicated by MessageId, and the back
//! office's inbox over them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{Acquire, AnyConnection, Row};

use super::audit::append_audit;
use super::group::{self, GroupDone, GroupWrite};
use super::messages::{
    add_event, insert_message, load_parts, message_from_row, set_state, Direction, MessageInsert,
    MessageRecord, MessageState, NewPart, PartRecord, MESSAGE_COLUMNS,
};
use super::{opt_from_millis, to_millis, Store, StoreError, StoreResult};
use sedgate_base::domain::{
    BucType, CaseId, CdmVersion, CountryCode, InstitutionId, MessageId, SedType,
};

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
    /// The receipt that will answer this message, stored with it so a resend gets
    /// the very same receipt.
    pub receipt: Vec<u8>,
    /// For a signed message: the signed bytes and the verification, kept with it.
    pub evidence: Option<super::Evidence>,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboundOutcome {
    Stored,
    /// Seen before: answer with the receipt sent then.
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

impl Store {
    /// The receipt already sent for a received message, if it was received before.
    pub async fn inbound_receipt(&self, id: &MessageId) -> StoreResult<Option<Vec<u8>>> {
        let row =
            sqlx::query("SELECT content FROM receipts WHERE message_id = $1 AND direction = 'in'")
                .bind(id.as_str())
                .fetch_optional(&self.writer)
                .await?;
        Ok(row.map(|r| r.try_get("content")).transpose()?)
    }

    /// Stores a received message, its inbox row, receipt and audit entry in one
    /// transaction (shared with concurrent writes: `group`); the caller answers with the
    /// receipt only after this returns.
    pub async fn store_inbound(&self, msg: &InboundMessage) -> StoreResult<InboundOutcome> {
        match self
            .group_write(GroupWrite::Inbound(Box::new(msg.clone())))
            .await?
        {
            GroupDone::Inbound(outcome) => Ok(outcome),
            _ => Err(group::mismatched()),
        }
    }

    /// Inbox items for `receivers` after the cursor `after` (a `seq`), oldest first.
    pub async fn inbox_list(
        &self,
        receivers: &[InstitutionId],
        after: i64,
        limit: i64,
        include_acked: bool,
    ) -> StoreResult<Vec<InboxItem>> {
        if receivers.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (0..receivers.len())
            .map(|i| format!("${}", i + 3))
            .collect();
        let acked_filter = if include_acked {
            ""
        } else {
            "AND i.acked_at IS NULL"
        };
        let sql = format!(
            "SELECT i.seq, i.acked_at, {MESSAGE_COLUMNS} FROM inbox i JOIN messages m ON m.id = i.message_id \
             WHERE i.seq > $1 {acked_filter} AND i.receiver IN ({}) ORDER BY i.seq LIMIT $2",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(&sql).bind(after).bind(limit);
        for r in receivers {
            query = query.bind(r.as_str());
        }
        let mut conn = self.reader.acquire().await?;
        let rows = query.fetch_all(&mut *conn).await?;
        let mut items = Vec::with_capacity(rows.len());
        for row in &rows {
            let message = message_from_row(row)?;
            let parts = load_parts(&mut conn, &message.id).await?;
            items.push(InboxItem {
                seq: row.try_get("seq")?,
                acked_at: opt_from_millis(row.try_get("acked_at")?)?,
                message,
                parts,
            });
        }
        Ok(items)
    }

    pub async fn inbox_item(&self, id: &MessageId) -> StoreResult<Option<InboxItem>> {
        let mut conn = self.reader.acquire().await?;
        let row = sqlx::query(&format!(
            "SELECT i.seq, i.acked_at, {MESSAGE_COLUMNS} FROM inbox i JOIN messages m ON m.id = i.message_id \
             WHERE i.message_id = $1"
        ))
        .bind(id.as_str())
        .fetch_optional(&mut *conn)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let message = message_from_row(&row)?;
        let parts = load_parts(&mut conn, &message.id).await?;
        Ok(Some(InboxItem {
            seq: row.try_get("seq")?,
            acked_at: opt_from_millis(row.try_get("acked_at")?)?,
            message,
            parts,
        }))
    }

    /// Marks an inbox item acknowledged. Returns false when it already was.
    pub async fn inbox_ack(
        &self,
        id: &MessageId,
        actor: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query(
            "UPDATE inbox SET acked_at = $1 WHERE message_id = $2 AND acked_at IS NULL",
        )
        .bind(to_millis(now))
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        set_state(&mut tx, id, MessageState::Acknowledged, None, now).await?;
        add_event(
            &mut tx,
            id,
            MessageState::Acknowledged.as_str(),
            Some(&format!("by {actor}")),
            now,
        )
        .await?;
        append_audit(
            &mut tx,
            now,
            actor,
            "inbox.acknowledged",
            Some(id.as_str()),
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// The writes of `Store::store_inbound`, inside the caller's transaction.
pub(super) async fn store_inbound_in(
    conn: &mut AnyConnection,
    msg: &InboundMessage,
) -> StoreResult<InboundOutcome> {
    let mut savepoint = conn.begin().await?;
    match try_store_inbound(&mut savepoint, msg).await {
        Ok(outcome) => {
            savepoint.commit().await?;
            Ok(outcome)
        }
        // Two deliveries of one message at once (another node on the same database): the
        // loser finds the winner's receipt.
        Err(StoreError::Backend(sqlx::Error::Database(e))) if e.is_unique_violation() => {
            savepoint.rollback().await?;
            let seen = sqlx::query(
                "SELECT content FROM receipts WHERE message_id = $1 AND direction = 'in'",
            )
            .bind(msg.id.as_str())
            .fetch_optional(&mut *conn)
            .await?;
            match seen {
                Some(row) => Ok(InboundOutcome::Duplicate {
                    receipt: row.try_get("content")?,
                }),
                None => Err(StoreError::Conflict(format!(
                    "message id {} is in use by another message",
                    msg.id
                ))),
            }
        }
        Err(e) => {
            savepoint.rollback().await?;
            Err(e)
        }
    }
}

async fn try_store_inbound(
    tx: &mut AnyConnection,
    msg: &InboundMessage,
) -> StoreResult<InboundOutcome> {
    let seen =
        sqlx::query("SELECT content FROM receipts WHERE message_id = $1 AND direction = 'in'")
            .bind(msg.id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
    if let Some(row) = seen {
        return Ok(InboundOutcome::Duplicate {
            receipt: row.try_get("content")?,
        });
    }
    insert_message(
        tx,
        &MessageInsert {
            id: &msg.id,
            direction: Direction::Inbound,
            case_id: &msg.case_id,
            buc: &msg.buc,
            sed_type: &msg.sed_type,
            cdm: msg.cdm,
            sender: &msg.sender,
            receiver: &msg.receiver,
            peer_country: &msg.peer_country,
            state: MessageState::Received,
            client_id: None,
            submission_id: None,
            parts: &msg.parts,
            now: msg.now,
            actor: &format!("peer:{}", msg.peer_country),
            audit_action: "message.received",
        },
    )
    .await?;
    sqlx::query("INSERT INTO inbox (message_id, receiver, received_at) VALUES ($1, $2, $3)")
        .bind(msg.id.as_str())
        .bind(msg.receiver.as_str())
        .bind(to_millis(msg.now))
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO receipts (message_id, direction, content, at) VALUES ($1, 'in', $2, $3)",
    )
    .bind(msg.id.as_str())
    .bind(&msg.receipt)
    .bind(to_millis(msg.now))
    .execute(&mut *tx)
    .await?;
    if let Some(evidence) = &msg.evidence {
        super::evidence::upsert_evidence(tx, evidence).await?;
    }
    Ok(InboundOutcome::Stored)
}
