//! Interop with the independent Python AS4 implementation (PyPI `as4`, tests/interop) against
//! RUNNING gateways: (1) the peer builds a signed (and encrypted) EESSI message that the test
//! POSTs over mutual TLS to a `sedgate serve` process, and the peer accepts the signed receipt
//! sedgate answers; (2) a `sedgate serve` process sends a SED through its outbox to an HTTPS
//! endpoint served by this test, which hands the body to the peer and answers with the
//! peer's signed receipt, which sedgate must verify before marking the message delivered.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use sedgate_gateway::config::Engine;
use sedgate_gateway::transport::{serve_tls, ServeOptions, TlsReloader, TlsSettings};
use sha2::{Digest, Sha256};

use crate::exchange::post_raw;
use crate::gateways::{sed_for, GatewayOptions, TwoGateways, RECEIVER, SENDER};

#[path = "../interop/peer.rs"]
mod interop_peer;
use interop_peer::{path, peer};

fn signing_files(gws: &TwoGateways, cc: &str) -> (PathBuf, PathBuf) {
    let g = &gws.pki.gateways[&cc.parse().unwrap()];
    (g.sign_cert.clone(), g.sign_key.clone())
}

fn sha256(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

async fn peer_sends_to_running_sedgate(encrypt: bool) {
    let gws = TwoGateways::start(Engine::Sqlite).await;
    let dir = gws.dir.path().join(format!("peer-send-{encrypt}"));
    std::fs::create_dir_all(&dir).unwrap();
    let case = format!("case-py-{encrypt}");
    let (sed_file, pdf_file) = (dir.join("sed.xml"), dir.join("att.pdf"));
    std::fs::write(&sed_file, sed_for(&case)).unwrap();
    std::fs::write(&pdf_file, b"%PDF-1.4 from the python peer").unwrap();
    let (at_cert, at_key) = signing_files(&gws, "AT");
    let (no_cert, _) = signing_files(&gws, "NO");
    let message_id = format!("py-{encrypt}@as4-peer.test");
    let out = dir.join("sent");
    let sed_part = format!("{}:application/xml:SED", path(&sed_file));
    let pdf_part = format!("{}:application/pdf:Attachment", path(&pdf_file));
    let props = [
        format!("originalSender={SENDER}"),
        format!("finalRecipient={RECEIVER}"),
        "BucType=P_BUC_01".to_owned(),
        "SedType=P2000".to_owned(),
        "CdmVersion=4.2".to_owned(),
    ];
    let mut args = vec![
        "send",
        "--key",
        path(&at_key),
        "--cert",
        path(&at_cert),
        "--party",
        SENDER,
        "--peer-cert",
        path(&no_cert),
        "--to",
        RECEIVER,
        "--conversation",
        &case,
        "--message-id",
        &message_id,
        "--part",
        &sed_part,
        "--part",
        &pdf_part,
        "--out",
        path(&out),
    ];
    for p in &props {
        args.extend(["--property", p.as_str()]);
    }
    if encrypt {
        args.push("--encrypt");
    }
    let (ok, _, err) = peer(&args);
    assert!(ok, "peer send failed: {err}");

    // Over mutual TLS with AT's gateway certificate, to NO's running AS4 listener.
    let headers: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("headers.json")).unwrap()).unwrap();
    let content_type = headers["Content-Type"].as_str().unwrap();
    let (tls_cert, tls_key) = gws.gateway_files("AT");
    let (status, answer) = post_raw(
        &gws.as4_client(&tls_cert, &tls_key),
        &gws.no.as4_url(),
        content_type,
        std::fs::read(out.join("body.bin")).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(
        status,
        200,
        "{answer}\nNO log:\n{}",
        std::fs::read_to_string(&gws.no.log).unwrap_or_default()
    );
    assert!(answer.contains("NonRepudiationInformation"), "{answer}");

    // The peer checks sedgate's receipt against its own exchange.
    let receipt_file = dir.join("receipt.xml");
    std::fs::write(&receipt_file, &answer).unwrap();
    let (ok, stdout, err) = peer(&[
        "receive-signal",
        "--key",
        path(&at_key),
        "--cert",
        path(&at_cert),
        "--party",
        SENDER,
        "--exchange",
        path(&out.join("exchange.json")),
        "--signal",
        path(&receipt_file),
    ]);
    assert!(ok, "peer refused sedgate's receipt: {stdout} {err}");
    assert!(stdout.contains("\"acknowledged\""), "{stdout}");

    // Delivered to NO's back office, byte-identical.
    let inbox = gws.inbox().await;
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    assert_eq!(inbox[0]["id"], message_id.as_str());
    let sed = gws
        .download(inbox[0]["parts"][0]["href"].as_str().unwrap())
        .await;
    assert_eq!(sed, sed_for(&case).into_bytes());
    let (ok, stdout, err) = gws.no.cli(&["evidence", &message_id]);
    assert!(ok, "{stdout}{err}");
}

#[tokio::test]
async fn python_peer_sends_signed_to_running_sedgate_and_accepts_its_receipt() {
    peer_sends_to_running_sedgate(false).await;
}

#[tokio::test]
async fn python_peer_sends_signed_encrypted_to_running_sedgate_and_accepts_its_receipt() {
    peer_sends_to_running_sedgate(true).await;
}

