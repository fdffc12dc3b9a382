//! Baselines measured in the same run, so that sedgate's figures read as fractions of
//! what the machine can do at all:
//! - an axum server behind the same mutual-TLS listener (`transport::serve_tls`) that
//!   echoes the posted bytes, in its own process, driven like the gateways;
//! - RSA-2048 PKCS#1 SHA-256 signatures and verifications with ring (what `wssec` uses);
//! - durable INSERT + COMMIT through sqlx on the same engine, from as many connections
//!   as a gateway writes with.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::post;
use bytes::Bytes;
use serde::Serialize;

use super::gateway::{drop_database, free_port, fresh_database, RunFiles};
use super::procfs;
use crate::BenchError;
use sedgate_gateway::config::Engine;
use sedgate_gateway::transport::{
    serve_tls, OutboundTimeouts, ServeOptions, TlsReloader, TlsSettings,
};

#[derive(clap::Args, Debug)]
pub struct EchoServerArgs {
    /// Port on 127.0.0.1.
    #[arg(long)]
    pub port: u16,
    /// Server certificate and key (PEM), and the CA clients must chain to.
    #[arg(long)]
    pub cert: PathBuf,
    #[arg(long)]
    pub key: PathBuf,
    #[arg(long)]
    pub ca: PathBuf,
}

fn settings(cert: &Path, key: &Path, ca: &Path) -> TlsSettings {
    TlsSettings {
        cert_path: cert.to_owned(),
        key_path: key.to_owned(),
        trust_anchors_path: ca.to_owned(),
        crl_paths: Vec::new(),
        handshake_timeout: Duration::from_secs(10),
    }
}

/// `sedgate bench echo-server`: serves `POST /echo` (answers with the request body)
/// over mutual TLS until killed.
pub async fn echo_server(args: &EchoServerArgs) -> Result<(), BenchError> {
    let tls = Arc::new(
        TlsReloader::new(settings(&args.cert, &args.key, &args.ca))
            .map_err(|e| BenchError::Setup(format!("TLS: {e}")))?,
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .map_err(|e| BenchError::Setup(format!("cannot listen on {}: {e}", args.port)))?;
    let app = axum::Router::new().route("/echo", post(|body: Bytes| async move { body }));
    serve_tls(
        listener,
        tls,
        app,
        ServeOptions::default(),
        std::future::pending(),
    )
    .await;
    Ok(())
}

#[derive(Debug, Clone, Serialize)]
pub struct EchoResult {
    pub clients: usize,
    pub seconds: f64,
    pub requests: u64,
    pub requests_per_second: f64,
    pub request_bytes: usize,
    pub server_cpu_seconds_per_request: Option<f64>,
}

struct EchoProcess(Child);

impl Drop for EchoProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The echo baseline: `clients` mTLS clients post `body` back to back for `seconds`.
pub async fn echo(
    files: &RunFiles,
    body: Bytes,
    clients: usize,
    seconds: f64,
) -> Result<EchoResult, BenchError> {
    let (at, no) = gateway_files(files)?;
    let port = free_port()?;
    let exe = std::env::current_exe()
        .map_err(|e| BenchError::Setup(format!("cannot find the sedgate binary: {e}")))?;
    let server = EchoProcess(
        Command::new(exe)
            .args(["bench", "echo-server", "--port", &port.to_string()])
            .arg("--cert")
            .arg(&no.cert)
            .arg("--key")
            .arg(&no.key)
            .arg("--ca")
            .arg(&files.pki.ca_cert)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| BenchError::Setup(format!("cannot start the echo server: {e}")))?,
    );
    let client_tls = sedgate_gateway::transport::tls::client_config(&settings(
        &at.cert,
        &at.key,
        &files.pki.ca_cert,
    ))
    .map_err(|e| BenchError::Setup(format!("TLS: {e}")))?;
    let http = sedgate_gateway::transport::client::build_client(
        &client_tls,
        OutboundTimeouts {
            connect: Duration::from_secs(5),
            request: Duration::from_secs(30),
        },
    )
    .map_err(|e| BenchError::Setup(format!("{e}")))?;
    let url: Arc<str> = Arc::from(format!("https://127.0.0.1:{port}/echo"));
    // Up when a request goes through.
    let ready_by = Instant::now() + Duration::from_secs(30);
    loop {
        match http.post(url.as_ref()).body(body.clone()).send().await {
            Ok(r) if r.status() == 200 => break,
            _ if Instant::now() > ready_by => {
                return Err(BenchError::Setup("the echo server did not come up".into()))
            }
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    let pid = server.0.id();
    let cpu_before = procfs::cpu_seconds(pid);
    let began = Instant::now();
    let deadline = began + Duration::from_secs_f64(seconds);
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let http = http.clone();
            let url = url.clone();
            let body = body.clone();
            tokio::spawn(async move {
                let mut done = 0u64;
                while Instant::now() < deadline {
                    let ok = match http.post(url.as_ref()).body(body.clone()).send().await {
                        Ok(r) => r.bytes().await.is_ok_and(|b| b.len() == body.len()),
                        Err(_) => false,
                    };
                    if ok {
                        done += 1;
                    }
                }
                done
            })
        })
        .collect();
    let mut requests = 0;
    for t in tasks {
        requests += t.await.unwrap_or(0);
    }
    let elapsed = began.elapsed().as_secs_f64();
    let cpu = match (cpu_before, procfs::cpu_seconds(pid)) {
        (Some(a), Some(b)) if requests > 0 => Some((b - a) / requests as f64),
        _ => None,
    };
    drop(server);
    Ok(EchoResult {
        clients,
        seconds: elapsed,
        requests,
        requests_per_second: requests as f64 / elapsed,
        request_bytes: body.len(),
        server_cpu_seconds_per_request: cpu,
    })
}

