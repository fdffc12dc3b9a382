//! Reading messages (API, console, dashboard) and the back office's inbox.

use chrono::{DateTime, Utc};
use sedgate_base::domain::{CaseId, InstitutionId, MessageId};
use sedgate_db::StoreResult;
use sedgate_store::rows::{event_json, InboxRow, MessageRow};
use sedgate_store::{
    from_json, unsigned, Activity, AuditChain, AuditEvent, InboxItem, MessageEvent, MessageQuery,
    MessageRecord, Operation, PartRecord,
};

use crate::PgBackend;

impl PgBackend {
    pub(crate) async fn message_impl(&self, id: &MessageId) -> StoreResult<Option<MessageRecord>> {
        // An id is ours when we sent it; a received message with the same id (another
        // country's) comes second.
        let row = sqlx::query_as!(
            MessageRow,
            "SELECT id, direction, case_id, buc, sed_type, cdm_version, sender, receiver, peer_country, \
             state, sed_hash, error_code, error_detail, created_at, updated_at FROM messages \
             WHERE id = $1 ORDER BY direction = 'out' DESC, seq LIMIT 1",
            id.as_str()
        )
        .fetch_optional(&self.pool)
        .await?;
        self.count(Operation::Read, 1);
        row.map(MessageRow::record).transpose()
    }

    pub(crate) async fn message_events_impl(
        &self,
        id: &MessageId,
    ) -> StoreResult<Vec<MessageEvent>> {
        let history = sqlx::query_scalar!(
            r#"SELECT history::text AS "history!" FROM messages WHERE id = $1
               ORDER BY direction = 'out' DESC, seq LIMIT 1"#,
            id.as_str()
        )
        .fetch_optional(&self.pool)
        .await?;
        self.count(Operation::Read, 1);
        history
            .map(|h| from_json("history", &h))
            .transpose()
            .map(Option::unwrap_or_default)
    }

    pub(crate) async fn message_parts_impl(&self, id: &MessageId) -> StoreResult<Vec<PartRecord>> {
        let parts = sqlx::query_scalar!(
            r#"SELECT parts::text AS "parts!" FROM messages WHERE id = $1
               ORDER BY direction = 'out' DESC, seq LIMIT 1"#,
            id.as_str()
        )
        .fetch_optional(&self.pool)
        .await?;
        self.count(Operation::Read, 1);
        parts
            .map(|p| from_json("parts", &p))
            .transpose()
            .map(Option::unwrap_or_default)
    }

    pub(crate) async fn case_messages_impl(
        &self,
        case: &CaseId,
    ) -> StoreResult<Vec<MessageRecord>> {
        let rows = sqlx::query_as!(
            MessageRow,
            "SELECT id, direction, case_id, buc, sed_type, cdm_version, sender, receiver, peer_country, \
             state, sed_hash, error_code, error_detail, created_at, updated_at FROM messages \
             WHERE case_id = $1 ORDER BY seq",
            case.as_str()
        )
        .fetch_all(&self.pool)
        .await?;
        self.count(Operation::Read, 1);
        rows.into_iter().map(MessageRow::record).collect()
    }

    pub(crate) async fn message_counts_impl(&self) -> StoreResult<Vec<(String, String, u64)>> {
        let rows = sqlx::query!(
            r#"SELECT direction, state, COUNT(*) AS "n!" FROM messages GROUP BY direction, state"#
        )
        .fetch_all(&self.pool)
        .await?;
        self.count(Operation::Read, 1);
        rows.into_iter()
            .map(|r| Ok((r.direction, r.state, unsigned("n", r.n)?)))
            .collect()
    }

    pub(crate) async fn message_counts_by_peer_impl(
        &self,
    ) -> StoreResult<Vec<(String, String, u64)>> {
        let rows = sqlx::query!(
            r#"SELECT peer_country, direction, COUNT(*) AS "n!" FROM messages
               GROUP BY peer_country, direction ORDER BY peer_country, direction"#
        )
        .fetch_all(&self.pool)
        .await?;
        self.count(Operation::Read, 1);
        rows.into_iter()
            .map(|r| Ok((r.peer_country, r.direction, unsigned("n", r.n)?)))
            .collect()
    }

    pub(crate) async fn search_messages_impl(
        &self,
        q: &MessageQuery,
    ) -> StoreResult<Vec<MessageRecord>> {
        let rows = sqlx::query_as!(
            MessageRow,
            "SELECT id, direction, case_id, buc, sed_type, cdm_version, sender, receiver, peer_country, \
             state, sed_hash, error_code, error_detail, created_at, updated_at FROM messages \
             WHERE ($1::text IS NULL OR id = $1) AND ($2::text IS NULL OR case_id = $2) \
             AND ($3::text IS NULL OR sender = $3 OR receiver = $3) AND ($4::text IS NULL OR state = $4) \
             AND ($5::timestamptz IS NULL OR created_at >= $5) AND ($6::timestamptz IS NULL OR created_at < $6) \
             ORDER BY created_at DESC, id LIMIT $7",
            q.id.as_ref().map(|i| i.as_str()),
            q.case_id.as_ref().map(|c| c.as_str()),
            q.institution.as_ref().map(|i| i.as_str()),
            q.state.map(|s| s.as_str()),
            q.from,
            q.to,
            q.limit.clamp(1, 1000),
        )
        .fetch_all(&self.pool)
        .await?;
        self.count(Operation::Read, 1);
        rows.into_iter().map(MessageRow::record).collect()
    }

