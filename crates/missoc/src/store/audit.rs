//! MISSOC's audit chain (`missoc_audit`, `missoc_audit_head`), apart from the gateway's:
//! a MISSOC step never waits for the exchange's writes, nor they for it. Appending and
//! walking are `sedgate_db::audit`'s.

use chrono::{DateTime, Utc};
use sedgate_db::audit::{AuditTables, Event};
use sqlx::AnyConnection;

use super::{AuditEntry, AuditReport, MissocStore, StoreResult};

const CHAIN: AuditTables = AuditTables {
    entries: "missoc_audit",
    head: "missoc_audit_head",
};

/// Appends an entry inside the caller's transaction.
pub(super) async fn append_audit(
    conn: &mut AnyConnection,
    at: DateTime<Utc>,
    actor: &str,
    action: &str,
    subject: Option<&str>,
    detail: Option<&str>,
) -> StoreResult<()> {
    CHAIN
        .append(
            conn,
            Event {
                at,
                actor,
                action,
                subject,
                detail,
            },
        )
        .await
}

impl MissocStore {
    /// Walks the chain and reports the first broken link.
    pub async fn audit_verify(&self) -> StoreResult<AuditReport> {
        CHAIN.verify(&self.pools.reader).await
    }

    /// The newest entries first.
    pub async fn audit_tail(&self, limit: i64) -> StoreResult<Vec<AuditEntry>> {
        CHAIN.tail(&self.pools.reader, limit).await
    }
}
