//! What is particular to PostgreSQL: SKIP LOCKED claims.

/// Claims due outbox rows; `SKIP LOCKED` lets several sedgate nodes share one database
/// without two of them sending the same message at once.
pub(super) const CLAIM_DUE: &str = "UPDATE outbox SET claimed_until = $1 \
     WHERE message_id IN (SELECT message_id FROM outbox \
        WHERE dead = 0 AND next_attempt_at <= $2 AND (claimed_until IS NULL OR claimed_until < $2) \
        ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
     RETURNING message_id, attempts";
