//! The gateway's hash-chained audit log (tables `audit`, `audit_head`); appending and
//! walking are `sedgate_db::audit`'s, the hashing `sedgate_base::audit`'s.

use chrono::{DateTime, Utc};
use sedgate_db::audit::{AuditTables, Event};
use sqlx::AnyConnection;

pub use sedgate_base::audit::{AuditEntry, AuditReport};

use super::{Store, StoreResult};

const CHAIN: AuditTables = AuditTables {
    entries: "audit",
    head: "audit_head",
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

impl Store {
    /// Walks the whole chain and reports the first broken link.
    pub async fn audit_verify(&self) -> StoreResult<AuditReport> {
        CHAIN.verify(&self.reader).await
    }

    /// The newest entries first, for operators.
    pub async fn audit_tail(&self, limit: i64) -> StoreResult<Vec<AuditEntry>> {
        CHAIN.tail(&self.reader, limit).await
    }
}
