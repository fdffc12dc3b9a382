//! Processes sharing the database: registration, heartbeat, stop. A claim names the
//! incarnation holding it; one that stops heartbeating frees its claims for the others.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sedgate_db::StoreResult;
use sedgate_store::{AuditChain, Incarnation, Operation, StartReport};

use crate::{millis, PgBackend};

impl PgBackend {
    pub(crate) async fn start_incarnation_impl(
        &self,
        me: &Incarnation,
        now: DateTime<Utc>,
        stale_after: Duration,
    ) -> StoreResult<StartReport> {
        let mut tx = self.pool.begin().await?;
        let twin = sqlx::query_scalar!(
            "SELECT incarnation FROM nodes WHERE node = $1 AND incarnation <> $2 AND NOT stopped \
             AND heartbeat_at > ($3::timestamptz - make_interval(secs => $4::bigint / 1000.0)) LIMIT 1",
            me.node,
            me.id,
            now,
            millis(stale_after),
        )
        .fetch_optional(&mut *tx)
        .await?;
        // Our own earlier incarnations are gone (we are their successor): their claims are
        // free at once, not after the heartbeat timeout.
        let released = sqlx::query!(
            "UPDATE messages SET claimed_by = NULL \
             WHERE claimed_by IN (SELECT incarnation FROM nodes WHERE node = $1 AND incarnation <> $2)",
            me.node,
            me.id,
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query!(
            "UPDATE nodes SET stopped = TRUE WHERE node = $1 AND incarnation <> $2 AND NOT stopped \
             AND NOT (heartbeat_at > ($3::timestamptz - make_interval(secs => $4::bigint / 1000.0)))",
            me.node,
            me.id,
            now,
            millis(stale_after),
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!(
            "INSERT INTO nodes (incarnation, node, started_at, heartbeat_at) VALUES ($1, $2, $3, $3)",
            me.id,
            me.node,
            now,
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!(
            "INSERT INTO audit_chains (chain, node, started_at, seq, hash) VALUES ($1, $2, $3, 0, $4) \
             ON CONFLICT (chain) DO NOTHING",
            me.id,
            me.node,
            now,
            sedgate_base::audit::GENESIS,
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.count(Operation::Heartbeat, 5);
        Ok(StartReport {
            released_claims: released,
            live_twin: twin,
        })
    }

    pub(crate) async fn heartbeat_impl(
        &self,
        me: &Incarnation,
        now: DateTime<Utc>,
        head: &AuditChain,
    ) -> StoreResult<()> {
        // One statement: the heartbeat and the audit chain's head.
        sqlx::query!(
            "WITH beat AS (UPDATE nodes SET heartbeat_at = $2 WHERE incarnation = $1) \
             UPDATE audit_chains SET seq = $3, hash = $4 WHERE chain = $1 AND seq <= $3",
            me.id,
            now,
            head.seq,
            head.hash,
        )
        .execute(&self.pool)
        .await?;
        self.count(Operation::Heartbeat, 1);
        Ok(())
    }

    pub(crate) async fn stop_incarnation_impl(
        &self,
        me: &Incarnation,
        now: DateTime<Utc>,
        head: &AuditChain,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query!(
            "UPDATE messages SET claimed_by = NULL WHERE claimed_by = $1",
            me.id
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!(
            "UPDATE nodes SET stopped = TRUE, heartbeat_at = $2 WHERE incarnation = $1",
            me.id,
            now
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!(
            "UPDATE audit_chains SET seq = $2, hash = $3 WHERE chain = $1 AND seq <= $2",
            me.id,
            head.seq,
            head.hash,
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.count(Operation::Heartbeat, 3);
        Ok(())
    }
}
