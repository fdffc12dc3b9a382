//! Byte-level interop of `sedgate_wssec` with the independent Python AS4 implementation (PyPI
//! `as4` 0.2.0, with the EESSI profile in tests/interop/eessi_profile.py), both directions:
//! the peer signs (and encrypts) a message that we verify, and accepts our signed receipt;
//! we sign (and encrypt) a message that the peer accepts, and verify its receipt.
//!
//! The peer runs as a subprocess (tests/interop/cli.py) in its own virtualenv, made by
//! tests/interop/setup.sh on first use (or taken from SEDGATE_INTEROP_PYTHON). Fails, never
//! skips, when Python or the package cannot be installed. Known differences between the two
//! implementations are listed with reasons in tests/interop/expectations.toml.

use std::path::{Path, PathBuf};

#[path = "interop/peer.rs"]
mod interop_peer;
use interop_peer::{path, peer, root};

use chrono::Utc;
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use sha2::Digest as _;

use sedgate_as4::{
    self as as4, eessi, gzip, Attachment, MessageInfo, PartInfo, PartProperties, PartType,
};
use sedgate_wssec::{
    self as wssec, AttachmentContent, AttachmentDigest, Certificate, PlainPart, PrivateKey,
    VerifyOptions,
};

/// A gateway identity: RSA key (PKCS#8 PEM) and a self-signed rcgen certificate, as files for
/// the peer and as a `PrivateKey` for us.
struct Gateway {
    party: &'static str,
    key: PrivateKey,
    key_pem: PathBuf,
    cert_pem: PathBuf,
}

fn gateway(dir: &Path, party: &'static str) -> Gateway {
    let rsa_key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
    let pem = rsa_key.to_pkcs8_pem(LineEnding::LF).unwrap();
    let kp = rcgen::KeyPair::from_pkcs8_pem_and_sign_algo(&pem, &rcgen::PKCS_RSA_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(vec![]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("{party} gateway"));
    let cert = params.self_signed(&kp).unwrap();
    let name = party.replace(':', "_");
    let key_pem = dir.join(format!("{name}.key"));
    let cert_pem = dir.join(format!("{name}.pem"));
    std::fs::write(&key_pem, pem.as_bytes()).unwrap();
    std::fs::write(&cert_pem, cert.pem()).unwrap();
    Gateway {
        party,
        key: PrivateKey::from_pkcs8_pem(&pem, cert.der()).unwrap(),
        key_pem,
        cert_pem,
    }
}

fn digests(attachments: &[Attachment]) -> Vec<AttachmentDigest<'_>> {
    attachments
        .iter()
        .map(|a| AttachmentDigest {
            content_id: a.content_id.as_deref().unwrap(),
            content: AttachmentContent::Bytes(&a.body),
        })
        .collect()
}

const SED: &[u8] = "<P2000 xmlns=\"urn:eessi\"><name>\u{00c5}se</name></P2000>".as_bytes();
const PDF: &[u8] = b"%PDF-1.4 interop attachment";

