//! `sedgate bench intake`: an in-process gateway (SQLite in a temp dir, or PostgreSQL),
//! outbox off, one API client, and C concurrent HTTP clients posting a 10 KB P2000 (a new
//! case each, AT:9900 to NO:NAVAT07) for N seconds. Prints requests/s and latency.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::json;

use super::sample::sed_with_header;
use super::{bounded_seconds, io_error, write_json, BenchError};
use sedgate_base::domain::{CountryCode, EESSI_COUNTRIES};
use sedgate_base::secret::{generate_token, hash_token};
use sedgate_gateway::app::Application;
use sedgate_gateway::config::{Config, DatabaseConfig, Engine, SeedFile};
use sedgate_gateway::store::NewApiClient;
use sedgate_gateway::transport::DevPki;

const SENDER: &str = "AT:9900";
const RECEIVER: &str = "NO:NAVAT07";
const MAX_CONCURRENCY: usize = 256;

#[derive(clap::Args, Debug)]
pub struct IntakeArgs {
    /// Seconds to drive requests.
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Write the result as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// `postgres://...` to measure on PostgreSQL (a dedicated database: the bench writes
    /// to it); default SQLite in a temporary directory.
    #[arg(long)]
    pub database_url: Option<String>,
    /// The SED posted (its header ids are rewritten for each request).
    #[arg(long, default_value = "tests/fixtures/sed/4.2/P2000/valid-10k.xml")]
    pub file: PathBuf,
}

/// The gateway under test: the operator's config for schemas and catalogue, everything
/// else its own (country AT, a temp data dir and dev PKI, ephemeral ports, no outbox).
fn gateway_config(
    base: &Config,
    args: &IntakeArgs,
    dir: &std::path::Path,
) -> Result<Config, BenchError> {
    let mut config = base.clone();
    let data_dir = dir.join("data");
    let (engine, url) = match &args.database_url {
        None => (
            Engine::Sqlite,
            format!("sqlite://{}", data_dir.join("bench.db").display()),
        ),
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            (Engine::Postgres, url.clone())
        }
        Some(other) => {
            return Err(BenchError::Setup(format!(
                "--database-url must be postgres://... (SQLite is the default), not {other:?}"
            )))
        }
    };
    let access_points: Vec<serde_json::Value> = EESSI_COUNTRIES
        .iter()
        .map(|cc| {
            json!({
                "country": cc,
                "endpoint_url": "https://127.0.0.1:9/as4",
                "cert_fingerprints": ["00".repeat(32)],
            })
        })
        .collect();
    let ap_file = dir.join("access-points.json");
    std::fs::write(&ap_file, json!(access_points).to_string()).map_err(io_error(&ap_file))?;
    let country: CountryCode = "AT"
        .parse()
        .map_err(|e| BenchError::Setup(format!("{e}")))?;
    config.country = country.clone();
    config.party_domain = "at.bench.sedgate.test".to_owned();
    config.data_dir = data_dir.clone();
    config.database = DatabaseConfig {
        engine,
        node: None,
        url,
        max_connections: base.database.max_connections.max(8),
        inline_payload_bytes: base.database.inline_payload_bytes,
    };
    config.api.listen = ([127, 0, 0, 1], 0).into();
    config.as4.listen = ([127, 0, 0, 1], 0).into();
    // The AS4 listener needs a certificate even though nothing is sent.
    let pki = DevPki::generate(&dir.join("pki"), std::slice::from_ref(&country), &[])
        .map_err(|e| BenchError::Setup(format!("development PKI: {e}")))?;
    let gateway = pki
        .gateways
        .get(&country)
        .ok_or_else(|| BenchError::Setup("the development PKI has no AT certificate".into()))?;
    config.tls.cert = gateway.cert.clone();
    config.tls.key = gateway.key.clone();
    config.tls.trust_anchors = pki.ca_cert.clone();
    config.tls.crls = vec![pki.crl.clone()];
    config.outbox.enabled = false;
    config.ir_seed = vec![
        SeedFile::Builtin("deltakere_p_buc_01_all.json".into()),
        SeedFile::File(ap_file),
    ];
    Ok(config)
}

struct WorkerResult {
    latencies: Vec<Duration>,
    failures: u64,
    first_failure: Option<String>,
}

async fn worker(
    n: usize,
    http: reqwest::Client,
    url: Arc<str>,
    token: Arc<str>,
    template: Arc<str>,
    deadline: Instant,
) -> WorkerResult {
    let mut result = WorkerResult {
        latencies: Vec::new(),
        failures: 0,
        first_failure: None,
    };
    let mut seq = 0u64;
    while Instant::now() < deadline {
        seq += 1;
        let case_id = format!("BENCH-{n}-{seq}");
        let Some(sed) = sed_with_header(&template, &case_id, SENDER, &[RECEIVER]) else {
            result.first_failure = Some("the sample SED has no rewritable header".into());
            result.failures += 1;
            return result;
        };
        let metadata = json!({
            "case_id": case_id, "buc": "P_BUC_01", "sed_type": "P2000", "cdm_version": "4.2",
            "sender": SENDER, "receivers": [RECEIVER],
        });
        let form = reqwest::multipart::Form::new()
            .text("metadata", metadata.to_string())
            .part(
                "sed",
                reqwest::multipart::Part::text(sed).file_name("P2000.xml"),
            );
        let began = Instant::now();
        let answer = http
            .post(url.as_ref())
            .bearer_auth(token.as_ref())
            .multipart(form)
            .send()
            .await;
        let outcome = match answer {
            Ok(res) if res.status().as_u16() == 202 => {
                // Read the body so that the connection is reused.
                res.bytes().await.map(|_| ()).map_err(|e| e.to_string())
            }
            Ok(res) => {
                let status = res.status();
                Err(format!(
                    "{status}: {}",
                    res.text().await.unwrap_or_default()
                ))
            }
            Err(e) => Err(e.to_string()),
        };
        match outcome {
            Ok(()) => result.latencies.push(began.elapsed()),
            Err(e) => {
                result.failures += 1;
                result.first_failure.get_or_insert(e);
            }
        }
    }
    result
}

