//! WS-Security between two real `sedgate serve` processes: signed messages, signed receipts
//! with non-repudiation information, evidence, and the refusals.

use std::time::Duration;

use rand::RngCore;
use sedgate_gateway::config::Engine;
use sedgate_gateway::transport::{DevCa, LeafSpec};
use sedgate_wssec::PrivateKey;
use serde_json::Value;

use crate::both_engines;
use crate::exchange::{post_raw, raw_message};
use crate::gateways::{sed_for, GatewayOptions, TwoGateways};

async fn signed_delivery_keeps_evidence_that_verifies_again(engine: Engine) {
    let gws = TwoGateways::start(engine).await;
    let mut attachment = vec![0u8; 300 * 1024];
    rand::thread_rng().fill_bytes(&mut attachment);
    let id = gws.post_sed("case-signed-1", &attachment).await;
    gws.wait_state(&id, "delivered", Duration::from_secs(30))
        .await;
    assert_eq!(gws.inbox().await.len(), 1);

    // AT, the sender: envelope as sent, NO's signed receipt, re-verified now.
    let out = gws.dir.path().join("evidence-at");
    let (ok, stdout, err) = gws
        .at
        .cli(&["evidence", &id, "--out", out.to_str().unwrap()]);
    assert!(ok, "{stdout}{err}");
    assert!(
        stdout.contains(&format!("{id} (out): verified")),
        "{stdout}"
    );
    let envelope = std::fs::read_to_string(out.join("out/envelope.xml")).unwrap();
    assert!(
        envelope.contains("<wsse:Security") && envelope.contains(&id),
        "{envelope}"
    );
    let receipt = std::fs::read_to_string(out.join("out/receipt.xml")).unwrap();
    assert!(
        receipt.contains("NonRepudiationInformation") && receipt.contains("ds:SignatureValue"),
        "{receipt}"
    );
    let report: Value =
        serde_json::from_slice(&std::fs::read(out.join("out/verification.json")).unwrap()).unwrap();
    assert_eq!(report["verified"], true, "{report}");
    assert_eq!(report["recorded_verification"], "verified");
    assert_eq!(
        report["message_signer"]["subject"],
        "CN=sedgate AT signing, O=sedgate"
    );
    assert_eq!(
        report["receipt_signer"]["subject"],
        "CN=sedgate NO signing, O=sedgate"
    );
    // Messaging, Body, SED and attachment.
    assert_eq!(
        report["references"].as_array().unwrap().len(),
        4,
        "{report}"
    );

    // NO, the receiver: the message as received and the receipt it answered.
    let (ok, stdout, err) = gws.no.cli(&["evidence", &id]);
    assert!(ok, "{stdout}{err}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (&report["direction"], &report["verified"]),
        (&Value::from("in"), &Value::from(true)),
        "{report}"
    );

    // The receipt AT keeps is the one NO stored (for resends): byte for byte.
    let (_, at_json, _) = gws.at.cli(&["evidence", &id]);
    let at_report: Value = serde_json::from_str(&at_json).unwrap();
    assert_eq!(at_report["receipt_signer"], report["receipt_signer"]);
}
both_engines!(
    signed_delivery,
    signed_delivery_keeps_evidence_that_verifies_again
);

/// Flips one byte of `body` at the first occurrence of `marker` (+ offset).
fn flip(body: &[u8], marker: &[u8], offset: usize) -> Vec<u8> {
    let at = body
        .windows(marker.len())
        .position(|w| w == marker)
        .expect("marker")
        + marker.len()
        + offset;
    let mut out = body.to_vec();
    out[at] ^= 0x01;
    out
}

fn rsa_leaf(ca: &DevCa, cc: &str) -> PrivateKey {
    let issued = ca
        .issue_signing(&LeafSpec::signing(&cc.parse().unwrap()))
        .unwrap();
    PrivateKey::from_pkcs8_pem(&issued.key_pem, &issued.der).unwrap()
}

