//! The outbox lives in the message rows (`next_attempt_at` while a message is to be sent).
//! A claim is one statement that marks the rows with the claiming incarnation and returns
//! each message with its parts and inline payloads; SQLite has one writer, so the UPDATE is
//! already exclusive (no `SKIP LOCKED` needed). A claim lasts as long as its incarnation
//! heartbeats: no lease to outlive.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sedgate_base::domain::MessageId;
use sedgate_db::{StoreError, StoreResult};
use sedgate_store::rows::{event_json, ClaimRow, DeadLetterRow, EvidenceRow};
use sedgate_store::{
    from_json, unsigned, AuditChain, AuditEvent, DeadLetter, Evidence, Incarnation, MessageState,
    Operation, OutboxItem, Redrive,
};

use crate::{cutoff, i32_of, SqliteBackend};

impl SqliteBackend {
    pub(crate) async fn claim_due_impl(
        &self,
        me: &Incarnation,
        now: DateTime<Utc>,
        stale_after: Duration,
        limit: u32,
    ) -> StoreResult<Vec<OutboxItem>> {
        // `dead = 0` (not `NOT dead`) so the partial index `messages_outbox` serves it. The
        // inline payloads come back as a JSON array of `[hash, hex(content)]`.
        let alive_after = cutoff(now, stale_after);
        let limit = i64::from(limit);
        let rows = sqlx::query!(
            r#"UPDATE messages
               SET claimed_by = ?1,
                   state = CASE WHEN state = 'accepted' THEN 'sending' ELSE state END,
                   updated_at = ?2
               WHERE seq IN (
                   SELECT seq FROM messages
                   WHERE next_attempt_at <= ?2 AND dead = 0
                     AND (claimed_by IS NULL OR claimed_by = ?1 OR claimed_by NOT IN (
                          SELECT incarnation FROM nodes WHERE NOT stopped AND heartbeat_at > ?3))
                   ORDER BY next_attempt_at
                   LIMIT ?4)
               RETURNING id AS "id!", direction AS "direction!", case_id AS "case_id!", buc AS "buc!",
                   sed_type AS "sed_type!", cdm_version AS "cdm_version!", sender AS "sender!",
                   receiver AS "receiver!", peer_country AS "peer_country!", state AS "state!",
                   sed_hash AS "sed_hash!", error_code AS "error_code?: String",
                   error_detail AS "error_detail?: String",
                   created_at AS "created_at!: DateTime<Utc>", updated_at AS "updated_at!: DateTime<Utc>",
                   parts AS "parts!: String", attempts AS "attempts!: i32",
                   (SELECT json_group_array(json_array(p.hash, hex(p.content)) ORDER BY p.hash)
                    FROM payloads p
                    WHERE p.content IS NOT NULL
                      AND p.hash IN (SELECT j.value ->> 'hash' FROM json_each(messages.parts) AS j))
                       AS "inline!: String""#,
            me.id,
            now,
            alive_after,
            limit,
        )
        .fetch_all(&self.writer)
        .await?;
        self.count(Operation::Claim, 1);
        rows.into_iter()
            .map(|r| {
                ClaimRow {
                    message: sedgate_store::message_row!(r),
                    parts: r.parts,
                    attempts: r.attempts,
                    inline: inline_contents(&r.inline)?,
                }
                .item()
            })
            .collect()
    }

