//! One store suite, run against SQLite and PostgreSQL.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use chrono::{TimeZone, Utc};
use sedgate_base::domain::{BucRole, MessageId};
use sedgate_gateway::config::Engine;
use sedgate_gateway::ir::model::{AccessPoint, Competence, InstitutionUpsert};
use sedgate_gateway::store::{
    AcceptOutcome, IdempotencyRecord, InboundMessage, InboundOutcome, MessageState, NewApiClient,
    NewOutboundMessage, NewPart, PartType, Redrive, StoredPayload, Submission,
};
use sha2::{Digest, Sha256};

use crate::both_engines;
use crate::common::fresh_store;

fn upsert(id: &str, acronym: &str, competences: Option<Vec<Competence>>) -> InstitutionUpsert {
    InstitutionUpsert {
        id: id.parse().unwrap(),
        acronym: Some(acronym.into()),
        names: BTreeMap::from([("en".to_string(), format!("{acronym} institution"))]),
        valid_from: Some(Some(Utc.with_ymd_and_hms(2019, 7, 1, 0, 0, 0).unwrap())),
        valid_to: None,
        eessi_ready: Some(true),
        competences,
    }
}

fn competence(buc: &str, role: BucRole) -> Competence {
    Competence {
        buc: buc.parse().unwrap(),
        role,
        valid_from: Some(Utc.with_ymd_and_hms(2019, 7, 1, 0, 0, 0).unwrap()),
        valid_to: None,
        eessi_ready: true,
    }
}

async fn ir_import_is_idempotent(engine: Engine) {
    let db = fresh_store(engine).await;
    let now = Utc::now();
    let batch = vec![
        upsert(
            "AT:9900",
            "PVA",
            Some(vec![competence("P_BUC_01", BucRole::CaseOwner)]),
        ),
        upsert(
            "NO:NAVAT07",
            "NAV",
            Some(vec![competence("P_BUC_01", BucRole::CounterParty)]),
        ),
    ];
    let first = db
        .store
        .import_institutions(&batch, "test", 0, now, &|_| {})
        .await
        .unwrap();
    assert_eq!((first.added, first.updated, first.unchanged), (2, 0, 0));
    let again = db
        .store
        .import_institutions(&batch, "test", 0, now, &|_| {})
        .await
        .unwrap();
    assert_eq!((again.added, again.updated, again.unchanged), (0, 0, 2));

    // A CSV-style upsert (no competences) keeps the competences already stored.
    let csv_like = InstitutionUpsert {
        competences: None,
        acronym: Some("PVA-NEW".into()),
        ..upsert("AT:9900", "PVA", None)
    };
    let changed = db
        .store
        .import_institutions(&[csv_like], "csv", 0, now, &|_| {})
        .await
        .unwrap();
    assert_eq!(changed.updated, 1);

    let snapshot = db.store.load_ir().await.unwrap();
    assert_eq!(snapshot.institutions.len(), 2);
    let at = &snapshot.institutions[0];
    assert_eq!(at.id.as_str(), "AT:9900");
    assert_eq!(at.acronym.as_deref(), Some("PVA-NEW"));
    assert_eq!(at.competences.len(), 1);
    assert_eq!(
        at.names.get("en").map(String::as_str),
        Some("PVA institution")
    );

    let ap = AccessPoint {
        country: "NO".parse().unwrap(),
        endpoint_url: "https://127.0.0.1:8444/as4".into(),
        cert_fingerprints: vec!["ab".repeat(32)],
    };
    let c = db
        .store
        .import_access_points(std::slice::from_ref(&ap), "aps", 0, now)
        .await
        .unwrap();
    assert_eq!(c.added, 1);
    let c = db
        .store
        .import_access_points(std::slice::from_ref(&ap), "aps", 0, now)
        .await
        .unwrap();
    assert_eq!(c.unchanged, 1);
    assert_eq!(db.store.load_ir().await.unwrap().access_points, vec![ap]);
    assert_eq!(db.store.last_import().await.unwrap().unwrap().source, "aps");
    assert_eq!(db.store.audit_verify().await.unwrap().first_broken, None);
}
both_engines!(ir_import, ir_import_is_idempotent);