fn peer_to_us(encrypt: bool) {
    let dir = tempfile::tempdir().unwrap();
    let (them, us) = (
        gateway(dir.path(), "AT:9900"),
        gateway(dir.path(), "NO:NAVAT07"),
    );
    std::fs::write(dir.path().join("sed.xml"), SED).unwrap();
    std::fs::write(dir.path().join("att.pdf"), PDF).unwrap();
    let out = dir.path().join("sent");
    let sed_part = format!("{}:application/xml:SED", path(&dir.path().join("sed.xml")));
    let pdf_part = format!(
        "{}:application/pdf:Attachment",
        path(&dir.path().join("att.pdf"))
    );
    let mut args = vec![
        "send",
        "--key",
        path(&them.key_pem),
        "--cert",
        path(&them.cert_pem),
        "--party",
        them.party,
        "--peer-cert",
        path(&us.cert_pem),
        "--to",
        us.party,
        "--part",
        &sed_part,
        "--part",
        &pdf_part,
        "--out",
        path(&out),
    ];
    if encrypt {
        args.push("--encrypt");
    }
    let (ok, _, err) = peer(&args);
    assert!(ok, "peer send failed: {err}");

    // Our side: parse, decrypt if needed, verify, check the EESSI profile.
    let headers: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("headers.json")).unwrap()).unwrap();
    let content_type = headers["Content-Type"].as_str().unwrap();
    let msg = as4::parse_message(content_type, &std::fs::read(out.join("body.bin")).unwrap())
        .unwrap_or_else(|e| panic!("our MIME/SOAP parser refuses the peer's message: {e}"));
    let security = msg.envelope.security.as_ref().unwrap();
    assert_eq!(security.encrypted_key_count, usize::from(encrypt));
    let attachments = if encrypt {
        wssec::decrypt_attachments(&msg.soap, &msg.attachments, &us.key).unwrap()
    } else {
        msg.attachments.clone()
    };
    let verified = wssec::verify_envelope(
        &msg.soap,
        &digests(&attachments),
        &VerifyOptions::at(Utc::now(), &[]),
    )
    .unwrap_or_else(|e| panic!("peer's signature refused: {e}"));
    assert_eq!(verified.signer_cert_der, them.key.certificate().der());
    assert_eq!(verified.references.len(), 4);
    as4::check_profile(&msg.envelope, &as4::ProfileRules::eessi())
        .unwrap_or_else(|e| panic!("peer's message breaks the EESSI profile: {e}"));
    let plain: Vec<Vec<u8>> = attachments
        .iter()
        .map(|a| gzip::gunzip(&a.body, gzip::GzipLimits::default()).unwrap())
        .collect();
    assert_eq!(plain, [SED.to_vec(), PDF.to_vec()]);

    // Our signed receipt, checked by the peer against its own exchange.
    let um = msg.envelope.user_message().unwrap();
    let info = MessageInfo::new(
        &sedgate_base::domain::MessageId::generate("sedgate.no"),
        Utc::now(),
    );
    let receipt = wssec::build_signed_receipt(um, &verified, &info, &us.key, Utc::now()).unwrap();
    let receipt_file = dir.path().join("receipt.xml");
    std::fs::write(&receipt_file, &receipt.xml).unwrap();
    let (ok, stdout, err) = peer(&[
        "receive-signal",
        "--key",
        path(&them.key_pem),
        "--cert",
        path(&them.cert_pem),
        "--party",
        them.party,
        "--exchange",
        path(&out.join("exchange.json")),
        "--signal",
        path(&receipt_file),
    ]);
    assert!(ok, "peer refused our receipt: {stdout} {err}");
    assert!(stdout.contains("\"acknowledged\""), "{stdout}");
}

