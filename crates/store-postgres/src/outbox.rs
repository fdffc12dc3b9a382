//! The outbox lives in the message rows (`next_attempt_at` while a message is to be sent).
//! A claim is one statement that marks the rows with the claiming incarnation and returns
//! each message with its parts and inline payloads; `SKIP LOCKED` lets nodes claim side by
//! side. A claim lasts as long as its incarnation heartbeats: no lease to outlive.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sedgate_base::domain::MessageId;
use sedgate_db::StoreResult;
use sedgate_store::rows::{event_json, ClaimRow, DeadLetterRow, EvidenceRow};
use sedgate_store::{
    unsigned, AuditChain, AuditEvent, DeadLetter, Evidence, Incarnation, MessageState, Operation,
    OutboxItem, Redrive,
};

use crate::{i32_of, millis, PgBackend};

impl PgBackend {
    pub(crate) async fn claim_due_impl(
        &self,
        me: &Incarnation,
        now: DateTime<Utc>,
        stale_after: Duration,
        limit: u32,
    ) -> StoreResult<Vec<OutboxItem>> {
        let rows = sqlx::query!(
            r#"WITH due AS (
                   SELECT seq FROM messages
                   WHERE next_attempt_at <= $2 AND NOT dead
                     AND (claimed_by IS NULL OR claimed_by = $1 OR claimed_by NOT IN (
                          SELECT incarnation FROM nodes
                          WHERE NOT stopped AND heartbeat_at > ($2::timestamptz - make_interval(secs => $3::bigint / 1000.0))))
                   ORDER BY next_attempt_at
                   LIMIT $4
                   FOR UPDATE SKIP LOCKED)
               UPDATE messages m
               SET claimed_by = $1,
                   state = CASE WHEN m.state = 'accepted' THEN 'sending' ELSE m.state END,
                   updated_at = $2
               FROM due WHERE m.seq = due.seq
               RETURNING m.id, m.direction, m.case_id, m.buc, m.sed_type, m.cdm_version, m.sender,
                   m.receiver, m.peer_country, m.state, m.sed_hash, m.error_code, m.error_detail,
                   m.created_at, m.updated_at, m.parts::text AS "parts!", m.attempts,
                   ARRAY(SELECT p.hash FROM payloads p
                         WHERE p.content IS NOT NULL
                           AND p.hash IN (SELECT jsonb_array_elements(m.parts) ->> 'hash')
                         ORDER BY p.hash) AS "inline_hashes!",
                   ARRAY(SELECT p.content FROM payloads p
                         WHERE p.content IS NOT NULL
                           AND p.hash IN (SELECT jsonb_array_elements(m.parts) ->> 'hash')
                         ORDER BY p.hash) AS "inline_contents!: Vec<Vec<u8>>""#,
            me.id,
            now,
            millis(stale_after),
            i64::from(limit),
        )
        .fetch_all(&self.pool)
        .await?;
        self.count(Operation::Claim, 1);
        rows.into_iter()
            .map(|r| {
                ClaimRow {
                    message: sedgate_store::message_row!(r),
                    parts: r.parts,
                    attempts: r.attempts,
                    inline: r.inline_hashes.into_iter().zip(r.inline_contents).collect(),
                }
                .item()
            })
            .collect()
    }

    pub(crate) async fn next_due_impl(&self) -> StoreResult<Option<DateTime<Utc>>> {
        let due = sqlx::query_scalar!(
            "SELECT MIN(next_attempt_at) FROM messages \
             WHERE next_attempt_at IS NOT NULL AND NOT dead AND claimed_by IS NULL"
        )
        .fetch_one(&self.pool)
        .await?;
        self.count(Operation::Read, 1);
        Ok(due)
    }

    pub(crate) async fn record_retry_impl(
        &self,
        id: &MessageId,
        attempts: u32,
        next_attempt_at: DateTime<Utc>,
        error: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let detail = format!(
            "attempt {attempts} failed: {error}; next attempt at {}",
            next_attempt_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        );
        sqlx::query!(
            "UPDATE messages SET attempts = $2, next_attempt_at = $3, claimed_by = NULL, updated_at = $4, \
             history = history || jsonb_build_array($5::text::jsonb) \
             WHERE id = $1 AND direction = 'out' AND next_attempt_at IS NOT NULL",
            id.as_str(),
            i32_of(attempts),
            next_attempt_at,
            now,
            event_json(now, "retry", Some(&detail))?,
        )
        .execute(&self.pool)
        .await?;
        self.count(Operation::Retry, 1);
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn record_dead_impl(
        &self,
        id: &MessageId,
        attempts: u32,
        state: MessageState,
        code: &str,
        detail: &str,
        now: DateTime<Utc>,
        chain: &mut AuditChain,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let what = format!("{code}: {detail}");
        sqlx::query!(
            "UPDATE messages SET attempts = $2, dead = TRUE, claimed_by = NULL, state = $3, \
             error_code = $4, error_detail = $5, updated_at = $6, \
             history = history || jsonb_build_array($7::text::jsonb) \
             WHERE id = $1 AND direction = 'out' AND next_attempt_at IS NOT NULL",
            id.as_str(),
            i32_of(attempts),
            state.as_str(),
            code,
            detail,
            now,
            event_json(now, state.as_str(), Some(&what))?,
        )
        .execute(&mut *tx)
        .await?;
        self.count(Operation::Retry, 1);
        let mut linked = chain.clone();
        self.insert_audit(
            &mut tx,
            &mut linked,
            &[AuditEvent::new(
                now,
                "outbox",
                "message.dead_lettered",
                Some(id.as_str()),
                Some(code.to_owned()),
            )],
        )
        .await?;
        tx.commit().await?;
        *chain = linked;
        Ok(())
    }

    pub(crate) async fn dead_letters_impl(&self) -> StoreResult<Vec<DeadLetter>> {
        let rows = sqlx::query_as!(
            DeadLetterRow,
            "SELECT id, state, error_code, error_detail, attempts, updated_at FROM messages \
             WHERE direction = 'out' AND dead ORDER BY updated_at, id"
        )
        .fetch_all(&self.pool)
        .await?;
        self.count(Operation::Read, 1);
        rows.into_iter().map(DeadLetterRow::dead_letter).collect()
    }

    pub(crate) async fn redrive_impl(
        &self,
        which: &Redrive,
        actor: &str,
        now: DateTime<Utc>,
        chain: &mut AuditChain,
    ) -> StoreResult<Vec<MessageId>> {
        let only = match which {
            Redrive::One(id) => Some(id.as_str()),
            Redrive::All => None,
        };
        let mut tx = self.pool.begin().await?;
        let ids = sqlx::query_scalar!(
            "UPDATE messages SET dead = FALSE, attempts = 0, next_attempt_at = $1, claimed_by = NULL, \
             state = 'accepted', error_code = NULL, error_detail = NULL, updated_at = $1, \
             history = history || jsonb_build_array($3::text::jsonb) \
             WHERE direction = 'out' AND dead AND ($2::text IS NULL OR id = $2) RETURNING id",
            now,
            only,
            event_json(now, "redriven", Some(&format!("by {actor}")))?,
        )
        .fetch_all(&mut *tx)
        .await?;
        self.count(Operation::Admin, 1);
        let mut ids: Vec<MessageId> = ids
            .iter()
            .map(|id| sedgate_store::parse_stored("id", id))
            .collect::<StoreResult<_>>()?;
        ids.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        let events: Vec<AuditEvent> = ids
            .iter()
            .map(|id| AuditEvent::new(now, actor, "message.redriven", Some(id.as_str()), None))
            .collect();
        let mut linked = chain.clone();
        self.insert_audit(&mut tx, &mut linked, &events).await?;
        tx.commit().await?;
        *chain = linked;
        Ok(ids)
    }

    pub(crate) async fn outbox_counts_impl(&self) -> StoreResult<(u64, u64)> {
        let row = sqlx::query!(
            r#"SELECT COUNT(*) FILTER (WHERE NOT dead) AS "pending!", COUNT(*) FILTER (WHERE dead) AS "dead!"
               FROM messages WHERE next_attempt_at IS NOT NULL"#
        )
        .fetch_one(&self.pool)
        .await?;
        self.count(Operation::Read, 1);
        Ok((
            unsigned("pending", row.pending)?,
            unsigned("dead", row.dead)?,
        ))
    }

    pub(crate) async fn outbound_receipt_impl(
        &self,
        id: &MessageId,
    ) -> StoreResult<Option<Vec<u8>>> {
        let receipt = sqlx::query_scalar!(
            "SELECT receipt FROM messages WHERE id = $1 AND direction = 'out'",
            id.as_str()
        )
        .fetch_optional(&self.pool)
        .await?;
        self.count(Operation::Read, 1);
        Ok(receipt.flatten())
    }

    pub(crate) async fn record_evidence_impl(&self, evidence: &Evidence) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await?;
        self.upsert_evidence(&mut conn, evidence, Operation::Evidence)
            .await
    }

    pub(crate) async fn evidence_impl(&self, id: &MessageId) -> StoreResult<Vec<Evidence>> {
        let rows = sqlx::query_as!(
            EvidenceRow,
            "SELECT message_id, direction, peer_country, envelope, refs::text AS \"refs!\", receipt, \
             peer_cert, verification, at FROM evidence WHERE message_id = $1 ORDER BY direction, peer_country",
            id.as_str()
        )
        .fetch_all(&self.pool)
        .await?;
        self.count(Operation::Read, 1);
        rows.into_iter().map(EvidenceRow::evidence).collect()
    }
}
