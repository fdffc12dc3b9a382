//! Tests over the real AS4 vectors copied from shared/data into tests/fixtures/as4
//! (eessi-as4-net: EUPL 1.1, phase4: Apache-2.0; licence files alongside).

use super::error::{As4Error, EbmsCode};
use super::gzip::GzipLimits;
use super::mime::{self, MimeEvent, MimeLimits, MimeParser};
use super::*;
use sha2::Digest as _;

fn fixture(rel: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/as4/{rel}",
        concat!(env!("CARGO_MANIFEST_DIR"), "/../..")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn related(boundary: &str) -> String {
    format!("multipart/related; boundary=\"{boundary}\"; type=\"application/soap+xml\"")
}

/// The Content-Types of the MIME captures (from /work/shared/data/README.md).
fn captures() -> Vec<(&'static str, String)> {
    vec![
        ("eessi-as4-net/signed_holodeck_message.as4", related("MIMEBoundary_bcb27a6f984295aa9962b01ef2fb3e8d982de76d061ab23f")),
        ("eessi-as4-net/as4-encrypted-signed-keyidentifier.as4", "multipart/related; boundary=\"MIMEBoundary_e26ba07b9ac392cc88fdb1c2ed23ba5e2e6d64fdf13325f1\"; type=\"application/soap+xml\"; start=\"<0.116ba07b9ac392cc88fdb1c2ed23ba5e2e6d64fdf13325f1@apache.org>\"".into()),
        ("eessi-as4-net/as4-encrypted-signed-issuerserial.as4", "multipart/related; boundary=\"MIMEBoundary_416ba07b9ac392cc88fdb1c2ed23ba5e2e6d64fdf13325f1\"; type=\"application/soap+xml\"; start=\"<0.716ba07b9ac392cc88fdb1c2ed23ba5e2e6d64fdf13325f1@apache.org>\"".into()),
        ("eessi-as4-net/as4-encrypted-compressed-message.as4", "multipart/related; boundary=\"=-6sJmyirLVoAPyUJUzCWk0w==\"".into()),
        ("eessi-as4-net/rssbus_message.as4", "multipart/related;boundary=\"NSMIMEBoundary__e5cfd617-6cec-4276-b190-23f0b25d9d4d\";type=\"application/soap+xml\";start=\"<_f4691b6d-96fc-4ac8-a43e-2f495654f854>\"".into()),
        ("eessi-as4-net/Receipt_InvalidNRI_Namespace.as4", "multipart/related;boundary=\"NSMIMEBoundary__5c65cf85-89d2-4921-9029-63df49ef2fa2\";type=\"application/soap+xml\";start=\"<_7a711d7c-4d1c-4ce7-ab38-794a01b445e1>\"".into()),
        ("eessi-as4-net/as4-multihop-message.as4", "multipart/related; boundary=\"=-M/sMGEhQK8RBNg/21Nf7Ig==\";\ttype=\"application/soap+xml\"".into()),
        ("eessi-as4-net/as4-multihop-usermessage.as4", "multipart/related; boundary=\"=-AAB+iUI3phXyeG3w4aGnFA==\";\ttype=\"application/soap+xml\"".into()),
        ("eessi-as4-net/as4_single_payload.as4", "multipart/related; boundary=\"=-PHQq1fuE9QxpIWax7CKj5w==\"; type=\"application/soap+xml\"; charset=\"utf-8\"".into()),
        ("eessi-as4-net/as4message.txt", related("=-M9awlqbs/xWAPxlvpSWrAg==")),
        ("eessi-as4-net/as4message_external_payloads.as4", related("=-M9awlqbs/xWAPxlvpSWrAg==")),
        ("eessi-as4-net/as4message_duplicate_payloads.as4", related("=-M9awlqbs/xWAPxlvpSWrAg==")),
        ("eessi-as4-net/as4-soap-wrong-encrypted-message", "multipart/related; boundary=\"=-WoWSZIFF06iwFV8PHCZ0dg==\"; type=\"application/soap+xml\"; charset=\"utf-8\"".into()),
    ]
}

fn capture(name: &str) -> As4Message {
    let (file, ct) = captures()
        .into_iter()
        .find(|(f, _)| f.ends_with(name))
        .unwrap();
    parse_message(&ct, &fixture(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn soap(file: &str) -> As4Envelope {
    parse_envelope(&fixture(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn user(env: &As4Envelope) -> &UserMessage {
    env.user_messages().next().expect("a UserMessage")
}

fn parties(um: &UserMessage) -> (&str, &str) {
    (
        um.party_info
            .from
            .party_id()
            .map(|p| p.value.as_str())
            .unwrap_or("?"),
        um.party_info
            .to
            .party_id()
            .map(|p| p.value.as_str())
            .unwrap_or("?"),
    )
}

fn hrefs(um: &UserMessage) -> Vec<&str> {
    um.payload_info
        .iter()
        .map(|p| p.href.as_deref().unwrap_or(""))
        .collect()
}

const TEST_SERVICE_CAPS: &str =
    "http://docs.oasis-open.org/ebxml-msg/ebMS/v3.0/ns/core/200704/service";
const SAMPLE_CONVERSATION: &str = "eu:edelivery:as4:sampleconversation";

#[test]
fn accepts_signed_holodeck_capture_with_gzip_parts() {
    let msg = capture("signed_holodeck_message.as4");
    let um = user(&msg.envelope);
    assert_eq!(
        um.message_info.message_id,
        "cdcc838c-96ed-414a-b127-0937f5cd6549@CLT-FGHEYSELS.ad.codit.eu"
    );
    assert_eq!(
        parties(um),
        (
            "org:holodeckb2b:example:company:A",
            "org:eu:europa:as4:example"
        )
    );
    assert_eq!(um.collaboration_info.service.value, "Test");
    assert_eq!(
        um.collaboration_info.service.service_type.as_deref(),
        Some("org:holodeckb2b:services")
    );
    assert_eq!(um.collaboration_info.action, "StoreMessage");
    assert_eq!(
        um.collaboration_info.conversation_id,
        "org:holodeckb2b:test:conversation"
    );
    assert_eq!(
        hrefs(um),
        [
            "cid:cdcc838c-96ed-414a-b127-0937f5cd654-341439240@CLT-FGHEYSELS.ad.codit.eu",
            "cid:cdcc838c-96ed-414a-b127-0937f5cd654-445037483@CLT-FGHEYSELS.ad.codit.eu",
        ]
    );
    assert_eq!(um.payload_info[0].mime_type(), Some("image/jpeg"));
    assert_eq!(um.payload_info[1].mime_type(), Some("application/xml"));
    assert!(um
        .payload_info
        .iter()
        .all(|p| p.compression_type() == Some("application/gzip")));
    // The attachments are the known payloads; they decompress within the default limits.
    let first = msg
        .attachment(um.payload_info[0].content_id().unwrap())
        .unwrap();
    assert_eq!(first.body.len(), 296_385);
    assert_eq!(
        decompress_attachment(first, GzipLimits::default())
            .unwrap()
            .len(),
        296_454
    );
    let second = msg
        .attachment(um.payload_info[1].content_id().unwrap())
        .unwrap();
    assert_eq!(second.body.len(), 164);
    assert_eq!(
        decompress_attachment(second, GzipLimits::default())
            .unwrap()
            .len(),
        206
    );
    // Security header parsed (not verified): 4 references (Messaging, Body, 2 × cid).
    let sig = msg
        .envelope
        .security
        .as_ref()
        .unwrap()
        .signature
        .as_ref()
        .unwrap();
    assert_eq!(sig.references.len(), 4);
    assert!(sig.references.iter().any(|r| r.uri
        == "cid:cdcc838c-96ed-414a-b127-0937f5cd654-341439240@CLT-FGHEYSELS.ad.codit.eu"
        && r.digest_value == "9LdwLHAyHQFkae/ZslhKTQaWgYZP5g0sv3go/hAbv74="));
    check_message(&msg, &ProfileRules::as4()).unwrap();
    // Holodeck parties have no EESSI party id type.
    assert_eq!(
        check_message(&msg, &ProfileRules::eessi())
            .unwrap_err()
            .code(),
        EbmsCode::ProcessingModeMismatch
    );
}

#[test]
fn accepts_encrypted_captures_as_structure() {
    for (name, id) in [
        (
            "as4-encrypted-signed-keyidentifier.as4",
            "c3df11e3-39fa-467a-8593-10780f9d8d57@CLT-SMOREELS.mshome.net",
        ),
        (
            "as4-encrypted-signed-issuerserial.as4",
            "b545c3a0-e57f-46aa-862f-381eb4b70097@CLT-SMOREELS.mshome.net",
        ),
    ] {
        let msg = capture(name);
        let um = user(&msg.envelope);
        assert_eq!(um.message_info.message_id, id);
        assert_eq!(um.collaboration_info.action, "StoreMessage");
        assert_eq!(msg.attachments.len(), 2);
        let sec = msg.envelope.security.as_ref().unwrap();
        assert_eq!((sec.encrypted_key_count, sec.encrypted_data_count), (1, 2));
        assert_eq!(sec.signature.as_ref().unwrap().references.len(), 4);
        check_message(&msg, &ProfileRules::as4()).unwrap();
    }
    let msg = capture("as4-encrypted-compressed-message.as4");
    let um = user(&msg.envelope);
    assert_eq!(
        um.message_info.message_id,
        "user-55b50d25-5f75-4d2e-8d75-c4e7fe492169"
    );
    assert_eq!(
        parties(um),
        (
            "https://eu.edelivery.as4.sender",
            "https://eu.edelivery.as4.receiver"
        )
    );
    assert_eq!(um.collaboration_info.action, "Decryption");
    assert_eq!(hrefs(um), ["cid:flower", "cid:xmldoc"]);
    assert_eq!(msg.attachment("flower").unwrap().body.len(), 290_189);
    // ebMS3: MessageId must be id-left@id-right.
    assert!(matches!(
        check_message(&msg, &ProfileRules::as4()),
        Err(As4Error::InvalidMessageId { .. })
    ));
}

#[test]
fn accepts_rssbus_capture_and_refuses_its_wrong_start() {
    let msg = capture("rssbus_message.as4");
    let um = user(&msg.envelope);
    assert_eq!(
        um.message_info.message_id,
        "Bkw-20180112-110916514-LvB0@Bkw"
    );
    assert_eq!(parties(um), ("21X-NL-A-A0A0A-Z", "12XBKW-HANDEL--X"));
    assert_eq!(
        um.party_info.from.party_ids[0].party_type.as_deref(),
        Some("http://www.entsoe.eu/eic-codes/eic-party-codes-x")
    );
    assert_eq!(um.collaboration_info.service.value, "A06");
    assert_eq!(
        hrefs(um),
        ["cid:_9334fca1-68ce-472b-a413-38d0fe867587@nsoftware"]
    );
    assert_eq!(
        msg.envelope
            .security
            .as_ref()
            .unwrap()
            .binary_security_tokens
            .len(),
        2
    );
    // Its ConversationId is empty: the profile refuses it.
    assert!(matches!(
        check_message(&msg, &ProfileRules::as4()),
        Err(As4Error::EmptyConversationId)
    ));
    // The AS4.NET test string names the receipt capture's root as start.
    let wrong = "multipart/related;boundary=\"NSMIMEBoundary__e5cfd617-6cec-4276-b190-23f0b25d9d4d\";type=\"application/soap+xml\";start=\"<_7a711d7c-4d1c-4ce7-ab38-794a01b445e1>\"";
    let err = parse_message(wrong, &fixture("eessi-as4-net/rssbus_message.as4")).unwrap_err();
    assert!(matches!(err, As4Error::MissingRootPart { .. }));
    assert_eq!(err.code(), EbmsCode::MimeInconsistency);
}

#[test]
fn accepts_unsigned_eessi_as4_net_user_messages() {
    let msg = capture("as4_single_payload.as4");
    let um = user(&msg.envelope);
    assert_eq!(
        um.message_info.message_id,
        "fd85bf2e-2366-408b-b187-010ad63d0070@10.124.29.152"
    );
    assert_eq!(
        parties(um),
        (
            "org:eu:europa:as4:example",
            "org:holodeckb2b:example:company:B"
        )
    );
    assert!(um.is_test_message());
    assert_eq!(um.collaboration_info.conversation_id, SAMPLE_CONVERSATION);
    assert_eq!(hrefs(um), ["cid:earth2"]);
    let earth = msg.attachment("earth2").unwrap();
    assert_eq!(earth.content_type.as_deref(), Some("image/jpeg"));
    assert_eq!(earth.body.len(), 229_172);
    assert_eq!(
        hex::encode(sha2::Sha256::digest(&earth.body)),
        "1eee2860ba64322bd68a1a59d30255c4f7ea4018b9259384308b86ec84bc0071"
    );
    check_message(&msg, &ProfileRules::as4()).unwrap();

    let msg = capture("as4message.txt");
    let um = user(&msg.envelope);
    assert_eq!(
        um.message_info.message_id,
        "78af0557-ea3b-4c8c-b609-09d7c3e42da0@10.124.29.70"
    );
    assert_eq!(um.collaboration_info.service.value, TEST_SERVICE_CAPS);
    assert_eq!(hrefs(um), ["cid:earth", "cid:earth2"]);
    assert_eq!(um.payload_info[0].property("Test"), Some("Test"));
    assert_eq!(um.message_properties.len(), 2);
    assert_eq!(
        msg.envelope.messaging_id.as_deref(),
        Some("header-fcd4d20d-3842-479a-bcaf-91a8a6d97275")
    );
    assert_eq!(
        msg.envelope.body_id.as_deref(),
        Some("body-5e30d21b-3680-459a-a458-1a97d8481500")
    );
    check_message(&msg, &ProfileRules::as4()).unwrap();

    let msg = capture("as4-soap-wrong-encrypted-message");
    assert_eq!(
        user(&msg.envelope).message_info.message_id,
        "fd2929aa-9be2-412c-ace8-828d3c4fbca4@10.124.29.131"
    );
    assert_eq!(msg.attachments.len(), 2);

    let env = soap("eessi-as4-net/UserMessage.xml");
    let um = user(&env);
    assert_eq!(
        um.message_info.message_id,
        "5ae47c51-acd2-47d0-9eff-9ab923bd4efa@10.124.29.214"
    );
    assert_eq!(hrefs(um), ["cid:earth", "cid:earth2"]);
    assert_eq!(
        um.payload_info[0].compression_type(),
        Some("application/gzip")
    );
    assert_eq!(um.payload_info[0].mime_type(), Some("image/jpeg"));
    check_profile(&env, &ProfileRules::as4()).unwrap();

    let env = soap("eessi-as4-net/as4_flame_envelope.as4");
    let um = user(&env);
    assert_eq!(parties(um), ("flame-c2", "as4.net-c3"));
    assert_eq!(um.collaboration_info.service.value, "SRV_SIMPLE_ONEWAY");
    assert_eq!(um.collaboration_info.action, "ACT_SIMPLE_ONEWAY");
    assert_eq!(um.collaboration_info.conversation_id, "292022");
    assert_eq!(
        hrefs(um),
        ["cid:custompayload@minder", "cid:xmlpayload@minder"]
    );
    assert_eq!(
        env.security.as_ref().unwrap().binary_security_tokens.len(),
        2
    );

    for (file, id) in [
        (
            "eessi-as4-net/as4-soap-signed-message.txt",
            "cece0a43-8233-447e-b3b8-4239f601097b@10.124.29.131",
        ),
        (
            "eessi-as4-net/as4-encrypted-envelope.xml",
            "30392f3c-bc9c-4a1f-ba5e-5d4d81382eef@CLT-SNEIRINCK",
        ),
        (
            "eessi-as4-net/as4-soap-signed-encrypted-message.xml",
            "41371809-b8ec-4223-813e-46600962aa01@10.124.29.131",
        ),
    ] {
        assert_eq!(user(&soap(file)).message_info.message_id, id, "{file}");
    }
}

#[test]
fn accepts_multihop_captures() {
    let msg = capture("as4-multihop-usermessage.as4");
    let um = user(&msg.envelope);
    assert_eq!(
        um.message_info.message_id,
        "9f545d3c-0192-42c6-996d-7e3762c3f671@172.26.173.33"
    );
    assert_eq!(parties(um), ("senderId", "receiverId"));
    assert_eq!(um.collaboration_info.service.value, "multihop:usermessage");
    // It carries no Action and no ConversationId, which the profile refuses.
    assert!(matches!(
        check_message(&msg, &ProfileRules::as4()),
        Err(As4Error::EmptyConversationId)
    ));

    let msg = capture("as4-multihop-message.as4");
    let sm = msg.envelope.signal_message().unwrap();
    assert_eq!(
        sm.message_info.message_id,
        "1e022294-1809-4c9e-b98d-27ef93be5f13@TESTFX"
    );
    assert_eq!(
        sm.message_info.ref_to_message_id.as_deref(),
        Some("5b09912c-22c5-4424-a21f-d3e9c0b5258a@TESTFX")
    );
    assert_eq!(sm.errors.len(), 1);
    assert_eq!(sm.errors[0].code(), Some(EbmsCode::Other));
    assert_eq!(sm.errors[0].short_description.as_deref(), Some("Other"));
}

#[test]
fn accepts_receipts_with_their_ref_to_message_id() {
    let env = soap("eessi-as4-net/receipt.xml");
    let sm = env.signal_message().unwrap();
    assert_eq!(
        sm.message_info.message_id,
        "e0d253ea-b6f9-4774-86df-4f64767eb8c6@CLT-SMOREELS.ad.codit.eu"
    );
    assert_eq!(
        sm.message_info.ref_to_message_id.as_deref(),
        Some("66abf773-937d-4425-934f-0f4f54c88abe@192.168.0.177")
    );
    let r = sm.receipt.as_ref().unwrap();
    assert!(r.non_repudiation);
    assert_eq!(r.nri_reference_count, 4);
    assert!(r.content_xml.contains("NonRepudiationInformation"));
    assert!(
        r.content_xml.contains(&format!("=\"{EBBP_NS}\"")),
        "fragment declares its namespaces"
    );
    check_profile(&env, &ProfileRules::eessi()).unwrap();

    let env = soap("eessi-as4-net/multihopreceipt.xml");
    let sm = env.signal_message().unwrap();
    assert_eq!(
        sm.message_info.ref_to_message_id.as_deref(),
        Some("bd03149f-0db1-4af9-aa78-a964045ecb86@EESSIDEV09")
    );
    assert_eq!(sm.receipt.as_ref().unwrap().nri_reference_count, 3);

    let msg = capture("Receipt_InvalidNRI_Namespace.as4");
    let sm = msg.envelope.signal_message().unwrap();
    assert_eq!(
        sm.message_info.message_id,
        "_ab6551fa-f687-4f47-aa38-1c3123f76dd8@nsoftware"
    );
    assert_eq!(
        sm.message_info.ref_to_message_id.as_deref(),
        Some("eb6ef7a7-4a5e-4c11-a187-c51ca1ef1444@10.0.0.4")
    );
    let r = sm.receipt.as_ref().unwrap();
    assert!(r.non_repudiation);
    assert_eq!(
        r.nri_reference_count, 0,
        "ds:Reference without the XML-DSig namespace is not counted"
    );

    let env = soap("phase4/testfiles/TestReceipt12.xml");
    let sm = env.signal_message().unwrap();
    assert_eq!(
        sm.message_info.ref_to_message_id.as_deref(),
        Some("035e0a83-6dc5-427b-bcee-483475c65153@phase4")
    );
    assert_eq!(sm.receipt.as_ref().unwrap().nri_reference_count, 3);
    check_profile(&env, &ProfileRules::as4()).unwrap();

    let env = soap("phase4/testfiles/TestReceipt11.xml");
    assert_eq!(env.soap_version, SoapVersion::V11);
    let sm = env.signal_message().unwrap();
    assert_eq!(
        sm.message_info.ref_to_message_id.as_deref(),
        Some("ph-as4@2babaddd-282e-461e-b645-730c5abebcce")
    );
    assert!(matches!(
        check_profile(&env, &ProfileRules::as4()),
        Err(As4Error::Soap11NotAllowed)
    ));

    let env = soap("phase4/soap11test/ReceiptMessage.xml");
    let sm = env.signal_message().unwrap();
    assert_eq!(
        sm.message_info.ref_to_message_id.as_deref(),
        Some("uiopfdsmnf4898965563434@a.example.com")
    );
    assert_eq!(sm.receipt.as_ref().unwrap().nri_reference_count, 2);
}

#[test]
fn accepts_peppol_receipt_dumps_with_http_headers() {
    for file in [
        "helger.as4in",
        "governikus.as4in",
        "dataport1.as4in",
        "dataport1-mustunderstand.as4in",
    ] {
        let raw = fixture(&format!("phase4/verify/{file}"));
        let split = raw.windows(2).position(|w| w == b"\n\n").unwrap();
        let headers = mime::parse_header_block(&raw[..split], 64).unwrap();
        let ct = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("Content-Type"))
            .unwrap();
        assert!(ct.1.starts_with("application/soap+xml"));
        let msg = parse_message(&ct.1, &raw[split + 2..]).unwrap_or_else(|e| panic!("{file}: {e}"));
        let sm = msg.envelope.signal_message().unwrap();
        assert!(sm.receipt.as_ref().unwrap().non_repudiation, "{file}");
        assert!(sm.message_info.ref_to_message_id.is_some(), "{file}");
        assert_eq!(
            msg.envelope
                .security
                .as_ref()
                .unwrap()
                .binary_security_tokens
                .len(),
            1,
            "{file}"
        );
        check_message(&msg, &ProfileRules::as4()).unwrap_or_else(|e| panic!("{file}: {e}"));
    }
}

#[test]
fn accepts_signals_errors_and_pull_requests() {
    let env = soap("eessi-as4-net/as4-pullrequest-warning.xml");
    let e = &env.signal_message().unwrap().errors[0];
    assert_eq!(e.code(), Some(EbmsCode::EmptyMessagePartitionChannel));
    assert_eq!(e.severity, Severity::Warning);
    let env = soap("eessi-as4-net/as4-soap-pullrequest.xml");
    let pr = env.signal_message().unwrap().pull_request.as_ref().unwrap();
    assert_eq!(
        pr.mpc.as_deref(),
        Some("http://example.holodeckb2b.org/mpc/2")
    );
    let env = soap("phase4/testfiles/ErrorMessage.xml");
    let e = &env.signal_message().unwrap().errors[0];
    assert_eq!(e.error_code, "EBMS:0001");
    assert_eq!(
        e.ref_to_message_in_error.as_deref(),
        Some("ph-as4@42ec020f-9553-4b6d-ba8e-265cf1f6fd34")
    );
    let env = soap("phase4/testfiles/ErrorMessageWithFault.xml");
    assert_eq!(
        env.signal_message().unwrap().errors[0].code(),
        Some(EbmsCode::PolicyNoncompliance)
    );
    let env = soap("phase4/soap12test/PullRequest12.xml");
    assert_eq!(
        env.signal_message().unwrap().message_info.message_id,
        "msg123@smallco.example.com"
    );
    // Bundle order is kept: Receipt, UserMessage, Receipt.
    let env = soap("eessi-as4-net/as4-soap-user-receipt-message.xml");
    let ids: Vec<&str> = env
        .units
        .iter()
        .map(|u| match u {
            MessageUnit::User(m) => m.message_info.message_id.as_str(),
            MessageUnit::Signal(s) => s.message_info.message_id.as_str(),
        })
        .collect();
    assert_eq!(ids, ["1", "2", "3"]);
    assert!(matches!(env.units[1], MessageUnit::User(_)));
    assert!(matches!(
        check_profile(&env, &ProfileRules::as4()),
        Err(As4Error::Bundling { count: 3 })
    ));
}

#[test]
fn accepts_phase4_soap11_and_soap12_samples() {
    let soap11 = ProfileRules {
        allow_soap11: true,
        eessi: false,
    };
    let env = soap("phase4/soap11test/UserMessage.xml");
    assert_eq!(env.soap_version, SoapVersion::V11);
    let um = user(&env);
    assert_eq!(um.message_info.message_id, "UUID-1@requester.example.com");
    assert_eq!(parties(um), ("uri:requester.example.com", "QRS543"));
    assert_eq!(
        um.party_info.to.party_ids[0].party_type.as_deref(),
        Some("someType")
    );
    assert_eq!(um.collaboration_info.service.value, "QuoteToCollect");
    assert_eq!(um.collaboration_info.action, "NewPurchaseOrder");
    assert_eq!(um.collaboration_info.conversation_id, "4321");
    assert_eq!(hrefs(um), ["cid:part@example.com"]);
    check_profile(&env, &soap11).unwrap();
    assert!(matches!(
        check_profile(&env, &ProfileRules::as4()),
        Err(As4Error::Soap11NotAllowed)
    ));
    let env = soap("phase4/soap11test/UserMessageResponse.xml");
    assert_eq!(
        user(&env).message_info.ref_to_message_id.as_deref(),
        Some("UUID-1@requester.example.com")
    );
    assert_eq!(
        user(&env).collaboration_info.action,
        "PurchaseOrderResponse"
    );
    let env = soap("phase4/soap11test/BundledMessage.xml");
    assert_eq!(env.units.len(), 3);
    assert!(matches!(
        check_profile(&env, &soap11),
        Err(As4Error::Bundling { count: 3 })
    ));
    let env = soap("phase4/soap11test/EmptyMessaging.xml");
    assert!(matches!(
        check_profile(&env, &soap11),
        Err(As4Error::EmptyMessaging)
    ));
    let units =
        parse::parse_messaging_fragment(&fixture("phase4/soap11test/UserMessage-no-soap.xml"))
            .unwrap();
    assert_eq!(units.len(), 1);

    let env = soap("phase4/soap12test/UserMessage12.xml");
    let um = user(&env);
    assert_eq!(
        um.message_info.message_id,
        "2011-921@5209999001264.example.com"
    );
    assert_eq!(parties(um), ("5209999001264", "5209999001295"));
    // Its payload is in the SOAP Body: AS4/EESSI wants MIME parts.
    assert_eq!(
        check_profile(&env, &ProfileRules::as4())
            .unwrap_err()
            .code(),
        EbmsCode::FeatureNotSupportedInconsistency
    );
    // Rejected when SOAP 1.1 is expected (text/xml).
    let err =
        parse_message("text/xml", &fixture("phase4/soap12test/UserMessage12.xml")).unwrap_err();
    assert!(matches!(err, As4Error::SoapVersionMismatch { .. }));

    let env = soap("phase4/soap12test/test-2023-03-15.xml");
    let um = user(&env);
    assert_eq!(parties(um), ("PDE000556", "PDE000556"));
    assert_eq!(um.collaboration_info.conversation_id, "testid");
    assert_eq!(hrefs(um), ["cid:sbdhID"]);
}

fn code_of(file: &str, rules: &ProfileRules) -> EbmsCode {
    match parse_envelope(&fixture(file)) {
        Err(e) => e.code(),
        Ok(env) => check_profile(&env, rules).expect_err(file).code(),
    }
}

#[test]
fn refuses_phase4_negative_vectors_with_their_codes() {
    let rules = ProfileRules::as4();
    assert_eq!(
        code_of("phase4/testfiles/TwoUserMessages.xml", &rules),
        EbmsCode::ValueInconsistent
    );
    assert_eq!(
        code_of("phase4/testfiles/UserMessageNoPartyID.xml", &rules),
        EbmsCode::InvalidHeader
    );
    assert_eq!(
        code_of("phase4/testfiles/NoResponder.xml", &rules),
        EbmsCode::InvalidHeader
    );
    let soap11 = ProfileRules {
        allow_soap11: true,
        eessi: false,
    };
    assert_eq!(
        code_of("phase4/soap11test/MessageInfoMissing.xml", &soap11),
        EbmsCode::InvalidHeader
    );
    assert_eq!(
        code_of("phase4/soap11test/MessageInfoIDMissing.xml", &soap11),
        EbmsCode::InvalidHeader
    );
    assert_eq!(
        code_of(
            "phase4/soap11test/MessageInfoImaginaryTimestamp.xml",
            &soap11
        ),
        EbmsCode::InvalidHeader
    );
    assert!(matches!(
        parse_envelope(&fixture("phase4/soap11test/NoMessaging.xml")),
        Err(As4Error::NotSoapEnvelope { .. })
    ));
    let err = parse_envelope(&fixture(
        "phase4/soap12test/UserMessageWithCompressedPayload12.xml",
    ))
    .unwrap_err();
    assert!(matches!(err, As4Error::Xml(_)), "{err}");
    assert!(matches!(
        parse_envelope(&fixture("eessi-as4-net/BizTalkUserMessage.xml")),
        Err(As4Error::MissingElement {
            element: "soap:Body"
        })
    ));
}

#[test]
fn refuses_wrong_compression_mime_with_its_own_headers() {
    let raw = fixture("phase4/testfiles/WrongCompression.mime");
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let headers = mime::parse_header_block(&raw[..split], 64).unwrap();
    let ct = &headers.iter().find(|(n, _)| n == "Content-Type").unwrap().1;
    let msg = parse_message(ct, &raw[split + 4..]).unwrap();
    assert_eq!(msg.attachments.len(), 1);
    // The base64 part decodes to gzip.
    assert!(msg.attachments[0].body.starts_with(&[0x1f, 0x8b]));
    let err = check_message(&msg, &ProfileRules::as4()).unwrap_err();
    assert!(
        matches!(&err, As4Error::UnsupportedCompression { found } if found == "application/rar"),
        "{err}"
    );
    assert_eq!(err.code(), EbmsCode::ValueInconsistent);
}

#[test]
fn refuses_eessi_as4_net_negative_captures() {
    let msg = capture("as4message_external_payloads.as4");
    let err = check_message(&msg, &ProfileRules::as4()).unwrap_err();
    assert!(matches!(&err, As4Error::ExternalPayload { href } if href == "http://earth"));
    assert_eq!(err.code(), EbmsCode::ExternalPayloadError);
    let msg = capture("as4message_duplicate_payloads.as4");
    assert_eq!(
        check_message(&msg, &ProfileRules::as4())
            .unwrap_err()
            .code(),
        EbmsCode::InvalidHeader
    );
    let ids = [Some("earth"), Some("earth")];
    assert!(matches!(
        check_attachments(&msg.envelope, &ids),
        Err(As4Error::DuplicateContentId { .. })
    ));
    // The payload sits in the SOAP Body (PartInfo href=""): AS4/EESSI refuses that.
    let msg = parse_message(
        "application/soap+xml",
        &fixture("eessi-as4-net/as4_soapattachment.as4"),
    )
    .unwrap();
    let err = check_message(&msg, &ProfileRules::as4()).unwrap_err();
    assert!(matches!(err, As4Error::BodyPayloadNotAllowed), "{err}");
    assert_eq!(err.code(), EbmsCode::FeatureNotSupportedInconsistency);
}

#[test]
fn streaming_parser_gives_the_same_parts_as_parse_all() {
    for (file, ct) in captures() {
        let body = fixture(file);
        let whole = mime::parse_all(&ct, &body).unwrap();
        let mut parser = MimeParser::new(&ct, MimeLimits::default()).unwrap();
        let mut events = Vec::new();
        let mut sizes = Vec::new();
        for chunk in body.chunks(4093) {
            parser.feed(chunk, &mut events).unwrap();
            for e in events.drain(..) {
                match e {
                    MimeEvent::PartStart { .. } => sizes.push(0usize),
                    MimeEvent::PartData(d) => *sizes.last_mut().unwrap() += d.len(),
                    MimeEvent::PartEnd => {}
                }
            }
        }
        parser.finish().unwrap();
        assert_eq!(
            sizes,
            whole.iter().map(|p| p.body.len()).collect::<Vec<_>>(),
            "{file}"
        );
    }
}

#[test]
fn refuses_every_truncated_prefix_without_panicking() {
    // A small capture in full; a large one at a stride (every prefix of 460 KB is slow).
    for (name, stride) in [
        ("Receipt_InvalidNRI_Namespace.as4", 1),
        ("as4message.txt", 997),
    ] {
        let (file, ct) = captures()
            .into_iter()
            .find(|(f, _)| f.ends_with(name))
            .unwrap();
        let body = fixture(file);
        let complete = body.len() - 2; // the closing delimiter without its final CRLF/LF
        let mut cut = 0;
        while cut < complete.min(body.len()) {
            let prefix = &body[..cut];
            if let Ok(msg) = parse_message(&ct, prefix) {
                panic!(
                    "{file}: prefix {cut} accepted with {} parts",
                    msg.attachments.len()
                );
            }
            cut += stride;
        }
    }
}
