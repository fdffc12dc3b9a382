//! Group commit: concurrent writes of the hot path share one transaction and one fsync.
//!
//! A durable commit costs an fsync (SQLite `synchronous = FULL`, PostgreSQL
//! `synchronous_commit = on`), so one commit per message bounds a gateway at the disk's
//! commit rate. Here a write (a back-office submission, a settled receipt, a received
//! message) is queued; the first caller that finds no batch running becomes the leader and
//! runs everything queued so far as one transaction on a spawned task, with the audit
//! entries of all its writes in one statement, then answers every caller. While that batch
//! commits, new writes queue up and form the next batch.
//!
//! The invariants stay those of one transaction per write:
//! - a caller gets its answer only after the commit that holds its write, so nothing is
//!   acknowledged that is not durable; a failed commit fails every write of the batch
//!   (`StoreError::Unavailable`: nothing of it was stored, try again);
//! - a write that fails or meets a conflict (an idempotency key or MessageId seen before)
//!   makes the engine roll the batch back (`BatchOutcome::Isolate`); the writes then run
//!   one transaction each, so only that write gets its error or its earlier answer;
//! - the writes of a batch run in arrival order, so idempotency keys, MessageId dedup and
//!   the audit chain see them as sequential transactions;
//! - the batch runs on its own task, so a caller that goes away (a cancelled request)
//!   neither aborts the others nor leaves the batch half done; a write whose caller went
//!   away before the batch started is not run at all;
//! - the queue is bounded (`MAX_QUEUED`): beyond it callers wait for room.

use std::sync::Arc;

use futures::channel::oneshot;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use sedgate_store::{BatchOutcome, GroupDone, GroupWrite};

use super::{
    AcceptOutcome, Delivery, InboundMessage, InboundOutcome, Store, StoreError, StoreResult,
    Submission,
};

/// Writes per transaction at most; what is queued beyond forms the next batch.
const MAX_BATCH: usize = 128;
/// Writes waiting at most; more callers wait for room (back-pressure, bounded memory).
const MAX_QUEUED: usize = 1024;

struct Pending {
    write: GroupWrite,
    reply: oneshot::Sender<StoreResult<GroupDone>>,
    _room: OwnedSemaphorePermit,
}

/// The queue and the leader lock of one store.
pub(super) struct GroupCommit {
    queue: parking_lot::Mutex<Vec<Pending>>,
    leader: Arc<tokio::sync::Mutex<()>>,
    room: Arc<Semaphore>,
}

