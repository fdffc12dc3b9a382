//! Real mutual TLS on 127.0.0.1: an AT gateway listener, NO (and worse) clients, a PKI made
//! with rcgen at test time.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::{Extension, Router};
use chrono::Utc;
use rustls::ClientConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::client::{build_client, OutboundClient, OutboundTimeouts};
use super::identity::{self, PeerIdentity};
use super::listener::{serve_tls, HandshakeRefusal, ListenerStats, ServeOptions};
use super::pki::{self, DevCa, DevPki, DevPkiFiles, IssuedCert, LeafSpec};
use super::tls::{self, TlsReloader, TlsSettings};
use sedgate_base::domain::CountryCode;

fn cc(code: &str) -> CountryCode {
    code.parse().unwrap()
}

struct Gateway {
    _dir: tempfile::TempDir,
    files: DevPkiFiles,
    ca: DevCa,
    tls: Arc<TlsReloader>,
    stats: Arc<ListenerStats>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
}

struct Limits {
    handshake_timeout: Duration,
    header_read_timeout: Duration,
    max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            handshake_timeout: Duration::from_secs(5),
            header_read_timeout: Duration::from_secs(5),
            max_connections: 16,
        }
    }
}

/// The AT gateway's listener; its handler answers with the fingerprint and subject it was given.
async fn start_at_gateway(limits: Limits) -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    let files = DevPki::generate(dir.path(), &[cc("AT"), cc("NO")], &[]).unwrap();
    let ca = files.load_ca().unwrap();
    let settings = files
        .tls_settings(&cc("AT"), limits.handshake_timeout)
        .unwrap();
    let tls = Arc::new(TlsReloader::new(settings).unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route(
        "/whoami",
        get(|Extension(peer): Extension<PeerIdentity>| async move {
            format!("{} {}", peer.fingerprint, peer.subject)
        }),
    );
    let stats = Arc::new(ListenerStats::default());
    let options = ServeOptions {
        max_connections: limits.max_connections,
        header_read_timeout: limits.header_read_timeout,
        stats: stats.clone(),
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(serve_tls(listener, tls.clone(), app, options, async {
        let _ = stopped.await;
    }));
    Gateway {
        _dir: dir,
        files,
        ca,
        tls,
        stats,
        addr,
        stop: Some(stop),
        server,
    }
}

impl Gateway {
    fn url(&self) -> String {
        format!("https://localhost:{}/whoami", self.addr.port())
    }

    /// Client settings using `cert`/`key`, trusting our dev CA for the server.
    fn client_settings(&self, cert: &Path, key: &Path) -> TlsSettings {
        TlsSettings {
            cert_path: cert.to_path_buf(),
            key_path: key.to_path_buf(),
            trust_anchors_path: self.files.ca_cert.clone(),
            crl_paths: vec![self.files.crl.clone()],
            handshake_timeout: Duration::from_secs(5),
        }
    }

    fn no_settings(&self) -> TlsSettings {
        let no = &self.files.gateways[&cc("NO")];
        self.client_settings(&no.cert, &no.key)
    }

    /// Writes an issued certificate and key next to the PKI and returns client settings for it.
    fn settings_for(&self, name: &str, issued: &IssuedCert) -> TlsSettings {
        let cert = self.files.dir.join(format!("{name}-cert.pem"));
        let key = self.files.dir.join(format!("{name}-key.pem"));
        pki::write_file(&cert, &issued.cert_pem, 0o644).unwrap();
        pki::write_file(&key, &issued.key_pem, 0o600).unwrap();
        self.client_settings(&cert, &key)
    }

    fn revoke(&self, serials: &[pki::SerialNumber], crl_number: u64) {
        let crl = self.ca.crl_pem(serials, crl_number).unwrap();
        pki::write_file(&self.files.crl, &crl, 0o644).unwrap();
    }

    async fn get(&self, settings: TlsSettings) -> Result<String, reqwest::Error> {
        let config = tls::client_config(&settings).unwrap();
        self.get_with(&config).await
    }

    async fn get_with(&self, config: &ClientConfig) -> Result<String, reqwest::Error> {
        let client = build_client(config, OutboundTimeouts::default()).unwrap();
        client
            .get(self.url())
            .send()
            .await?
            .error_for_status()?
            .text()
            .await
    }

    /// The server counts a refusal after sending its alert, so the client may see it first.
    async fn wait_for_refusal(&self, reason: HandshakeRefusal) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.stats.refused(reason) == 0 {
            assert!(
                Instant::now() < deadline,
                "no {} refusal counted; counters: {:?}",
                reason.as_str(),
                HandshakeRefusal::ALL.map(|r| (r.as_str(), self.stats.refused(r)))
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn refusals_total(&self) -> u64 {
        HandshakeRefusal::ALL
            .iter()
            .map(|r| self.stats.refused(*r))
            .sum()
    }
}

fn gateway_leaf(country: &str) -> LeafSpec {
    LeafSpec::gateway(&cc(country), &[])
}

#[tokio::test]
async fn accepts_good_client_certificate_and_handler_sees_its_identity() {
    let gw = start_at_gateway(Limits::default()).await;
    let no_cert = std::fs::read(&gw.files.gateways[&cc("NO")].cert).unwrap();
    let no_der = rustls_pki_types::pem::PemObject::from_pem_slice(&no_cert)
        .map(|der: rustls_pki_types::CertificateDer<'static>| der.to_vec())
        .unwrap();

    let answer = gw.get(gw.no_settings()).await.unwrap();

    let expected = identity::from_der(&no_der).unwrap();
    assert_eq!(
        answer,
        format!("{} CN=sedgate NO gateway, O=sedgate", expected.fingerprint)
    );
    assert_eq!(gw.stats.established(), 1);
    assert_eq!(gw.refusals_total(), 0);
}

#[tokio::test]
async fn outbound_client_reaches_peer_and_follows_reload() {
    let gw = start_at_gateway(Limits::default()).await;
    let no_tls = Arc::new(TlsReloader::new(gw.no_settings()).unwrap());
    let outbound = OutboundClient::new(no_tls.clone(), OutboundTimeouts::default()).unwrap();
    let first = outbound.client().unwrap();
    first
        .get(gw.url())
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();

    // NO gets a new certificate on disk; after reload the outbound client presents it.
    let renewed = gw.ca.issue(&gateway_leaf("NO")).unwrap();
    let no = &gw.files.gateways[&cc("NO")];
    pki::write_file(&no.cert, &renewed.cert_pem, 0o644).unwrap();
    pki::write_file(&no.key, &renewed.key_pem, 0o600).unwrap();
    no_tls.reload().unwrap();
    let answer = outbound
        .client()
        .unwrap()
        .get(gw.url())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        answer.starts_with(&identity::fingerprint(&renewed.der)),
        "{answer}"
    );
}

#[tokio::test]
async fn refuses_client_without_certificate() {
    let gw = start_at_gateway(Limits::default()).await;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(gw.ca.cert_der().to_vec().into()).unwrap();
    let mut config = ClientConfig::builder_with_provider(tls::crypto_provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];

    assert!(gw.get_with(&config).await.is_err());
    gw.wait_for_refusal(HandshakeRefusal::NoClientCertificate)
        .await;
    assert_eq!(gw.stats.established(), 0);
}

#[tokio::test]
async fn refuses_certificate_from_unknown_ca() {
    let gw = start_at_gateway(Limits::default()).await;
    let foreign_ca = DevCa::generate("some other CA").unwrap();
    let foreign = foreign_ca.issue(&gateway_leaf("NO")).unwrap();

    assert!(gw.get(gw.settings_for("foreign", &foreign)).await.is_err());
    gw.wait_for_refusal(HandshakeRefusal::UnknownIssuer).await;
    assert_eq!(gw.stats.established(), 0);
}

#[tokio::test]
async fn refuses_certificate_from_ca_impersonating_ours_by_name() {
    let gw = start_at_gateway(Limits::default()).await;
    let rogue_ca = DevCa::generate(pki::DEV_CA_NAME).unwrap();
    let rogue = rogue_ca.issue(&gateway_leaf("NO")).unwrap();

    assert!(gw.get(gw.settings_for("rogue", &rogue)).await.is_err());
    // Same issuer name, so webpki finds our CA and then the signature does not verify.
    gw.wait_for_refusal(HandshakeRefusal::BadCertificate).await;
    assert_eq!(gw.stats.established(), 0);
}

#[tokio::test]
async fn refuses_revoked_certificate() {
    let gw = start_at_gateway(Limits::default()).await;
    let revoked = gw.ca.issue(&gateway_leaf("NO")).unwrap();
    gw.revoke(std::slice::from_ref(&revoked.serial), 2);
    gw.tls.reload().unwrap();

    assert!(gw.get(gw.settings_for("revoked", &revoked)).await.is_err());
    gw.wait_for_refusal(HandshakeRefusal::Revoked).await;
    // The CRL names one serial only: the NO gateway certificate still gets in.
    gw.get(gw.no_settings()).await.unwrap();
    assert_eq!(gw.stats.established(), 1);
}

#[tokio::test]
async fn refuses_expired_certificate() {
    let gw = start_at_gateway(Limits::default()).await;
    let now = Utc::now();
    let spec = gateway_leaf("NO").valid_between(
        now - chrono::Duration::days(400),
        now - chrono::Duration::days(1),
    );
    let expired = gw.ca.issue(&spec).unwrap();

    assert!(gw.get(gw.settings_for("expired", &expired)).await.is_err());
    gw.wait_for_refusal(HandshakeRefusal::Expired).await;
    assert_eq!(gw.stats.established(), 0);
}

#[tokio::test]
async fn reload_with_new_crl_refuses_client_without_restart() {
    let gw = start_at_gateway(Limits::default()).await;
    let no_serial =
        pki::serial_of_pem(&std::fs::read_to_string(&gw.files.gateways[&cc("NO")].cert).unwrap())
            .unwrap();
    gw.get(gw.no_settings()).await.unwrap();

    gw.revoke(&[no_serial], 2);
    // Written but not reloaded: the listener still uses the CRL it read at start.
    gw.get(gw.no_settings()).await.unwrap();
    gw.tls.reload().unwrap();
    assert_eq!(gw.tls.generation(), 1);

    assert!(gw.get(gw.no_settings()).await.is_err());
    gw.wait_for_refusal(HandshakeRefusal::Revoked).await;
    assert_eq!(gw.stats.established(), 2);
    assert!(!gw.server.is_finished());
}

#[tokio::test]
async fn failed_reload_keeps_previous_configuration() {
    let gw = start_at_gateway(Limits::default()).await;
    let before = gw.tls.server_config();
    std::fs::write(&gw.files.crl, "not a CRL").unwrap();

    let error = gw.tls.reload().unwrap_err();

    assert!(
        matches!(error, tls::TlsError::NoCrl { ref path } if *path == gw.files.crl),
        "{error}"
    );
    assert!(Arc::ptr_eq(&before, &gw.tls.server_config()));
    assert_eq!(gw.tls.generation(), 0);
    // The client shares the broken file, so it goes without CRL; the server still accepts.
    let client = TlsSettings {
        crl_paths: Vec::new(),
        ..gw.no_settings()
    };
    gw.get(client).await.unwrap();
}

/// A TLS record holding a ClientHello that offers `version` and `suites` and nothing else
/// rustls would need to look further than versions and suites.
fn client_hello(version: [u8; 2], suites: &[u16]) -> Vec<u8> {
    let mut extensions = Vec::new();
    // supported_groups: x25519, secp256r1
    extensions.extend_from_slice(&[0x00, 0x0a, 0x00, 0x06, 0x00, 0x04, 0x00, 0x1d, 0x00, 0x17]);
    // ec_point_formats: uncompressed
    extensions.extend_from_slice(&[0x00, 0x0b, 0x00, 0x02, 0x01, 0x00]);
    // signature_algorithms: ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256
    extensions.extend_from_slice(&[0x00, 0x0d, 0x00, 0x06, 0x00, 0x04, 0x04, 0x03, 0x08, 0x04]);
    let mut body = Vec::new();
    body.extend_from_slice(&version);
    body.extend_from_slice(&[0x42; 32]);
    body.push(0); // no session id
    body.extend_from_slice(&u16::try_from(suites.len() * 2).unwrap().to_be_bytes());
    for suite in suites {
        body.extend_from_slice(&suite.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]); // null compression only
    body.extend_from_slice(&u16::try_from(extensions.len()).unwrap().to_be_bytes());
    body.extend_from_slice(&extensions);
    let mut handshake = vec![1]; // ClientHello
    handshake.extend_from_slice(&u32::try_from(body.len()).unwrap().to_be_bytes()[1..]);
    handshake.extend_from_slice(&body);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend_from_slice(&u16::try_from(handshake.len()).unwrap().to_be_bytes());
    record.extend_from_slice(&handshake);
    record
}

/// Sends `hello` and returns the server's first record (an alert is expected).
async fn first_record_after(addr: SocketAddr, hello: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(hello).await.unwrap();
    let mut reply = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut reply))
        .await
        .unwrap()
        .unwrap();
    reply
}

const ALERT: u8 = 0x15;
const FATAL: u8 = 2;
const HANDSHAKE_FAILURE: u8 = 40;
const PROTOCOL_VERSION: u8 = 70;
const TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: u16 = 0xc013;
const TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256: u16 = 0xc023;
const TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: u16 = 0xc02b;

#[tokio::test]
async fn refuses_tls12_offering_only_cbc_suites() {
    let gw = start_at_gateway(Limits::default()).await;
    let hello = client_hello(
        [0x03, 0x03],
        &[
            TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
            TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
        ],
    );

    let reply = first_record_after(gw.addr, &hello).await;

    assert_eq!(reply[..1], [ALERT], "{reply:02x?}");
    assert_eq!(reply[5..7], [FATAL, HANDSHAKE_FAILURE], "{reply:02x?}");
    gw.wait_for_refusal(HandshakeRefusal::Incompatible).await;
}

#[tokio::test]
async fn refuses_tls11_even_with_a_good_suite() {
    let gw = start_at_gateway(Limits::default()).await;
    let hello = client_hello([0x03, 0x02], &[TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]);

    let reply = first_record_after(gw.addr, &hello).await;

    assert_eq!(reply[..1], [ALERT], "{reply:02x?}");
    assert_eq!(reply[5..7], [FATAL, PROTOCOL_VERSION], "{reply:02x?}");
    gw.wait_for_refusal(HandshakeRefusal::Incompatible).await;
}

#[tokio::test]
async fn accepts_our_own_tls12_hello_so_the_raw_hello_tests_mean_something() {
    // The same hand-made hello with a GCM suite gets a ServerHello, not an alert: the refusals
    // above are about version and suite, not a malformed hello.
    let gw = start_at_gateway(Limits::default()).await;
    let hello = client_hello([0x03, 0x03], &[TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]);
    let mut stream = TcpStream::connect(gw.addr).await.unwrap();
    stream.write_all(&hello).await.unwrap();
    let mut header = [0u8; 6];
    tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut header))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(header[0], 0x16, "handshake record expected: {header:02x?}");
    assert_eq!(header[5], 2, "ServerHello expected: {header:02x?}");
}

