//! SED intake end to end: POST /api/v1/messages, the message and case views, the
//! catalogue. The gateway is AT; AT:9900 sends, NO:NAVAT07 and SE:ACC2001 receive (both
//! hold the BUCs used here in the seeded IR extract).

use std::time::Duration;

use chrono::Utc;
use reqwest::multipart::{Form, Part};
use sedgate_bench::sample::sed_with_header;
use sedgate_gateway::config::Engine;
use sedgate_gateway::store::{InboundMessage, NewPart, PartType, StoredPayload};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::both_engines;
use crate::common::{repo_path, spawn_app_with, SpawnOptions, TestApp};

const SENDER: &str = "AT:9900";
const NO: &str = "NO:NAVAT07";
const SE: &str = "SE:ACC2001";
const MAX_SED_BYTES: usize = 200_000;
const MAX_ATTACHMENT_BYTES: usize = 4_000_000;

async fn spawn(engine: Engine) -> TestApp {
    spawn_app_with(
        engine,
        SpawnOptions {
            // The messages stay where intake put them.
            extra_toml: "[outbox]\nenabled = false\n".into(),
            api_toml: format!(
                "max_sed_bytes = {MAX_SED_BYTES}\nmax_attachment_bytes = {MAX_ATTACHMENT_BYTES}"
            ),
            ..SpawnOptions::default()
        },
    )
    .await
}

fn fixture(sed: &str, name: &str) -> String {
    std::fs::read_to_string(repo_path(&format!("tests/fixtures/sed/4.2/{sed}/{name}"))).unwrap()
}

/// The valid 4.2 fixture of `sed` with this case, AT:9900 as sender and `receivers`.
fn sed_xml(sed: &str, case: &str, receivers: &[&str]) -> String {
    sed_with_header(&fixture(sed, "valid.xml"), case, SENDER, receivers).unwrap()
}

