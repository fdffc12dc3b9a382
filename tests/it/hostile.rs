//! Hostile and broken input at both edges. Each: the expected error code, nothing stored,
//! and the gateway still healthy afterwards (it answers and a good message still passes).

use std::io::Write as _;
use std::time::{Duration, Instant};

use sedgate_as4::gzip::gzip;
use sedgate_gateway::config::Engine;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::both_engines;
use crate::common::{spawn_app_with, SpawnOptions, TestApp};
use crate::exchange::{
    envelope_xml, message_with_attachment, mime_message, post_raw, raw_message, signed,
};
use crate::gateways::{files_under, sed_for, GatewayOptions, TwoGateways, SENDER};

const DOCTYPE_XXE: &str =
    "<?xml version=\"1.0\"?><!DOCTYPE e [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>";
const DOCTYPE_EXTERNAL: &str = "<!DOCTYPE e SYSTEM \"http://127.0.0.1:9/evil.dtd\">";

fn billion_laughs() -> String {
    let mut dtd = String::from("<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol0 \"lol\">");
    for i in 1..10 {
        dtd.push_str(&format!(
            "<!ENTITY lol{i} \"{}\">",
            format!("&lol{};", i - 1).repeat(10)
        ));
    }
    dtd.push_str("]>");
    dtd
}

fn quadratic_blowup() -> String {
    format!(
        "<?xml version=\"1.0\"?><!DOCTYPE q [<!ENTITY a \"{}\">]>",
        "x".repeat(50_000)
    )
}

/// Inserts `text` right after the opening tag of `element` (its first `>`).
fn inside(xml: &[u8], element: &str, text: &str) -> Vec<u8> {
    let s = String::from_utf8(xml.to_vec()).unwrap();
    let start = s.find(&format!("<{element}")).expect("element");
    let end = start + s[start..].find('>').unwrap() + 1;
    format!("{}{text}{}", &s[..end], &s[end..]).into_bytes()
}

/// The envelope variants the AS4 listener must refuse, with the ebMS code expected.
fn hostile_envelopes(n: &mut u32) -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let mut env = |case: &str| {
        *n += 1;
        envelope_xml(&format!("hostile-{n}@at.sedgate.test"), case, SENDER)
    };
    let good = env("case-hostile");
    let body_text = |text: &str| inside(&good, "env:Body", text);
    let mut invalid_utf8 = good.clone();
    let at = invalid_utf8
        .windows(13)
        .position(|w| w == b"case-hostile<")
        .expect("conversation id");
    invalid_utf8[at + 2] = 0xff;
    let messaging = {
        let s = String::from_utf8(good.clone()).unwrap();
        let a = s.find("<eb:Messaging").unwrap();
        let b = s.find("</eb:Messaging>").unwrap() + "</eb:Messaging>".len();
        format!("{}{}{}", &s[..b], &s[a..b], &s[b..]).into_bytes()
    };
    let wrong_ns = String::from_utf8(good.clone())
        .unwrap()
        .replace(
            "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/",
            "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/WRONG/",
        )
        .into_bytes();
    let nested = body_text(&format!("{}{}", "<a>".repeat(5000), "</a>".repeat(5000)));
    let huge_attribute = inside(
        &good,
        "env:Body",
        &format!("<a b=\"{}\"/>", "x".repeat(2 * 1024 * 1024)),
    );
    let many_attributes = body_text(&format!(
        "<a {}/>",
        (0..1000)
            .map(|i| format!("a{i}=\"1\" "))
            .collect::<String>()
    ));
    let with_prefix = |prefix: &str, text: &str| {
        let mut v = prefix.as_bytes().to_vec();
        v.extend_from_slice(&inside(&good, "env:Body", text));
        v
    };
    vec![
        ("XXE", with_prefix(DOCTYPE_XXE, "<a>&xxe;</a>"), "EBMS:0009"),
        (
            "external DTD",
            with_prefix(DOCTYPE_EXTERNAL, ""),
            "EBMS:0009",
        ),
        (
            "billion laughs",
            with_prefix(&billion_laughs(), "<a>&lol9;</a>"),
            "EBMS:0009",
        ),
        (
            "quadratic blow-up",
            with_prefix(&quadratic_blowup(), &"&a;".repeat(10_000)),
            "EBMS:0009",
        ),
        ("entity without DTD", body_text("<a>&xxe;</a>"), "EBMS:0009"),
        ("deep nesting", nested, "EBMS:0009"),
        ("huge attribute", huge_attribute, "EBMS:0009"),
        ("a thousand attributes", many_attributes, "EBMS:0009"),
        ("invalid UTF-8", invalid_utf8, "EBMS:0009"),
        ("wrong ebMS namespace", wrong_ns, "EBMS:0009"),
        ("two Messaging headers", messaging, "EBMS:0009"),
    ]
}