/// More institutions than one multi-row statement holds (500): counts stay exact, a
/// second import writes nothing, and what is read back is what was imported.
async fn ir_import_of_many_rows_is_exact(engine: Engine) {
    let db = fresh_store(engine).await;
    let now = Utc::now();
    let make = |n: usize| {
        let mut u = upsert(
            &format!("DE:X{n:05}"),
            &format!("X{n}"),
            Some(vec![
                competence("P_BUC_01", BucRole::CaseOwner),
                competence("P_BUC_02", BucRole::CounterParty),
                competence("P_BUC_03", BucRole::CounterParty),
            ]),
        );
        u.names.insert("de".into(), format!("Anstalt {n}"));
        u
    };
    let mut batch: Vec<InstitutionUpsert> = (0..1_200).map(make).collect();
    let first = db
        .store
        .import_institutions(&batch, "many", 0, now, &|_| {})
        .await
        .unwrap();
    assert_eq!((first.added, first.updated, first.unchanged), (1_200, 0, 0));
    let again = db
        .store
        .import_institutions(&batch, "many", 0, now, &|_| {})
        .await
        .unwrap();
    assert_eq!((again.added, again.updated, again.unchanged), (0, 0, 1_200));

    // Two renamed, one with other competences, one new.
    batch[10].names.insert("de".into(), "Umbenannt".into());
    batch[700].names.insert("fr".into(), "Renommé".into());
    batch[1_100].competences = Some(vec![competence("P_BUC_05", BucRole::CaseOwner)]);
    batch.push(make(5_000));
    let changed = db
        .store
        .import_institutions(&batch, "many", 0, now, &|_| {})
        .await
        .unwrap();
    assert_eq!(
        (changed.added, changed.updated, changed.unchanged),
        (1, 3, 1_197)
    );

    let snapshot = db.store.load_ir().await.unwrap();
    assert_eq!(snapshot.institutions.len(), 1_201);
    let get = |id: &str| {
        snapshot
            .institutions
            .iter()
            .find(|i| i.id.as_str() == id)
            .unwrap()
    };
    assert_eq!(get("DE:X00010").names["de"], "Umbenannt");
    assert_eq!(get("DE:X00010").names.len(), 2);
    assert_eq!(get("DE:X00700").names.len(), 3);
    assert_eq!(get("DE:X01100").competences.len(), 1);
    assert_eq!(get("DE:X01100").competences[0].buc.as_str(), "P_BUC_05");
    assert_eq!(get("DE:X00999").competences.len(), 3);
    assert_eq!(get("DE:X05000").names["de"], "Anstalt 5000");
    let total_competences: usize = snapshot
        .institutions
        .iter()
        .map(|i| i.competences.len())
        .sum();
    assert_eq!(total_competences, 1_200 * 3 - 3 + 1 + 3);
    assert_eq!(db.store.audit_verify().await.unwrap().first_broken, None);
}
both_engines!(ir_import_many, ir_import_of_many_rows_is_exact);

