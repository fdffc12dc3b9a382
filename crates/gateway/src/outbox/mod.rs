//! Outbox dispatcher: claims due messages, hands each to a `Transmitter`, and settles
//! it as delivered, retried (exponential backoff with jitter) or dead-lettered.
//!
//! The loop only waits; one step is `try_dispatch_once`, which tests call directly.

pub mod as4_sender;
pub mod backoff;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use tokio::sync::Notify;

use crate::config::OutboxConfig;
use crate::ops::metrics::{Metrics, OutcomeLabels};
use crate::store::{Delivery, Evidence, MessageState, OutboxItem, Store, StoreError};

/// What one send attempt produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendResult {
    /// A receipt for this message: the raw signal, kept as evidence.
    Receipt(Vec<u8>),
    /// A verified receipt of a signed message, with the evidence stored alongside.
    SignedReceipt {
        receipt: Vec<u8>,
        evidence: Box<Evidence>,
    },
    /// The peer answered with an ebMS error signal.
    Refused {
        code: String,
        detail: String,
        /// EBMS:0202 DeliveryFailure: the peer could not finish; try again later.
        retryable: bool,
    },
    /// Connection, TLS, timeout or a 5xx without a signal: try again later.
    Transport(String),
    /// An answer that is neither receipt nor error, or a 4xx: retrying will not help.
    Rejected(String),
}

/// Sends one message to its peer. The AS4 implementation lives in `inbound`'s sibling
/// `transport`/`as4` wiring; tests can use their own.
#[async_trait::async_trait]
pub trait Transmitter: Send + Sync + 'static {
    async fn send(&self, item: &OutboxItem) -> SendResult;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    Retried { attempts: u32, next: DateTime<Utc> },
    DeadLettered { code: String },
}

pub struct Dispatcher {
    store: Store,
    transmitter: Arc<dyn Transmitter>,
    config: OutboxConfig,
    metrics: Arc<Metrics>,
    wake: Arc<Notify>,
}

impl Dispatcher {
    pub fn new(
        store: Store,
        transmitter: Arc<dyn Transmitter>,
        config: OutboxConfig,
        metrics: Arc<Metrics>,
        wake: Arc<Notify>,
    ) -> Self {
        Self {
            store,
            transmitter,
            config,
            metrics,
            wake,
        }
    }

    /// Claims what is due and sends it, `workers` at a time. Returns the outcomes.
    pub async fn try_dispatch_once(&self, now: DateTime<Utc>) -> Result<Vec<Outcome>, StoreError> {
        let limit = u32::try_from(self.config.workers * 4).unwrap_or(64);
        let items = self.store.claim_due(now, limit).await?;
        let outcomes = futures::stream::iter(items)
            .map(|item| async move { self.dispatch(item).await })
            .buffer_unordered(self.config.workers)
            .collect::<Vec<_>>()
            .await;
        outcomes.into_iter().collect()
    }