async fn hostile_as4_input_is_refused(engine: Engine) {
    let gws = TwoGateways::start_with(
        engine,
        GatewayOptions {
            as4_toml: "max_message_bytes = 8388608",
            ..Default::default()
        },
    )
    .await;
    let (cert, key) = gws.gateway_files("AT");
    let client = gws.as4_client(&cert, &key);
    let url = gws.no.as4_url();
    let sed = sed_for("case-hostile");
    let mut n = 0;
    let mut results = Vec::new();
    for (what, envelope, code) in hostile_envelopes(&mut n) {
        let (ct, body) = mime_message(&envelope, &gzip(sed.as_bytes()));
        let (status, answer) = post_raw(&client, &url, &ct, body)
            .await
            .unwrap_or_else(|e| panic!("{what}: no answer: {e}"));
        assert_eq!(status, 400, "{what}: {answer}");
        assert!(answer.contains(code), "{what}: expected {code}: {answer}");
        results.push((what, code));
    }

    let good = |n: u32| {
        raw_message(
            &format!("mime-{n}@at.sedgate.test"),
            "case-hostile",
            SENDER,
            sed.as_bytes(),
            Some(&gws.signing_key("AT")),
        )
    };
    let (ct, body) = good(1);
    // MIME: no boundary, a start part that is not there, endless part headers, truncation.
    let mime_cases: Vec<(&str, String, Vec<u8>, &str)> = vec![
        (
            "no boundary",
            "multipart/related; type=\"application/soap+xml\"".into(),
            body.clone(),
            "EBMS:0007",
        ),
        (
            "missing start part",
            ct.replace("start=\"<", "start=\"<nothere."),
            body.clone(),
            "EBMS:0007",
        ),
        (
            "endless part headers",
            ct.clone(),
            {
                let boundary = ct
                    .split("boundary=\"")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap();
                let mut b = format!("--{boundary}\r\n").into_bytes();
                for i in 0..20_000 {
                    write!(b, "X-Header-{i}: {}\r\n", "v".repeat(50)).unwrap();
                }
                b
            },
            "EBMS:0007",
        ),
        (
            "truncated before the closing boundary",
            ct.clone(),
            body[..body.len() - 20].to_vec(),
            "EBMS:",
        ),
        (
            "not multipart, not SOAP",
            "application/json".into(),
            b"{}".to_vec(),
            "EBMS:0007",
        ),
    ];
    for (what, ct, body, code) in mime_cases {
        refused(what, post_raw(&client, &url, &ct, body).await, code);
        results.push((what, code));
    }

    // A gzip bomb: 1 GiB of zeros in about 1 MiB, as the SED and as an attachment.
    let bomb = {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1024 * 1024];
        for _ in 0..1024 {
            enc.write_all(&zeros).unwrap();
        }
        enc.finish().unwrap()
    };
    // Signed, so that it is the decompression that refuses it.
    let envelope = envelope_xml("bomb-1@at.sedgate.test", "case-hostile", SENDER);
    let envelope = signed(&envelope, &bomb, &gws.signing_key("AT"));
    let (ct, body) = mime_message(&envelope, &bomb);
    let started = Instant::now();
    let (status, answer) = post_raw(&client, &url, &ct, body)
        .await
        .expect("bomb answer");
    assert_eq!(status, 400, "{answer}");
    assert!(answer.contains("EBMS:0303"), "gzip bomb: {answer}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the bomb took {:?}",
        started.elapsed()
    );
    results.push(("gzip bomb (1 GiB in 1 MiB)", "EBMS:0303"));

    // Larger than as4.max_message_bytes (8 MiB).
    let mut big = vec![0u8; 9 * 1024 * 1024];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut big);
    let envelope = envelope_xml("big-1@at.sedgate.test", "case-hostile", SENDER);
    let big = gzip(&big);
    let envelope = signed(&envelope, &big, &gws.signing_key("AT"));
    let (ct, body) = mime_message(&envelope, &big);
    refused(
        "oversize",
        post_raw(&client, &url, &ct, body).await,
        "larger than",
    );
    results.push((
        "oversize SED part / message (9 MiB)",
        "EBMS:0004 larger than",
    ));

    println!("AS4 inputs refused: {results:#?}");
    assert!(gws.inbox().await.is_empty(), "a refused message was stored");
    assert_healthy_and_delivering(&gws, &client, &url).await;
}
both_engines!(hostile_as4, hostile_as4_input_is_refused, multi_thread);

