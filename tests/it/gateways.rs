//! Two real `sedgate serve` processes on loopback with mutual TLS: the harness.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sedgate_base::domain::CountryCode;
use sedgate_gateway::config::Engine;
use sedgate_gateway::transport::{DevPki, DevPkiFiles};
use serde_json::Value;

use crate::common::{fresh_database_url, install_crypto_provider, repo_path};
use crate::faultproxy::FaultProxy;

/// Bytes a client sends through the AS4 proxy before its request faults apply: above a TLS
/// handshake with an ECDSA client certificate, below a request carrying an attachment of a
/// few tens of KiB.
pub const PROXY_THRESHOLD: usize = 8 * 1024;

pub const SENDER: &str = "AT:0100";
pub const RECEIVER: &str = "NO:NAVAT07";

/// `N` distinct free ports: all bound at once, so no two are the same, then released.
pub fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: Vec<std::net::TcpListener> = (0..N)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind"))
        .collect();
    std::array::from_fn(|i| listeners[i].local_addr().expect("addr").port())
}

pub struct GatewayProcess {
    pub country: &'static str,
    pub config: PathBuf,
    pub api: String,
    pub as4_port: u16,
    pub log: PathBuf,
    /// Behind a lock so a shared harness can kill and restart while clients keep posting.
    child: parking_lot::Mutex<Option<Child>>,
}

