//! The dispatcher's decisions, with a scripted transmitter instead of a peer.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sedgate_gateway::config::{Engine, OutboxConfig};
use sedgate_gateway::ops::metrics::Metrics;
use sedgate_gateway::outbox::{Dispatcher, Outcome, SendResult, Transmitter};
use sedgate_gateway::store::{MessageState, OutboxItem, Submission};

use crate::both_engines;
use crate::common::fresh_store;

struct Scripted {
    results: Vec<SendResult>,
    calls: AtomicUsize,
}

#[async_trait::async_trait]
impl Transmitter for Scripted {
    async fn send(&self, _item: &OutboxItem) -> SendResult {
        let i = self.calls.fetch_add(1, Ordering::SeqCst);
        self.results[i.min(self.results.len() - 1)].clone()
    }
}

fn config(max_attempts: u32) -> OutboxConfig {
    OutboxConfig {
        enabled: true,
        workers: 2,
        max_attempts,
        base_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(2),
        poll_interval: Duration::from_millis(10),
        send_timeout: Duration::from_secs(5),
    }
}

async fn one_message(store: &sedgate_gateway::store::Store, id: &str) {
    let sed = bytes::Bytes::from_static(b"<P2000/>");
    let sub = Submission {
        client_id: "c".into(),
        submission_id: "s".into(),
        messages: vec![sedgate_gateway::store::NewOutboundMessage {
            id: id.parse().unwrap(),
            case_id: "case-o".parse().unwrap(),
            buc: "P_BUC_01".parse().unwrap(),
            sed_type: "P2000".parse().unwrap(),
            cdm: "4.2".parse().unwrap(),
            sender: "AT:0100".parse().unwrap(),
            receiver: "NO:NAVAT07".parse().unwrap(),
            peer_country: "NO".parse().unwrap(),
            parts: vec![sedgate_gateway::store::NewPart {
                part_type: sedgate_gateway::store::PartType::Sed,
                content_id: "sed@x".into(),
                mime_type: "application/xml".into(),
                filename: None,
                hash: "ab".repeat(32),
                size: sed.len() as u64,
                stored: sedgate_gateway::store::StoredPayload::Inline(sed),
            }],
        }],
        idempotency: None,
        now: Utc::now(),
    };
    store.accept_submission(sub).await.unwrap();
}

/// Drives the dispatcher until the outbox is settled.
async fn drain(d: &Dispatcher) -> Vec<Outcome> {
    let mut all = Vec::new();
    for _ in 0..200 {
        let outcomes = d
            .try_dispatch_once(Utc::now() + chrono::Duration::seconds(1))
            .await
            .unwrap();
        let settled = outcomes
            .iter()
            .any(|o| !matches!(o, Outcome::Retried { .. }));
        all.extend(outcomes);
        if settled {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    all
}

async fn missing_receipt_after_budget_is_ebms_0301(engine: Engine) {
    let db = fresh_store(engine).await;
    one_message(&db.store, "m-budget@at").await;
    let transmitter = Arc::new(Scripted {
        results: vec![SendResult::Transport("connection refused".into())],
        calls: AtomicUsize::new(0),
    });
    let d = Dispatcher::new(
        db.store.clone(),
        transmitter.clone(),
        config(3),
        Arc::new(Metrics::new()),
        Default::default(),
    );
    let outcomes = drain(&d).await;
    assert_eq!(transmitter.calls.load(Ordering::SeqCst), 3);
    assert_eq!(
        outcomes.last(),
        Some(&Outcome::DeadLettered {
            code: "EBMS:0301".into()
        })
    );
    let m = db
        .store
        .message(&"m-budget@at".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.state, MessageState::DeadLettered);
    assert_eq!(m.error_code.as_deref(), Some("EBMS:0301"));
    assert!(m
        .error_detail
        .unwrap()
        .contains("no receipt after 3 attempts"));
    let retries = db
        .store
        .message_events(&m.id)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.state == "retry")
        .count();
    assert_eq!(retries, 2);
}
both_engines!(missing_receipt, missing_receipt_after_budget_is_ebms_0301);

async fn delivery_failure_retries_other_errors_are_final(engine: Engine) {
    let db = fresh_store(engine).await;
    one_message(&db.store, "m-0202@at").await;
    let transmitter = Arc::new(Scripted {
        results: vec![
            SendResult::Refused {
                code: "EBMS:0202".into(),
                detail: "busy".into(),
                retryable: true,
            },
            SendResult::Receipt(b"<receipt/>".to_vec()),
        ],
        calls: AtomicUsize::new(0),
    });
    let d = Dispatcher::new(
        db.store.clone(),
        transmitter,
        config(5),
        Arc::new(Metrics::new()),
        Default::default(),
    );
    assert_eq!(drain(&d).await.last(), Some(&Outcome::Delivered));

    one_message(&db.store, "m-0101@at").await;
    let transmitter = Arc::new(Scripted {
        results: vec![SendResult::Refused {
            code: "EBMS:0101".into(),
            detail: "bad signature".into(),
            retryable: false,
        }],
        calls: AtomicUsize::new(0),
    });
    let d = Dispatcher::new(
        db.store.clone(),
        transmitter.clone(),
        config(5),
        Arc::new(Metrics::new()),
        Default::default(),
    );
    assert_eq!(
        drain(&d).await.last(),
        Some(&Outcome::DeadLettered {
            code: "EBMS:0101".into()
        })
    );
    assert_eq!(
        transmitter.calls.load(Ordering::SeqCst),
        1,
        "a final refusal is not retried"
    );
    let m = db
        .store
        .message(&"m-0101@at".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.state, MessageState::Failed);
}
both_engines!(refusals, delivery_failure_retries_other_errors_are_final);

/// Two dispatchers on one database (two sedgate nodes) never hold the same message.
async fn concurrent_claims_are_disjoint(engine: Engine) {
    let db = fresh_store(engine).await;
    let ids: Vec<String> = (0..40).map(|i| format!("m{i}@at")).collect();
    for id in &ids {
        one_message(&db.store, id).await;
    }
    let other = sedgate_gateway::store::Store::open(&sedgate_gateway::store::StoreConfig {
        max_connections: 4,
        node: "other-node".into(),
        ..sedgate_gateway::store::StoreConfig::new(
            engine,
            db.url.clone(),
            db._dir.path().join("blobs"),
        )
    })
    .await
    .unwrap();
    let now = Utc::now() + chrono::Duration::seconds(1);
    // One round each, at the same moment (a node's dispatcher claims once per round).
    let (a, b) = tokio::join!(db.store.claim_due(now, 25), other.claim_due(now, 25));
    let (a, b) = (a.unwrap(), b.unwrap());
    let mut all: Vec<String> = a
        .iter()
        .chain(b.iter())
        .map(|i| i.message.id.to_string())
        .collect();
    let total = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), total, "a message was claimed twice");
    assert_eq!(total, 40);
}
both_engines!(claims, concurrent_claims_are_disjoint);