async fn api_clients_are_found_by_token_hash(engine: Engine) {
    let db = fresh_store(engine).await;
    let client = NewApiClient {
        id: "c1".into(),
        name: "pva-backoffice".into(),
        token_hash: "h1".into(),
        institutions: vec!["AT:9900".parse().unwrap()],
        expires_at: None,
    };
    db.store.add_api_client(&client, Utc::now()).await.unwrap();
    let found = db
        .store
        .api_client_by_token_hash("h1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.institutions[0].as_str(), "AT:9900");
    assert!(db
        .store
        .api_client_by_token_hash("h2")
        .await
        .unwrap()
        .is_none());
    let dup = db.store.add_api_client(&client, Utc::now()).await;
    assert!(
        matches!(dup, Err(sedgate_gateway::store::StoreError::Conflict(_))),
        "{dup:?}"
    );
    db.store
        .revoke_api_client("pva-backoffice", Utc::now())
        .await
        .unwrap();
    assert!(
        db.store
            .api_client_by_token_hash("h1")
            .await
            .unwrap()
            .unwrap()
            .revoked
    );
}
both_engines!(api_clients, api_clients_are_found_by_token_hash);

fn sed_part(bytes: &'static [u8]) -> NewPart {
    NewPart {
        part_type: PartType::Sed,
        content_id: "sed@sedgate".into(),
        mime_type: "application/xml".into(),
        filename: None,
        hash: hex::encode(Sha256::digest(bytes)),
        size: bytes.len() as u64,
        stored: StoredPayload::Inline(Bytes::from_static(bytes)),
    }
}

fn outbound(id: &str) -> NewOutboundMessage {
    NewOutboundMessage {
        id: id.parse().unwrap(),
        case_id: "case-1".parse().unwrap(),
        buc: "P_BUC_01".parse().unwrap(),
        sed_type: "P2000".parse().unwrap(),
        cdm: "4.2".parse().unwrap(),
        sender: "AT:9900".parse().unwrap(),
        receiver: "NO:NAVAT07".parse().unwrap(),
        peer_country: "NO".parse().unwrap(),
        parts: vec![sed_part(b"<P2000/>")],
    }
}

fn submission(ids: &[&str], key: Option<(&str, &str)>) -> Submission {
    Submission {
        client_id: "c1".into(),
        submission_id: uuid::Uuid::new_v4().to_string(),
        messages: ids.iter().map(|id| outbound(id)).collect(),
        idempotency: key.map(|(k, h)| IdempotencyRecord {
            key: k.into(),
            request_hash: h.into(),
            status: 202,
            response: format!("{{\"ids\":{ids:?}}}"),
        }),
        now: Utc::now(),
    }
}

async fn submissions_are_durable_and_idempotent(engine: Engine) {
    let db = fresh_store(engine).await;
    let s = &db.store;
    let out = s
        .accept_submission(submission(&["m1@at"], Some(("k1", "h1"))))
        .await
        .unwrap();
    assert_eq!(out, AcceptOutcome::Accepted);
    let id: MessageId = "m1@at".parse().unwrap();
    let msg = s.message(&id).await.unwrap().unwrap();
    assert_eq!(msg.state, MessageState::Accepted);
    assert_eq!(s.message_parts(&id).await.unwrap().len(), 1);
    assert_eq!(s.message_events(&id).await.unwrap()[0].state, "accepted");
    assert_eq!(s.outbox_counts().await.unwrap(), (1, 0));
    let case = s
        .case_info(&"case-1".parse().unwrap(), &"AT:9900".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(case.started_here);

    // Same key and request: the first answer, nothing new stored.
    match s
        .accept_submission(submission(&["m2@at"], Some(("k1", "h1"))))
        .await
        .unwrap()
    {
        AcceptOutcome::Replayed(saved) => assert_eq!(saved.status, 202),
        other => panic!("expected replay, got {other:?}"),
    }
    assert!(s
        .message(&"m2@at".parse().unwrap())
        .await
        .unwrap()
        .is_none());
    // Same key, different request.
    assert_eq!(
        s.accept_submission(submission(&["m3@at"], Some(("k1", "other"))))
            .await
            .unwrap(),
        AcceptOutcome::KeyReused
    );
    assert_eq!(s.outbox_counts().await.unwrap(), (1, 0));
    assert_eq!(s.audit_verify().await.unwrap().first_broken, None);
}
both_engines!(submissions, submissions_are_durable_and_idempotent);

/// Concurrent submissions share transactions (group commit), yet each is answered as if
/// alone: a failing one (a MessageId already taken in the same batch) fails alone, one
/// idempotency key used five times at once stores one submission and replays it to the
/// others, and the audit chain stays whole.
async fn concurrent_submissions_share_commits_and_fail_alone(engine: Engine) {
    let db = fresh_store(engine).await;
    let s = &db.store;
    let ids: Vec<String> = (0..40).map(|n| format!("g{n}@at")).collect();
    let mut subs: Vec<Submission> = ids.iter().map(|id| submission(&[id], None)).collect();
    subs.push(submission(&["dup@at"], None));
    subs.push(submission(&["dup@at"], None));
    for n in 0..5 {
        subs.push(submission(&[&format!("k{n}@at")], Some(("shared", "same"))));
    }
    let results =
        futures::future::join_all(subs.iter().map(|sub| s.accept_submission(sub.clone()))).await;

    assert!(results[..40]
        .iter()
        .all(|r| matches!(r, Ok(AcceptOutcome::Accepted))));
    let dup_ok = results[40..42].iter().filter(|r| r.is_ok()).count();
    assert_eq!(dup_ok, 1, "{:?}", &results[40..42]);
    let keyed: Vec<&AcceptOutcome> = results[42..].iter().map(|r| r.as_ref().unwrap()).collect();
    assert_eq!(
        keyed
            .iter()
            .filter(|o| matches!(o, AcceptOutcome::Accepted))
            .count(),
        1
    );
    assert_eq!(
        keyed
            .iter()
            .filter(|o| matches!(o, AcceptOutcome::Replayed(_)))
            .count(),
        4
    );
    for (n, outcome) in keyed.iter().enumerate() {
        let stored = s
            .message(&format!("k{n}@at").parse().unwrap())
            .await
            .unwrap()
            .is_some();
        assert_eq!(stored, matches!(outcome, AcceptOutcome::Accepted), "k{n}");
    }
    // 40 + one of the pair + one keyed submission.
    assert_eq!(s.outbox_counts().await.unwrap(), (42, 0));
    assert_eq!(s.audit_verify().await.unwrap().first_broken, None);

    // Writes that stored something; the conflicting ones were answered without a commit.
    let stats = s.group_commit_stats();
    assert_eq!(stats.writes, 42);
    assert!(
        stats.commits * 4 <= stats.writes,
        "47 concurrent writes took {} commits",
        stats.commits
    );
}
both_engines!(
    group_commit,
    concurrent_submissions_share_commits_and_fail_alone
);

/// A request that goes away before its write ran (client disconnect) stores nothing, as its
/// own rolled-back transaction would have; the next write is unaffected.
async fn a_cancelled_write_is_not_stored(engine: Engine) {
    use futures::FutureExt;
    let db = fresh_store(engine).await;
    let s = &db.store;
    let cancelled = submission(&["gone@at"], None);
    // Polled once (queued, its batch spawned but not yet run), then dropped.
    assert!(s.accept_submission(cancelled).now_or_never().is_none());
    assert_eq!(
        s.accept_submission(submission(&["kept@at"], None))
            .await
            .unwrap(),
        AcceptOutcome::Accepted
    );
    assert!(s
        .message(&"gone@at".parse().unwrap())
        .await
        .unwrap()
        .is_none());
    assert!(s
        .message(&"kept@at".parse().unwrap())
        .await
        .unwrap()
        .is_some());
    assert_eq!(s.outbox_counts().await.unwrap(), (1, 0));
}
both_engines!(group_commit_cancel, a_cancelled_write_is_not_stored);

async fn outbox_claims_retries_dead_letters_and_redrives(engine: Engine) {
    let db = fresh_store(engine).await;
    let s = &db.store;
    s.accept_submission(submission(&["m1@at", "m2@at"], None))
        .await
        .unwrap();
    let now = Utc::now() + chrono::Duration::seconds(1);
    let claimed = s.claim_due(now, 10).await.unwrap();
    assert_eq!(claimed.len(), 2);
    assert_eq!(claimed[0].parts.len(), 1);
    assert_eq!(claimed[0].message.state, MessageState::Sending);
    // Held: another node gets nothing while this one is alive.
    let other = sedgate_gateway::store::Store::open(&sedgate_gateway::store::StoreConfig {
        node: "other-node".into(),
        ..sedgate_gateway::store::StoreConfig::new(
            engine,
            db.url.clone(),
            db._dir.path().join("blobs"),
        )
    })
    .await
    .unwrap();
    assert!(other.claim_due(now, 10).await.unwrap().is_empty());
    other.close().await;

    let m1: MessageId = "m1@at".parse().unwrap();
    let m2: MessageId = "m2@at".parse().unwrap();
    let later = now + chrono::Duration::seconds(5);
    s.record_retry(&m1, 1, later, "connection refused", now)
        .await
        .unwrap();
    // m1 is not due yet; m2, claimed and never settled, comes back in this node's next
    // round (nothing of a node is in flight when its dispatcher claims).
    let round: Vec<String> = s
        .claim_due(now, 10)
        .await
        .unwrap()
        .iter()
        .map(|i| i.message.id.to_string())
        .collect();
    assert_eq!(round, ["m2@at"]);
    let again = s.claim_due(later, 10).await.unwrap();
    let retried: Vec<_> = again.iter().filter(|i| i.message.id == m1).collect();
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].attempts, 1);

    assert!(s.record_delivered(delivery(&m1, later)).await.unwrap());
    assert!(!s.record_delivered(delivery(&m1, later)).await.unwrap());
    assert_eq!(
        s.message(&m1).await.unwrap().unwrap().state,
        MessageState::Delivered
    );
    assert_eq!(
        s.outbound_receipt(&m1).await.unwrap().unwrap(),
        b"<receipt/>"
    );

    s.record_dead(
        &m2,
        10,
        MessageState::DeadLettered,
        "EBMS:0301",
        "no receipt",
        later,
    )
    .await
    .unwrap();
    let dead = s.dead_letters().await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].error_code.as_deref(), Some("EBMS:0301"));
    assert_eq!(s.outbox_counts().await.unwrap(), (0, 1));
    let redriven = s.redrive(&Redrive::All, "operator", later).await.unwrap();
    assert_eq!(redriven, vec![m2.clone()]);
    assert_eq!(
        s.message(&m2).await.unwrap().unwrap().state,
        MessageState::Accepted
    );
    assert_eq!(s.claim_due(later, 10).await.unwrap().len(), 1);
    let history: Vec<String> = s
        .message_events(&m2)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.state)
        .collect();
    assert_eq!(history, ["accepted", "dead_lettered", "redriven"]);
    assert_eq!(s.audit_verify().await.unwrap().first_broken, None);
}
both_engines!(outbox, outbox_claims_retries_dead_letters_and_redrives);

