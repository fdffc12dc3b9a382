//! SQL statements executed, by operation, for `/metrics` (`sedgate_db_statements_total`)
//! and the benchmark's statements per SED. Each engine counts the statements it sends.

use std::sync::atomic::{AtomicU64, Ordering};

/// What a statement was for. The hot path of one SED is `Intake` (and `CaseRead`) at the
/// sender, `Claim` and `Settle` there again, `Inbound` (and `CaseRead`) at the receiver,
/// and `Audit` on both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    Intake,
    CaseRead,
    Claim,
    Settle,
    Retry,
    Inbound,
    Audit,
    Evidence,
    PayloadWrite,
    PayloadRead,
    Heartbeat,
    Read,
    Admin,
}

impl Operation {
    pub const ALL: [Operation; 13] = [
        Operation::Intake,
        Operation::CaseRead,
        Operation::Claim,
        Operation::Settle,
        Operation::Retry,
        Operation::Inbound,
        Operation::Audit,
        Operation::Evidence,
        Operation::PayloadWrite,
        Operation::PayloadRead,
        Operation::Heartbeat,
        Operation::Read,
        Operation::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Intake => "intake",
            Operation::CaseRead => "case_read",
            Operation::Claim => "claim",
            Operation::Settle => "settle",
            Operation::Retry => "retry",
            Operation::Inbound => "inbound",
            Operation::Audit => "audit",
            Operation::Evidence => "evidence",
            Operation::PayloadWrite => "payload_write",
            Operation::PayloadRead => "payload_read",
            Operation::Heartbeat => "heartbeat",
            Operation::Read => "read",
            Operation::Admin => "admin",
        }
    }

    /// Part of the exchange of a SED (what the statement budget per SED counts).
    pub fn is_exchange(self) -> bool {
        matches!(
            self,
            Operation::Intake
                | Operation::CaseRead
                | Operation::Claim
                | Operation::Settle
                | Operation::Retry
                | Operation::Inbound
                | Operation::Audit
                | Operation::Evidence
                | Operation::PayloadWrite
                | Operation::PayloadRead
        )
    }

    fn index(self) -> usize {
        Operation::ALL
            .iter()
            .position(|o| *o == self)
            .unwrap_or_default()
    }
}

/// Statement and commit counters of one store.
#[derive(Debug, Default)]
pub struct Stats {
    statements: [AtomicU64; 13],
    commits: AtomicU64,
    grouped_writes: AtomicU64,
}

impl Stats {
    /// `n` statements sent for `op`.
    pub fn add(&self, op: Operation, n: u64) {
        self.statements[op.index()].fetch_add(n, Ordering::Relaxed);
    }

    pub fn statements(&self, op: Operation) -> u64 {
        self.statements[op.index()].load(Ordering::Relaxed)
    }

    /// A group-commit batch of `writes` writes committed.
    pub fn batch_committed(&self, writes: u64) {
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.grouped_writes.fetch_add(writes, Ordering::Relaxed);
    }

    pub fn group_commits(&self) -> (u64, u64) {
        (
            self.commits.load(Ordering::Relaxed),
            self.grouped_writes.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_operation() {
        let stats = Stats::default();
        stats.add(Operation::Intake, 3);
        stats.add(Operation::Audit, 1);
        stats.add(Operation::Intake, 1);
        assert_eq!(stats.statements(Operation::Intake), 4);
        assert_eq!(stats.statements(Operation::Audit), 1);
        assert_eq!(stats.statements(Operation::Read), 0);
        assert!(Operation::Claim.is_exchange() && !Operation::Heartbeat.is_exchange());
    }
}