fn metadata(case: &str, buc: &str, sed: &str, receivers: &[&str]) -> Value {
    json!({
        "case_id": case, "buc": buc, "sed_type": sed, "cdm_version": "4.2",
        "sender": SENDER, "receivers": receivers,
    })
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

struct Attachment {
    name: &'static str,
    mime: &'static str,
    bytes: Vec<u8>,
}

fn form(metadata: &Value, sed: &str, attachments: &[Attachment]) -> Form {
    let mut form = Form::new()
        .text("metadata", metadata.to_string())
        .part("sed", Part::text(sed.to_owned()).file_name("sed.xml"));
    for a in attachments {
        form = form.part(
            "attachment",
            Part::bytes(a.bytes.clone())
                .file_name(a.name)
                .mime_str(a.mime)
                .unwrap(),
        );
    }
    form
}

struct Answer {
    status: u16,
    body: Value,
    replayed: bool,
}

async fn send(app: &TestApp, token: Option<&str>, form: Form, key: Option<&str>) -> Answer {
    let mut req = app.http.post(app.url("/api/v1/messages")).multipart(form);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(key) = key {
        req = req.header("Idempotency-Key", key);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let replayed = res.headers().contains_key("idempotent-replayed");
    let text = res.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| json!({ "raw": text }));
    Answer {
        status,
        body,
        replayed,
    }
}

async fn submit(app: &TestApp, token: &str, metadata: &Value, sed: &str) -> Answer {
    send(app, Some(token), form(metadata, sed, &[]), None).await
}

async fn get(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    let res = app
        .http
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

/// Everything a submission can leave behind.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
struct Stored {
    messages: u64,
    outbox_pending: u64,
    audit_entries: u64,
    /// Payload files (SQLite) and staged leftovers: a refusal must not change them.
    blob_files: usize,
    partial_blobs: usize,
    /// PostgreSQL: uploads of large payloads, referenced or not.
    uploads: i64,
}

fn count_files(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .map(|e| e.unwrap())
        .filter(|e| e.file_name() != "tmp")
        .map(|e| {
            if e.file_type().unwrap().is_dir() {
                count_files(&e.path())
            } else {
                1
            }
        })
        .sum()
}

async fn stored(app: &TestApp) -> Stored {
    let store = &app.state.store;
    let blobs = store.blob_dir();
    Stored {
        messages: store
            .message_counts()
            .await
            .unwrap()
            .iter()
            .map(|c| c.2)
            .sum(),
        outbox_pending: store.outbox_counts().await.unwrap().0,
        audit_entries: store.audit_verify().await.unwrap().entries,
        blob_files: count_files(blobs),
        partial_blobs: count_files(&blobs.join("tmp")),
        uploads: uploads(app).await,
    }
}

async fn uploads(app: &TestApp) -> i64 {
    use sqlx::Row;
    let url = &app.state.config.database.url;
    if !url.starts_with("postgres") {
        return 0;
    }
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(url).await.unwrap();
    let n = sqlx::query("SELECT COUNT(*) FROM uploads")
        .fetch_one(&db)
        .await
        .unwrap()
        .get::<i64, _>(0);
    db.close().await;
    n
}

/// A large attachment (over the inline limit: staged as it streams, a file on SQLite, an
/// upload on PostgreSQL) on a refused submission, and on a request dropped half way: the
/// payload store is as it was; the same attachment on an accepted one is stored.
async fn large_attachments_of_refusals_leave_nothing(engine: Engine) {
    let app = spawn(engine).await;
    let token = app.token_for("back-office", &[SENDER]).await;
    let mut bytes = vec![0u8; 700 * 1024];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut bytes);
    let attachment = || {
        [Attachment {
            name: "scan.pdf",
            mime: "application/pdf",
            bytes: bytes.clone(),
        }]
    };
    let before = stored(&app).await;

    // Refused by the case rules after the attachment was read whole: a follow-up SED on a
    // case that does not exist.
    let meta = metadata("NO-SUCH-CASE", "P_BUC_01", "P5000", &[NO]);
    let refused = send(
        &app,
        Some(&token),
        form(
            &meta,
            &sed_xml("P5000", "NO-SUCH-CASE", &[NO]),
            &attachment(),
        ),
        None,
    )
    .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    // Dropped staging is removed by a task of its own on PostgreSQL.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        stored(&app).await,
        before,
        "a refusal changed the payload store"
    );

    // The client goes away half way through the attachment.
    let half: Vec<Result<Vec<u8>, std::io::Error>> = vec![
        Ok(bytes[..400 * 1024].to_vec()),
        Err(std::io::Error::other("client gone")),
    ];
    let streamed = Part::stream(reqwest::Body::wrap_stream(futures::stream::iter(half)))
        .file_name("scan.pdf")
        .mime_str("application/pdf")
        .unwrap();
    let meta = metadata("CASE-DROP", "P_BUC_01", "P2000", &[NO]);
    let form_dropped =
        form(&meta, &sed_xml("P2000", "CASE-DROP", &[NO]), &[]).part("attachment", streamed);
    let dropped = app
        .http
        .post(app.url("/api/v1/messages"))
        .bearer_auth(&token)
        .multipart(form_dropped)
        .send()
        .await;
    assert!(dropped.is_err(), "the request was not cut: {dropped:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        stored(&app).await,
        before,
        "a dropped request changed the payload store"
    );

    let meta = metadata("CASE-KEEP", "P_BUC_01", "P2000", &[NO]);
    let kept = send(
        &app,
        Some(&token),
        form(&meta, &sed_xml("P2000", "CASE-KEEP", &[NO]), &attachment()),
        None,
    )
    .await;
    assert_eq!(kept.status, 202, "{}", kept.body);
    let stored_bytes = app
        .state
        .store
        .payload_bytes(&sha256(&bytes))
        .await
        .unwrap()
        .expect("attachment stored");
    assert_eq!(stored_bytes, bytes);
    let after = stored(&app).await;
    assert_eq!(after.partial_blobs, 0);
    match engine {
        Engine::Sqlite => assert_eq!(after.blob_files, before.blob_files + 1),
        Engine::Postgres => assert_eq!(after.uploads, before.uploads + 1),
    }
}
both_engines!(large_refusals, large_attachments_of_refusals_leave_nothing);

