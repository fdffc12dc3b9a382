//! What is particular to SQLite.

/// Claims due outbox rows. SQLite has one writer, so a plain UPDATE … RETURNING in the
/// write transaction is already exclusive.
pub(super) const CLAIM_DUE: &str = "UPDATE outbox SET claimed_until = $1 \
     WHERE message_id IN (SELECT message_id FROM outbox \
        WHERE dead = 0 AND next_attempt_at <= $2 AND (claimed_until IS NULL OR claimed_until < $2) \
        ORDER BY next_attempt_at LIMIT $3) \
     RETURNING message_id, attempts";