#[test]
fn server_offers_only_aead_suites_and_http11() {
    let dir = tempfile::tempdir().unwrap();
    let files = DevPki::generate(dir.path(), &[cc("AT")], &[]).unwrap();
    let config = tls::server_config(
        &files
            .tls_settings(&cc("AT"), Duration::from_secs(5))
            .unwrap(),
    )
    .unwrap();
    let names: Vec<String> = config
        .crypto_provider()
        .cipher_suites
        .iter()
        .map(|s| format!("{:?}", s.suite()))
        .collect();
    assert_eq!(names.len(), 9, "{names:?}");
    for name in &names {
        assert!(
            name.ends_with("_GCM_SHA256")
                || name.ends_with("_GCM_SHA384")
                || name.ends_with("_CHACHA20_POLY1305_SHA256"),
            "{name}"
        );
        assert!(!name.contains("CBC"), "{name}");
    }
    assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
}

#[tokio::test]
async fn handshake_timeout_closes_silent_connection() {
    let gw = start_at_gateway(Limits {
        handshake_timeout: Duration::from_millis(300),
        ..Limits::default()
    })
    .await;
    let started = Instant::now();
    let mut stream = TcpStream::connect(gw.addr).await.unwrap();
    let mut buf = [0u8; 16];

    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
        .await
        .expect("server kept the silent connection open");

    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    assert!(started.elapsed() >= Duration::from_millis(250));
    gw.wait_for_refusal(HandshakeRefusal::Timeout).await;
}