/// What the test's AS4 endpoint needs to hand a request to the peer.
struct PeerEndpoint {
    dir: PathBuf,
    no_key: PathBuf,
    no_cert: PathBuf,
    at_cert: PathBuf,
    encrypt_required: bool,
    /// result.json of every message the peer received.
    results: parking_lot::Mutex<Vec<serde_json::Value>>,
}

async fn peer_endpoint(
    axum::extract::State(endpoint): axum::extract::State<Arc<PeerEndpoint>>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let n = endpoint.results.lock().len();
    let dir = endpoint.dir.join(format!("request-{n}"));
    std::fs::create_dir_all(&dir).unwrap();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    std::fs::write(
        dir.join("headers.json"),
        serde_json::json!({ "Content-Type": content_type }).to_string(),
    )
    .unwrap();
    std::fs::write(dir.join("body.bin"), &body).unwrap();
    let ep = endpoint.clone();
    let (ok, signal, result) = tokio::task::spawn_blocking(move || {
        let out = dir.join("received");
        let (headers_file, body_file) = (dir.join("headers.json"), dir.join("body.bin"));
        let mut args = vec![
            "receive",
            "--key",
            path(&ep.no_key),
            "--cert",
            path(&ep.no_cert),
            "--party",
            RECEIVER,
            "--peer-cert",
            path(&ep.at_cert),
            "--headers",
            path(&headers_file),
            "--body",
            path(&body_file),
            "--out",
            path(&out),
        ];
        if ep.encrypt_required {
            args.push("--encrypt-required");
        }
        let (ok, _, err) = peer(&args);
        let result: serde_json::Value = std::fs::read(out.join("result.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_else(|| serde_json::json!({ "stderr": err }));
        (
            ok,
            std::fs::read(out.join("signal.xml")).unwrap_or_default(),
            result,
        )
    })
    .await
    .unwrap();
    endpoint.results.lock().push(result);
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    (
        status,
        [(header::CONTENT_TYPE, "application/soap+xml; charset=UTF-8")],
        signal,
    )
        .into_response()
}

async fn running_sedgate_sends_to_peer(encrypt: bool) {
    // The endpoint first, so AT's IR can point at it; it presents NO's TLS certificate.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}/as4", listener.local_addr().unwrap());
    let at_extra_toml = if encrypt {
        "[security]\nencrypt = true\nencrypt_certs = [\"{pki}/no/sign-cert.pem\"]\n".to_owned()
    } else {
        String::new()
    };
    let gws = TwoGateways::start_with(
        Engine::Sqlite,
        GatewayOptions {
            no_endpoint: Some(url),
            at_extra_toml,
            ..Default::default()
        },
    )
    .await;
    let (no_cert, no_key) = signing_files(&gws, "NO");
    let (at_cert, _) = signing_files(&gws, "AT");
    let endpoint = Arc::new(PeerEndpoint {
        dir: gws.dir.path().join("peer-endpoint"),
        no_key,
        no_cert,
        at_cert,
        encrypt_required: encrypt,
        results: parking_lot::Mutex::new(Vec::new()),
    });
    let (tls_cert, tls_key) = gws.gateway_files("NO");
    let tls = Arc::new(
        TlsReloader::new(TlsSettings {
            cert_path: tls_cert,
            key_path: tls_key,
            trust_anchors_path: gws.pki.ca_cert.clone(),
            crl_paths: vec![gws.pki.crl.clone()],
            handshake_timeout: Duration::from_secs(5),
        })
        .unwrap(),
    );
    let router = axum::Router::new()
        .route("/as4", axum::routing::post(peer_endpoint))
        .with_state(endpoint.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_tls(
        listener,
        tls,
        router,
        ServeOptions::default(),
        async move {
            let _ = stopped.await;
        },
    ));

    let attachment = b"%PDF-1.4 from sedgate to the python peer".to_vec();
    let id = gws.post_sed("case-to-py", &attachment).await;
    gws.wait_state(&id, "delivered", Duration::from_secs(60))
        .await;
    let results = endpoint.results.lock().clone();
    assert_eq!(results.len(), 1, "{results:?}");
    let result = &results[0];
    assert_eq!(result["state"], "received", "{result}");
    assert_eq!(result["message_id"], id.as_str());
    // RFC 4514 order: most significant RDN last.
    assert_eq!(result["signer"], "O=sedgate,CN=sedgate AT signing");
    let parts: Vec<&String> = result["parts"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| match v {
            serde_json::Value::String(s) => s,
            other => panic!("{other}"),
        })
        .collect();
    assert!(parts.contains(&&sha256(&attachment)), "{result}");
    assert!(
        parts.contains(&&sha256(sed_for("case-to-py").as_bytes())),
        "{result}"
    );
    // AT verified the peer's receipt and keeps it as evidence.
    let (ok, stdout, err) = gws.at.cli(&["evidence", &id]);
    assert!(ok, "{stdout}{err}");
    let _ = stop.send(());
    let _ = server.await;
}

#[tokio::test]
async fn running_sedgate_sends_signed_to_python_peer_and_verifies_its_receipt() {
    running_sedgate_sends_to_peer(false).await;
}

#[tokio::test]
async fn running_sedgate_sends_signed_encrypted_to_python_peer_and_verifies_its_receipt() {
    running_sedgate_sends_to_peer(true).await;
}
