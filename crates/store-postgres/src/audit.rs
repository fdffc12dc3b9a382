//! The audit log: one chain per incarnation, entries linked in memory and written in one
//! multi-row statement with the transaction they describe; verified chain by chain.

use futures::TryStreamExt;
use sedgate_base::audit::{AuditEntry, AuditReport, ChainWalk};
use sedgate_db::StoreResult;
use sedgate_store::{AuditChain, AuditEvent, AuditRow, Operation};
use sqlx::PgConnection;

use crate::PgBackend;

impl PgBackend {
    /// Links `events` on `chain` and inserts them in the caller's transaction.
    pub(crate) async fn insert_audit(
        &self,
        conn: &mut PgConnection,
        chain: &mut AuditChain,
        events: &[AuditEvent],
    ) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        let rows: Vec<AuditRow> = chain.link(events);
        let mut chains = Vec::with_capacity(rows.len());
        let mut seqs = Vec::with_capacity(rows.len());
        let mut ats = Vec::with_capacity(rows.len());
        let mut actors = Vec::with_capacity(rows.len());
        let mut actions = Vec::with_capacity(rows.len());
        let mut subjects = Vec::with_capacity(rows.len());
        let mut details = Vec::with_capacity(rows.len());
        let mut prevs = Vec::with_capacity(rows.len());
        let mut hashes = Vec::with_capacity(rows.len());
        for r in rows {
            chains.push(r.chain);
            seqs.push(r.entry.seq);
            ats.push(r.entry.at);
            actors.push(r.entry.actor);
            actions.push(r.entry.action);
            subjects.push(r.entry.subject);
            details.push(r.entry.detail);
            prevs.push(r.prev_hash);
            hashes.push(r.hash);
        }
        sqlx::query!(
            "INSERT INTO audit (chain, seq, at, actor, action, subject, detail, prev_hash, hash) \
             SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::timestamptz[], $4::text[], \
             $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])",
            &chains,
            &seqs,
            &ats,
            &actors,
            &actions,
            &subjects as &[Option<String>],
            &details as &[Option<String>],
            &prevs,
            &hashes,
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
        let mut tx = self.pool.begin().await?;
        let mut linked = chain.clone();
        self.insert_audit(&mut tx, &mut linked, events).await?;
        tx.commit().await?;
        *chain = linked;
        Ok(())
    }

    pub(crate) async fn audit_verify_impl(&self) -> StoreResult<Vec<(String, AuditReport)>> {
        let heads =
            sqlx::query!("SELECT chain, seq, hash FROM audit_chains ORDER BY started_at, chain")
                .fetch_all(&self.pool)
                .await?;
        // Chains that have entries but no head row (the head row was deleted) are walked
        // too; their tail cannot be checked.
        let orphans = sqlx::query_scalar!(
            "SELECT DISTINCT chain AS \"chain!\" FROM audit a \
             WHERE NOT EXISTS (SELECT 1 FROM audit_chains c WHERE c.chain = a.chain) ORDER BY 1"
        )
        .fetch_all(&self.pool)
        .await?;
        self.count(Operation::Read, 2);
        let mut reports = Vec::new();
        let walks = heads
            .into_iter()
            .map(|h| (h.chain, Some((h.seq, h.hash))))
            .chain(orphans.into_iter().map(|c| (c, None)));
        for (chain, head) in walks {
            let mut conn = self.pool.acquire().await?;
            let mut walk = match &head {
                Some((seq, hash)) => ChainWalk::with_checkpoint(*seq, hash),
                None => ChainWalk::default(),
            };
            let mut rows = sqlx::query!(
                "SELECT seq, at, actor, action, subject, detail, prev_hash, hash FROM audit \
                 WHERE chain = $1 ORDER BY seq",
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
            "SELECT seq, at, actor, action, subject, detail FROM audit ORDER BY at DESC, seq DESC LIMIT $1",
            limit
        )
        .fetch_all(&self.pool)
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