#[tokio::test]
async fn header_read_timeout_closes_connection_silent_after_handshake() {
    let gw = start_at_gateway(Limits {
        header_read_timeout: Duration::from_millis(300),
        ..Limits::default()
    })
    .await;
    let config = Arc::new(tls::client_config(&gw.no_settings()).unwrap());
    let stream = TcpStream::connect(gw.addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls_stream = tokio_rustls::TlsConnector::from(config)
        .connect(name, stream)
        .await
        .unwrap();
    let started = Instant::now();
    let mut buf = Vec::new();

    let read = tokio::time::timeout(Duration::from_secs(5), tls_stream.read_to_end(&mut buf))
        .await
        .expect("server kept an idle TLS connection open");

    // hyper may answer 408 before closing, or just close (possibly without close_notify).
    drop(read);
    let text = String::from_utf8_lossy(&buf);
    assert!(buf.is_empty() || text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert_eq!(gw.stats.established(), 1);
}

#[tokio::test]
async fn connection_limit_makes_later_clients_wait_for_a_free_slot() {
    let gw = start_at_gateway(Limits {
        handshake_timeout: Duration::from_millis(500),
        max_connections: 1,
        ..Limits::default()
    })
    .await;
    let _silent = TcpStream::connect(gw.addr).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while gw.stats.active_connections() != 1 {
        assert!(
            Instant::now() < deadline,
            "silent connection never took a slot"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    gw.get(gw.no_settings()).await.unwrap();

    // The only slot was held by the silent client until its handshake deadline.
    assert_eq!(gw.stats.refused(HandshakeRefusal::Timeout), 1);
    assert_eq!(gw.stats.established(), 1);
}

#[tokio::test]
async fn shutdown_stops_accepting_and_returns() {
    let mut gw = start_at_gateway(Limits::default()).await;
    gw.get(gw.no_settings()).await.unwrap();

    gw.stop.take().unwrap().send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), &mut gw.server)
        .await
        .expect("serve_tls did not return after shutdown")
        .unwrap();

    assert!(TcpStream::connect(gw.addr).await.is_err());
}

#[test]
fn refuses_key_file_readable_by_others() {
    let dir = tempfile::tempdir().unwrap();
    let files = DevPki::generate(dir.path(), &[cc("AT")], &[]).unwrap();
    let settings = files
        .tls_settings(&cc("AT"), Duration::from_secs(5))
        .unwrap();
    let open_key: PathBuf = dir.path().join("open-key.pem");
    std::fs::copy(&settings.key_path, &open_key).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&open_key, std::fs::Permissions::from_mode(0o644)).unwrap();
    }

    let error = tls::server_config(&TlsSettings {
        key_path: open_key.clone(),
        ..settings
    })
    .unwrap_err();

    assert!(
        matches!(error, tls::TlsError::KeyFileTooOpen { ref path, mode: 0o644 } if *path == open_key),
        "{error}"
    );
}