impl GatewayProcess {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.api, path)
    }

    pub fn as4_url(&self) -> String {
        format!("https://127.0.0.1:{}/as4", self.as4_port)
    }

    /// Runs a CLI command against this gateway's config and returns stdout.
    pub fn cli(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_sedgate"))
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .current_dir(repo_path(""))
            .output()
            .expect("run sedgate");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    pub fn start(&self) {
        let mut slot = self.child.lock();
        assert!(slot.is_none(), "already running");
        // Appended: after a kill and restart the earlier runs stay readable.
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_sedgate"))
            .arg("--config")
            .arg(&self.config)
            .arg("serve")
            .current_dir(repo_path(""))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn sedgate serve");
        *slot = Some(child);
    }

    pub async fn wait_ready(&self) {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = http.get(self.url("/readyz")).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "gateway {} not ready in 30 s; log:\n{}",
                    self.country,
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL: the harshest stop.
    pub fn kill(&self) {
        if let Some(mut c) = self.child.lock().take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends SIGHUP (certificate and CRL reload).
    pub fn hangup(&self) {
        if let Some(c) = &*self.child.lock() {
            let _ = Command::new("kill")
                .arg("-HUP")
                .arg(c.id().to_string())
                .status();
        }
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

pub struct TwoGateways {
    /// Database URLs as the gateways use them (through the proxy when there is one).
    pub at_db: String,
    pub no_db: String,
    /// Between AT's outbox and NO's AS4 listener, when asked for.
    pub at_to_no: Option<FaultProxy>,
    /// Between AT and PostgreSQL, when asked for.
    pub at_to_db: Option<FaultProxy>,
    pub dir: tempfile::TempDir,
    pub pki: DevPkiFiles,
    pub at: GatewayProcess,
    pub no: GatewayProcess,
    pub at_token: String,
    pub no_token: String,
    pub http: reqwest::Client,
}

pub struct GatewayOptions {
    /// When false, NO's IR does not list AT's certificate: NO refuses AT's messages.
    pub no_trusts_at: bool,
    /// When false, AT's IR lists only NO's TLS certificate, not its signing certificate:
    /// AT refuses NO's signed receipts.
    pub at_knows_no_signer: bool,
    /// Where AT sends NO's messages (default: the NO process).
    pub no_endpoint: Option<String>,
    /// Appended to AT's configuration (e.g. a `[security]` table); `{pki}` is replaced by
    /// the directory of the development PKI.
    pub at_extra_toml: String,
    pub max_attempts: u32,
    /// AT reaches NO's AS4 listener through a [`FaultProxy`] (`TwoGateways::at_to_no`).
    pub proxy_at_to_no: bool,
    /// AT reaches PostgreSQL through a [`FaultProxy`] (`TwoGateways::at_to_db`).
    pub proxy_at_to_db: bool,
    pub send_timeout: &'static str,
    /// Extra keys of the `[api]` table of both gateways.
    pub api_toml: &'static str,
    /// Extra keys of the `[as4]` and `[tls]` tables of both gateways.
    pub as4_toml: &'static str,
    pub tls_toml: &'static str,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        Self {
            no_trusts_at: true,
            at_knows_no_signer: true,
            no_endpoint: None,
            at_extra_toml: String::new(),
            max_attempts: 20,
            proxy_at_to_no: false,
            proxy_at_to_db: false,
            send_timeout: "10s",
            // The harness polls a lot; the limit itself is tested in process.
            api_toml: "rate_limit_per_second = 0",
            as4_toml: "",
            tls_toml: "",
        }
    }
}

fn write_config(
    dir: &Path,
    country: &str,
    db_url: &str,
    api_port: u16,
    as4_port: u16,
    ap_file: &Path,
    options: &GatewayOptions,
) -> PathBuf {
    let lower = country.to_lowercase();
    let data = dir.join(&lower);
    let pki = dir.join("pki");
    let toml = format!(
        r#"
[gateway]
country = "{country}"
party_domain = "{lower}.sedgate.test"
data_dir = "{data}"
[database]
url = "{db_url}"
max_connections = 4
[api]
listen = "127.0.0.1:{api_port}"
{api_toml}
[as4]
listen = "127.0.0.1:{as4_port}"
{as4_toml}
[tls]
cert = "{pki}/{lower}/cert.pem"
key = "{pki}/{lower}/key.pem"
trust_anchors = "{pki}/ca.pem"
crls = ["{pki}/crl.pem"]
{tls_toml}
[outbox]
base_backoff = "100ms"
max_backoff = "1s"
poll_interval = "100ms"
send_timeout = "{send_timeout}"
max_attempts = {max_attempts}
[ir]
seed = ["{seed}", "{ap}"]
[log]
format = "json"
level = "info"
{extra}
"#,
        extra = if country == "AT" {
            options
                .at_extra_toml
                .replace("{pki}", &pki.display().to_string())
        } else {
            String::new()
        },
        data = data.display(),
        pki = pki.display(),
        seed = repo_path("seed/institutions/deltakere_p_buc_01_all.json").display(),
        ap = ap_file.display(),
        max_attempts = options.max_attempts,
        send_timeout = options.send_timeout,
        api_toml = options.api_toml,
        as4_toml = options.as4_toml,
        tls_toml = options.tls_toml,
    );
    let path = dir.join(format!("{lower}.toml"));
    std::fs::write(&path, toml).expect("write config");
    path
}

impl TwoGateways {
    pub async fn start(engine: Engine) -> TwoGateways {
        Self::start_with(engine, GatewayOptions::default()).await
    }

    pub async fn start_with(engine: Engine, options: GatewayOptions) -> TwoGateways {
        install_crypto_provider();
        let dir = tempfile::tempdir().expect("temp dir");
        let countries: Vec<CountryCode> = vec![
            "AT".parse().unwrap(),
            "NO".parse().unwrap(),
            "SE".parse().unwrap(),
        ];
        let pki = DevPki::generate(&dir.path().join("pki"), &countries, &[]).expect("dev PKI");
        let ports = free_ports::<4>();
        let at_to_no = if options.proxy_at_to_no {
            let upstream = std::net::SocketAddr::from(([127, 0, 0, 1], ports[3]));
            Some(FaultProxy::start(upstream, PROXY_THRESHOLD, 1).await)
        } else {
            None
        };
        // Each access point with its TLS and its signing certificate.
        let fp = |cc: &str| {
            pki.gateways[&cc.parse::<CountryCode>().unwrap()]
                .fingerprints()
                .expect("fingerprints")
        };
        let aps = |at_fp: Vec<String>, no_fp: Vec<String>, no_url: String| {
            serde_json::json!([
                {"country": "AT", "endpoint_url": format!("https://127.0.0.1:{}/as4", ports[1]), "cert_fingerprints": at_fp},
                {"country": "NO", "endpoint_url": no_url, "cert_fingerprints": no_fp},
                {"country": "SE", "endpoint_url": "https://127.0.0.1:9/as4", "cert_fingerprints": fp("SE")},
            ])
        };
        let at_ap = dir.path().join("aps-at.json");
        let no_fp_for_at = if options.at_knows_no_signer {
            fp("NO")
        } else {
            fp("NO")[..1].to_vec()
        };
        let no_url = format!("https://127.0.0.1:{}/as4", ports[3]);
        let no_url_for_at = match (&options.no_endpoint, &at_to_no) {
            (Some(url), _) => url.clone(),
            // TLS passes through the proxy untouched; only the port differs.
            (None, Some(proxy)) => format!("https://127.0.0.1:{}/as4", proxy.port),
            (None, None) => no_url.clone(),
        };
        std::fs::write(
            &at_ap,
            aps(fp("AT"), no_fp_for_at, no_url_for_at).to_string(),
        )
        .unwrap();
        let no_ap = dir.path().join("aps-no.json");
        let at_fp_for_no = if options.no_trusts_at {
            fp("AT")
        } else {
            vec!["ab".repeat(32)]
        };
        std::fs::write(&no_ap, aps(at_fp_for_no, fp("NO"), no_url).to_string()).unwrap();

        let mut at_db = fresh_database_url(engine, &dir.path().join("at-db")).await;
        let at_to_db = if options.proxy_at_to_db && engine == Engine::Postgres {
            let pg = std::net::SocketAddr::from(([127, 0, 0, 1], 5432));
            let proxy = FaultProxy::start(pg, usize::MAX, 2).await;
            at_db = at_db.replace("127.0.0.1:5432", &format!("127.0.0.1:{}", proxy.port));
            Some(proxy)
        } else {
            None
        };
        let no_db = fresh_database_url(engine, &dir.path().join("no-db")).await;
        std::fs::create_dir_all(dir.path().join("at-db")).unwrap();
        std::fs::create_dir_all(dir.path().join("no-db")).unwrap();
        let at_cfg = write_config(
            dir.path(),
            "AT",
            &at_db,
            ports[0],
            ports[1],
            &at_ap,
            &options,
        );
        let no_cfg = write_config(
            dir.path(),
            "NO",
            &no_db,
            ports[2],
            ports[3],
            &no_ap,
            &options,
        );
        let at = GatewayProcess {
            country: "AT",
            config: at_cfg,
            api: format!("http://127.0.0.1:{}", ports[0]),
            as4_port: ports[1],
            log: dir.path().join("at.log"),
            child: parking_lot::Mutex::new(None),
        };
        let no = GatewayProcess {
            country: "NO",
            config: no_cfg,
            api: format!("http://127.0.0.1:{}", ports[2]),
            as4_port: ports[3],
            log: dir.path().join("no.log"),
            child: parking_lot::Mutex::new(None),
        };
        let token = |gw: &GatewayProcess, name: &str, inst: &str| {
            let (ok, out, err) = gw.cli(&["client", "add", "--name", name, "--institution", inst]);
            assert!(ok, "client add failed: {err}");
            out.trim().to_owned()
        };
        let at_token = token(&at, "pva", SENDER);
        let no_token = token(&no, "nav", RECEIVER);
        at.start();
        no.start();
        at.wait_ready().await;
        no.wait_ready().await;
        TwoGateways {
            at_db,
            no_db,
            at_to_no,
            at_to_db,
            dir,
            pki,
            at,
            no,
            at_token,
            no_token,
            http: reqwest::Client::new(),
        }
    }

    /// Everything NO's payload store holds: payload rows and (PostgreSQL) uploads from its
    /// database, and (SQLite) the files of its blob directory, staged ones included.
    pub async fn no_payload_store(&self) -> Vec<String> {
        use sqlx::Row;
        sqlx::any::install_default_drivers();
        let db = sqlx::AnyPool::connect(&self.no_db)
            .await
            .expect("NO database");
        let mut held: Vec<String> = sqlx::query("SELECT hash FROM payloads")
            .fetch_all(&db)
            .await
            .expect("payloads")
            .iter()
            .map(|r| format!("payload {}", r.get::<String, _>(0)))
            .collect();
        if self.no_db.starts_with("postgres") {
            let uploads = sqlx::query("SELECT id FROM uploads")
                .fetch_all(&db)
                .await
                .expect("uploads");
            held.extend(
                uploads
                    .iter()
                    .map(|r| format!("upload {}", r.get::<String, _>(0))),
            );
        }
        db.close().await;
        held.extend(files_under(&self.dir.path().join("no").join("blobs")));
        held.sort();
        held
    }

    /// Posts a P2000 from AT:0100 to NO:NAVAT07 with the given attachment; returns the
    /// message id.
    pub async fn post_sed(&self, case_id: &str, attachment: &[u8]) -> String {
        let (status, body) = self
            .try_post_sed(case_id, attachment, None)
            .await
            .expect("post");
        assert_eq!(status, 202, "{body}");
        body["messages"][0]["id"].as_str().expect("id").to_owned()
    }

    /// Posts a P2000 and returns status and body; a transport error is returned as is.
    pub async fn try_post_sed(
        &self,
        case_id: &str,
        attachment: &[u8],
        idempotency_key: Option<&str>,
    ) -> Result<(u16, Value), reqwest::Error> {
        let sed = sed_for(case_id);
        let metadata = serde_json::json!({
            "case_id": case_id, "buc": "P_BUC_01", "sed_type": "P2000", "cdm_version": "4.2",
            "sender": SENDER, "receivers": [RECEIVER],
        });
        let form = reqwest::multipart::Form::new()
            .part(
                "metadata",
                reqwest::multipart::Part::text(metadata.to_string())
                    .mime_str("application/json")
                    .unwrap(),
            )
            .part(
                "sed",
                reqwest::multipart::Part::bytes(sed.into_bytes())
                    .file_name("P2000.xml")
                    .mime_str("application/xml")
                    .unwrap(),
            )
            .part(
                "attachment",
                reqwest::multipart::Part::bytes(attachment.to_vec())
                    .file_name("report.pdf")
                    .mime_str("application/pdf")
                    .unwrap(),
            );
        let mut request = self
            .http
            .post(self.at.url("/api/v1/messages"))
            .bearer_auth(&self.at_token)
            .timeout(Duration::from_secs(30))
            .multipart(form);
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        let res = request.send().await?;
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        Ok((status, body))
    }

    /// Every inbox item of NO, acknowledged or not, following the cursor.
    pub async fn inbox_all(&self) -> Vec<Value> {
        let mut all = Vec::new();
        let mut after = 0i64;
        loop {
            let page: Value = self
                .http
                .get(self.no.url(&format!(
                    "/api/v1/inbox?include_acked=true&limit=500&after={after}"
                )))
                .bearer_auth(&self.no_token)
                .send()
                .await
                .expect("inbox")
                .json()
                .await
                .expect("json");
            let items = page["items"].as_array().cloned().unwrap_or_default();
            if items.is_empty() {
                return all;
            }
            after = page["next_cursor"].as_i64().expect("cursor");
            all.extend(items);
        }
    }

    pub async fn message(&self, id: &str) -> Value {
        self.http
            .get(self.at.url(&format!("/api/v1/messages/{id}")))
            .bearer_auth(&self.at_token)
            .send()
            .await
            .expect("get message")
            .json()
            .await
            .expect("json")
    }

    /// Waits until the message reaches `state` at AT, or panics with its history.
    pub async fn wait_state(&self, id: &str, state: &str, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let m = self.message(id).await;
            if m["state"] == state {
                return m;
            }
            if Instant::now() > deadline {
                panic!(
                    "message {id} not {state} within {within:?}: {m}\nAT log:\n{}\nNO log:\n{}",
                    std::fs::read_to_string(&self.at.log).unwrap_or_default(),
                    std::fs::read_to_string(&self.no.log).unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn inbox(&self) -> Vec<Value> {
        let v: Value = self
            .http
            .get(self.no.url("/api/v1/inbox?include_acked=true&limit=500"))
            .bearer_auth(&self.no_token)
            .send()
            .await
            .expect("inbox")
            .json()
            .await
            .expect("json");
        v["items"].as_array().cloned().unwrap_or_default()
    }

    pub async fn download(&self, href: &str) -> Vec<u8> {
        self.http
            .get(self.no.url(href))
            .bearer_auth(&self.no_token)
            .send()
            .await
            .expect("download")
            .bytes()
            .await
            .expect("bytes")
            .to_vec()
    }

    /// A TLS client presenting `cert`/`key` (PEM files) that trusts the dev CA.
    pub fn as4_client(&self, cert: &Path, key: &Path) -> reqwest::Client {
        let settings = sedgate_gateway::transport::TlsSettings {
            cert_path: cert.to_owned(),
            key_path: key.to_owned(),
            trust_anchors_path: self.pki.ca_cert.clone(),
            crl_paths: vec![],
            handshake_timeout: Duration::from_secs(5),
        };
        let config =
            sedgate_gateway::transport::tls::client_config(&settings).expect("client tls config");
        sedgate_gateway::transport::client::build_client(
            &config,
            sedgate_gateway::transport::OutboundTimeouts {
                connect: Duration::from_secs(5),
                request: Duration::from_secs(10),
            },
        )
        .expect("client")
    }

    /// The WS-Security signing key (with its certificate) of `cc`'s gateway.
    pub fn signing_key(&self, cc: &str) -> sedgate_wssec::PrivateKey {
        let g = &self.pki.gateways[&cc.parse::<CountryCode>().unwrap()];
        let cert = std::fs::read(&g.sign_cert).expect("signing cert");
        let der = rustls_pemfile::certs(&mut cert.as_slice())
            .next()
            .expect("a cert")
            .expect("pem");
        sedgate_wssec::PrivateKey::from_pkcs8_pem(
            &std::fs::read_to_string(&g.sign_key).expect("signing key"),
            &der,
        )
        .expect("signing key")
    }

    pub fn gateway_files(&self, cc: &str) -> (PathBuf, PathBuf) {
        let g = &self.pki.gateways[&cc.parse::<CountryCode>().unwrap()];
        (g.cert.clone(), g.key.clone())
    }
}

/// The demo P2000 with the given case id.
/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path.display().to_string());
        }
    }
    out
}

pub fn sed_for(case_id: &str) -> String {
    std::fs::read_to_string(repo_path("seed/demo/P2000-AT-NO.xml"))
        .expect("demo SED")
        .replace("{{CASE_ID}}", case_id)
}
