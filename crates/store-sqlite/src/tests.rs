//! What is particular to the SQLite engine: multi-row writes over JSON arrays (bytes
//! hex-encoded in them), the claim's inline contents, large payloads as blob files, and
//! upload staging refused. The behaviour both engines share is tested across engines
//! elsewhere.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use sedgate_store::{
    AcceptOutcome, AuditChain, Backend, BatchOutcome, Delivery, GroupDone, GroupWrite,
    IdempotencyRecord, Incarnation, MessageState, NewOutboundMessage, NewPart, PartType,
    PayloadData, StagedPayload, StoreError, StoredPayload, Submission,
};

use crate::SqliteBackend;

struct Db {
    backend: SqliteBackend,
    _dir: tempfile::TempDir,
}

async fn open() -> Db {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("gateway.db").display());
    let backend = SqliteBackend::open(&url, 4).await.expect("open");
    Db { backend, _dir: dir }
}

fn at(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(1_750_000_000_000 + ms).unwrap()
}

fn part(hash: &str, stored: StoredPayload, size: u64) -> NewPart {
    NewPart {
        part_type: PartType::Sed,
        content_id: format!("cid:{hash}"),
        mime_type: "application/xml".into(),
        filename: None,
        hash: hash.into(),
        size,
        stored,
    }
}

fn inline(hash: &str, bytes: &[u8]) -> NewPart {
    part(
        hash,
        StoredPayload::Inline(bytes::Bytes::copy_from_slice(bytes)),
        bytes.len() as u64,
    )
}

fn message(id: &str, parts: Vec<NewPart>) -> NewOutboundMessage {
    NewOutboundMessage {
        id: id.parse().unwrap(),
        case_id: "case-1".parse().unwrap(),
        buc: "LA_BUC_01".parse().unwrap(),
        sed_type: "A001".parse().unwrap(),
        cdm: "4.3".parse().unwrap(),
        sender: "AT:1".parse().unwrap(),
        receiver: "BE:2".parse().unwrap(),
        peer_country: "BE".parse().unwrap(),
        parts,
    }
}

fn submission(
    messages: Vec<NewOutboundMessage>,
    key: Option<&str>,
    now: DateTime<Utc>,
) -> GroupWrite {
    GroupWrite::Accept(Box::new(Submission {
        client_id: "client-1".into(),
        submission_id: "sub-1".into(),
        messages,
        idempotency: key.map(|k| IdempotencyRecord {
            key: k.into(),
            request_hash: "rh".into(),
            status: 202,
            response: "{}".into(),
        }),
        now,
    }))
}

fn all_bytes() -> Vec<u8> {
    (0..=255u8).chain((0..=255u8).rev()).collect()
}

#[tokio::test]
async fn payloads_of_a_submission_round_trip_in_one_statement() {
    let db = open().await;
    let b = &db.backend;
    let mut chain = AuditChain::new("node/1");
    let bytes = all_bytes();
    let write = submission(
        vec![
            message(
                "m1@at",
                vec![inline("h-bytes", &bytes), inline("h-empty", b"")],
            ),
            // The same payload twice in one submission is one row.
            message(
                "m2@at",
                vec![
                    inline("h-bytes", &bytes),
                    part(
                        "h-blob",
                        StoredPayload::Staged(StagedPayload::File("tmp/x".into())),
                        1 << 20,
                    ),
                ],
            ),
        ],
        None,
        at(0),
    );
    let done = b.write_alone(&write, &mut chain).await.unwrap();
    assert_eq!(done, GroupDone::Accept(AcceptOutcome::Accepted));
    // One statement for the payloads, one for the messages, one for the audit rows.
    assert_eq!(b.stats().statements(sedgate_store::Operation::Intake), 2);
    assert_eq!(b.stats().statements(sedgate_store::Operation::Audit), 1);
    assert_eq!(chain.seq, 2);

    assert_eq!(
        b.payload("h-bytes").await.unwrap(),
        Some(PayloadData::Inline(bytes))
    );
    // An empty payload is an empty inline content, not a blob.
    assert_eq!(
        b.payload("h-empty").await.unwrap(),
        Some(PayloadData::Inline(Vec::new()))
    );
    assert_eq!(b.payload("h-blob").await.unwrap(), Some(PayloadData::Blob));
    assert_eq!(b.payload("h-none").await.unwrap(), None);
    assert!(b.payload_exists("h-blob").await.unwrap());

    let parts = b.message_parts(&"m2@at".parse().unwrap()).await.unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!((parts[1].idx, parts[1].hash.as_str()), (1, "h-blob"));
    let report = b.audit_verify().await.unwrap();
    assert_eq!(report.len(), 1);
    assert_eq!((report[0].1.entries, report[0].1.first_broken), (2, None));
}