    async fn dispatch(&self, item: OutboxItem) -> Result<Outcome, StoreError> {
        let id = item.message.id.clone();
        let attempts = item.attempts.saturating_add(1);
        let result = self.transmitter.send(&item).await;
        let now = Utc::now();
        let label = |outcome: &str| OutcomeLabels {
            outcome: outcome.to_owned(),
        };
        let retry_or_dead = |error: String| -> (Option<DateTime<Utc>>, String) {
            if attempts >= self.config.max_attempts {
                (None, error)
            } else {
                let next = backoff::next_attempt(
                    attempts,
                    now,
                    self.config.base_backoff,
                    self.config.max_backoff,
                    rand::random::<f64>(),
                );
                (Some(next), error)
            }
        };
        let outcome = match result {
            SendResult::Receipt(receipt) => {
                self.settle_delivered(&id, attempts, receipt, None, now)
                    .await?
            }
            SendResult::SignedReceipt { receipt, evidence } => {
                self.settle_delivered(&id, attempts, receipt, Some(*evidence), now)
                    .await?
            }
            SendResult::Refused {
                code,
                detail,
                retryable: false,
            } => {
                self.metrics
                    .outbox_attempts
                    .get_or_create(&label("refused"))
                    .inc();
                tracing::warn!(message_id = %id, %code, %detail, "peer refused message");
                self.store
                    .record_dead(&id, attempts, MessageState::Failed, &code, &detail, now)
                    .await?;
                Outcome::DeadLettered { code }
            }
            SendResult::Rejected(detail) => {
                self.metrics
                    .outbox_attempts
                    .get_or_create(&label("rejected"))
                    .inc();
                tracing::warn!(message_id = %id, %detail, "peer rejected message");
                let code = "EBMS:0004".to_owned();
                self.store
                    .record_dead(&id, attempts, MessageState::Failed, &code, &detail, now)
                    .await?;
                Outcome::DeadLettered { code }
            }
            SendResult::Refused {
                code,
                detail,
                retryable: true,
            } => {
                self.metrics
                    .outbox_attempts
                    .get_or_create(&label("retry"))
                    .inc();
                self.settle_retry(
                    &id,
                    attempts,
                    retry_or_dead(format!("{code}: {detail}")),
                    now,
                )
                .await?
            }
            SendResult::Transport(error) => {
                self.metrics
                    .outbox_attempts
                    .get_or_create(&label("transport_error"))
                    .inc();
                self.settle_retry(&id, attempts, retry_or_dead(error), now)
                    .await?
            }
        };
        Ok(outcome)
    }

    async fn settle_delivered(
        &self,
        id: &sedgate_base::domain::MessageId,
        attempts: u32,
        receipt: Vec<u8>,
        evidence: Option<Evidence>,
        now: DateTime<Utc>,
    ) -> Result<Outcome, StoreError> {
        self.metrics
            .outbox_attempts
            .get_or_create(&OutcomeLabels {
                outcome: "delivered".to_owned(),
            })
            .inc();
        self.store
            .record_delivered(Delivery {
                id: id.clone(),
                receipt,
                evidence,
                now,
            })
            .await?;
        tracing::info!(message_id = %id, attempts, "delivered");
        Ok(Outcome::Delivered)
    }

    async fn settle_retry(
        &self,
        id: &sedgate_base::domain::MessageId,
        attempts: u32,
        decision: (Option<DateTime<Utc>>, String),
        now: DateTime<Utc>,
    ) -> Result<Outcome, StoreError> {
        match decision {
            (Some(next), error) => {
                tracing::info!(message_id = %id, attempts, %error, next = %next, "send failed, will retry");
                self.store
                    .record_retry(id, attempts, next, &error, now)
                    .await?;
                Ok(Outcome::Retried { attempts, next })
            }
            (None, error) => {
                let code = "EBMS:0301".to_owned();
                let detail = format!("no receipt after {attempts} attempts; last error: {error}");
                tracing::warn!(message_id = %id, %detail, "retry budget spent, dead-lettered");
                self.store
                    .record_dead(
                        id,
                        attempts,
                        MessageState::DeadLettered,
                        &code,
                        &detail,
                        now,
                    )
                    .await?;
                Ok(Outcome::DeadLettered { code })
            }
        }
    }

    /// Runs until `shutdown` resolves: dispatches, then sleeps until the next row is
    /// due, the poll interval passes, or intake wakes it.
    pub async fn run(self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            let mut sleep_for = self.config.poll_interval;
            match self.try_dispatch_once(Utc::now()).await {
                Ok(outcomes) if !outcomes.is_empty() => continue,
                Ok(_) => {
                    if let Ok(Some(due)) = self.store.next_due().await {
                        let until = (due - Utc::now()).to_std().unwrap_or(Duration::ZERO);
                        sleep_for = sleep_for.min(until.max(Duration::from_millis(5)));
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "outbox: database unavailable, backing off");
                    sleep_for = Duration::from_secs(1);
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(sleep_for) => {}
                _ = self.wake.notified() => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}