async fn accepts_valid_seds_of_several_sectors(engine: Engine) {
    let app = spawn(engine).await;
    let token = app.token_for("back-office", &[SENDER]).await;
    let before = stored(&app).await;
    let seds = [
        ("P2000", "P_BUC_01"),
        ("H001", "H_BUC_01"),
        ("A009", "LA_BUC_04"),
        ("F001", "FB_BUC_01"),
        ("M030", "M_BUC_01"),
        ("S040", "S_BUC_24"),
    ];
    for (sed, buc) in seds {
        let case = format!("CASE-{sed}");
        let xml = sed_xml(sed, &case, &[NO]);
        let answer = submit(&app, &token, &metadata(&case, buc, sed, &[NO]), &xml).await;
        assert_eq!(answer.status, 202, "{sed}: {}", answer.body);
        let accepted = answer.body["messages"].as_array().unwrap();
        assert_eq!(accepted.len(), 1);
        assert_eq!(accepted[0]["receiver"], NO);
        assert!(answer.body["submission_id"].as_str().unwrap().len() >= 32);
        let id = accepted[0]["id"].as_str().unwrap();
        assert!(id.ends_with("@at.sedgate.test"), "{id}");

        let (status, message) = get(&app, &token, &format!("/api/v1/messages/{id}")).await;
        assert_eq!(status, 200, "{message}");
        assert_eq!(message["state"], "accepted");
        assert_eq!(message["direction"], "outbound");
        assert_eq!(message["case_id"], case.as_str());
        assert_eq!(message["buc"], buc);
        assert_eq!(message["sed_type"], sed);
        assert_eq!(message["cdm_version"], "4.2");
        assert_eq!(
            (message["sender"].as_str(), message["receiver"].as_str()),
            (Some(SENDER), Some(NO))
        );
        assert_eq!(message["error_code"], Value::Null);
        let parts = message["parts"].as_array().unwrap();
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0]["part_type"], "SED");
        assert_eq!(parts[0]["mime_type"], "application/xml");
        assert_eq!(parts[0]["size"], xml.len());
        assert_eq!(parts[0]["sha256"], sha256(xml.as_bytes()));
        let history = message["history"].as_array().unwrap();
        assert_eq!(history.len(), 1);
        assert_eq!(history[0]["state"], "accepted");

        // The payload row holds the very bytes that were posted.
        let stored = app
            .state
            .store
            .payload_bytes(&sha256(xml.as_bytes()))
            .await
            .unwrap();
        assert_eq!(stored.as_deref(), Some(xml.as_bytes()), "{sed}");
        let (status, case_view) = get(&app, &token, &format!("/api/v1/cases/{case}")).await;
        assert_eq!(status, 200, "{case_view}");
        assert_eq!(case_view["buc"], buc);
        assert_eq!(case_view["messages"][0]["id"], id);
    }
    let after = stored(&app).await;
    assert_eq!(after.messages, 6);
    assert_eq!(after.outbox_pending, 6);
    assert_eq!(after.audit_entries, before.audit_entries + 6);
    let tail = app.state.store.audit_tail(6).await.unwrap();
    assert_eq!(tail.len(), 6);
    assert!(
        tail.iter().all(|e| e.action == "message.accepted"),
        "{tail:?}"
    );
    assert_eq!(
        app.state.store.audit_verify().await.unwrap().first_broken,
        None
    );
}
both_engines!(several_sectors, accepts_valid_seds_of_several_sectors);