/// Refusals that come after a large attachment was received whole (staged in the payload
/// store: a file on SQLite, an upload on PostgreSQL) leave the payload store exactly as it
/// was; the same message done right is stored.
async fn as4_refusals_leave_the_payload_store_as_it_was(engine: Engine) {
    let gws = TwoGateways::start(engine).await;
    let (cert, key) = gws.gateway_files("AT");
    let client = gws.as4_client(&cert, &key);
    let url = gws.no.as4_url();
    let signing = gws.signing_key("AT");
    let sed = sed_for("case-staged");
    // Random, so that it stays larger than the inline limit (256 KiB) once gzipped.
    let mut attachment = vec![0u8; 600 * 1024];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut attachment);
    let before = gws.no_payload_store().await;

    let mut tampered = attachment.clone();
    tampered[1000] ^= 1;
    // Well-formed, but not what the P2000 schema allows.
    let invalid_sed = sed.replacen("</", "<unexpected-element/></", 1);
    let cases = [
        (
            "attachment digest mismatch (the last part)",
            message_with_attachment(
                "staged-1@at.sedgate.test",
                "case-staged",
                sed.as_bytes(),
                &attachment,
                &tampered,
                &signing,
            ),
            "EBMS:",
        ),
        (
            "SED invalid, attachment whole",
            message_with_attachment(
                "staged-2@at.sedgate.test",
                "case-staged",
                invalid_sed.as_bytes(),
                &attachment,
                &attachment,
                &signing,
            ),
            "EBMS:",
        ),
    ];
    for (what, (ct, body), code) in cases {
        let (status, answer) = post_raw(&client, &url, &ct, body)
            .await
            .unwrap_or_else(|e| panic!("{what}: no answer: {e}"));
        assert_eq!(status, 400, "{what}: {answer}");
        assert!(answer.contains(code), "{what}: {answer}");
        // Dropped staging is removed by a task of its own on PostgreSQL.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            gws.no_payload_store().await,
            before,
            "{what}: payload store changed"
        );
    }
    assert!(gws.inbox().await.is_empty(), "a refused message was stored");

    let (ct, body) = message_with_attachment(
        "staged-3@at.sedgate.test",
        "case-staged",
        sed.as_bytes(),
        &attachment,
        &attachment,
        &signing,
    );
    let (status, answer) = post_raw(&client, &url, &ct, body).await.expect("answer");
    assert_eq!(status, 200, "{answer}");
    // Two payload rows, and the attachment's file (SQLite) or upload (PostgreSQL).
    let after = gws.no_payload_store().await;
    assert_eq!(after.len(), before.len() + 3, "{after:?}");
}
both_engines!(
    as4_staged_refusals,
    as4_refusals_leave_the_payload_store_as_it_was,
    multi_thread
);

/// The ebMS error answer must be 400 and contain `expected`. A large body may instead see
/// its connection closed: the gateway answers as soon as it knows, without reading the rest,
/// and the client may still be sending then.
fn refused(what: &str, result: Result<(u16, String), reqwest::Error>, expected: &str) {
    match result {
        Ok((status, answer)) => {
            let description = answer
                .split("Description")
                .nth(1)
                .unwrap_or(&answer)
                .to_owned();
            assert_eq!(status, 400, "{what}: {description}");
            assert!(
                answer.contains(expected),
                "{what}: expected {expected}: {description}"
            );
        }
        Err(e) => assert!(e.is_request(), "{what}: {e}"),
    }
}

