//! This process as an incarnation of its node: registered at open (releasing what an
//! earlier incarnation of the node held), heartbeating while it runs (so its outbox
//! claims stay its own and its audit chain's head is on record), stopped at close.

use std::sync::Weak;
use std::time::Duration;

use chrono::Utc;

use super::{Engine, Inner, Store, StoreResult};

impl Store {
    pub(super) async fn start(&self, every: Duration) -> StoreResult<()> {
        let inner = &self.inner;
        let report = inner
            .backend
            .start_incarnation(&inner.me, Utc::now(), inner.stale_after)
            .await?;
        if report.released_claims > 0 {
            tracing::info!(
                released = report.released_claims,
                node = %inner.me.node,
                "released the outbox claims of this node's previous process"
            );
        }
        if let Some(twin) = &report.live_twin {
            tracing::warn!(
                node = %inner.me.node,
                %twin,
                "another live process uses this node id; give each node its own [node] id"
            );
        }
        match self.engine() {
            Engine::Sqlite => self.sweep_blobs().await?,
            Engine::Postgres => {
                let swept = inner
                    .backend
                    .sweep_uploads(Utc::now(), inner.stale_after)
                    .await?;
                if swept > 0 {
                    tracing::info!(swept, "removed payload uploads no message refers to");
                }
            }
        }
        let weak = std::sync::Arc::downgrade(&self.inner);
        *inner.heartbeat.lock() = Some(tokio::spawn(heartbeat_loop(weak, every)));
        Ok(())
    }

    /// Records now that this process is alive and where its audit chain stands.
    pub(super) async fn heartbeat_now(&self) -> StoreResult<()> {
        beat(&self.inner).await
    }

    /// A clean stop: the heartbeat ends, the outbox claims are free at once, the audit
    /// chain's head is on record, the connections close.
    pub async fn close(&self) {
        if let Some(task) = self.inner.heartbeat.lock().take() {
            task.abort();
        }
        let inner = &self.inner;
        let chain = inner.chain.lock().await.clone();
        if let Err(e) = inner
            .backend
            .stop_incarnation(&inner.me, Utc::now(), &chain)
            .await
        {
            tracing::warn!(error = %e, "could not record the stop of this process");
        }
        inner.backend.close().await;
    }
}

async fn beat(inner: &Inner) -> StoreResult<()> {
    let chain = inner.chain.lock().await.clone();
    inner.backend.heartbeat(&inner.me, Utc::now(), &chain).await
}

async fn heartbeat_loop(inner: Weak<Inner>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sweeps = 0u32;
    loop {
        tick.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        if let Err(e) = beat(&inner).await {
            tracing::warn!(error = %e, "heartbeat failed");
        }
        // Uploads of processes that died mid-request, now and then.
        sweeps = sweeps.wrapping_add(1);
        if inner.backend.engine() == Engine::Postgres && sweeps % 30 == 0 {
            if let Err(e) = inner
                .backend
                .sweep_uploads(Utc::now(), inner.stale_after)
                .await
            {
                tracing::warn!(error = %e, "sweeping abandoned uploads failed");
            }
        }
    }
}
