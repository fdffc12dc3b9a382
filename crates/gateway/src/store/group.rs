//! Group commit: concurrent writes of the hot path share one transaction and one fsync.
//!
//! A durable commit costs an fsync (SQLite `synchronous = FULL`, PostgreSQL
//! `synchronous_commit = on`), and every write transaction serialises on the audit chain's
//! head row, so one commit per message bounds a gateway at the disk's commit rate. Here a
//! write (a back-office submission, a settled receipt, a received message) is queued; the
//! first caller that finds no batch running becomes the leader and runs everything queued
//! so far in one transaction on a spawned task, each write in its own SAVEPOINT, then
//! commits once and answers every caller. While that batch commits, new writes queue up
//! and form the next batch.
//!
//! The invariants stay those of one transaction per write:
//! - a caller gets its answer only after the commit that holds its write, so nothing is
//!   acknowledged that is not durable; a failed commit fails every write of the batch
//!   (`StoreError::Unavailable`: nothing of it was stored, try again);
//! - a write that fails rolls back to its savepoint and gets its own error; the other
//!   writes of the batch are unaffected;
//! - the writes run one after the other on one connection in arrival order, so
//!   idempotency keys, MessageId dedup and the audit chain see them as sequential
//!   transactions (a second write with the same key or MessageId in the same batch sees
//!   the first one's rows);
//! - the batch runs on its own task, so a caller that goes away (a cancelled request)
//!   neither aborts the others nor leaves the batch half done; a write whose caller went
//!   away before the batch started is not run at all.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::channel::oneshot;
use sqlx::Acquire;

use super::inbox::{store_inbound_in, InboundMessage, InboundOutcome};
use super::messages::{accept_in, AcceptOutcome, Submission};
use super::outbox::record_delivered_in;
use super::{Store, StoreError, StoreResult};
use sedgate_base::domain::MessageId;

/// Writes per transaction at most; what is queued beyond forms the next batch.
const MAX_BATCH: usize = 128;

/// A write that may share its transaction with others.
pub(super) enum GroupWrite {
    Accept(Box<Submission>),
    Delivered {
        id: MessageId,
        receipt: Vec<u8>,
        now: DateTime<Utc>,
    },
    Inbound(Box<InboundMessage>),
}

/// What a write produced, handed to its caller after the commit.
pub(super) enum GroupDone {
    Accept(AcceptOutcome),
    Delivered(bool),
    Inbound(InboundOutcome),
}

struct Pending {
    write: GroupWrite,
    reply: oneshot::Sender<StoreResult<GroupDone>>,
}

/// The queue and the leader lock of one store.
#[derive(Default)]
pub(super) struct GroupCommit {
    queue: parking_lot::Mutex<Vec<Pending>>,
    leader: Arc<tokio::sync::Mutex<()>>,
    commits: AtomicU64,
    writes: AtomicU64,
}

/// Committed write batches and the writes they held, since the store was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GroupCommitStats {
    pub commits: u64,
    pub writes: u64,
}

impl Store {
    /// How well writes were grouped: `writes / commits` per transaction.
    pub fn group_commit_stats(&self) -> GroupCommitStats {
        GroupCommitStats {
            commits: self.group.commits.load(Ordering::Relaxed),
            writes: self.group.writes.load(Ordering::Relaxed),
        }
    }

    /// Queues `write` and returns its result once the transaction holding it committed.
    pub(super) async fn group_write(&self, write: GroupWrite) -> StoreResult<GroupDone> {
        let (reply, mut answer) = oneshot::channel();
        self.group.queue.lock().push(Pending { write, reply });
        loop {
            tokio::select! {
                // A batch answers its callers before it releases the leader lock, so when
                // both are ready the answer is taken first.
                biased;
                done = &mut answer => {
                    return done.unwrap_or_else(|_| {
                        Err(StoreError::Unavailable("the write batch was abandoned".into()))
                    });
                }
                guard = Arc::clone(&self.group.leader).lock_owned() => {
                    let batch: Vec<Pending> = {
                        let mut queue = self.group.queue.lock();
                        let n = queue.len().min(MAX_BATCH);
                        queue.drain(..n).collect()
                    };
                    if batch.is_empty() {
                        // Our write went with a batch that has answered already.
                        continue;
                    }
                    let store = self.clone();
                    tokio::spawn(async move {
                        store.run_batch(batch).await;
                        drop(guard);
                    });
                }
            }
        }
    }

    async fn run_batch(&self, batch: Vec<Pending>) {
        let mut replies = Vec::with_capacity(batch.len());
        let mut writes = Vec::with_capacity(batch.len());
        // A caller that went away before its write ran (a cancelled request) was never
        // answered: its write is dropped, as a transaction of its own would have been rolled
        // back.
        for p in batch.into_iter().filter(|p| !p.reply.is_canceled()) {
            replies.push(p.reply);
            writes.push(p.write);
        }
        if writes.is_empty() {
            return;
        }
        match self.write_batch(&writes).await {
            Ok(results) => {
                for (reply, result) in replies.into_iter().zip(results) {
                    let _ = reply.send(result);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, writes = writes.len(), "write batch failed, nothing of it stored");
                for reply in replies {
                    let _ = reply.send(Err(StoreError::Unavailable(format!(
                        "write batch not committed: {e}"
                    ))));
                }
            }
        }
    }

    /// Runs every write in its own savepoint of one transaction and commits. `Err` when
    /// the transaction itself failed: then nothing of the batch is stored.
    async fn write_batch(&self, writes: &[GroupWrite]) -> StoreResult<Vec<StoreResult<GroupDone>>> {
        let mut tx = self.writer.begin().await?;
        let mut results = Vec::with_capacity(writes.len());
        for write in writes {
            let mut savepoint = tx.begin().await?;
            let result = run_write(&mut savepoint, write).await;
            if result.is_ok() {
                savepoint.commit().await?;
            } else {
                savepoint.rollback().await?;
            }
            results.push(result);
        }
        tx.commit().await?;
        self.group.commits.fetch_add(1, Ordering::Relaxed);
        self.group
            .writes
            .fetch_add(writes.len() as u64, Ordering::Relaxed);
        Ok(results)
    }
}

async fn run_write(conn: &mut sqlx::AnyConnection, write: &GroupWrite) -> StoreResult<GroupDone> {
    Ok(match write {
        GroupWrite::Accept(sub) => GroupDone::Accept(accept_in(conn, sub).await?),
        GroupWrite::Delivered { id, receipt, now } => {
            GroupDone::Delivered(record_delivered_in(conn, id, receipt, *now).await?)
        }
        GroupWrite::Inbound(msg) => GroupDone::Inbound(store_inbound_in(conn, msg).await?),
    })
}

/// The write of one kind answered with another: a bug in this module, not in the data.
pub(super) fn mismatched() -> StoreError {
    StoreError::Corrupt("group commit answered with the result of another write".into())
}