async fn streams_attachments_to_blobs_once_per_receiver(engine: Engine) {
    let app = spawn(engine).await;
    let token = app.token_for("back-office", &[SENDER]).await;
    let before = stored(&app).await;
    let mut pdf = b"%PDF-1.7\n".to_vec();
    pdf.extend((0..3_000_000u32).map(|i| (i.wrapping_mul(31) % 251) as u8));
    let png = [b"\x89PNG\r\n\x1a\n".as_slice(), &[7u8; 1000]].concat();
    let attachments = [
        Attachment {
            name: "claim.pdf",
            mime: "application/pdf",
            bytes: pdf.clone(),
        },
        Attachment {
            name: "passport.png",
            mime: "image/png",
            bytes: png.clone(),
        },
    ];
    let xml = sed_xml("P2000", "CASE-ATT", &[NO, SE]);
    let meta = metadata("CASE-ATT", "P_BUC_01", "P2000", &[NO, SE]);
    let answer = send(&app, Some(&token), form(&meta, &xml, &attachments), None).await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    let accepted = answer.body["messages"].as_array().unwrap();
    let receivers: Vec<&str> = accepted
        .iter()
        .map(|m| m["receiver"].as_str().unwrap())
        .collect();
    assert_eq!(receivers, [NO, SE]);
    assert_ne!(accepted[0]["id"], accepted[1]["id"]);

    for m in accepted {
        let (status, message) = get(
            &app,
            &token,
            &format!("/api/v1/messages/{}", m["id"].as_str().unwrap()),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(message["receiver"], m["receiver"]);
        let parts = message["parts"].as_array().unwrap();
        let summary: Vec<(&str, &str, Option<&str>, u64, &str)> = parts
            .iter()
            .map(|p| {
                (
                    p["part_type"].as_str().unwrap(),
                    p["mime_type"].as_str().unwrap(),
                    p["filename"].as_str(),
                    p["size"].as_u64().unwrap(),
                    p["sha256"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "SED",
                    "application/xml",
                    None,
                    xml.len() as u64,
                    sha256(xml.as_bytes()).as_str()
                ),
                (
                    "Attachment",
                    "application/pdf",
                    Some("claim.pdf"),
                    pdf.len() as u64,
                    sha256(&pdf).as_str()
                ),
                (
                    "Attachment",
                    "image/png",
                    Some("passport.png"),
                    png.len() as u64,
                    sha256(&png).as_str()
                ),
            ]
        );
    }
    // Each attachment is stored once under its hash, whole.
    for attachment in [&pdf, &png] {
        let stored = app
            .state
            .store
            .payload_bytes(&sha256(attachment))
            .await
            .unwrap()
            .expect("attachment stored");
        assert_eq!(sha256(&stored), sha256(attachment));
    }
    let after = stored(&app).await;
    assert_eq!(
        (after.messages, after.outbox_pending, after.audit_entries),
        (2, 2, before.audit_entries + 2)
    );
    assert_eq!(after.partial_blobs, 0);
    let (status, case_view) = get(&app, &token, "/api/v1/cases/CASE-ATT").await;
    assert_eq!(status, 200);
    assert_eq!(case_view["messages"].as_array().unwrap().len(), 2);
}
both_engines!(attachments, streams_attachments_to_blobs_once_per_receiver);

/// A case started by a peer: NO:NAVAT07 sent us an H001 in H_BUC_01.
async fn receive_peer_case(app: &TestApp, case: &str) {
    let xml = fixture("H001", "valid.xml");
    let outcome = app
        .state
        .store
        .store_inbound(InboundMessage {
            id: "peer-1@no.sedgate.test".parse().unwrap(),
            case_id: case.parse().unwrap(),
            buc: "H_BUC_01".parse().unwrap(),
            sed_type: "H001".parse().unwrap(),
            cdm: "4.2".parse().unwrap(),
            sender: NO.parse().unwrap(),
            receiver: SENDER.parse().unwrap(),
            peer_country: "NO".parse().unwrap(),
            parts: vec![NewPart {
                part_type: PartType::Sed,
                content_id: "sed.peer-1@no.sedgate.test".into(),
                mime_type: "application/xml".into(),
                filename: None,
                hash: sha256(xml.as_bytes()),
                size: xml.len() as u64,
                stored: StoredPayload::Inline(xml.into_bytes().into()),
            }],
            receipt: b"receipt".to_vec(),
            evidence: None,
            now: Utc::now(),
        })
        .await
        .unwrap();
    assert_eq!(outcome, sedgate_gateway::store::InboundOutcome::Stored);
}

async fn refuses_each_rule_and_stores_nothing(engine: Engine) {
    let app = spawn(engine).await;
    let token = app.token_for("back-office", &[SENDER, "NO:NAVAT05"]).await;
    // An existing case of ours, and one a peer started, on which we answer as counterparty.
    let ok = submit(
        &app,
        &token,
        &metadata("EXIST", "P_BUC_01", "P2000", &[NO]),
        &sed_xml("P2000", "EXIST", &[NO]),
    )
    .await;
    assert_eq!(ok.status, 202, "{}", ok.body);
    receive_peer_case(&app, "PEER-H").await;
    let answer = submit(
        &app,
        &token,
        &metadata("PEER-H", "H_BUC_01", "X009", &[NO]),
        &sed_xml("X009", "PEER-H", &[NO]),
    )
    .await;
    assert_eq!(
        answer.status, 202,
        "a counterparty may send X009: {}",
        answer.body
    );
    let before = stored(&app).await;
    assert_eq!((before.messages, before.outbox_pending), (3, 2));

    let expect = |label: &str, answer: Answer, status: u16, code: &str| {
        assert_eq!(
            (answer.status, answer.body["code"].as_str()),
            (status, Some(code)),
            "{label}: {}",
            answer.body
        );
        answer.body
    };
    let p2000 = |case: &str, receivers: &[&str]| sed_xml("P2000", case, receivers);
    let new_case = metadata("NEW", "P_BUC_01", "P2000", &[NO]);

    let anonymous = send(&app, None, form(&new_case, &p2000("NEW", &[NO]), &[]), None).await;
    expect("no token", anonymous, 401, "missing_token");

    let res = app
        .http
        .post(app.url("/api/v1/messages"))
        .bearer_auth(&token)
        .json(&new_case)
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "invalid_multipart", "{body}");

    let sed_first = Form::new()
        .text("sed", p2000("NEW", &[NO]))
        .text("metadata", new_case.to_string());
    expect(
        "sed before metadata",
        send(&app, Some(&token), sed_first, None).await,
        400,
        "invalid_multipart",
    );
    let extra_part = form(&new_case, &p2000("NEW", &[NO]), &[]).text("note", "hello");
    expect(
        "unknown part",
        send(&app, Some(&token), extra_part, None).await,
        400,
        "invalid_multipart",
    );
    let not_json = Form::new()
        .text("metadata", "{case_id: NEW")
        .text("sed", p2000("NEW", &[NO]));
    expect(
        "metadata not JSON",
        send(&app, Some(&token), not_json, None).await,
        400,
        "invalid_metadata",
    );
    let mut bad_id = new_case.clone();
    bad_id["sender"] = json!("AT9900");
    expect(
        "bad sender id",
        submit(&app, &token, &bad_id, &p2000("NEW", &[NO])).await,
        400,
        "invalid_metadata",
    );
    let mut no_receivers = new_case.clone();
    no_receivers["receivers"] = json!([]);
    expect(
        "no receivers",
        submit(&app, &token, &no_receivers, &p2000("NEW", &[NO])).await,
        400,
        "invalid_metadata",
    );

    let mut foreign = new_case.clone();
    foreign["sender"] = json!("AT:2P00");
    expect(
        "sender not the client's",
        submit(&app, &token, &foreign, &p2000("NEW", &[NO])).await,
        403,
        "institution_not_permitted",
    );

    let huge = format!("{}{}", p2000("NEW", &[NO]), " ".repeat(MAX_SED_BYTES));
    expect(
        "SED too large",
        submit(&app, &token, &new_case, &huge).await,
        413,
        "sed_too_large",
    );

    let laughs = "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;\">]><P2000>&lol2;</P2000>";
    let body = expect(
        "billion laughs",
        submit(&app, &token, &new_case, laughs).await,
        400,
        "xml_refused",
    );
    assert!(
        body["detail"].as_str().unwrap().contains("DOCTYPE"),
        "{body}"
    );

    let missing = sed_with_header(
        &fixture("P2000", "invalid-missing-element.xml"),
        "NEW",
        SENDER,
        &[NO],
    )
    .unwrap();
    let body = expect(
        "XSD",
        submit(&app, &token, &new_case, &missing).await,
        422,
        "sed_invalid",
    );
    let finding = &body["findings"][0];
    assert!(finding["line"].as_u64().unwrap() > 1, "{body}");
    assert!(
        finding["path"].as_str().unwrap().starts_with("/P2000"),
        "{body}"
    );
    assert!(!finding["message"].as_str().unwrap().is_empty());

    let body = expect(
        "receivers differ",
        submit(&app, &token, &new_case, &p2000("NEW", &[SE])).await,
        422,
        "ids_disagree",
    );
    assert!(body["detail"].as_str().unwrap().contains(SE), "{body}");
    expect(
        "case differs",
        submit(&app, &token, &new_case, &p2000("OTHER", &[NO])).await,
        422,
        "ids_disagree",
    );

    let rules = [
        (
            "unknown BUC",
            metadata("NEW", "P_BUC_99", "P2000", &[NO]),
            p2000("NEW", &[NO]),
            "unknown_buc",
        ),
        (
            "no schema",
            metadata("NEW", "P_BUC_01", "P6000", &[NO]),
            p2000("NEW", &[NO]),
            "unknown_sed_type",
        ),
        (
            "SED of another BUC",
            metadata("NEW", "P_BUC_01", "P2100", &[NO]),
            sed_xml("P2100", "NEW", &[NO]),
            "sed_not_in_buc",
        ),
        (
            "starter again",
            metadata("EXIST", "P_BUC_01", "P2000", &[NO]),
            p2000("EXIST", &[NO]),
            "starter_on_existing_case",
        ),
        (
            "follow-up first",
            metadata("NEW", "P_BUC_01", "P5000", &[NO]),
            sed_xml("P5000", "NEW", &[NO]),
            "follow_up_without_case",
        ),
        (
            "case owner's SED",
            metadata("PEER-H", "H_BUC_01", "X005", &[NO]),
            sed_xml("X005", "PEER-H", &[NO]),
            "sed_not_allowed_for_role",
        ),
        (
            "case of another BUC",
            metadata("EXIST", "H_BUC_01", "H001", &[NO]),
            sed_xml("H001", "EXIST", &[NO]),
            "case_buc_mismatch",
        ),
        (
            "receiver at home",
            metadata("NEW", "P_BUC_01", "P2000", &["AT:2P00"]),
            p2000("NEW", &["AT:2P00"]),
            "same_country",
        ),
        (
            "unknown receiver",
            metadata("NEW", "P_BUC_01", "P2000", &["SE:NOSUCH1"]),
            p2000("NEW", &["SE:NOSUCH1"]),
            "unknown_receiver",
        ),
        // DE:DRV66001 holds only IntelligentRA entries: never EESSI-ready as a BUC party.
        (
            "receiver not active",
            metadata("NEW", "P_BUC_01", "P2000", &["DE:DRV66001"]),
            p2000("NEW", &["DE:DRV66001"]),
            "receiver_not_active",
        ),
        // FR:0212100000 (MSA) is active, but holds no P_BUC_01 competence.
        (
            "receiver not competent",
            metadata("NEW", "P_BUC_01", "P2000", &["FR:0212100000"]),
            p2000("NEW", &["FR:0212100000"]),
            "receiver_not_competent",
        ),
        // One good and one bad receiver: neither message is stored.
        (
            "second receiver bad",
            metadata("NEW", "P_BUC_01", "P2000", &[NO, "FR:0212100000"]),
            p2000("NEW", &[NO, "FR:0212100000"]),
            "receiver_not_competent",
        ),
    ];
    for (label, meta, xml, code) in rules {
        expect(label, submit(&app, &token, &meta, &xml).await, 422, code);
        assert_eq!(stored(&app).await, before, "{label} stored something");
    }
    let mut from_norway = metadata("NEW", "P_BUC_01", "P2000", &[SE]);
    from_norway["sender"] = json!("NO:NAVAT05");
    let xml = sed_with_header(&fixture("P2000", "valid.xml"), "NEW", "NO:NAVAT05", &[SE]).unwrap();
    expect(
        "sender of another country",
        submit(&app, &token, &from_norway, &xml).await,
        422,
        "sender_not_of_this_gateway",
    );

    let oversized = [Attachment {
        name: "scan.pdf",
        mime: "application/pdf",
        bytes: vec![b'x'; MAX_ATTACHMENT_BYTES + 1],
    }];
    let answer = send(
        &app,
        Some(&token),
        form(&new_case, &p2000("NEW", &[NO]), &oversized),
        None,
    )
    .await;
    expect("attachment too large", answer, 413, "attachment_too_large");

    assert_eq!(stored(&app).await, before);
    assert_eq!(
        app.state
            .store
            .case_info(&"NEW".parse().unwrap(), &SENDER.parse().unwrap())
            .await
            .unwrap()
            .map(|c| c.messages),
        None
    );
}
both_engines!(rules, refuses_each_rule_and_stores_nothing);

async fn replays_with_the_same_idempotency_key(engine: Engine) {
    let app = spawn(engine).await;
    let token = app.token_for("back-office", &[SENDER]).await;
    let attachment = || {
        [Attachment {
            name: "claim.pdf",
            mime: "application/pdf",
            bytes: b"%PDF-1.4 claim".repeat(1000),
        }]
    };
    let meta = metadata("IDEM", "P_BUC_01", "P2000", &[NO]);
    let xml = sed_xml("P2000", "IDEM", &[NO]);
    let first = send(
        &app,
        Some(&token),
        form(&meta, &xml, &attachment()),
        Some("order-42"),
    )
    .await;
    assert_eq!(first.status, 202, "{}", first.body);
    assert!(!first.replayed);
    let after_first = stored(&app).await;
    assert_eq!(after_first.messages, 1);

    // The same request again: the same answer, nothing new (the case rules would refuse a
    // second P2000 on the case; the replay is answered before them).
    let again = send(
        &app,
        Some(&token),
        form(&meta, &xml, &attachment()),
        Some("order-42"),
    )
    .await;
    assert_eq!(again.status, 202, "{}", again.body);
    assert!(again.replayed);
    assert_eq!(again.body, first.body);
    assert_eq!(stored(&app).await, after_first);

    // The same key for a different request.
    let other = sed_xml("P2000", "IDEM-2", &[NO]);
    let other_meta = metadata("IDEM-2", "P_BUC_01", "P2000", &[NO]);
    let reused = send(
        &app,
        Some(&token),
        form(&other_meta, &other, &[]),
        Some("order-42"),
    )
    .await;
    assert_eq!(
        (reused.status, reused.body["code"].as_str()),
        (409, Some("idempotency_key_reused")),
        "{}",
        reused.body
    );
    let other_attachment = [Attachment {
        name: "claim.pdf",
        mime: "application/pdf",
        bytes: b"another claim".to_vec(),
    }];
    let reused = send(
        &app,
        Some(&token),
        form(&meta, &xml, &other_attachment),
        Some("order-42"),
    )
    .await;
    assert_eq!(reused.status, 409, "{}", reused.body);
    assert_eq!(stored(&app).await, after_first);

    // Keys belong to a client: another client's same key is a new request.
    let other_client = app.token_for("second-office", &[SENDER]).await;
    let fresh = send(
        &app,
        Some(&other_client),
        form(&other_meta, &other, &[]),
        Some("order-42"),
    )
    .await;
    assert_eq!(fresh.status, 202, "{}", fresh.body);
    assert!(!fresh.replayed);
    let bad_key = send(&app, Some(&token), form(&meta, &xml, &[]), Some("   ")).await;
    assert_eq!(bad_key.body["code"], "invalid_idempotency_key");
}
both_engines!(idempotency, replays_with_the_same_idempotency_key);

async fn shows_messages_and_cases_only_to_their_clients(engine: Engine) {
    let app = spawn(engine).await;
    let sender = app.token_for("sender", &[SENDER]).await;
    let receiver = app.token_for("receiver-side", &[NO]).await;
    let stranger = app.token_for("stranger", &["AT:2P00"]).await;
    let answer = submit(
        &app,
        &sender,
        &metadata("SEEN", "P_BUC_01", "P2000", &[NO]),
        &sed_xml("P2000", "SEEN", &[NO]),
    )
    .await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    let path = format!(
        "/api/v1/messages/{}",
        answer.body["messages"][0]["id"].as_str().unwrap()
    );

    assert_eq!(get(&app, &receiver, &path).await.0, 200);
    let (status, body) = get(&app, &stranger, &path).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("unknown_message"))
    );
    let (status, body) = get(&app, &sender, "/api/v1/messages/nobody@nowhere").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("unknown_message"))
    );
    let (status, body) = get(&app, &stranger, "/api/v1/cases/SEEN").await;
    assert_eq!((status, body["code"].as_str()), (404, Some("unknown_case")));
    assert_eq!(get(&app, &sender, "/api/v1/cases/NOSUCH").await.0, 404);
    let res = app.http.get(app.url(&path)).send().await.unwrap();
    assert_eq!(res.status(), 401);
}
both_engines!(visibility, shows_messages_and_cases_only_to_their_clients);