/// Still serving: /livez, and a good message gets its receipt and reaches the inbox.
async fn assert_healthy_and_delivering(gws: &TwoGateways, client: &reqwest::Client, url: &str) {
    let live = gws
        .http
        .get(gws.no.url("/livez"))
        .send()
        .await
        .expect("livez");
    assert_eq!(live.status(), 200);
    let (ct, body) = raw_message(
        "after-hostile@at.sedgate.test",
        "case-after-hostile",
        SENDER,
        sed_for("case-after-hostile").as_bytes(),
        Some(&gws.signing_key("AT")),
    );
    // A pooled connection the gateway closed after refusing a hostile request can break
    // under the next request (broken pipe before any answer): send again, as a peer would;
    // the MessageId makes the resend harmless.
    let (status, answer) = match post_raw(client, url, &ct, body.clone()).await {
        Err(e) if e.is_request() => post_raw(client, url, &ct, body).await,
        first => first,
    }
    .expect("good message");
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("Receipt"), "{answer}");
    assert_eq!(gws.inbox().await.len(), 1);
}

/// Reads until the peer closes; returns how long that took.
async fn time_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(
            limit.saturating_sub(started.elapsed()),
            stream.read(&mut buf),
        )
        .await
        {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => continue,
            Err(_) => return None,
        }
    }
}