fn gateway_files(
    files: &RunFiles,
) -> Result<
    (
        &sedgate_gateway::transport::pki::GatewayFiles,
        &sedgate_gateway::transport::pki::GatewayFiles,
    ),
    BenchError,
> {
    let get = |cc: &str| {
        cc.parse::<sedgate_base::domain::CountryCode>()
            .ok()
            .and_then(|cc| files.pki.gateways.get(&cc))
            .ok_or_else(|| BenchError::Setup(format!("no certificate for {cc}")))
    };
    Ok((get("AT")?, get("NO")?))
}

#[derive(Debug, Clone, Serialize)]
pub struct RsaResult {
    pub key_bits: u32,
    pub threads: usize,
    pub signs_per_second: f64,
    pub verifies_per_second: f64,
    /// Messages per second if each costs 2 signatures and 2 verifications and nothing else.
    pub bound_messages_per_second: f64,
}

/// RSA-2048 PKCS#1 v1.5 SHA-256 with ring on every core, `seconds` for each operation.
pub fn rsa(seconds: f64) -> Result<RsaResult, BenchError> {
    use ring::signature::{RsaKeyPair, UnparsedPublicKey};
    use rsa::pkcs8::EncodePrivateKey;

    // ring cannot generate RSA keys; the `rsa` crate (already used by wssec) can.
    let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048)
        .map_err(|e| BenchError::Setup(format!("RSA key generation: {e}")))?;
    let der = key
        .to_pkcs8_der()
        .map_err(|e| BenchError::Setup(format!("RSA key encoding: {e}")))?;
    let pair = Arc::new(
        RsaKeyPair::from_pkcs8(der.as_bytes())
            .map_err(|e| BenchError::Setup(format!("ring refused the RSA key: {e}")))?,
    );
    // About the size of a WS-Security SignedInfo.
    let message: Arc<[u8]> = Arc::from(vec![b'x'; 1200]);
    let rng = ring::rand::SystemRandom::new();
    let mut signature = vec![0u8; pair.public().modulus_len()];
    pair.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &rng,
        &message,
        &mut signature,
    )
    .map_err(|_| BenchError::Setup("RSA signing failed".into()))?;
    let signature: Arc<[u8]> = Arc::from(signature);
    let public: Arc<[u8]> = Arc::from(pair.public().as_ref());
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);

    let rate = |op: Arc<dyn Fn() -> bool + Send + Sync>| -> f64 {
        let began = Instant::now();
        let deadline = began + Duration::from_secs_f64(seconds);
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let op = op.clone();
                std::thread::spawn(move || {
                    let mut n = 0u64;
                    while Instant::now() < deadline {
                        if op() {
                            n += 1;
                        }
                    }
                    n
                })
            })
            .collect();
        let total: u64 = handles.into_iter().map(|h| h.join().unwrap_or(0)).sum();
        total as f64 / began.elapsed().as_secs_f64()
    };
    let signs = {
        let pair = pair.clone();
        let message = message.clone();
        rate(Arc::new(move || {
            let rng = ring::rand::SystemRandom::new();
            let mut sig = vec![0u8; pair.public().modulus_len()];
            pair.sign(&ring::signature::RSA_PKCS1_SHA256, &rng, &message, &mut sig)
                .is_ok()
        }))
    };
    let verifies = rate(Arc::new(move || {
        UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, &public)
            .verify(&message, &signature)
            .is_ok()
    }));
    Ok(RsaResult {
        key_bits: 2048,
        threads,
        signs_per_second: signs,
        verifies_per_second: verifies,
        bound_messages_per_second: 1.0 / (2.0 / signs + 2.0 / verifies),
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct InsertResult {
    pub connections: u32,
    pub seconds: f64,
    pub commits: u64,
    pub commits_per_second: f64,
}

/// Durable INSERT + COMMIT of a small row in a loop, `connections` at once, on a fresh
/// database of `engine` with the gateways' durability settings (SQLite: WAL with
/// synchronous=FULL; PostgreSQL: the server's, synchronous_commit as configured).
pub async fn inserts(
    engine: Engine,
    dir: &Path,
    connections: u32,
    seconds: f64,
) -> Result<InsertResult, BenchError> {
    use sqlx::Executor;
    sqlx::any::install_default_drivers();
    std::fs::create_dir_all(dir).map_err(crate::io_error(dir))?;
    let url = fresh_database(engine, dir).await?;
    let connect_url = match engine {
        Engine::Sqlite => format!("{url}?mode=rwc"),
        Engine::Postgres => url.clone(),
    };
    let db_error = |e: sqlx::Error| BenchError::Setup(format!("insert baseline: {e}"));
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(connections)
        .min_connections(connections)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if engine == Engine::Sqlite {
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 10000;",
                    )
                    .await?;
                }
                Ok(())
            })
        })
        .connect(&connect_url)
        .await
        .map_err(db_error)?;
    pool.execute(
        "CREATE TABLE bench_rows (id TEXT PRIMARY KEY, body TEXT NOT NULL, at BIGINT NOT NULL)",
    )
    .await
    .map_err(db_error)?;
    let began = Instant::now();
    let deadline = began + Duration::from_secs_f64(seconds);
    let body: Arc<str> = Arc::from("x".repeat(200));
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let pool = pool.clone();
            let body = body.clone();
            tokio::spawn(async move {
                let mut n = 0u64;
                while Instant::now() < deadline {
                    let Ok(mut tx) = pool.begin().await else {
                        continue;
                    };
                    let inserted =
                        sqlx::query("INSERT INTO bench_rows (id, body, at) VALUES ($1, $2, $3)")
                            .bind(uuid::Uuid::new_v4().to_string())
                            .bind(body.as_ref())
                            .bind(chrono::Utc::now().timestamp_millis())
                            .execute(&mut *tx)
                            .await
                            .is_ok();
                    if inserted && tx.commit().await.is_ok() {
                        n += 1;
                    }
                }
                n
            })
        })
        .collect();
    let mut commits = 0;
    for t in tasks {
        commits += t.await.unwrap_or(0);
    }
    let elapsed = began.elapsed().as_secs_f64();
    pool.close().await;
    drop_database(&url).await;
    Ok(InsertResult {
        connections,
        seconds: elapsed,
        commits,
        commits_per_second: commits as f64 / elapsed,
    })
}