async fn lists_the_catalogue_in_one_language(engine: Engine) {
    let app = spawn(engine).await;
    let token = app.token_for("reader", &[SENDER]).await;
    let (status, body) = get(&app, &token, "/api/v1/catalogue?lang=fr&cdm=4.2").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["cdm"].as_str(), body["lang"].as_str()),
        (Some("4.2"), Some("fr"))
    );
    let bucs = body["bucs"].as_array().unwrap();
    assert!(bucs.len() > 50, "{}", bucs.len());
    let p_buc_01 = bucs.iter().find(|b| b["buc"] == "P_BUC_01").unwrap();
    assert_eq!(p_buc_01["title"], "Demande de pension de vieillesse");
    assert_eq!(p_buc_01["starters"], json!(["P2000"]));
    let p2000 = p_buc_01["sed_types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["sed_type"] == "P2000")
        .unwrap();
    assert_eq!(p2000["starter"], true);
    assert_eq!(p2000["sent_by"], json!(["CaseOwner"]));
    assert_eq!(p2000["title"], "Demande de pension de vieillesse");
    let p5000 = p_buc_01["sed_types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["sed_type"] == "P5000")
        .unwrap();
    assert_eq!(p5000["starter"], false);
    assert_eq!(p5000["sent_by"], json!(["CaseOwner", "CounterParty"]));

    // Every null title is listed as missing, and every listed one is null.
    let missing: Vec<&str> = body["missing_titles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    let mut nulls = std::collections::BTreeSet::new();
    for buc in bucs {
        if buc["title"].is_null() {
            nulls.insert(buc["buc"].as_str().unwrap());
        }
        for sed in buc["sed_types"].as_array().unwrap() {
            if sed["title"].is_null() {
                nulls.insert(sed["sed_type"].as_str().unwrap());
            }
        }
    }
    assert_eq!(missing, nulls.into_iter().collect::<Vec<_>>());

    let (status, english) = get(&app, &token, "/api/v1/catalogue?cdm=4.1").await;
    assert_eq!(status, 200);
    assert_eq!(english["lang"], "en");
    let (status, body) = get(&app, &token, "/api/v1/catalogue?lang=xx").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_query"))
    );
    let (status, _) = get(&app, &token, "/api/v1/catalogue?cdm=9.9").await;
    assert_eq!(status, 400);

    let openapi = app.openapi().await;
    for (path, method) in [
        ("/api/v1/messages", "post"),
        ("/api/v1/messages/{id}", "get"),
        ("/api/v1/cases/{case_id}", "get"),
        ("/api/v1/catalogue", "get"),
    ] {
        assert!(
            openapi["paths"][path][method].is_object(),
            "{path} {method}"
        );
    }
}
both_engines!(catalogue, lists_the_catalogue_in_one_language);
