//! Gateway to gateway over AS4 with mutual TLS: two real `sedgate serve` processes.

use std::time::Duration;

use rand::RngCore;
use sedgate_as4::eessi::{user_message, PayloadRef, SedHeaderInfo};
use sedgate_as4::gzip::gzip;
use sedgate_as4::{build_user_message, MimeWriter, PartType};
use sedgate_gateway::config::Engine;
use sedgate_gateway::transport::{LeafSpec, PkiError};
use sedgate_wssec::{sign_user_message, AttachmentContent, AttachmentDigest, PrivateKey};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::both_engines;
use crate::gateways::{sed_for, TwoGateways, RECEIVER, SENDER};

fn sha256(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

async fn delivers_sed_with_attachment_byte_identical(engine: Engine) {
    let gws = TwoGateways::start(engine).await;
    let mut attachment = vec![0u8; 1024 * 1024];
    rand::thread_rng().fill_bytes(&mut attachment);
    let id = gws.post_sed("case-e2e-1", &attachment).await;
    let message = gws
        .wait_state(&id, "delivered", Duration::from_secs(30))
        .await;
    let history: Vec<&str> = message["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["state"].as_str().unwrap())
        .collect();
    assert_eq!(history.first(), Some(&"accepted"));
    assert_eq!(history.last(), Some(&"delivered"));

    let inbox = gws.inbox().await;
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    let item = &inbox[0];
    assert_eq!(item["id"], id.as_str());
    assert_eq!(item["sender"], SENDER);
    assert_eq!(item["receiver"], RECEIVER);
    assert_eq!(item["case_id"], "case-e2e-1");
    let sed = gws
        .download(item["parts"][0]["href"].as_str().unwrap())
        .await;
    assert_eq!(sed, sed_for("case-e2e-1").into_bytes());
    let received = gws
        .download(item["parts"][1]["href"].as_str().unwrap())
        .await;
    assert_eq!(sha256(&received), sha256(&attachment));
    assert_eq!(item["parts"][1]["sha256"], sha256(&attachment));

    // The receipt is kept as evidence and both audit chains are intact.
    for gw in [&gws.at, &gws.no] {
        let (ok, out, err) = gw.cli(&["audit", "verify"]);
        assert!(ok && out.contains("audit chain intact"), "{out}{err}");
    }
}
both_engines!(delivers, delivers_sed_with_attachment_byte_identical);

/// An AS4 message as AT would send it, built with the library, signed with `key` when
/// given: (content type, body).
pub fn raw_message(
    message_id: &str,
    case_id: &str,
    sender: &str,
    sed: &[u8],
    key: Option<&PrivateKey>,
) -> (String, Vec<u8>) {
    let compressed = gzip(sed);
    let envelope = envelope_xml(message_id, case_id, sender);
    let envelope = match key {
        Some(key) => signed(&envelope, &compressed, key),
        None => envelope,
    };
    mime_message(&envelope, &compressed)
}

/// `envelope` signed with `key` over `sed_part` (the octets as sent, as `cid:sed@test`).
pub fn signed(envelope: &[u8], sed_part: &[u8], key: &PrivateKey) -> Vec<u8> {
    let attachments = [AttachmentDigest {
        content_id: "sed@test",
        content: AttachmentContent::Bytes(sed_part),
    }];
    sign_user_message(envelope, &attachments, key, chrono::Utc::now())
        .unwrap()
        .xml
}

/// The SOAP envelope of a P2000 UserMessage whose SED part is `cid:sed@test`.
pub fn envelope_xml(message_id: &str, case_id: &str, sender: &str) -> Vec<u8> {
    let info = SedHeaderInfo {
        message_id: message_id.parse().unwrap(),
        timestamp: chrono::Utc::now(),
        case_id: case_id.parse().unwrap(),
        buc: "P_BUC_01".parse().unwrap(),
        sed_type: "P2000".parse().unwrap(),
        cdm: "4.2".parse().unwrap(),
        sender: sender.parse().unwrap(),
        receiver: RECEIVER.parse().unwrap(),
        pmode: None,
    };
    let refs = [PayloadRef {
        content_id: "sed@test".into(),
        mime_type: "application/xml".into(),
        part_type: PartType::Sed,
    }];
    build_user_message(&user_message(&info, &refs)).xml
}

/// `envelope` as the root part and `sed_part` (already gzipped, or not) as `cid:sed@test`.
pub fn mime_message(envelope: &[u8], sed_part: &[u8]) -> (String, Vec<u8>) {
    let writer = MimeWriter::new();
    let mut body = writer.root_head();
    body.extend_from_slice(envelope);
    body.extend_from_slice(&writer.part_head("sed@test", "application/gzip"));
    body.extend_from_slice(sed_part);
    body.extend_from_slice(&writer.close());
    (writer.content_type(), body)
}

/// An AS4 message with the SED (`cid:sed@test`) and one attachment (`cid:att@test`), both
/// gzipped, signed with `key` over `signed_attachment` (the attachment as sent, unless a
/// test wants a digest mismatch): (content type, body).
pub fn message_with_attachment(
    message_id: &str,
    case_id: &str,
    sed: &[u8],
    attachment: &[u8],
    signed_attachment: &[u8],
    key: &PrivateKey,
) -> (String, Vec<u8>) {
    let info = SedHeaderInfo {
        message_id: message_id.parse().unwrap(),
        timestamp: chrono::Utc::now(),
        case_id: case_id.parse().unwrap(),
        buc: "P_BUC_01".parse().unwrap(),
        sed_type: "P2000".parse().unwrap(),
        cdm: "4.2".parse().unwrap(),
        sender: SENDER.parse().unwrap(),
        receiver: RECEIVER.parse().unwrap(),
        pmode: None,
    };
    let refs = [
        PayloadRef {
            content_id: "sed@test".into(),
            mime_type: "application/xml".into(),
            part_type: PartType::Sed,
        },
        PayloadRef {
            content_id: "att@test".into(),
            mime_type: "application/pdf".into(),
            part_type: PartType::Attachment,
        },
    ];
    let envelope = build_user_message(&user_message(&info, &refs)).xml;
    let (sed, attachment, signed_attachment) =
        (gzip(sed), gzip(attachment), gzip(signed_attachment));
    let digests = [
        AttachmentDigest {
            content_id: "sed@test",
            content: AttachmentContent::Bytes(&sed),
        },
        AttachmentDigest {
            content_id: "att@test",
            content: AttachmentContent::Bytes(&signed_attachment),
        },
    ];
    let envelope = sign_user_message(&envelope, &digests, key, chrono::Utc::now())
        .unwrap()
        .xml;
    let writer = MimeWriter::new();
    let mut body = writer.root_head();
    body.extend_from_slice(&envelope);
    body.extend_from_slice(&writer.part_head("sed@test", "application/gzip"));
    body.extend_from_slice(&sed);
    body.extend_from_slice(&writer.part_head("att@test", "application/gzip"));
    body.extend_from_slice(&attachment);
    body.extend_from_slice(&writer.close());
    (writer.content_type(), body)
}

pub async fn post_raw(
    client: &reqwest::Client,
    url: &str,
    ct: &str,
    body: Vec<u8>,
) -> Result<(u16, String), reqwest::Error> {
    let res = client
        .post(url)
        .header("content-type", ct)
        .body(body)
        .send()
        .await?;
    let status = res.status().as_u16();
    Ok((status, res.text().await?))
}

async fn duplicate_message_id_gets_the_same_receipt(engine: Engine) {
    let gws = TwoGateways::start(engine).await;
    let (cert, key) = gws.gateway_files("AT");
    let client = gws.as4_client(&cert, &key);
    let (ct, body) = raw_message(
        "dup-1@at.sedgate.test",
        "case-dup",
        SENDER,
        sed_for("case-dup").as_bytes(),
        Some(&gws.signing_key("AT")),
    );
    let (s1, r1) = post_raw(&client, &gws.no.as4_url(), &ct, body.clone())
        .await
        .unwrap();
    let (s2, r2) = post_raw(&client, &gws.no.as4_url(), &ct, body)
        .await
        .unwrap();
    assert_eq!((s1, s2), (200, 200), "{r1}\n{r2}");
    assert!(
        r1.contains("Receipt") && r1.contains("dup-1@at.sedgate.test"),
        "{r1}"
    );
    assert_eq!(r1, r2, "a resend must get the very same receipt");
    assert_eq!(gws.inbox().await.len(), 1);
}
both_engines!(duplicate, duplicate_message_id_gets_the_same_receipt);

fn write_leaf(
    dir: &std::path::Path,
    name: &str,
    cert: &sedgate_gateway::transport::IssuedCert,
) -> (std::path::PathBuf, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let c = dir.join(format!("{name}.pem"));
    let k = dir.join(format!("{name}-key.pem"));
    std::fs::write(&c, &cert.cert_pem).unwrap();
    std::fs::write(&k, &cert.key_pem).unwrap();
    std::fs::set_permissions(&k, std::fs::Permissions::from_mode(0o600)).unwrap();
    (c, k)
}

#[tokio::test]
async fn refuses_bad_certificates_and_spoofed_senders() -> Result<(), PkiError> {
    let gws = TwoGateways::start(Engine::Sqlite).await;
    let url = gws.no.as4_url();
    let at: sedgate_base::domain::CountryCode = "AT".parse().unwrap();
    let (ct, body) = raw_message(
        "tls-1@at.sedgate.test",
        "case-tls",
        SENDER,
        sed_for("case-tls").as_bytes(),
        Some(&gws.signing_key("AT")),
    );

    // A certificate from a CA NO does not trust.
    let foreign_ca = sedgate_gateway::transport::DevCa::generate("Some Other CA")?;
    let (c, k) = write_leaf(
        gws.dir.path(),
        "foreign",
        &foreign_ca.issue(&LeafSpec::gateway(&at, &[]))?,
    );
    let refused = post_raw(&gws.as4_client(&c, &k), &url, &ct, body.clone()).await;
    assert!(refused.is_err(), "unknown CA accepted: {refused:?}");

    // An expired certificate from the right CA.
    let ca = gws.pki.load_ca().expect("dev CA");
    let now = chrono::Utc::now();
    let expired = ca.issue(&LeafSpec::gateway(&at, &[]).valid_between(
        now - chrono::Duration::days(30),
        now - chrono::Duration::days(1),
    ))?;
    let (c, k) = write_leaf(gws.dir.path(), "expired", &expired);
    assert!(
        post_raw(&gws.as4_client(&c, &k), &url, &ct, body.clone())
            .await
            .is_err(),
        "expired accepted"
    );

    // A certificate revoked in the CRL, picked up by NO on SIGHUP without a restart.
    let revoked = ca.issue(&LeafSpec::gateway(&at, &[]))?;
    let (c, k) = write_leaf(gws.dir.path(), "revoked", &revoked);
    let client = gws.as4_client(&c, &k);
    // Before revocation the handshake works (NO then refuses the unknown fingerprint).
    let (status, answer) = post_raw(&client, &url, &ct, body.clone())
        .await
        .expect("handshake before revocation");
    assert_eq!(status, 400, "{answer}");
    assert!(answer.contains("EBMS:0004"), "{answer}");
    let serial = sedgate_gateway::transport::pki::serial_of_pem(&revoked.cert_pem).expect("serial");
    std::fs::write(&gws.pki.crl, ca.crl_pem(&[serial], 2)?).unwrap();
    gws.no.hangup();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        // A fresh client: no pooled connection from before.
        if post_raw(&gws.as4_client(&c, &k), &url, &ct, body.clone())
            .await
            .is_err()
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "revoked certificate still accepted after SIGHUP"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // SE's valid gateway certificate claiming an Austrian sender.
    let (c, k) = gws.gateway_files("SE");
    let (status, answer) = post_raw(&gws.as4_client(&c, &k), &url, &ct, body.clone())
        .await
        .expect("SE handshake");
    assert_eq!(status, 400);
    assert!(
        answer.contains("EBMS:0004") && answer.contains("not registered"),
        "{answer}"
    );

    // Tampered MIME: the gzip of the SED damaged.
    let (cert, key) = gws.gateway_files("AT");
    let at_client = gws.as4_client(&cert, &key);
    let mut damaged = body.clone();
    let tail = damaged.len() - 80;
    damaged[tail] ^= 0xff;
    damaged[tail - 7] ^= 0xff;
    let (status, answer) = post_raw(&at_client, &url, &ct, damaged).await.unwrap();
    assert_eq!(status, 400);
    // The part is signed: its digest no longer matches, which is reported before the broken
    // gzip (an unsigned message would get EBMS:0303).
    assert!(answer.contains("EBMS:0101"), "{answer}");

    // Nothing of all this reached the inbox; the good message still does.
    assert!(gws.inbox().await.is_empty());
    let (status, answer) = post_raw(&at_client, &url, &ct, body).await.unwrap();
    assert_eq!(status, 200, "{answer}");
    assert_eq!(gws.inbox().await.len(), 1);
    Ok(())
}

/// Each retry waits at least half its full backoff (100 ms doubling, capped at 1 s): the
/// attempt history shows the backoff.
fn assert_backoff_grows(m: &Value) {
    let mut delays = Vec::new();
    for e in m["history"].as_array().unwrap() {
        if e["state"] != "retry" {
            continue;
        }
        let detail = e["detail"].as_str().unwrap();
        let attempt: u32 = detail
            .strip_prefix("attempt ")
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("attempt number in {detail:?}"));
        let next = detail
            .rsplit("next attempt at ")
            .next()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .unwrap_or_else(|| panic!("next attempt time in {detail:?}"));
        let at = chrono::DateTime::parse_from_rfc3339(e["at"].as_str().unwrap()).unwrap();
        let delay = (next - at).num_milliseconds();
        let full = (100i64 << (attempt - 1)).min(1000);
        assert!(
            delay >= full / 2 - 5 && delay <= full + 5,
            "attempt {attempt}: waits {delay} ms, backoff {full} ms: {m}"
        );
        delays.push(delay);
    }
    assert!(delays.len() >= 5, "{delays:?}");
    // Over two steps the floor doubles, whatever the jitter.
    assert!(delays[4] > delays[0] && delays[3] > delays[1], "{delays:?}");
}

async fn receiver_down_then_up(engine: Engine) {
    let gws = TwoGateways::start(engine).await;
    gws.no.kill();
    let id = gws.post_sed("case-outage", b"%PDF-1.4 outage").await;
    // Wait for at least five failed attempts with backoff (100 ms base, 1 s cap: ~3 s).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let m = gws.message(&id).await;
        let retries = m["history"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["state"] == "retry")
            .count();
        if retries >= 5 {
            assert_eq!(m["state"], "sending");
            assert_backoff_grows(&m);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no retries recorded: {m}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    gws.no.start();
    gws.no.wait_ready().await;
    let m = gws
        .wait_state(&id, "delivered", Duration::from_secs(30))
        .await;
    let history = m["history"].as_array().unwrap();
    assert!(
        history.iter().any(
            |e| e["state"] == "retry" && e["detail"].as_str().unwrap().contains("next attempt")
        ),
        "{m}"
    );
    // Within the budget (20 attempts) nothing was given up.
    assert!(
        !history
            .iter()
            .any(|e| e["state"] == "dead_lettered" || e["state"] == "failed"),
        "{m}"
    );
    assert_eq!(gws.inbox().await.len(), 1);
}
both_engines!(outage, receiver_down_then_up);

async fn permanent_refusal_is_dead_lettered_then_redriven(engine: Engine) {
    let gws = TwoGateways::start_with(
        engine,
        crate::gateways::GatewayOptions {
            no_trusts_at: false,
            ..Default::default()
        },
    )
    .await;
    let id = gws.post_sed("case-dlq", b"%PDF-1.4 dlq").await;
    let m: Value = gws.wait_state(&id, "failed", Duration::from_secs(30)).await;
    assert_eq!(m["error_code"], "EBMS:0004", "{m}");
    let (ok, out, _) = gws.at.cli(&["dlq", "list"]);
    assert!(ok && out.contains(&id), "{out}");
    assert!(gws.inbox().await.is_empty());

    // The operator fixes NO's IR (AT's real certificate) and restarts it, then re-drives.
    let fixed = gws.dir.path().join("aps-fixed.json");
    let at_fps = gws.pki.gateways[&"AT".parse().unwrap()]
        .fingerprints()
        .unwrap();
    std::fs::write(
        &fixed,
        serde_json::json!([{"country": "AT", "endpoint_url": "https://127.0.0.1:9/as4", "cert_fingerprints": at_fps}]).to_string(),
    )
    .unwrap();
    let (ok, out, err) = gws.no.cli(&["ir", "import", fixed.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
    gws.no.kill();
    gws.no.start();
    gws.no.wait_ready().await;
    let (ok, out, err) = gws.at.cli(&["dlq", "redrive", "--all"]);
    assert!(ok && out.contains(&id), "{out}{err}");
    gws.wait_state(&id, "delivered", Duration::from_secs(30))
        .await;
    assert_eq!(gws.inbox().await.len(), 1);
}
both_engines!(
    dead_letter,
    permanent_refusal_is_dead_lettered_then_redriven
);

/// The ebMS test service (a ping) gets a receipt and nothing is delivered.
#[tokio::test]
async fn ping_gets_a_receipt_and_delivers_nothing() {
    let gws = TwoGateways::start(Engine::Sqlite).await;
    let info = SedHeaderInfo {
        message_id: "ping-1@at.sedgate.test".parse().unwrap(),
        timestamp: chrono::Utc::now(),
        case_id: "ping".parse().unwrap(),
        buc: "P_BUC_01".parse().unwrap(),
        sed_type: "P2000".parse().unwrap(),
        cdm: "4.2".parse().unwrap(),
        sender: SENDER.parse().unwrap(),
        receiver: RECEIVER.parse().unwrap(),
        pmode: None,
    };
    let mut um = user_message(&info, &[]);
    um.collaboration_info.service.value = sedgate_as4::TEST_SERVICE.into();
    um.collaboration_info.service.service_type = None;
    um.collaboration_info.action = sedgate_as4::TEST_ACTION.into();
    um.message_properties.clear();
    let envelope = build_user_message(&um);
    let (cert, key) = gws.gateway_files("AT");
    let client = gws.as4_client(&cert, &key);
    // Signatures are required for pings too.
    let (status, answer) = post_raw(
        &client,
        &gws.no.as4_url(),
        "application/soap+xml; charset=UTF-8",
        envelope.xml.clone(),
    )
    .await
    .unwrap();
    assert_eq!(status, 400, "{answer}");
    assert!(answer.contains("EBMS:0103"), "{answer}");
    let signed = sign_user_message(
        &envelope.xml,
        &[],
        &gws.signing_key("AT"),
        chrono::Utc::now(),
    )
    .unwrap();
    let (status, answer) = post_raw(
        &client,
        &gws.no.as4_url(),
        "application/soap+xml; charset=UTF-8",
        signed.xml,
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer.contains("Receipt")
            && answer.contains("ping-1@at.sedgate.test")
            && answer.contains("NonRepudiationInformation"),
        "{answer}"
    );
    assert!(gws.inbox().await.is_empty());
}

/// `sedgate audit verify` names the first altered entry and exits non-zero.
#[tokio::test]
async fn audit_verify_cli_names_the_first_broken_link() {
    use sqlx::Executor;
    let gws = TwoGateways::start(Engine::Sqlite).await;
    let id = gws.post_sed("case-audit-cli", b"%PDF-1.4 audit").await;
    gws.wait_state(&id, "delivered", Duration::from_secs(30))
        .await;
    let (ok, out, err) = gws.at.cli(&["audit", "verify"]);
    // Both logs are checked: the gateway's chains (one per incarnation of a
    // node) and MISSOC's.
    assert!(
        ok && out.contains("gateway audit chains intact")
            && out.contains("MISSOC audit chain intact"),
        "{out}{err}"
    );
    let entries: i64 = out
        .lines()
        .find(|l| l.starts_with("gateway audit chains intact"))
        .and_then(|l| l.trim().rsplit(' ').nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("entry count in {out:?}"));
    assert!(entries >= 2, "{out}");

    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(&gws.at_db).await.unwrap();
    db.execute("UPDATE audit SET detail = 'forged' WHERE seq = 2")
        .await
        .unwrap();
    db.close().await;
    let (ok, out, err) = gws.at.cli(&["audit", "verify"]);
    assert!(!ok, "a forged entry passed: {out}");
    assert!(
        err.contains("gateway audit chain ") && err.contains(" broken at entry 2"),
        "{out}{err}"
    );
}