/// Nearest-rank percentile of sorted samples, in milliseconds.
fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    let idx = rank.clamp(1, sorted.len()) - 1;
    sorted[idx].as_secs_f64() * 1000.0
}

pub async fn run(base: &Config, args: &IntakeArgs) -> Result<(), BenchError> {
    let seconds = bounded_seconds(args.seconds);
    let concurrency = args.concurrency.clamp(1, MAX_CONCURRENCY);
    let template: Arc<str> =
        Arc::from(std::fs::read_to_string(&args.file).map_err(io_error(&args.file))?);
    let dir = tempfile::tempdir().map_err(|e| BenchError::Setup(format!("temp dir: {e}")))?;
    let config = gateway_config(base, args, dir.path())?;
    let engine = config.database.engine;
    let app = Application::build(config).await?;
    let state = app.state().clone();
    let url: Arc<str> = Arc::from(format!("http://{}/api/v1/messages", app.api_addr()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));

    let token = generate_token();
    state
        .store
        .add_api_client(
            &NewApiClient {
                id: uuid::Uuid::new_v4().to_string(),
                name: format!("bench-{}", uuid::Uuid::new_v4().simple()),
                token_hash: hash_token(&token),
                institutions: vec![SENDER
                    .parse()
                    .map_err(|e| BenchError::Setup(format!("{e}")))?],
                expires_at: None,
            },
            Utc::now(),
        )
        .await?;
    let token: Arc<str> = Arc::from(token);
    // reqwest is built without a default TLS provider; plain HTTP still needs one set.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let engine_name = match engine {
        Engine::Sqlite => "sqlite",
        Engine::Postgres => "postgres",
    };
    println!(
        "posting {} ({} bytes) on {engine_name} with {concurrency} clients for {seconds} s...",
        args.file.display(),
        template.len()
    );
    let began = Instant::now();
    let deadline = began + Duration::from_secs_f64(seconds);
    let workers: Vec<_> = (0..concurrency)
        .map(|n| {
            tokio::spawn(worker(
                n,
                http.clone(),
                Arc::clone(&url),
                Arc::clone(&token),
                Arc::clone(&template),
                deadline,
            ))
        })
        .collect();
    let mut latencies = Vec::new();
    let mut failures = 0u64;
    let mut first_failure = None;
    for handle in workers {
        let result = handle
            .await
            .map_err(|e| BenchError::Setup(format!("a client task failed: {e}")))?;
        latencies.extend(result.latencies);
        failures += result.failures;
        first_failure = first_failure.or(result.first_failure);
    }
    let elapsed = began.elapsed().as_secs_f64();
    let _ = stop.send(());
    let _ = server.await;
    if latencies.is_empty() {
        return Err(BenchError::NothingAccepted(
            first_failure.unwrap_or_else(|| "no request was sent".into()),
        ));
    }
    latencies.sort_unstable();
    let accepted = latencies.len();
    let per_second = accepted as f64 / elapsed;
    let (p50, p95, p99) = (
        percentile_ms(&latencies, 50.0),
        percentile_ms(&latencies, 95.0),
        percentile_ms(&latencies, 99.0),
    );
    println!();
    println!(
        "{:<10} {:>11} {:>9} {:>10} {:>9} {:>9} {:>9}",
        "engine", "clients", "accepted", "req/s", "p50 ms", "p95 ms", "p99 ms"
    );
    println!(
        "{engine_name:<10} {concurrency:>11} {accepted:>9} {per_second:>10.1} {p50:>9.2} {p95:>9.2} {p99:>9.2}"
    );
    if let Some(failure) = &first_failure {
        println!("{failures} request(s) failed; first: {failure}");
    }
    write_json(
        args.json.as_deref(),
        &json!({
            "benchmark": "intake",
            "engine": engine_name,
            "file": args.file.display().to_string(),
            "bytes": template.len(),
            "concurrency": concurrency,
            "seconds": elapsed,
            "accepted": accepted,
            "failed": failures,
            "requests_per_second": per_second,
            "latency_ms": { "p50": p50, "p95": p95, "p99": p99 },
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile_ms(&samples, 50.0), 50.0);
        assert_eq!(percentile_ms(&samples, 99.0), 99.0);
        assert_eq!(percentile_ms(&samples[..1], 95.0), 1.0);
        assert_eq!(percentile_ms(&[], 50.0), 0.0);
    }
}
