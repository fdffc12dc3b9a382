//! The audit log's hash chain, pure: each entry's hash covers the previous entry's hash
//! and its own fields, so changing or deleting a row breaks the chain from there on.
//! The stores of both products append and walk their chains with these.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The `prev_hash` of a chain's first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub subject: Option<String>,
    pub detail: Option<String>,
}

/// Result of walking a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    pub entries: u64,
    /// The first entry whose hash or link does not match, if any.
    pub first_broken: Option<i64>,
}

/// The hash of `entry` linked to its predecessor's hash `prev`, hex.
pub fn entry_hash(prev: &str, entry: &AuditEntry) -> String {
    // JSON of a tuple: unambiguous field boundaries whatever the text contains.
    let canonical = serde_json::json!([
        prev,
        entry.seq,
        entry.at.timestamp_millis(),
        entry.actor,
        entry.action,
        entry.subject,
        entry.detail
    ])
    .to_string();
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

/// Walks a chain one stored row at a time (rows in `seq` order), so a store can stream
/// them instead of loading the table.
#[derive(Debug, Clone)]
pub struct ChainWalk {
    prev: String,
    expected_seq: i64,
    entries: u64,
    first_broken: Option<i64>,
    /// A head persisted after the fact (it may lag behind the chain): the entry with this
    /// seq must exist and have this hash.
    checkpoint: Option<(i64, String)>,
}

impl Default for ChainWalk {
    fn default() -> Self {
        ChainWalk {
            prev: GENESIS.to_owned(),
            expected_seq: 1,
            entries: 0,
            first_broken: None,
            checkpoint: None,
        }
    }
}

impl ChainWalk {
    /// A walk that also checks a lagging head: entry `seq` must exist with `hash`; entries
    /// after it (written since the head was persisted) are fine.
    pub fn with_checkpoint(seq: i64, hash: &str) -> Self {
        ChainWalk {
            checkpoint: (seq > 0).then(|| (seq, hash.to_owned())),
            ..ChainWalk::default()
        }
    }

    /// Feeds the next stored row. Returns false once the chain is broken (the caller may
    /// stop reading).
    pub fn push(&mut self, entry: &AuditEntry, stored_prev: &str, stored_hash: &str) -> bool {
        self.entries += 1;
        if self.first_broken.is_some() {
            return false;
        }
        if entry.seq != self.expected_seq
            || stored_prev != self.prev
            || entry_hash(&self.prev, entry) != stored_hash
        {
            self.first_broken = Some(entry.seq.min(self.expected_seq));
            return false;
        }
        if let Some((seq, hash)) = &self.checkpoint {
            if *seq == entry.seq && hash != stored_hash {
                self.first_broken = Some(entry.seq);
                return false;
            }
        }
        self.prev = stored_hash.to_owned();
        self.expected_seq += 1;
        true
    }

    /// Ends the walk against the chain's head as stored (its last seq and hash): a head
    /// ahead of the last row means rows were deleted at the end.
    pub fn finish(self, head: Option<(i64, &str)>) -> AuditReport {
        let first_broken = self.first_broken.or_else(|| {
            let (seq, hash) = head?;
            (seq != self.expected_seq - 1 || hash != self.prev).then_some(self.expected_seq)
        });
        AuditReport {
            entries: self.entries,
            first_broken,
        }
    }

    /// Ends a walk begun `with_checkpoint`: rows deleted at the end up to the checkpoint
    /// are reported at the first missing seq.
    pub fn finish_checked(self) -> AuditReport {
        let first_broken = self.first_broken.or_else(|| {
            let (seq, _) = self.checkpoint.as_ref()?;
            (self.expected_seq - 1 < *seq).then_some(self.expected_seq)
        });
        AuditReport {
            entries: self.entries,
            first_broken,
        }
    }

    /// The hash the next entry links to.
    pub fn last_hash(&self) -> &str {
        &self.prev
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<(AuditEntry, String, String)> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let e = AuditEntry {
                    seq,
                    at: DateTime::from_timestamp_millis(1_700_000_000_000 + seq).unwrap(),
                    actor: "t".into(),
                    action: "a".into(),
                    subject: Some(format!("s{seq}")),
                    detail: None,
                };
                let h = entry_hash(&prev, &e);
                let row = (e, prev.clone(), h.clone());
                prev = h;
                row
            })
            .collect()
    }

    fn walk(rows: &[(AuditEntry, String, String)], head: Option<(i64, &str)>) -> AuditReport {
        let mut w = ChainWalk::default();
        for (e, p, h) in rows {
            w.push(e, p, h);
        }
        w.finish(head)
    }

    #[test]
    fn an_intact_chain_verifies() {
        let rows = chain(5);
        let head = rows.last().map(|r| (5, r.2.as_str()));
        assert_eq!(
            walk(&rows, head),
            AuditReport {
                entries: 5,
                first_broken: None
            }
        );
    }

    #[test]
    fn a_lagging_checkpoint_accepts_later_entries_and_catches_a_deleted_tail() {
        let rows = chain(5);
        let walk_with = |rows: &[(AuditEntry, String, String)], seq: i64, hash: &str| {
            let mut w = ChainWalk::with_checkpoint(seq, hash);
            for (e, p, h) in rows {
                w.push(e, p, h);
            }
            w.finish_checked().first_broken
        };
        let h3 = rows[2].2.clone();
        assert_eq!(walk_with(&rows, 3, &h3), None);
        assert_eq!(walk_with(&rows[..2], 3, &h3), Some(3));
        assert_eq!(walk_with(&rows, 3, "forged"), Some(3));
        assert_eq!(walk_with(&rows, 0, GENESIS), None);
    }

    #[test]
    fn names_the_first_altered_or_deleted_row() {
        let mut rows = chain(5);
        rows[2].0.actor = "mallory".into();
        assert_eq!(walk(&rows, None).first_broken, Some(3));

        let mut rows = chain(5);
        rows.remove(1);
        assert_eq!(walk(&rows, None).first_broken, Some(2));

        let rows = chain(5);
        let head_hash = rows[4].2.clone();
        assert_eq!(
            walk(&rows[..4], Some((5, &head_hash))).first_broken,
            Some(5)
        );
    }
}