impl Default for GroupCommit {
    fn default() -> Self {
        GroupCommit {
            queue: Default::default(),
            leader: Default::default(),
            room: Arc::new(Semaphore::new(MAX_QUEUED)),
        }
    }
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
        let (commits, writes) = self.backend().stats().group_commits();
        GroupCommitStats { commits, writes }
    }

    /// Stores a back-office submission (its messages, payloads and idempotency answer) in
    /// one transaction, shared with concurrent writes.
    pub async fn accept_submission(&self, sub: Submission) -> StoreResult<AcceptOutcome> {
        match self.group_write(GroupWrite::Accept(Box::new(sub))).await? {
            GroupDone::Accept(outcome) => Ok(outcome),
            _ => Err(mismatched()),
        }
    }

    /// Settles a message as delivered with its receipt (and the evidence of a signed
    /// exchange); false when it was not waiting for one.
    pub async fn record_delivered(&self, delivery: Delivery) -> StoreResult<bool> {
        match self
            .group_write(GroupWrite::Delivered(Box::new(delivery)))
            .await?
        {
            GroupDone::Delivered(settled) => Ok(settled),
            _ => Err(mismatched()),
        }
    }

    /// Stores a received message with its receipt; the caller answers with the receipt
    /// only after this returns.
    pub async fn store_inbound(&self, msg: InboundMessage) -> StoreResult<InboundOutcome> {
        match self.group_write(GroupWrite::Inbound(Box::new(msg))).await? {
            GroupDone::Inbound(outcome) => Ok(outcome),
            _ => Err(mismatched()),
        }
    }

    /// Queues `write` and returns its result once the transaction holding it committed.
    async fn group_write(&self, write: GroupWrite) -> StoreResult<GroupDone> {
        let group = &self.inner.group;
        let room = Arc::clone(&group.room)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Unavailable("the store is closing".into()))?;
        let (reply, mut answer) = oneshot::channel();
        group.queue.lock().push(Pending {
            write,
            reply,
            _room: room,
        });
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
                guard = Arc::clone(&group.leader).lock_owned() => {
                    let batch: Vec<Pending> = {
                        let mut queue = group.queue.lock();
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
        // A caller that went away before its write ran (a cancelled request) was never
        // answered: its write is dropped, as a transaction of its own would have been rolled
        // back (its staged payloads go with its request).
        let (writes, replies): (Vec<GroupWrite>, Vec<_>) = batch
            .into_iter()
            .filter(|p| !p.reply.is_canceled())
            .map(|p| (p.write, (p.reply, p._room)))
            .unzip();
        if writes.is_empty() {
            return;
        }
        let promoted = self.promote_staged(&writes).await;
        let results = match promoted {
            Ok(()) => self.commit_batch(&writes).await,
            Err(e) => writes.iter().map(|_| Err(copy_error(&e))).collect(),
        };
        for (write, result) in writes.iter().zip(&results) {
            let stored = matches!(
                result,
                Ok(GroupDone::Accept(AcceptOutcome::Accepted))
                    | Ok(GroupDone::Inbound(InboundOutcome::Stored))
                    | Ok(GroupDone::Delivered(_))
            );
            self.settle_staged(write, stored).await;
        }
        for ((reply, _room), result) in replies.into_iter().zip(results) {
            let _ = reply.send(result);
        }
    }

    /// One transaction for all; a write that must be alone (a failure, a conflict) runs
    /// alone, and the rest are batched again.
    async fn commit_batch(&self, writes: &[GroupWrite]) -> Vec<StoreResult<GroupDone>> {
        let backend = self.backend();
        let mut chain = self.inner.chain.lock().await;
        let mut results = Vec::with_capacity(writes.len());
        let mut rest = writes;
        while !rest.is_empty() {
            match backend.write_batch(rest, &mut chain).await {
                Ok(BatchOutcome::Committed(done)) => {
                    results.extend(done.into_iter().map(Ok));
                    break;
                }
                Ok(BatchOutcome::Isolate { at }) => {
                    let at = at.min(rest.len() - 1);
                    if at > 0 {
                        // Known good: they run again without the one that must be alone.
                        match backend.write_batch(&rest[..at], &mut chain).await {
                            Ok(BatchOutcome::Committed(done)) => {
                                results.extend(done.into_iter().map(Ok))
                            }
                            _ => {
                                for write in &rest[..at] {
                                    results.push(backend.write_alone(write, &mut chain).await);
                                }
                            }
                        }
                    }
                    results.push(backend.write_alone(&rest[at], &mut chain).await);
                    rest = &rest[at + 1..];
                }
                Err(e) => {
                    tracing::warn!(error = %e, writes = rest.len(), "write batch failed, nothing of it stored");
                    results.extend(rest.iter().map(|_| {
                        Err(StoreError::Unavailable(format!(
                            "write batch not committed: {e}"
                        )))
                    }));
                    break;
                }
            }
        }
        results
    }
}

/// The same failure for every write of a batch.
fn copy_error(e: &StoreError) -> StoreError {
    StoreError::Unavailable(format!("write batch not committed: {e}"))
}

/// The write of one kind answered with another: a bug in this module, not in the data.
fn mismatched() -> StoreError {
    StoreError::Corrupt("group commit answered with the result of another write".into())
}
