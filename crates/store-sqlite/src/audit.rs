//! The audit log: one chain per incarnation, entries linked in memory and written in one
//! multi-row statement (over a JSON array) with the transaction they describe; verified
//! chain by chain.

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use sedgate_base::audit::{AuditEntry, AuditReport, ChainWalk};
use sedgate_db::StoreResult;
use sedgate_store::{to_json, AuditChain, AuditEvent, AuditRow, Operation};
use sqlx::SqliteConnection;

use crate::{sql_time, SqliteBackend};

impl SqliteBackend {
    /// Links `events` on `chain` and inserts them in the caller's transaction.
    pub(crate) async fn insert_audit(
        &self,
        conn: &mut SqliteConnection,
        chain: &mut AuditChain,
        events: &[AuditEvent],
    ) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        let rows: Vec<AuditRow> = chain.link(events);
        let rows: Vec<serde_json::Value> = rows
            .into_iter()
            .map(|r| {
                serde_json::json!({
                    "chain": r.chain,
                    "seq": r.entry.seq,
                    "at": sql_time(r.entry.at),
                    "actor": r.entry.actor,
                    "action": r.entry.action,
                    "subject": r.entry.subject,
                    "detail": r.entry.detail,
                    "prev_hash": r.prev_hash,
                    "hash": r.hash,
                })
            })
            .collect();
        let rows = to_json(&rows)?;
        sqlx::query!(
            "INSERT INTO audit (chain, seq, at, actor, action, subject, detail, prev_hash, hash) \
             SELECT j.value ->> 'chain', j.value ->> 'seq', j.value ->> 'at', j.value ->> 'actor', \
             j.value ->> 'action', j.value ->> 'subject', j.value ->> 'detail', \
             j.value ->> 'prev_hash', j.value ->> 'hash' \
             FROM json_each(?1) AS j",
            rows,
        )
        .execute(&mut *conn)
        .await?;
        self.count(Operation::Audit, 1);
        Ok(())
    }

    pub(crate) async fn audit_alone(
        &self,
        events: &[AuditEvent],
        chain: &mut AuditChain,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let mut linked = chain.clone();
        self.insert_audit(&mut tx, &mut linked, events).await?;
        tx.commit().await?;
        *chain = linked;
        Ok(())
    }

    pub(crate) async fn audit_verify_impl(&self) -> StoreResult<Vec<(String, AuditReport)>> {
        let heads = sqlx::query!(
            r#"SELECT chain AS "chain!", seq, hash FROM audit_chains ORDER BY started_at, chain"#
        )
        .fetch_all(&self.reader)
        .await?;
        // Chains that have entries but no head row (the head row was deleted) are walked
        // too; their tail cannot be checked.
        let orphans = sqlx::query_scalar!(
            "SELECT DISTINCT chain AS \"chain!\" FROM audit a \
             WHERE NOT EXISTS (SELECT 1 FROM audit_chains c WHERE c.chain = a.chain) ORDER BY 1"
        )
        .fetch_all(&self.reader)
        .await?;
        self.count(Operation::Read, 2);
        let mut reports = Vec::new();
        let walks = heads
            .into_iter()
            .map(|h| (h.chain, Some((h.seq, h.hash))))
            .chain(orphans.into_iter().map(|c| (c, None)));
        for (chain, head) in walks {
            let mut conn = self.reader.acquire().await?;
            let mut walk = match &head {
                Some((seq, hash)) => ChainWalk::with_checkpoint(*seq, hash),
                None => ChainWalk::default(),
            };
            let mut rows = sqlx::query!(
                r#"SELECT seq, at AS "at: DateTime<Utc>", actor, action, subject, detail, prev_hash, hash
                   FROM audit WHERE chain = ?1 ORDER BY seq"#,
                chain
            )
            .fetch(&mut *conn);
            while let Some(r) = rows.try_next().await? {
                let entry = AuditEntry {
                    seq: r.seq,
                    at: r.at,
                    actor: r.actor,
                    action: r.action,
                    subject: r.subject,
                    detail: r.detail,
                };
                walk.push(&entry, &r.prev_hash, &r.hash);
            }
            drop(rows);
            self.count(Operation::Read, 1);
            reports.push((chain, walk.finish_checked()));
        }
        Ok(reports)
    }

    pub(crate) async fn audit_tail_impl(&self, limit: i64) -> StoreResult<Vec<AuditEntry>> {
        let rows = sqlx::query!(
            r#"SELECT seq, at AS "at: DateTime<Utc>", actor, action, subject, detail FROM audit
               ORDER BY at DESC, seq DESC LIMIT ?1"#,
            limit
        )
        .fetch_all(&self.reader)
        .await?;
        self.count(Operation::Read, 1);
        Ok(rows
            .into_iter()
            .map(|r| AuditEntry {
                seq: r.seq,
                at: r.at,
                actor: r.actor,
                action: r.action,
                subject: r.subject,
                detail: r.detail,
            })
            .collect())
    }
}