fn inbound(id: &str, receipt: &[u8]) -> InboundMessage {
    let o = outbound(id);
    InboundMessage {
        id: o.id,
        case_id: o.case_id,
        buc: o.buc,
        sed_type: o.sed_type,
        cdm: o.cdm,
        sender: "NO:NAVAT07".parse().unwrap(),
        receiver: "AT:9900".parse().unwrap(),
        peer_country: "NO".parse().unwrap(),
        parts: o.parts,
        receipt: receipt.to_vec(),
        evidence: None,
        now: Utc::now(),
    }
}

async fn inbound_dedups_and_inbox_pages(engine: Engine) {
    let db = fresh_store(engine).await;
    let s = &db.store;
    assert_eq!(
        s.store_inbound(inbound("p1@no", b"r1")).await.unwrap(),
        InboundOutcome::Stored
    );
    assert_eq!(
        s.store_inbound(inbound("p1@no", b"other")).await.unwrap(),
        InboundOutcome::Duplicate {
            receipt: b"r1".to_vec()
        }
    );
    s.store_inbound(inbound("p2@no", b"r2")).await.unwrap();
    let receivers = vec!["AT:9900".parse().unwrap()];
    let page = s.inbox_list(&receivers, 0, 1, false).await.unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].message.id.as_str(), "p1@no");
    let next = s
        .inbox_list(&receivers, page[0].seq, 10, false)
        .await
        .unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].message.id.as_str(), "p2@no");
    assert!(s
        .inbox_list(&["SE:1".parse().unwrap()], 0, 10, false)
        .await
        .unwrap()
        .is_empty());

    let p1: MessageId = "p1@no".parse().unwrap();
    assert!(s.inbox_ack(&p1, "client:c1", Utc::now()).await.unwrap());
    assert!(!s.inbox_ack(&p1, "client:c1", Utc::now()).await.unwrap());
    assert_eq!(
        s.inbox_list(&receivers, 0, 10, false).await.unwrap().len(),
        1
    );
    assert_eq!(
        s.inbox_list(&receivers, 0, 10, true).await.unwrap().len(),
        2
    );
    assert_eq!(
        s.message(&p1).await.unwrap().unwrap().state,
        MessageState::Acknowledged
    );
}
both_engines!(inbound, inbound_dedups_and_inbox_pages);