    pub(crate) async fn next_due_impl(&self) -> StoreResult<Option<DateTime<Utc>>> {
        let due = sqlx::query_scalar!(
            r#"SELECT MIN(next_attempt_at) AS "due?: DateTime<Utc>" FROM messages
               WHERE next_attempt_at IS NOT NULL AND dead = 0 AND claimed_by IS NULL"#
        )
        .fetch_one(&self.reader)
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
        let event = event_json(now, "retry", Some(&detail))?;
        let (id, attempts) = (id.as_str(), i32_of(attempts));
        sqlx::query!(
            "UPDATE messages SET attempts = ?2, next_attempt_at = ?3, claimed_by = NULL, updated_at = ?4, \
             history = json_insert(history, '$[#]', json(?5)) \
             WHERE id = ?1 AND direction = 'out' AND next_attempt_at IS NOT NULL",
            id,
            attempts,
            next_attempt_at,
            now,
            event,
        )
        .execute(&self.writer)
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
        let mut tx = self.begin_write().await?;
        let what = format!("{code}: {detail}");
        let event = event_json(now, state.as_str(), Some(&what))?;
        let (id, attempts, state) = (id.as_str(), i32_of(attempts), state.as_str());
        sqlx::query!(
            "UPDATE messages SET attempts = ?2, dead = TRUE, claimed_by = NULL, state = ?3, \
             error_code = ?4, error_detail = ?5, updated_at = ?6, \
             history = json_insert(history, '$[#]', json(?7)) \
             WHERE id = ?1 AND direction = 'out' AND next_attempt_at IS NOT NULL",
            id,
            attempts,
            state,
            code,
            detail,
            now,
            event,
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
                Some(id),
                Some(code.to_owned()),
            )],
        )
        .await?;
        tx.commit().await?;
        *chain = linked;
        Ok(())
    }

    pub(crate) async fn dead_letters_impl(&self) -> StoreResult<Vec<DeadLetter>> {
        // `dead = 1` so the partial index `messages_dead` serves it.
        let rows = sqlx::query_as!(
            DeadLetterRow,
            r#"SELECT id, state, error_code AS "error_code?", error_detail AS "error_detail?", attempts AS "attempts: i32",
               updated_at AS "updated_at: DateTime<Utc>" FROM messages
               WHERE direction = 'out' AND dead = 1 ORDER BY updated_at, id"#
        )
        .fetch_all(&self.reader)
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
        let event = event_json(now, "redriven", Some(&format!("by {actor}")))?;
        let mut tx = self.begin_write().await?;
        let ids = sqlx::query_scalar!(
            r#"UPDATE messages SET dead = FALSE, attempts = 0, next_attempt_at = ?1, claimed_by = NULL,
               state = 'accepted', error_code = NULL, error_detail = NULL, updated_at = ?1,
               history = json_insert(history, '$[#]', json(?3))
               WHERE direction = 'out' AND dead = 1 AND (?2 IS NULL OR id = ?2) RETURNING id AS "id!""#,
            now,
            only,
            event,
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
            r#"SELECT COUNT(*) FILTER (WHERE dead = 0) AS "pending!: i64",
                      COUNT(*) FILTER (WHERE dead = 1) AS "dead!: i64"
               FROM messages WHERE next_attempt_at IS NOT NULL"#
        )
        .fetch_one(&self.reader)
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
        let id = id.as_str();
        let receipt = sqlx::query_scalar!(
            "SELECT receipt FROM messages WHERE id = ?1 AND direction = 'out'",
            id
        )
        .fetch_optional(&self.reader)
        .await?;
        self.count(Operation::Read, 1);
        Ok(receipt.flatten())
    }

    pub(crate) async fn record_evidence_impl(&self, evidence: &Evidence) -> StoreResult<()> {
        let mut conn = self.writer.acquire().await?;
        self.upsert_evidence(&mut conn, evidence, Operation::Evidence)
            .await
    }

    pub(crate) async fn evidence_impl(&self, id: &MessageId) -> StoreResult<Vec<Evidence>> {
        let id = id.as_str();
        let rows = sqlx::query_as!(
            EvidenceRow,
            r#"SELECT message_id, direction, peer_country, envelope, refs, receipt AS "receipt?", peer_cert AS "peer_cert?",
               verification, at AS "at: DateTime<Utc>"
               FROM evidence WHERE message_id = ?1 ORDER BY direction, peer_country"#,
            id
        )
        .fetch_all(&self.reader)
        .await?;
        self.count(Operation::Read, 1);
        rows.into_iter().map(EvidenceRow::evidence).collect()
    }
}

/// The `[hash, hex(content)]` pairs a claim returns, decoded.
fn inline_contents(raw: &str) -> StoreResult<Vec<(String, Vec<u8>)>> {
    let pairs: Vec<(String, String)> = from_json("inline", raw)?;
    pairs
        .into_iter()
        .map(|(hash, content)| {
            let bytes = hex::decode(&content).map_err(|e| {
                StoreError::Corrupt(format!("payload {hash}: content is not hex: {e}"))
            })?;
            Ok((hash, bytes))
        })
        .collect()
}
