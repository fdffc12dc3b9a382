//! The storage engines' contract (`sedgate_store::Backend`), one suite run against the
//! SQLite and the PostgreSQL engine: the exchange of one SED in few statements, idempotent
//! retries, dedup by (MessageId, sending country), claims tied to live incarnations, one
//! audit chain per incarnation that still names an altered or deleted row.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use sedgate_base::domain::MessageId;
use sedgate_gateway::config::Engine;
use sedgate_store::{
    AcceptOutcome, AuditChain, AuditEvent, Backend, BatchOutcome, Delivery, GroupDone, GroupWrite,
    IdempotencyRecord, InboundMessage, InboundOutcome, Incarnation, MessageState,
    NewOutboundMessage, NewPart, Operation, PartType, PayloadData, StoredPayload, Submission,
};

use crate::both_engines;
use crate::common::fresh_database_url;

const STALE: Duration = Duration::from_secs(10);

struct TestBackend {
    backend: Arc<dyn Backend>,
    url: String,
    _dir: tempfile::TempDir,
}

async fn fresh_backend(engine: Engine) -> TestBackend {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = fresh_database_url(engine, dir.path()).await;
    let backend = open(engine, &url).await;
    TestBackend {
        backend,
        url,
        _dir: dir,
    }
}

async fn open(engine: Engine, url: &str) -> Arc<dyn Backend> {
    match engine {
        Engine::Sqlite => Arc::new(
            sedgate_store_sqlite::SqliteBackend::open(url, 4)
                .await
                .expect("open SQLite engine"),
        ),
        Engine::Postgres => Arc::new(
            sedgate_store_postgres::PgBackend::open(url, 4)
                .await
                .expect("open PostgreSQL engine"),
        ),
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

fn inline_part(part_type: PartType, content: &'static [u8]) -> NewPart {
    NewPart {
        part_type,
        content_id: format!("{}@test", sha256_hex(content).get(..8).unwrap_or("x")),
        mime_type: "application/xml".into(),
        filename: None,
        hash: sha256_hex(content),
        size: content.len() as u64,
        stored: StoredPayload::Inline(Bytes::from_static(content)),
    }
}

fn outbound(id: &str, case: &str, parts: Vec<NewPart>) -> NewOutboundMessage {
    NewOutboundMessage {
        id: id.parse().expect("message id"),
        case_id: case.parse().expect("case id"),
        buc: "P_BUC_01".parse().expect("buc"),
        sed_type: "P2000".parse().expect("sed"),
        cdm: "4.2".parse().expect("cdm"),
        sender: "AT:9900".parse().expect("sender"),
        receiver: "NO:NAVAT07".parse().expect("receiver"),
        peer_country: "NO".parse().expect("country"),
        parts,
    }
}

fn submission(messages: Vec<NewOutboundMessage>, key: Option<(&str, &str)>) -> Submission {
    Submission {
        client_id: "client-1".into(),
        submission_id: format!("sub-{}", uuid::Uuid::new_v4().simple()),
        messages,
        idempotency: key.map(|(key, hash)| IdempotencyRecord {
            key: key.into(),
            request_hash: hash.into(),
            status: 202,
            response: format!("{{\"key\":\"{key}\"}}"),
        }),
        now: Utc::now(),
    }
}

fn inbound(id: &str, country: &str, sender: &str, case: &str) -> InboundMessage {
    InboundMessage {
        id: id.parse().expect("message id"),
        case_id: case.parse().expect("case id"),
        buc: "P_BUC_01".parse().expect("buc"),
        sed_type: "P2000".parse().expect("sed"),
        cdm: "4.2".parse().expect("cdm"),
        sender: sender.parse().expect("sender"),
        receiver: "AT:9900".parse().expect("receiver"),
        peer_country: country.parse().expect("country"),
        parts: vec![inline_part(PartType::Sed, b"<P2000>inbound</P2000>")],
        receipt: format!("receipt of {id} from {country}").into_bytes(),
        evidence: None,
        now: Utc::now(),
    }
}

fn incarnation(node: &str) -> Incarnation {
    Incarnation {
        node: node.into(),
        id: format!("{node}/{}", uuid::Uuid::new_v4().simple()),
    }
}

fn exchange_statements(backend: &dyn Backend) -> u64 {
    Operation::ALL
        .iter()
        .filter(|op| op.is_exchange())
        .map(|op| backend.stats().statements(*op))
        .sum()
}

async fn committed(backend: &dyn Backend, write: GroupWrite, chain: &mut AuditChain) -> GroupDone {
    match backend
        .write_batch(std::slice::from_ref(&write), chain)
        .await
        .expect("write batch")
    {
        BatchOutcome::Committed(mut done) => done.remove(0),
        BatchOutcome::Isolate { .. } => backend
            .write_alone(&write, chain)
            .await
            .expect("write alone"),
    }
}

/// Intake, claim, settlement and the receiving side's storage of one SED: a handful of
/// statements, the claim hands over the payload bytes, the audit chain verifies.
async fn one_sed_end_to_end_in_few_statements(engine: Engine) {
    let db = fresh_backend(engine).await;
    let b = db.backend.as_ref();
    let me = incarnation("at-1");
    b.start_incarnation(&me, Utc::now(), STALE)
        .await
        .expect("start");
    let mut chain = AuditChain::new(me.id.clone());
    let before = exchange_statements(b);

    let sed: &'static [u8] = b"<P2000>outbound</P2000>";
    let id = "sed-1@at.example";
    let sub = submission(
        vec![outbound(
            id,
            "AT-CASE-1",
            vec![inline_part(PartType::Sed, sed)],
        )],
        None,
    );
    let done = committed(b, GroupWrite::Accept(Box::new(sub)), &mut chain).await;
    assert_eq!(done, GroupDone::Accept(AcceptOutcome::Accepted));

    let claimed = b
        .claim_due(&me, Utc::now(), STALE, 16)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1, "the accepted SED is due");
    let item = &claimed[0];
    assert_eq!(item.message.id.as_str(), id);
    assert_eq!(item.message.state, MessageState::Sending);
    assert_eq!(item.parts.len(), 1);
    assert_eq!(item.inline_content(&item.parts[0].hash), Some(sed));

    let delivery = Delivery {
        id: id.parse().expect("id"),
        receipt: b"<receipt/>".to_vec(),
        evidence: None,
        now: Utc::now(),
    };
    let done = committed(
        b,
        GroupWrite::Delivered(Box::new(delivery.clone())),
        &mut chain,
    )
    .await;
    assert_eq!(done, GroupDone::Delivered(true));
    // A second receipt for the same message settles nothing.
    let done = committed(b, GroupWrite::Delivered(Box::new(delivery)), &mut chain).await;
    assert_eq!(done, GroupDone::Delivered(false));

    let msg = inbound("sed-9@no.example", "NO", "NO:NAVAT07", "NO-CASE-9");
    let done = committed(b, GroupWrite::Inbound(Box::new(msg)), &mut chain).await;
    assert_eq!(done, GroupDone::Inbound(InboundOutcome::Stored));

    // intake: payloads + messages + audit; claim: 1; settle: update + audit (and the
    // no-op second receipt: 1); inbound: payloads + message + audit.
    let used = exchange_statements(b) - before;
    assert!(
        used <= 11,
        "{used} statements for intake, claim, two settlements and one inbound SED"
    );

    let stored = b
        .message(&id.parse().expect("id"))
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(stored.state, MessageState::Delivered);
    assert_eq!(
        b.outbound_receipt(&id.parse().expect("id"))
            .await
            .expect("receipt"),
        Some(b"<receipt/>".to_vec())
    );
    let events = b.message_events(&stored.id).await.expect("events");
    let states: Vec<&str> = events.iter().map(|e| e.state.as_str()).collect();
    assert_eq!(states.first(), Some(&"accepted"));
    assert_eq!(states.last(), Some(&"delivered"));

    b.heartbeat(&me, Utc::now(), &chain)
        .await
        .expect("heartbeat");
    let reports = b.audit_verify().await.expect("verify");
    assert_eq!(reports.len(), 1, "one chain: {reports:?}");
    assert_eq!(reports[0].0, me.id);
    assert_eq!(reports[0].1.entries, 3);
    assert_eq!(reports[0].1.first_broken, None);
}
both_engines!(one_sed_end_to_end, one_sed_end_to_end_in_few_statements);

/// An Idempotency-Key replays its first answer, a reused key with another body is
/// refused, and a batch with a conflicting write stores nothing of the batch.
async fn retries_are_idempotent_and_conflicts_isolated(engine: Engine) {
    let db = fresh_backend(engine).await;
    let b = db.backend.as_ref();
    let me = incarnation("at-1");
    b.start_incarnation(&me, Utc::now(), STALE)
        .await
        .expect("start");
    let mut chain = AuditChain::new(me.id.clone());

    let part = || vec![inline_part(PartType::Sed, b"<P2000>idem</P2000>")];
    let first = submission(
        vec![outbound("idem-1@at.example", "AT-CASE-2", part())],
        Some(("k1", "h1")),
    );
    let done = committed(b, GroupWrite::Accept(Box::new(first)), &mut chain).await;
    assert_eq!(done, GroupDone::Accept(AcceptOutcome::Accepted));

    // The retry carries new message ids (generated per request) but the same key.
    let retry = submission(
        vec![outbound("idem-2@at.example", "AT-CASE-2", part())],
        Some(("k1", "h1")),
    );
    let replayed = GroupWrite::Accept(Box::new(retry));
    let fresh = GroupWrite::Accept(Box::new(submission(
        vec![outbound("other-1@at.example", "AT-CASE-3", part())],
        None,
    )));
    // In a batch with an unrelated write, the conflict isolates: nothing of the batch stays.
    let outcome = b
        .write_batch(&[fresh.clone(), replayed.clone()], &mut chain)
        .await
        .expect("batch");
    assert!(matches!(outcome, BatchOutcome::Isolate { at: 1 }));
    assert!(b
        .message(&"other-1@at.example".parse().expect("id"))
        .await
        .expect("read")
        .is_none());
    let head_before = chain.clone();
    match b.write_alone(&replayed, &mut chain).await.expect("alone") {
        GroupDone::Accept(AcceptOutcome::Replayed(saved)) => {
            assert_eq!((saved.status, saved.request_hash.as_str()), (202, "h1"));
            assert_eq!(saved.response, "{\"key\":\"k1\"}");
        }
        other => panic!("a retry must replay the first answer, got {other:?}"),
    }
    assert_eq!(chain, head_before, "a replay writes no audit entry");
    assert_eq!(
        b.write_alone(&fresh, &mut chain).await.expect("alone"),
        GroupDone::Accept(AcceptOutcome::Accepted)
    );

    let reused = submission(
        vec![outbound("idem-3@at.example", "AT-CASE-2", part())],
        Some(("k1", "h2")),
    );
    assert_eq!(
        committed(b, GroupWrite::Accept(Box::new(reused)), &mut chain).await,
        GroupDone::Accept(AcceptOutcome::KeyReused)
    );
    assert!(b
        .message(&"idem-2@at.example".parse().expect("id"))
        .await
        .expect("read")
        .is_none());
    assert_eq!(b.outbox_counts().await.expect("counts"), (2, 0));
}
both_engines!(
    idempotent_retries,
    retries_are_idempotent_and_conflicts_isolated
);

/// A MessageId received again from the same country gets the stored receipt; the same
/// MessageId from another country is another message, never given the first's receipt.
async fn inbound_dedup_is_per_sending_country(engine: Engine) {
    let db = fresh_backend(engine).await;
    let b = db.backend.as_ref();
    let mut chain = AuditChain::new("at-1/dedup");

    let first = inbound("dup-1@peer.example", "NO", "NO:NAVAT07", "NO-CASE-1");
    assert_eq!(
        committed(b, GroupWrite::Inbound(Box::new(first.clone())), &mut chain).await,
        GroupDone::Inbound(InboundOutcome::Stored)
    );
    assert_eq!(
        committed(b, GroupWrite::Inbound(Box::new(first.clone())), &mut chain).await,
        GroupDone::Inbound(InboundOutcome::Duplicate {
            receipt: first.receipt.clone()
        })
    );
    let from_de = inbound("dup-1@peer.example", "DE", "DE:DRV001", "DE-CASE-1");
    assert_eq!(
        committed(
            b,
            GroupWrite::Inbound(Box::new(from_de.clone())),
            &mut chain
        )
        .await,
        GroupDone::Inbound(InboundOutcome::Stored)
    );
    let id: MessageId = "dup-1@peer.example".parse().expect("id");
    assert_eq!(
        b.inbound_receipt(&id, "DE").await.expect("receipt"),
        Some(from_de.receipt)
    );
    let inbox = b
        .inbox_list(&["AT:9900".parse().expect("id")], 0, 10, false)
        .await
        .expect("inbox");
    assert_eq!(inbox.len(), 2, "one inbox row per (MessageId, country)");
}
both_engines!(inbound_dedup, inbound_dedup_is_per_sending_country);

/// Cases belong to our institution: another local institution, or a peer, cannot see or
/// take over a case by reusing its id; participants are who we exchanged with.
async fn cases_are_keyed_by_local_institution(engine: Engine) {
    let db = fresh_backend(engine).await;
    let b = db.backend.as_ref();
    let mut chain = AuditChain::new("at-1/cases");
    let sub = submission(
        vec![outbound(
            "case-1@at.example",
            "AT-CASE-7",
            vec![inline_part(PartType::Sed, b"<P2000>case</P2000>")],
        )],
        None,
    );
    committed(b, GroupWrite::Accept(Box::new(sub)), &mut chain).await;
    let reply = inbound("case-2@no.example", "NO", "NO:NAVAT07", "AT-CASE-7");
    committed(b, GroupWrite::Inbound(Box::new(reply)), &mut chain).await;

    let case = "AT-CASE-7".parse().expect("case");
    let info = b
        .case_info(&case, &"AT:9900".parse().expect("id"))
        .await
        .expect("case")
        .expect("our case");
    assert!(info.started_here);
    assert_eq!(info.messages, 2);
    assert_eq!(info.buc.as_str(), "P_BUC_01");
    let participants: Vec<&str> = info.participants.iter().map(|p| p.as_str()).collect();
    assert_eq!(participants, vec!["NO:NAVAT07"]);
    assert!(b
        .case_info(&case, &"AT:1111".parse().expect("id"))
        .await
        .expect("case")
        .is_none());
}
both_engines!(cases_by_institution, cases_are_keyed_by_local_institution);

/// Claims belong to an incarnation: a live one keeps them, a restart of the same node
/// frees them at once, and a node that stops heartbeating loses them to the others.
async fn claims_follow_live_incarnations(engine: Engine) {
    let db = fresh_backend(engine).await;
    let b = db.backend.as_ref();
    let a1 = incarnation("at-a");
    let other = incarnation("at-b");
    // After the submission below (due at once).
    let t0 = Utc::now() + chrono::Duration::seconds(1);
    b.start_incarnation(&a1, t0, STALE).await.expect("start a");
    b.start_incarnation(&other, t0, STALE)
        .await
        .expect("start b");
    let mut chain = AuditChain::new(a1.id.clone());
    let sub = submission(
        vec![outbound(
            "claim-1@at.example",
            "AT-CASE-8",
            vec![inline_part(PartType::Sed, b"<P2000>claim</P2000>")],
        )],
        None,
    );
    committed(b, GroupWrite::Accept(Box::new(sub)), &mut chain).await;

    assert_eq!(
        b.claim_due(&a1, t0, STALE, 8).await.expect("claim").len(),
        1
    );
    assert!(b
        .claim_due(&other, t0, STALE, 8)
        .await
        .expect("claim")
        .is_empty());
    // Its own dispatcher's next round takes it again: a claim whose answer was lost, or
    // whose settlement failed, does not wait for a restart.
    assert_eq!(
        b.claim_due(&a1, t0, STALE, 8).await.expect("claim").len(),
        1,
        "an orphaned claim of a live node"
    );

    // The same node restarts (kill -9): its new incarnation frees the old claims at once.
    let a2 = incarnation("at-a");
    let report = b.start_incarnation(&a2, t0, STALE).await.expect("restart");
    assert_eq!(report.released_claims, 1);
    assert_eq!(report.live_twin, Some(a1.id.clone()), "a1 still heartbeats");
    assert_eq!(
        b.claim_due(&a2, t0, STALE, 8).await.expect("claim").len(),
        1
    );

    // a2 stops heartbeating: after the staleness window another node takes over.
    let later = t0 + chrono::Duration::from_std(STALE * 2).expect("duration");
    b.heartbeat(&other, later, &AuditChain::new(other.id.clone()))
        .await
        .expect("heartbeat");
    let taken = b.claim_due(&other, later, STALE, 8).await.expect("claim");
    assert_eq!(taken.len(), 1, "the silent node's claim is free");

    // A clean stop frees its claims at once.
    b.stop_incarnation(&other, later, &AuditChain::new(other.id.clone()))
        .await
        .expect("stop");
    let a3 = incarnation("at-c");
    b.start_incarnation(&a3, later, STALE)
        .await
        .expect("start c");
    assert_eq!(
        b.claim_due(&a3, later, STALE, 8)
            .await
            .expect("claim")
            .len(),
        1
    );
}
both_engines!(claims_and_incarnations, claims_follow_live_incarnations);

/// Two incarnations write side by side into chains of their own; `audit verify` names the
/// first altered row and a deleted tail.
async fn audit_chains_name_tampering(engine: Engine) {
    let db = fresh_backend(engine).await;
    let b = db.backend.as_ref();
    let one = incarnation("at-a");
    let two = incarnation("at-b");
    b.start_incarnation(&one, Utc::now(), STALE)
        .await
        .expect("start");
    b.start_incarnation(&two, Utc::now(), STALE)
        .await
        .expect("start");
    let mut chain_one = AuditChain::new(one.id.clone());
    let mut chain_two = AuditChain::new(two.id.clone());
    let event = |action: &str| AuditEvent::new(Utc::now(), "test", action, Some("x"), None);
    for i in 0..5 {
        b.audit(&[event(&format!("one.{i}"))], &mut chain_one)
            .await
            .expect("audit");
        b.audit(
            &[event(&format!("two.{i}")), event("two.more")],
            &mut chain_two,
        )
        .await
        .expect("audit");
    }
    b.heartbeat(&one, Utc::now(), &chain_one)
        .await
        .expect("beat");
    b.heartbeat(&two, Utc::now(), &chain_two)
        .await
        .expect("beat");
    let reports = b.audit_verify().await.expect("verify");
    assert_eq!(reports.len(), 2);
    assert!(reports.iter().all(|(_, r)| r.first_broken.is_none()));
    assert_eq!(reports.iter().map(|(_, r)| r.entries).sum::<u64>(), 15);

    // Alter row 3 of chain one, delete the last row of chain two.
    let (alter, delete) = (
        "UPDATE audit SET detail = 'altered' WHERE chain = $1 AND seq = 3",
        "DELETE FROM audit WHERE chain = $1 AND seq = 10",
    );
    tamper(engine, &db.url, alter, &one.id).await;
    tamper(engine, &db.url, delete, &two.id).await;
    let reports = b.audit_verify().await.expect("verify");
    let broken = |chain: &str| {
        reports
            .iter()
            .find(|(c, _)| c == chain)
            .map(|(_, r)| r.first_broken)
            .expect("chain reported")
    };
    assert_eq!(broken(&one.id), Some(3));
    assert_eq!(broken(&two.id), Some(10));
}
both_engines!(audit_chains, audit_chains_name_tampering);

async fn tamper(engine: Engine, url: &str, sql: &str, chain: &str) {
    use sqlx::Connection;
    match engine {
        Engine::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(url).await.expect("connect");
            sqlx::query(&sql.replace("$1", "?1"))
                .bind(chain)
                .execute(&mut conn)
                .await
                .expect("tamper");
        }
        Engine::Postgres => {
            let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
            sqlx::query(sql)
                .bind(chain)
                .execute(&mut conn)
                .await
                .expect("tamper");
        }
    }
}