async fn evidence_is_kept_with_the_message_and_replaced_per_attempt(engine: Engine) {
    use sedgate_gateway::store::{Direction, Evidence, EvidenceReference};
    let db = fresh_store(engine).await;
    let s = &db.store;
    let evidence = |direction, receipt: Option<&[u8]>, verification: &str| Evidence {
        message_id: "ev1@no".parse().unwrap(),
        direction,
        peer_country: "NO".parse().unwrap(),
        envelope: b"<env:Envelope/>".to_vec(),
        references: vec![EvidenceReference {
            uri: "cid:sed@no".into(),
            digest_alg: "http://www.w3.org/2001/04/xmlenc#sha256".into(),
            digest: "AAEC".into(),
        }],
        receipt: receipt.map(<[u8]>::to_vec),
        peer_cert: Some(vec![0x30, 0x82]),
        verification: verification.into(),
        at: Utc.timestamp_millis_opt(1_700_000_000_123).unwrap(),
    };
    let mut msg = inbound("ev1@no", b"signed receipt");
    msg.evidence = Some(evidence(
        Direction::Inbound,
        Some(b"signed receipt"),
        "verified",
    ));
    assert_eq!(s.store_inbound(msg).await.unwrap(), InboundOutcome::Stored);
    s.record_evidence(&evidence(Direction::Outbound, None, "sent, no receipt yet"))
        .await
        .unwrap();
    s.record_evidence(&evidence(Direction::Outbound, Some(b"r"), "verified"))
        .await
        .unwrap();
    let id: MessageId = "ev1@no".parse().unwrap();
    let stored = s.evidence(&id).await.unwrap();
    assert_eq!(
        stored,
        vec![
            evidence(Direction::Inbound, Some(b"signed receipt"), "verified"),
            evidence(Direction::Outbound, Some(b"r"), "verified"),
        ]
    );
}
both_engines!(
    evidence,
    evidence_is_kept_with_the_message_and_replaced_per_attempt
);