fn us_to_peer(encrypt: bool) {
    let dir = tempfile::tempdir().unwrap();
    let (us, them) = (
        gateway(dir.path(), "NO:NAVAT07"),
        gateway(dir.path(), "AT:9900"),
    );
    let message_id = sedgate_base::domain::MessageId::generate("sedgate.no");
    let party = |v: &str| {
        as4::Party::new(
            as4::PartyId::eessi(&v.parse().unwrap()),
            eessi::ROLE_INSTITUTION,
        )
    };
    let props = |mime: &str, t| PartProperties {
        mime_type: mime.into(),
        compression_type: Some(as4::GZIP_COMPRESSION.into()),
        part_type: Some(t),
        character_set: None,
    };
    let um = as4::UserMessage {
        mpc: None,
        message_info: MessageInfo::new(&message_id, Utc::now()),
        party_info: as4::PartyInfo {
            from: party(us.party),
            to: party(them.party),
        },
        collaboration_info: as4::CollaborationInfo {
            agreement_ref: None,
            service: as4::Service {
                value: eessi::SERVICE.into(),
                service_type: Some(eessi::SERVICE_TYPE.into()),
            },
            action: eessi::ACTION_SEND.into(),
            conversation_id: "P_BUC_01-interop".into(),
        },
        message_properties: vec![],
        payload_info: vec![
            PartInfo::attachment("sed@sedgate.no", &props("application/xml", PartType::Sed)),
            PartInfo::attachment(
                "att1@sedgate.no",
                &props("application/pdf", PartType::Attachment),
            ),
        ],
    };
    let built = as4::build_user_message(&um);
    let compressed = [gzip::gzip(SED), gzip::gzip(PDF)];
    let ids = ["sed@sedgate.no", "att1@sedgate.no"];
    let to_sign: Vec<_> = ids
        .iter()
        .zip(&compressed)
        .map(|(id, body)| AttachmentDigest {
            content_id: id,
            content: AttachmentContent::Bytes(body),
        })
        .collect();
    let signed = wssec::sign_user_message(&built.xml, &to_sign, &us.key, Utc::now()).unwrap();
    let (soap, parts): (Vec<u8>, Vec<as4::OutgoingPart>) = if encrypt {
        let plain: Vec<_> = ids
            .iter()
            .zip(&compressed)
            .map(|(id, body)| PlainPart {
                content_id: id,
                mime_type: "application/gzip",
                body,
            })
            .collect();
        let recipient =
            Certificate::from_pem(&std::fs::read_to_string(&them.cert_pem).unwrap()).unwrap();
        let (xml, encrypted) = wssec::encrypt_attachments(&signed.xml, &plain, &recipient).unwrap();
        let parts = encrypted
            .into_iter()
            .map(|p| as4::OutgoingPart {
                content_id: p.content_id,
                content_type: p.content_type,
                body: p.body.into(),
            })
            .collect();
        (xml, parts)
    } else {
        let parts = ids
            .iter()
            .zip(&compressed)
            .map(|(id, body)| as4::OutgoingPart {
                content_id: (*id).into(),
                content_type: "application/gzip".into(),
                body: body.clone().into(),
            })
            .collect();
        (signed.xml.clone(), parts)
    };
    let (content_type, chunks) = as4::build_multipart(&soap, &parts);
    let body: Vec<u8> = chunks.iter().flat_map(|c| c.iter().copied()).collect();
    std::fs::write(dir.path().join("body.bin"), &body).unwrap();
    std::fs::write(
        dir.path().join("headers.json"),
        serde_json::json!({ "Content-Type": content_type }).to_string(),
    )
    .unwrap();
    let out = dir.path().join("received");
    let (headers_file, body_file) = (dir.path().join("headers.json"), dir.path().join("body.bin"));
    let mut args = vec![
        "receive",
        "--key",
        path(&them.key_pem),
        "--cert",
        path(&them.cert_pem),
        "--party",
        them.party,
        "--peer-cert",
        path(&us.cert_pem),
        "--headers",
        path(&headers_file),
        "--body",
        path(&body_file),
        "--out",
        path(&out),
    ];
    if encrypt {
        args.push("--encrypt-required");
    }
    let (ok, _, err) = peer(&args);
    let result: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("result.json")).unwrap()).unwrap();
    assert!(ok, "peer refused our message: {result} {err}");
    assert_eq!(result["state"], "received");
    assert_eq!(result["message_id"], message_id.to_string());
    assert_eq!(
        result["parts"]["sed@sedgate.no"],
        hex::encode(sha2::Sha256::digest(SED))
    );
    assert_eq!(
        result["parts"]["att1@sedgate.no"],
        hex::encode(sha2::Sha256::digest(PDF))
    );

    // Its receipt, checked against what we signed.
    let signal = std::fs::read(out.join("signal.xml")).unwrap();
    let receipt = wssec::verify_receipt(
        &signal,
        message_id.as_str(),
        &signed.references,
        &VerifyOptions::at(Utc::now(), &[]),
    )
    .unwrap_or_else(|e| {
        panic!(
            "peer's receipt refused: {e}\n{}",
            String::from_utf8_lossy(&signal)
        )
    });
    assert_eq!(
        receipt.verified.signer_cert_der,
        them.key.certificate().der()
    );
}

#[test]
fn accepts_peer_signed_message_and_peer_accepts_our_receipt() {
    peer_to_us(false);
}

#[test]
fn accepts_peer_signed_encrypted_message_and_peer_accepts_our_receipt() {
    peer_to_us(true);
}

#[test]
fn peer_accepts_our_signed_message_and_we_accept_its_receipt() {
    us_to_peer(false);
}

#[test]
fn peer_accepts_our_signed_encrypted_message_and_we_accept_its_receipt() {
    us_to_peer(true);
}

#[test]
fn expectations_ledger_names_a_reason_for_every_difference() {
    let text = std::fs::read_to_string(root().join("tests/interop/expectations.toml")).unwrap();
    let ledger: toml::Value = toml::from_str(&text).unwrap();
    let entries = ledger["difference"].as_array().unwrap();
    assert!(!entries.is_empty());
    for e in entries {
        for field in ["id", "side", "what", "handling"] {
            assert!(
                e.get(field)
                    .and_then(|v| v.as_str())
                    .is_some_and(|s| !s.is_empty()),
                "{e}: {field}"
            );
        }
    }
}