    pub(crate) async fn activity_since_impl(&self, since: DateTime<Utc>) -> StoreResult<Activity> {
        // Events since `since` belong to messages updated since then.
        let rows = sqlx::query!(
            r#"SELECT e ->> 'state' AS "state!", COUNT(*) AS "n!"
               FROM messages, jsonb_array_elements(history) AS e
               WHERE updated_at >= $1 AND (e ->> 'at')::timestamptz >= $1
               GROUP BY 1"#,
            since
        )
        .fetch_all(&self.pool)
        .await?;
        let mut activity = Activity::default();
        for r in rows {
            let n = unsigned("n", r.n)?;
            match r.state.as_str() {
                "accepted" => activity.accepted += n,
                "delivered" => activity.delivered += n,
                "received" => activity.received += n,
                "retry" => activity.retries += n,
                "dead_lettered" | "failed" => activity.dead += n,
                _ => {}
            }
        }
        let latencies = sqlx::query_scalar!(
            r#"SELECT (EXTRACT(EPOCH FROM (delivered_at - created_at)) * 1000)::bigint AS "ms!"
               FROM messages WHERE direction = 'out' AND delivered_at >= $1 ORDER BY 1"#,
            since
        )
        .fetch_all(&self.pool)
        .await?;
        self.count(Operation::Read, 2);
        activity.delivery_latencies_ms = latencies;
        Ok(activity)
    }

    pub(crate) async fn inbox_list_impl(
        &self,
        receivers: &[InstitutionId],
        after: i64,
        limit: i64,
        include_acked: bool,
    ) -> StoreResult<Vec<InboxItem>> {
        if receivers.is_empty() {
            return Ok(Vec::new());
        }
        let receivers: Vec<String> = receivers.iter().map(|r| r.to_string()).collect();
        let rows = sqlx::query!(
            r#"SELECT seq, acked_at, parts::text AS "parts!", id, direction, case_id, buc, sed_type,
               cdm_version, sender, receiver, peer_country, state, sed_hash, error_code, error_detail,
               created_at, updated_at
               FROM messages
               WHERE direction = 'in' AND receiver = ANY($1) AND seq > $2 AND ($3 OR acked_at IS NULL)
               ORDER BY seq LIMIT $4"#,
            &receivers,
            after,
            include_acked,
            limit,
        )
        .fetch_all(&self.pool)
        .await?;
        self.count(Operation::Read, 1);
        rows.into_iter()
            .map(|r| {
                InboxRow {
                    seq: r.seq,
                    acked_at: r.acked_at,
                    parts: r.parts,
                    message: sedgate_store::message_row!(r),
                }
                .item()
            })
            .collect()
    }

    pub(crate) async fn inbox_item_impl(&self, id: &MessageId) -> StoreResult<Option<InboxItem>> {
        let row = sqlx::query!(
            r#"SELECT seq, acked_at, parts::text AS "parts!", id, direction, case_id, buc, sed_type,
               cdm_version, sender, receiver, peer_country, state, sed_hash, error_code, error_detail,
               created_at, updated_at
               FROM messages WHERE direction = 'in' AND id = $1 ORDER BY seq LIMIT 1"#,
            id.as_str()
        )
        .fetch_optional(&self.pool)
        .await?;
        self.count(Operation::Read, 1);
        row.map(|r| {
            InboxRow {
                seq: r.seq,
                acked_at: r.acked_at,
                parts: r.parts,
                message: sedgate_store::message_row!(r),
            }
            .item()
        })
        .transpose()
    }

    pub(crate) async fn inbox_ack_impl(
        &self,
        id: &MessageId,
        actor: &str,
        now: DateTime<Utc>,
        chain: &mut AuditChain,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let acked = sqlx::query_scalar!(
            "UPDATE messages SET acked_at = $2, state = 'acknowledged', updated_at = $2, \
             history = history || jsonb_build_array($3::text::jsonb) \
             WHERE seq = (SELECT seq FROM messages WHERE direction = 'in' AND id = $1 AND acked_at IS NULL \
             ORDER BY seq LIMIT 1) RETURNING seq",
            id.as_str(),
            now,
            event_json(now, "acknowledged", Some(&format!("by {actor}")))?,
        )
        .fetch_optional(&mut *tx)
        .await?;
        self.count(Operation::Admin, 1);
        if acked.is_none() {
            tx.rollback().await?;
            return Ok(false);
        }
        let mut linked = chain.clone();
        self.insert_audit(
            &mut tx,
            &mut linked,
            &[AuditEvent::new(
                now,
                actor,
                "inbox.acknowledged",
                Some(id.as_str()),
                None,
            )],
        )
        .await?;
        tx.commit().await?;
        *chain = linked;
        Ok(true)
    }
}