async fn audit_chain_detects_tampering(engine: Engine) {
    use sqlx::Executor;
    let db = fresh_store(engine).await;
    db.store
        .accept_submission(submission(&["m1@at", "m2@at", "m3@at"], None))
        .await
        .unwrap();
    assert_eq!(db.store.audit_verify().await.unwrap().first_broken, None);
    let raw = sqlx::AnyPool::connect(&db.url).await.unwrap();
    raw.execute("UPDATE audit SET detail = 'forged' WHERE seq = 2")
        .await
        .unwrap();
    let report = db.store.audit_verify().await.unwrap();
    assert_eq!(report.entries, 3);
    assert_eq!(report.first_broken, Some(2));
}
both_engines!(audit, audit_chain_detects_tampering);

fn delivery(id: &MessageId, now: chrono::DateTime<Utc>) -> sedgate_gateway::store::Delivery {
    sedgate_gateway::store::Delivery {
        id: id.clone(),
        receipt: b"<receipt/>".to_vec(),
        evidence: None,
        now,
    }
}

/// A payload over the inline limit is staged while it streams; dropped unstored it leaves
/// nothing, stored it reads back whole (from the blob directory or the database's chunks).
async fn payload_writer_stages_and_leaves_nothing_for_a_refusal(engine: Engine) {
    let db = fresh_store(engine).await;
    let s = &db.store;
    let big = vec![7u8; 300 * 1024];
    let chunks: [&[u8]; 3] = [b"%PDF-1.7\n", &big, b"%%EOF\n"];
    let mut whole = Sha256::new();
    let mut writer = s.payload_writer();
    for chunk in chunks {
        whole.update(chunk);
        writer.write(chunk).await.unwrap();
    }
    let expected = hex::encode(whole.finalize());
    assert_eq!(writer.sha256_hex(), expected);
    let size = 300 * 1024 + 15;
    assert_eq!(writer.size(), size as u64);
    let staged = writer.finish().await.unwrap();
    assert_eq!(
        (staged.hash.as_str(), staged.size),
        (expected.as_str(), size as u64)
    );

    // A refusal: the staged payload is dropped unstored.
    let mut refused = s.payload_writer();
    refused.write(&vec![1u8; 400 * 1024]).await.unwrap();
    let refused = refused.finish().await.unwrap();
    let refused_hash = refused.hash.clone();
    drop(refused);

    let mut sub = submission(&["big@at"], None);
    sub.messages[0].parts.push(staged.part(
        PartType::Attachment,
        "att@at".into(),
        "application/pdf".into(),
        Some("scan.pdf".into()),
    ));
    assert_eq!(
        s.accept_submission(sub).await.unwrap(),
        AcceptOutcome::Accepted
    );
    drop(staged);
    // Dropped uploads are discarded by a spawned task.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stored = s.payload_bytes(&expected).await.unwrap().unwrap();
    assert_eq!(stored.len(), size);
    assert_eq!(hex::encode(Sha256::digest(&stored)), expected);
    assert!(s.payload_bytes(&refused_hash).await.unwrap().is_none());
    match engine {
        Engine::Sqlite => {
            assert_eq!(
                std::fs::metadata(s.blob_path(&expected)).unwrap().len(),
                size as u64
            );
            assert!(!s.blob_path(&refused_hash).exists());
            let tmp = s.blob_dir().join("tmp");
            assert_eq!(
                std::fs::read_dir(tmp).unwrap().count(),
                0,
                "nothing staged is left"
            );
        }
        Engine::Postgres => {
            use sqlx::Executor;
            let raw = sqlx::AnyPool::connect(&db.url).await.unwrap();
            let uploads: i64 = sqlx::Row::get(
                &raw.fetch_one("SELECT COUNT(*) FROM uploads").await.unwrap(),
                0,
            );
            assert_eq!(uploads, 1, "only the stored payload's upload is left");
        }
    }
}
both_engines!(
    payload_staging,
    payload_writer_stages_and_leaves_nothing_for_a_refusal
);
