//! The audit chain of one process (one incarnation of a node): entries are linked in
//! memory and written with the transaction that records what they describe, so no row is
//! locked by every writer of the cluster. The head (last seq and hash) is persisted by
//! the heartbeat and at stop, so `audit verify` can tell a deleted tail too.

use chrono::{DateTime, Utc};
use sedgate_base::audit::{entry_hash, AuditEntry, GENESIS};

/// An event to audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub subject: Option<String>,
    pub detail: Option<String>,
}

impl AuditEvent {
    pub fn new(
        at: DateTime<Utc>,
        actor: impl Into<String>,
        action: &str,
        subject: Option<&str>,
        detail: Option<String>,
    ) -> Self {
        AuditEvent {
            at,
            actor: actor.into(),
            action: action.to_owned(),
            subject: subject.map(str::to_owned),
            detail,
        }
    }
}

/// A linked entry, ready to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub chain: String,
    pub entry: AuditEntry,
    pub prev_hash: String,
    pub hash: String,
}

/// Where a chain stands: its id and the last entry written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditChain {
    pub chain: String,
    pub seq: i64,
    pub hash: String,
}

impl AuditChain {
    /// A new, empty chain.
    pub fn new(chain: impl Into<String>) -> Self {
        AuditChain {
            chain: chain.into(),
            seq: 0,
            hash: GENESIS.to_owned(),
        }
    }

    /// Links `events` after the head and advances it. The caller keeps a copy of the
    /// head from before, to put back if the transaction does not commit.
    pub fn link(&mut self, events: &[AuditEvent]) -> Vec<AuditRow> {
        events
            .iter()
            .map(|e| {
                let entry = AuditEntry {
                    seq: self.seq + 1,
                    at: e.at,
                    actor: e.actor.clone(),
                    action: e.action.clone(),
                    subject: e.subject.clone(),
                    detail: e.detail.clone(),
                };
                let hash = entry_hash(&self.hash, &entry);
                let row = AuditRow {
                    chain: self.chain.clone(),
                    entry,
                    prev_hash: std::mem::replace(&mut self.hash, hash.clone()),
                    hash,
                };
                self.seq += 1;
                row
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sedgate_base::audit::ChainWalk;

    #[test]
    fn linked_rows_verify_as_a_chain() {
        let mut chain = AuditChain::new("node-a/1");
        let now = Utc::now();
        let mut rows = chain.link(&[
            AuditEvent::new(now, "t", "a", Some("x"), None),
            AuditEvent::new(now, "t", "b", None, Some("d".into())),
        ]);
        rows.extend(chain.link(&[AuditEvent::new(now, "t", "c", None, None)]));
        let mut walk = ChainWalk::default();
        for r in &rows {
            assert!(walk.push(&r.entry, &r.prev_hash, &r.hash));
        }
        let report = walk.finish(Some((chain.seq, &chain.hash)));
        assert_eq!((report.entries, report.first_broken), (3, None));
    }
}