/// Slow and greedy clients on the AS4 listener: a byte a second during the handshake, idle
/// connections filling every slot, headers trickling after the handshake.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_as4_clients_are_cut_off() {
    let gws = TwoGateways::start_with(
        Engine::Sqlite,
        GatewayOptions {
            as4_toml: "max_connections = 4\nheader_read_timeout = \"2s\"",
            tls_toml: "handshake_timeout = \"2s\"",
            ..Default::default()
        },
    )
    .await;
    let addr = format!("127.0.0.1:{}", gws.no.as4_port);

    // A byte a second of a ClientHello: closed at the handshake timeout.
    let mut slow = TcpStream::connect(&addr).await.unwrap();
    let trickle = tokio::spawn(async move {
        let hello = [
            0x16u8, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
        ];
        for b in hello {
            if slow.write_all(&[b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        time_until_closed(&mut slow, Duration::from_secs(10)).await
    });
    let closed = trickle.await.unwrap();
    assert!(
        closed.is_some(),
        "a byte-a-second handshake was never cut off"
    );

    // Every slot held by an idle connection: a real peer waits, then gets through once the
    // idle ones time out.
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(TcpStream::connect(&addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (cert, key) = gws.gateway_files("AT");
    let client = gws.as4_client(&cert, &key);
    let (ct, body) = raw_message(
        "slots-1@at.sedgate.test",
        "case-slots",
        SENDER,
        sed_for("case-slots").as_bytes(),
        Some(&gws.signing_key("AT")),
    );
    let started = Instant::now();
    let (status, answer) = post_raw(&client, &gws.no.as4_url(), &ct, body)
        .await
        .expect("served after the idle connections were dropped");
    let waited = started.elapsed();
    assert_eq!(status, 200, "{answer}");
    assert!(
        waited >= Duration::from_millis(1000),
        "the connection limit did not hold: served after {waited:?}"
    );
    for mut c in idle {
        assert!(time_until_closed(&mut c, Duration::from_secs(5))
            .await
            .is_some());
    }

    // After a good handshake, headers at a byte a second: closed at the header timeout.
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(
        sedgate_gateway::transport::tls::client_config(&sedgate_gateway::transport::TlsSettings {
            cert_path: cert.clone(),
            key_path: key.clone(),
            trust_anchors_path: gws.pki.ca_cert.clone(),
            crl_paths: vec![],
            handshake_timeout: Duration::from_secs(5),
        })
        .expect("client config"),
    ));
    let tcp = TcpStream::connect(&addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.expect("handshake");
    let started = Instant::now();
    let mut cut = false;
    for b in b"POST /as4 HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n".iter() {
        if tls.write_all(&[*b]).await.is_err() || tls.flush().await.is_err() {
            cut = true;
            break;
        }
        let mut buf = [0u8; 256];
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(Duration::from_millis(500), tls.read(&mut buf)).await
        {
            cut = true;
            break;
        }
        if started.elapsed() > Duration::from_secs(8) {
            break;
        }
    }
    let took = started.elapsed();
    assert!(cut, "trickled headers were not cut off within {took:?}");
    assert!(took < Duration::from_secs(5), "cut off only after {took:?}");
    assert_healthy_and_delivering_after(&gws, &client).await;
}

async fn assert_healthy_and_delivering_after(gws: &TwoGateways, client: &reqwest::Client) {
    let live = gws
        .http
        .get(gws.no.url("/livez"))
        .send()
        .await
        .expect("livez");
    assert_eq!(live.status(), 200);
    let before = gws.inbox().await.len();
    let (ct, body) = raw_message(
        "after-slow@at.sedgate.test",
        "case-after-slow",
        SENDER,
        sed_for("case-after-slow").as_bytes(),
        Some(&gws.signing_key("AT")),
    );
    let (status, answer) = post_raw(client, &gws.no.as4_url(), &ct, body)
        .await
        .unwrap();
    assert_eq!(status, 200, "{answer}");
    assert_eq!(gws.inbox().await.len(), before + 1);
}

/// A multipart submission from AT:0100 with `sed` as the SED part.
fn submission(sed: Vec<u8>, attachment: Option<Vec<u8>>) -> reqwest::multipart::Form {
    let metadata = serde_json::json!({
        "case_id": "case-api-hostile", "buc": "P_BUC_01", "sed_type": "P2000",
        "cdm_version": "4.2", "sender": SENDER, "receivers": ["NO:NAVAT07"],
    });
    let mut form = reqwest::multipart::Form::new()
        .part(
            "metadata",
            reqwest::multipart::Part::text(metadata.to_string())
                .mime_str("application/json")
                .unwrap(),
        )
        .part(
            "sed",
            reqwest::multipart::Part::bytes(sed)
                .file_name("P2000.xml")
                .mime_str("application/xml")
                .unwrap(),
        );
    if let Some(a) = attachment {
        form = form.part(
            "attachment",
            reqwest::multipart::Part::bytes(a)
                .file_name("a.pdf")
                .mime_str("application/pdf")
                .unwrap(),
        );
    }
    form
}

async fn post_form(app: &TestApp, token: &str, form: reqwest::multipart::Form) -> (u16, Value) {
    let res = app
        .http
        .post(app.url("/api/v1/messages"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .expect("answer");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn stored_messages(app: &TestApp) -> i64 {
    app.state
        .store
        .message_counts()
        .await
        .expect("counts")
        .iter()
        .map(|(_, _, n)| *n as i64)
        .sum()
}

/// Hostile SEDs and oversize bodies at the back-office API: refused with their code,
/// nothing stored, and a good submission still accepted.
async fn hostile_api_input_is_refused(engine: Engine) {
    let app = spawn_app_with(
        engine,
        SpawnOptions {
            api_toml: "max_request_bytes = 3145728\nmax_attachment_bytes = 8388608".into(),
            ..Default::default()
        },
    )
    .await;
    let token = app.token_for("pva", &[SENDER]).await;
    let sed = sed_for("case-api-hostile");
    let root = |text: &str| {
        let at = sed.find("<Header").or_else(|| sed.find("<P2000")).unwrap();
        format!("{}{text}{}", &sed[..at], &sed[at..]).into_bytes()
    };
    let with_prefix = |prefix: &str| {
        let body = sed.trim_start_matches(|c| c != '<');
        let body = body
            .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
            .unwrap_or(body);
        format!("{prefix}{body}").into_bytes()
    };
    let mut invalid_utf8 = sed.clone().into_bytes();
    let at = invalid_utf8
        .windows(16)
        .position(|w| w == b"case-api-hostile")
        .unwrap();
    invalid_utf8[at + 1] = 0xc3;
    invalid_utf8[at + 2] = 0x28;
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("XXE", with_prefix(DOCTYPE_XXE), 400, "xml_refused"),
        (
            "external DTD",
            with_prefix(DOCTYPE_EXTERNAL),
            400,
            "xml_refused",
        ),
        (
            "billion laughs",
            with_prefix(&billion_laughs()),
            400,
            "xml_refused",
        ),
        (
            "quadratic blow-up",
            with_prefix(&quadratic_blowup()),
            400,
            "xml_refused",
        ),
        (
            "deep nesting",
            root(&format!("{}{}", "<a>".repeat(5000), "</a>".repeat(5000))),
            400,
            "xml_refused",
        ),
        (
            "huge attribute",
            root(&format!("<a b=\"{}\"/>", "x".repeat(1024 * 1024 + 1))),
            400,
            "xml_refused",
        ),
        ("invalid UTF-8", invalid_utf8, 400, "xml_refused"),
        (
            "wrong namespace",
            sed.replace("http://ec.europa.eu/eessi/ns/4_2/P2000", "urn:evil")
                .into_bytes(),
            422,
            "sed_invalid",
        ),
    ];
    let mut results = Vec::new();
    for (what, bytes, status, code) in cases {
        let (got, body) = post_form(&app, &token, submission(bytes, None)).await;
        assert_eq!(
            (got, body["code"].as_str()),
            (status, Some(code)),
            "{what}: {body}"
        );
        assert!(
            body.get("type").is_some(),
            "{what}: not problem+json: {body}"
        );
        results.push((what, code));
    }

    // Oversize: a 4 MiB attachment against a 3 MiB request cap, declared and streamed.
    let (got, body) = post_form(
        &app,
        &token,
        submission(sed.clone().into_bytes(), Some(vec![b'%'; 4 * 1024 * 1024])),
    )
    .await;
    assert_eq!(
        (got, body["code"].as_str()),
        (413, Some("request_too_large")),
        "{body}"
    );
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..128).map(|_| Ok(vec![b'%'; 32 * 1024])).collect();
    let streamed =
        reqwest::multipart::Part::stream(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
            .file_name("big.pdf")
            .mime_str("application/pdf")
            .unwrap();
    let form = submission(sed.clone().into_bytes(), None).part("attachment", streamed);
    let (got, body) = post_form(&app, &token, form).await;
    assert_eq!(
        (got, body["code"].as_str()),
        (413, Some("request_too_large")),
        "{body}"
    );
    results.push((
        "2 MiB body over a 1 MiB cap (declared, streamed)",
        "request_too_large",
    ));
    println!("API inputs refused: {results:#?}");

    assert_eq!(
        stored_messages(&app).await,
        0,
        "a refused submission was stored"
    );
    assert_eq!(
        files_under(&app.state.config.data_dir.join("blobs")),
        Vec::<String>::new()
    );
    let (got, body) = post_form(&app, &token, submission(sed.into_bytes(), None)).await;
    assert_eq!(got, 202, "{body}");
}
both_engines!(hostile_api, hostile_api_input_is_refused);

/// Tokens: missing, wrong, acting for another institution, reading another's inbox; and
/// the per-token rate limit.
async fn api_tokens_and_rate_limits(engine: Engine) {
    let app = spawn_app_with(
        engine,
        SpawnOptions {
            country: "NO",
            api_toml: "rate_limit_per_second = 1\nrate_limit_burst = 5".into(),
            ..Default::default()
        },
    )
    .await;
    let nav = app.token_for("nav", &["NO:NAVAT07"]).await;
    let other = app.token_for("other", &["NO:NAVAT05"]).await;
    let get = |path: &str, token: Option<&str>| {
        let mut r = app.http.get(app.url(path));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        async move {
            let res = r.send().await.unwrap();
            let status = res.status().as_u16();
            let retry_after = res
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            (
                status,
                res.json::<Value>().await.unwrap_or(Value::Null),
                retry_after,
            )
        }
    };
    let (s, b, _) = get("/api/v1/inbox", None).await;
    assert_eq!((s, b["code"].as_str()), (401, Some("missing_token")));
    let (s, b, _) = get("/api/v1/inbox", Some("sgt_not-a-token")).await;
    assert_eq!((s, b["code"].as_str()), (401, Some("invalid_token")));

    // A message to NO:NAVAT07 in NO's inbox, as if received.
    let id = receive_one(&app).await;
    let (s, b, _) = get("/api/v1/inbox", Some(&other)).await;
    assert_eq!(s, 200);
    assert_eq!(b["items"].as_array().unwrap().len(), 0, "{b}");
    let (s, b, _) = get(&format!("/api/v1/inbox/{id}"), Some(&other)).await;
    assert_eq!((s, b["code"].as_str().is_some()), (404, true), "{b}");
    let ack = app
        .http
        .post(app.url(&format!("/api/v1/inbox/{id}/ack")))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(ack.status(), 404);
    let (s, _, _) = get(&format!("/api/v1/inbox/{id}"), Some(&nav)).await;
    assert_eq!(s, 200, "the owner still sees it");

    // Acting for an institution the token is not bound to.
    let res = app
        .http
        .post(app.url("/api/v1/messages"))
        .bearer_auth(&other)
        .multipart(submission(b"<x/>".to_vec(), None))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    // Rate limit: burst 5 at 1/s; another token is unaffected.
    let busy = app.token_for("busy", &["NO:NAVAT07"]).await;
    let mut statuses = Vec::new();
    let mut limited = None;
    for _ in 0..8 {
        let (s, b, retry_after) = get("/api/v1/inbox", Some(&busy)).await;
        statuses.push(s);
        if s == 429 {
            assert_eq!(b["code"], "rate_limited", "{b}");
            limited = Some(retry_after.expect("Retry-After"));
        }
    }
    assert_eq!(&statuses[..5], &[200; 5], "{statuses:?}");
    assert!(statuses[5..].contains(&429), "no 429 in {statuses:?}");
    assert!(limited.is_some());
    let third = app.token_for("third", &["NO:NAVAT07"]).await;
    assert_eq!(get("/api/v1/inbox", Some(&third)).await.0, 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        get("/api/v1/inbox", Some(&nav)).await.0,
        200,
        "the limit refills"
    );
}
both_engines!(api_tokens, api_tokens_and_rate_limits);

/// Stores one inbound P2000 to NO:NAVAT07 the way the AS4 handler does; returns its id.
async fn receive_one(app: &TestApp) -> String {
    use sedgate_gateway::store::{InboundMessage, NewPart, PartType, StoredPayload};
    let sed = sed_for("case-inbox-auth").into_bytes();
    let id: sedgate_base::domain::MessageId = "inbox-auth-1@at.sedgate.test".parse().unwrap();
    let message = InboundMessage {
        id: id.clone(),
        case_id: "case-inbox-auth".parse().unwrap(),
        buc: "P_BUC_01".parse().unwrap(),
        sed_type: "P2000".parse().unwrap(),
        cdm: "4.2".parse().unwrap(),
        sender: SENDER.parse().unwrap(),
        receiver: "NO:NAVAT07".parse().unwrap(),
        peer_country: "AT".parse().unwrap(),
        parts: vec![NewPart {
            part_type: PartType::Sed,
            content_id: "sed@test".into(),
            mime_type: "application/xml".into(),
            filename: None,
            hash: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&sed)),
            size: sed.len() as u64,
            stored: StoredPayload::Inline(sed.into()),
        }],
        receipt: b"<receipt/>".to_vec(),
        evidence: None,
        now: chrono::Utc::now(),
    };
    app.state
        .store
        .store_inbound(message)
        .await
        .expect("store inbound");
    id.to_string()
}

/// Slow and greedy clients on the API listener: trickled headers are cut at the header
/// timeout, a trickled body at the request timeout (408), and idle connections filling
/// every slot only delay others until they are cut.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_api_clients_are_cut_off() {
    let app = spawn_app_with(
        Engine::Sqlite,
        SpawnOptions {
            api_toml: "header_read_timeout = \"1s\"\nrequest_timeout = \"2s\"\nmax_connections = 2"
                .into(),
            ..Default::default()
        },
    )
    .await;
    let token = app.token_for("pva", &[SENDER]).await;
    let addr = app.base.trim_start_matches("http://").to_owned();

    // Headers at a byte every 300 ms: cut off at the 1 s header timeout.
    let mut slow = TcpStream::connect(&addr).await.unwrap();
    let started = Instant::now();
    let mut cut = false;
    for b in b"GET /livez HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaa\r\n".iter() {
        if slow.write_all(&[*b]).await.is_err() {
            cut = true;
            break;
        }
        let mut buf = [0u8; 512];
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(Duration::from_millis(300), slow.read(&mut buf)).await
        {
            cut = true;
            break;
        }
    }
    let took = started.elapsed();
    assert!(
        cut && took < Duration::from_secs(4),
        "cut={cut} after {took:?}"
    );

    // A body at a byte every 300 ms: 408 request_timeout after 2 s.
    let mut slow = TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /api/v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n--b\r\n"
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    for _ in 0..40 {
        let _ = slow.write_all(b"C").await;
        let mut buf = [0u8; 2048];
        match tokio::time::timeout(Duration::from_millis(300), slow.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => {
                answer.extend_from_slice(&buf[..n]);
                if answer.windows(4).any(|w| w == b"\r\n\r\n") && answer.ends_with(b"}") {
                    break;
                }
            }
            Err(_) => {}
        }
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(6));

    // Both slots held by idle connections: a request waits until they are cut (1 s).
    let idle = [
        TcpStream::connect(&addr).await.unwrap(),
        TcpStream::connect(&addr).await.unwrap(),
    ];
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let live = reqwest::Client::new()
        .get(app.url("/livez"))
        .send()
        .await
        .expect("served once the idle connections were cut");
    assert_eq!(live.status(), 200);
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "the connection limit did not hold"
    );
    drop(idle);
    assert_eq!(stored_messages(&app).await, 0);
}