async fn refuses_tampered_unsigned_and_unlisted_signatures(engine: Engine) {
    let gws = TwoGateways::start(engine).await;
    let (cert, key) = gws.gateway_files("AT");
    let client = gws.as4_client(&cert, &key);
    let url = gws.no.as4_url();
    let sed = sed_for("case-sig").into_bytes();
    let at_key = gws.signing_key("AT");
    let (ct, good) = raw_message(
        "sig-1@at.sedgate.test",
        "case-sig",
        crate::gateways::SENDER,
        &sed,
        Some(&at_key),
    );
    let refused = |answer: &str, code: &str| {
        assert!(
            answer.contains(code) && answer.contains("sig-1@at.sedgate.test"),
            "expected {code}: {answer}"
        );
    };

    // One byte of the signed header (the year of eb:Timestamp).
    let (status, answer) = post_raw(&client, &url, &ct, flip(&good, b"<eb:Timestamp>", 0))
        .await
        .unwrap();
    assert_eq!(status, 400);
    refused(&answer, "EBMS:0101");

    // One byte of the compressed SED, well inside the deflate stream.
    let part_start = b"Content-Type: application/gzip\r\n";
    let (status, answer) = post_raw(&client, &url, &ct, flip(&good, part_start, 200))
        .await
        .unwrap();
    assert_eq!(status, 400);
    refused(&answer, "EBMS:0101");

    // Unsigned: the agreement requires signatures.
    let (ct_plain, unsigned) = raw_message(
        "sig-1@at.sedgate.test",
        "case-sig",
        crate::gateways::SENDER,
        &sed,
        None,
    );
    let (status, answer) = post_raw(&client, &url, &ct_plain, unsigned).await.unwrap();
    assert_eq!(status, 400);
    refused(&answer, "EBMS:0103");

    // Signed with SE's signing certificate: from our CA, but not AT's in the IR.
    // Then with a certificate of a CA nobody trusts.
    let foreign = DevCa::generate("Some Other CA").unwrap();
    for signer in [gws.signing_key("SE"), rsa_leaf(&foreign, "AT")] {
        let (ct, body) = raw_message(
            "sig-1@at.sedgate.test",
            "case-sig",
            crate::gateways::SENDER,
            &sed,
            Some(&signer),
        );
        let (status, answer) = post_raw(&client, &url, &ct, body).await.unwrap();
        assert_eq!(status, 400);
        refused(&answer, "EBMS:0101");
    }

    // Nothing of that was stored.
    assert!(gws.inbox().await.is_empty());
    let (ok, _, err) = gws.no.cli(&["evidence", "sig-1@at.sedgate.test"]);
    assert!(!ok && err.contains("no evidence"), "{err}");

    // The genuine message, twice: one delivery, the same signed receipt.
    let (s1, r1) = post_raw(&client, &url, &ct, good.clone()).await.unwrap();
    let (s2, r2) = post_raw(&client, &url, &ct, good).await.unwrap();
    assert_eq!((s1, s2), (200, 200), "{r1}\n{r2}");
    assert!(
        r1.contains("NonRepudiationInformation") && r1.contains("sig-1@at.sedgate.test"),
        "{r1}"
    );
    assert_eq!(r1, r2, "a resend must get the very same receipt");
    assert_eq!(gws.inbox().await.len(), 1);
}
both_engines!(
    signed_refusals,
    refuses_tampered_unsigned_and_unlisted_signatures
);

/// A receipt signed by a certificate the IR does not list for the receiver's country is not
/// proof of delivery: EBMS:0302, retried, then dead-lettered; the evidence says why.
#[tokio::test]
async fn an_unverifiable_receipt_is_not_a_delivery() {
    let gws = TwoGateways::start_with(
        Engine::Sqlite,
        GatewayOptions {
            at_knows_no_signer: false,
            max_attempts: 2,
            ..Default::default()
        },
    )
    .await;
    let id = gws.post_sed("case-bad-receipt", b"%PDF-1.4 r").await;
    let m = gws
        .wait_state(&id, "dead_lettered", Duration::from_secs(30))
        .await;
    assert_eq!(m["error_code"], "EBMS:0301", "{m}");
    let retries: Vec<&str> = m["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["state"] == "retry")
        .map(|e| e["detail"].as_str().unwrap())
        .collect();
    assert!(
        retries.iter().any(|d| d.contains("EBMS:0302")),
        "{retries:?}"
    );
    // NO stored it once (the resend was a duplicate).
    assert_eq!(gws.inbox().await.len(), 1);
    let (ok, stdout, _) = gws.at.cli(&["evidence", &id]);
    assert!(!ok);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert!(
        report["recorded_verification"]
            .as_str()
            .unwrap()
            .starts_with("receipt refused: signer certificate"),
        "{report}"
    );
}