#[tokio::test]
async fn a_used_key_replays_and_a_batch_with_a_conflict_is_isolated() {
    let db = open().await;
    let b = &db.backend;
    let mut chain = AuditChain::new("node/1");
    let first = submission(
        vec![message("m1@at", vec![inline("h1", b"a")])],
        Some("k"),
        at(0),
    );
    assert!(matches!(
        b.write_batch(std::slice::from_ref(&first), &mut chain)
            .await
            .unwrap(),
        BatchOutcome::Committed(_)
    ));
    // Same key, other message id: the ON CONFLICT skips the row, the count tells.
    let again = submission(
        vec![message("m9@at", vec![inline("h1", b"a")])],
        Some("k"),
        at(5),
    );
    let before = chain.clone();
    assert!(matches!(
        b.write_batch(std::slice::from_ref(&again), &mut chain)
            .await
            .unwrap(),
        BatchOutcome::Isolate { at: 0 }
    ));
    assert_eq!(chain, before);
    match b.write_alone(&again, &mut chain).await.unwrap() {
        GroupDone::Accept(AcceptOutcome::Replayed(saved)) => {
            assert_eq!((saved.status, saved.request_hash.as_str()), (202, "rh"))
        }
        other => panic!("{other:?}"),
    }
    assert!(b
        .message(&"m9@at".parse().unwrap())
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn a_claim_returns_inline_contents_and_skips_blobs() {
    let db = open().await;
    let b = &db.backend;
    let mut chain = AuditChain::new("node/1");
    let me = Incarnation {
        node: "node".into(),
        id: "node/1".into(),
    };
    b.start_incarnation(&me, at(0), Duration::from_secs(30))
        .await
        .unwrap();
    let bytes = all_bytes();
    let write = submission(
        vec![message(
            "m1@at",
            vec![
                inline("h-sed", &bytes),
                part(
                    "h-blob",
                    StoredPayload::Staged(StagedPayload::File("tmp/y".into())),
                    9,
                ),
            ],
        )],
        None,
        at(0),
    );
    b.write_alone(&write, &mut chain).await.unwrap();
    assert_eq!(b.next_due().await.unwrap(), Some(at(0)));

    let items = b
        .claim_due(&me, at(10), Duration::from_secs(30), 10)
        .await
        .unwrap();
    assert_eq!(b.stats().statements(sedgate_store::Operation::Claim), 1);
    assert_eq!(items.len(), 1);
    let item = &items[0];
    assert_eq!(item.message.state, MessageState::Sending);
    assert_eq!(item.parts.len(), 2);
    assert_eq!(item.inline, vec![("h-sed".to_owned(), bytes)]);
    assert_eq!(item.inline_content("h-blob"), None);
    // Held by a live incarnation: nobody else claims it, and it is not due.
    let other = Incarnation {
        node: "other".into(),
        id: "other/1".into(),
    };
    assert!(b
        .claim_due(&other, at(20), Duration::from_secs(30), 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(b.next_due().await.unwrap(), None);
    // Once our heartbeat is older than the staleness limit, another node takes it over.
    let taken = b
        .claim_due(&other, at(31_000), Duration::from_secs(30), 10)
        .await
        .unwrap();
    assert_eq!(taken.len(), 1);

    let delivered = GroupWrite::Delivered(Box::new(Delivery {
        id: "m1@at".parse().unwrap(),
        receipt: b"receipt".to_vec(),
        evidence: None,
        now: at(31_500),
    }));
    assert_eq!(
        b.write_alone(&delivered, &mut chain).await.unwrap(),
        GroupDone::Delivered(true)
    );
    let events = b.message_events(&"m1@at".parse().unwrap()).await.unwrap();
    let states: Vec<&str> = events.iter().map(|e| e.state.as_str()).collect();
    assert_eq!(states, ["accepted", "delivered"]);
    let activity = b.activity_since(at(1)).await.unwrap();
    assert_eq!((activity.accepted, activity.delivered), (0, 1));
    assert_eq!(activity.delivery_latencies_ms, vec![31_500]);
    let info = b
        .case_info(&"case-1".parse().unwrap(), &"AT:1".parse().unwrap())
        .await
        .unwrap()
        .expect("our case");
    assert!(info.started_here);
    assert_eq!((info.messages, info.participants.len()), (1, 1));
    assert!(b
        .case_info(&"case-1".parse().unwrap(), &"BE:2".parse().unwrap())
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn uploads_are_refused() {
    let db = open().await;
    let b = &db.backend;
    let mut chain = AuditChain::new("node/1");
    let write = submission(
        vec![message(
            "m1@at",
            vec![part(
                "h-up",
                StoredPayload::Staged(StagedPayload::Upload("u1".into())),
                5,
            )],
        )],
        None,
        at(0),
    );
    assert!(matches!(
        b.write_alone(&write, &mut chain).await,
        Err(StoreError::Corrupt(_))
    ));
    assert!(matches!(
        b.write_batch(std::slice::from_ref(&write), &mut chain)
            .await
            .unwrap(),
        BatchOutcome::Isolate { at: 0 }
    ));
    assert_eq!(chain.seq, 0);
    assert!(!b.payload_exists("h-up").await.unwrap());
    assert!(matches!(
        b.write_upload_chunk("u1", "node/1", 0, b"x", at(0)).await,
        Err(StoreError::Corrupt(_))
    ));
    assert!(b.read_upload_chunks("u1", 0, 1).await.is_err());
    b.discard_upload("u1").await.unwrap();
    assert_eq!(
        b.sweep_uploads(at(0), Duration::from_secs(1))
            .await
            .unwrap(),
        0
    );
}