/// Payloads: inline bytes read back; on PostgreSQL a chunked upload is readable by any
/// node once committed, and a refused or abandoned upload leaves nothing.
async fn payloads_read_back_and_uploads_leave_nothing(engine: Engine) {
    let db = fresh_backend(engine).await;
    let b = db.backend.as_ref();
    let mut chain = AuditChain::new("at-1/payloads");
    let sed: &'static [u8] = b"<P2000>payload</P2000>";
    let sub = submission(
        vec![outbound(
            "pay-1@at.example",
            "AT-CASE-9",
            vec![inline_part(PartType::Sed, sed)],
        )],
        None,
    );
    committed(b, GroupWrite::Accept(Box::new(sub)), &mut chain).await;
    assert_eq!(
        b.payload(&sha256_hex(sed)).await.expect("payload"),
        Some(PayloadData::Inline(sed.to_vec()))
    );
    if engine == Engine::Sqlite {
        return;
    }
    let me = incarnation("at-a");
    let now = Utc::now();
    b.start_incarnation(&me, now, STALE).await.expect("start");
    let chunks: Vec<Vec<u8>> = (0..3u8).map(|i| vec![i; 1000]).collect();
    for (idx, chunk) in chunks.iter().enumerate() {
        b.write_upload_chunk("up-kept", &me.id, idx as i32, chunk, now)
            .await
            .expect("chunk");
        b.write_upload_chunk("up-refused", &me.id, idx as i32, chunk, now)
            .await
            .expect("chunk");
    }
    b.write_upload_chunk("up-abandoned", "dead/incarnation", 0, &chunks[0], now)
        .await
        .expect("chunk");
    let all: Vec<u8> = chunks.concat();
    let attachment = NewPart {
        part_type: PartType::Attachment,
        content_id: "att@test".into(),
        mime_type: "application/pdf".into(),
        filename: Some("scan.pdf".into()),
        hash: sha256_hex(&all),
        size: all.len() as u64,
        stored: StoredPayload::Staged(sedgate_store::StagedPayload::Upload("up-kept".into())),
    };
    let sub = submission(
        vec![outbound(
            "pay-2@at.example",
            "AT-CASE-10",
            vec![
                inline_part(PartType::Sed, b"<P2000>with attachment</P2000>"),
                attachment,
            ],
        )],
        None,
    );
    committed(b, GroupWrite::Accept(Box::new(sub)), &mut chain).await;
    b.discard_upload("up-kept").await.expect("discard");
    b.discard_upload("up-refused").await.expect("discard");
    match b.payload(&sha256_hex(&all)).await.expect("payload") {
        Some(PayloadData::Chunks { upload_id, size }) => {
            assert_eq!(size, 3000);
            let read = b
                .read_upload_chunks(&upload_id, 0, 10)
                .await
                .expect("chunks");
            assert_eq!(read.concat(), all, "a committed upload survives discard");
        }
        other => panic!("a large payload is stored in chunks, got {other:?}"),
    }
    assert!(b
        .read_upload_chunks("up-refused", 0, 10)
        .await
        .expect("read")
        .is_empty());
    assert_eq!(b.sweep_uploads(now, STALE).await.expect("sweep"), 1);
    assert!(b
        .read_upload_chunks("up-abandoned", 0, 10)
        .await
        .expect("read")
        .is_empty());
}
both_engines!(payloads, payloads_read_back_and_uploads_leave_nothing);

/// A database opened again reports its migrations applied and keeps what it stored.
async fn reopening_keeps_what_was_stored(engine: Engine) {
    let db = fresh_backend(engine).await;
    let mut chain = AuditChain::new("at-1/reopen");
    let sub = submission(
        vec![outbound(
            "reopen-1@at.example",
            "AT-CASE-11",
            vec![inline_part(PartType::Sed, b"<P2000>reopen</P2000>")],
        )],
        None,
    );
    committed(
        db.backend.as_ref(),
        GroupWrite::Accept(Box::new(sub)),
        &mut chain,
    )
    .await;
    db.backend.close().await;
    let again = open(engine, &db.url).await;
    assert!(again.migrations_applied().await.expect("migrations"));
    let stored = again
        .message(&"reopen-1@at.example".parse().expect("id"))
        .await
        .expect("read")
        .expect("still there");
    assert_eq!(stored.state, MessageState::Accepted);
}
both_engines!(reopen, reopening_keeps_what_was_stored);
