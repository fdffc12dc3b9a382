//! `sedgate bench e2e`: two `sedgate serve` processes (AT sends, NO receives) on loopback
//! with mutual TLS, driven by many concurrent back-office clients. Measures end-to-end
//! SEDs per second (POST accepted → receipt stored at AT, row in NO's inbox), latency
//! from POST to receipt at full load and at half of it, CPU per message, idle and peak
//! memory, start-up time with 10,000 institutions, and baselines from the same run
//! (mTLS echo server, RSA-2048 with ring, durable INSERT + COMMIT).
//!
//! Bounded: every phase has a time limit, every wait a deadline; loopback only.

pub mod baseline;
pub mod gateway;
pub mod load;
pub mod multi_node;
pub mod procfs;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::Utc;
use serde::Serialize;
use serde_json::json;

use self::gateway::{Pair, PairSettings, RunFiles, SIGNING_TOML};
use self::load::{Attachment, Client, Posting, Sample};
use super::{io_error, write_json, BenchError};
use sedgate_gateway::config::Engine;

const MAX_CLIENTS: usize = 512;
/// Messages whose delivery time is read back per phase to compute latency percentiles.
const LATENCY_SAMPLES: usize = 2000;

#[derive(clap::Args, Debug, Clone)]
pub struct E2eArgs {
    /// A few seconds, 10 KB SEDs only, both engines, unsigned: proves the harness works.
    #[arg(long)]
    pub short: bool,
    /// Write the results as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Engines to measure: sqlite, postgres (PostgreSQL at 127.0.0.1:5432, user postgres).
    #[arg(long, value_delimiter = ',', default_values = ["sqlite", "postgres"])]
    pub engines: Vec<String>,
    /// Concurrent back-office clients (default 64; 16 with --short).
    #[arg(long)]
    pub clients: Option<usize>,
    /// Seconds of posting per phase (default 15; 2 with --short).
    #[arg(long)]
    pub seconds: Option<f64>,
    /// Sign and verify AS4 messages and receipts (WS-Security), when the gateways can.
    #[arg(long)]
    pub signed: bool,
    /// Skip the 100 MB and 1 GB attachments.
    #[arg(long)]
    pub no_large: bool,
    /// Outbox senders per gateway (`outbox.workers`).
    #[arg(long, default_value_t = 16)]
    pub outbox_workers: usize,
    /// Database connections per gateway (`database.max_connections`).
    #[arg(long, default_value_t = 8)]
    pub db_connections: u32,
    /// The sedgate source tree (schemas/, seed/, tests/fixtures/).
    #[arg(long, default_value = ".")]
    pub repo: PathBuf,
    /// Keep the gateways' data, configs and logs here instead of a temporary directory.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Instead of the phases: this many AT nodes on one PostgreSQL database (2..=4), one
    /// of them killed with SIGKILL and restarted mid-run; reports `multi_node`.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=4))]
    pub nodes: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Load {
    /// Closed loop: every client posts again as soon as it has its answer.
    Full,
    /// Open loop at half of the full-load end-to-end rate.
    Half,
}

#[derive(Debug, Clone, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub samples: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct PhaseResult {
    pub engine: &'static str,
    pub size: &'static str,
    pub security: &'static str,
    pub load: Load,
    pub clients: usize,
    /// Open loop only: the rate posts were started at.
    pub offered_per_second: Option<f64>,
    pub posting_seconds: f64,
    pub accepted: usize,
    pub retries: u64,
    pub failed_posts: u64,
    /// 202 answers per second while posting.
    pub accepted_per_second: f64,
    /// From the first POST to the last receipt stored.
    pub end_to_end_seconds: f64,
    pub end_to_end_per_second: f64,
    /// POST began → receipt recorded at the sender, milliseconds.
    pub latency_ms: Percentiles,
    /// POST began → 202, milliseconds.
    pub accept_latency_ms: Percentiles,
    /// CPU seconds of both gateway processes per message.
    pub gateway_cpu_seconds_per_message: Option<f64>,
    /// Busy CPU seconds of the whole machine (gateways, database, clients) per message.
    pub machine_cpu_seconds_per_message: Option<f64>,
    /// SQL statements of both gateways' exchange operations ÷ SEDs delivered.
    pub db_statements_per_message: f64,
    /// Group-commit transactions of both gateways ÷ SEDs delivered.
    pub db_group_commits_per_message: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PerGateway<T> {
    pub at: T,
    pub no: T,
}

#[derive(Debug, Clone, Serialize)]
pub struct LargeResult {
    pub engine: &'static str,
    pub attachment_bytes: u64,
    /// POST began → receipt stored.
    pub seconds: f64,
    pub megabytes_per_second: f64,
    /// Peak resident memory while it passed (VmHWM after a reset; else sampled VmRSS).
    pub peak_rss_bytes: PerGateway<Option<u64>>,
    pub rss_before_bytes: PerGateway<Option<u64>>,
    pub peak_method: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Startup {
    pub institutions: Option<u64>,
    /// First start: migrations done, IR seeded from the files (10,000 + real ones).
    pub first_start_ms: PerGateway<f64>,
    /// Restart with the IR already in the database: spawn → /readyz 200.
    pub restart_ready_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct EngineResult {
    pub engine: &'static str,
    pub startup: Startup,
    pub idle_rss_bytes: PerGateway<Option<u64>>,
    /// VmHWM after the load phases (before the large attachments).
    pub peak_rss_under_load_bytes: PerGateway<Option<u64>>,
    pub phases: Vec<PhaseResult>,
    pub large: Vec<LargeResult>,
}

fn engine_name(engine: Engine) -> &'static str {
    match engine {
        Engine::Sqlite => "sqlite",
        Engine::Postgres => "postgres",
    }
}

/// Nearest-rank percentiles in milliseconds of sorted samples.
pub fn percentiles(sorted: &[Duration]) -> Percentiles {
    let at = |p: f64| {
        if sorted.is_empty() {
            return 0.0;
        }
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
    };
    Percentiles {
        p50: at(50.0),
        p95: at(95.0),
        p99: at(99.0),
        samples: sorted.len(),
    }
}

/// Incompressible bytes that start like a PDF (a scanned document is mostly compressed
/// image data), from a fast deterministic generator.
pub fn pseudo_pdf(len: usize, seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(b"%PDF-1.4\n");
    let mut x = seed | 1;
    while out.len() < len {
        // xorshift64*
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

fn write_pseudo_pdf(path: &std::path::Path, len: u64) -> Result<(), BenchError> {
    use std::io::Write;
    let file = std::fs::File::create(path).map_err(io_error(path))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    let chunk = 1u64 << 20;
    let mut written = 0u64;
    let mut seed = 1u64;
    while written < len {
        let n = chunk.min(len - written);
        w.write_all(&pseudo_pdf(n as usize, seed))
            .map_err(io_error(path))?;
        written += n;
        seed += 1;
    }
    w.flush().map_err(io_error(path))?;
    Ok(())
}

struct Plan {
    clients: usize,
    seconds: f64,
    samples: Vec<Arc<Sample>>,
    large: Vec<(u64, PathBuf)>,
}

pub async fn run(args: &E2eArgs) -> Result<(), BenchError> {
    let started_at = Utc::now();
    let load_at_start = procfs::load_average();
    let clients = args
        .clients
        .unwrap_or(if args.short { 16 } else { 64 })
        .clamp(1, MAX_CLIENTS);
    let seconds =
        super::bounded_seconds(args.seconds.unwrap_or(if args.short { 2.0 } else { 15.0 }));
    let engines: Vec<Engine> = args
        .engines
        .iter()
        .map(|e| match e.as_str() {
            "sqlite" => Ok(Engine::Sqlite),
            "postgres" | "postgresql" => Ok(Engine::Postgres),
            other => Err(BenchError::Setup(format!(
                "--engines: {other:?} is not sqlite or postgres"
            ))),
        })
        .collect::<Result<_, _>>()?;
    let repo = std::fs::canonicalize(&args.repo).map_err(io_error(&args.repo))?;
    let temp = tempfile::tempdir().map_err(|e| BenchError::Setup(format!("temp dir: {e}")))?;
    let dir = match &args.dir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(io_error(d))?;
            std::fs::canonicalize(d).map_err(io_error(d))?
        }
        None => temp.path().to_owned(),
    };
    let signing_available = SIGNING_TOML.is_some();
    if args.signed && !signing_available {
        println!("signed: not available (WS-Security signing is not wired into the gateways of this build); measuring unsigned only");
    }
    let security = if args.signed && signing_available {
        "signed"
    } else {
        "unsigned"
    };

    let sed_path = repo.join("tests/fixtures/sed/4.2/P2000/valid-10k.xml");
    let sed: Arc<str> = Arc::from(std::fs::read_to_string(&sed_path).map_err(io_error(&sed_path))?);
    let mut samples = vec![Arc::new(Sample {
        name: "10KB SED",
        sed: sed.clone(),
        attachment: Attachment::None,
    })];
    let mut large = Vec::new();
    if !args.short {
        samples.push(Arc::new(Sample {
            name: "10KB SED + 1MB PDF",
            sed: sed.clone(),
            attachment: Attachment::Bytes(Bytes::from(pseudo_pdf(1 << 20, 7))),
        }));
        if !args.no_large && args.nodes == 1 {
            for (len, name) in [(100u64 << 20, "100MB.pdf"), (1u64 << 30, "1GB.pdf")] {
                let path = dir.join(name);
                write_pseudo_pdf(&path, len)?;
                large.push((len, path));
            }
        }
    }
    let plan = Plan {
        clients,
        seconds,
        samples,
        large,
    };
    let files = RunFiles::create(&dir)?;
    let max_attachment = plan
        .large
        .iter()
        .map(|(l, _)| *l)
        .max()
        .unwrap_or(0)
        .max(100 << 20)
        + (1 << 20);
    println!(
        "sedgate bench e2e ({}): {} clients, {seconds} s per phase, engines {}, {security}, work dir {}",
        if args.short { "short" } else { "full" },
        clients,
        args.engines.join(","),
        dir.display()
    );

    if args.nodes > 1 {
        if engines != [Engine::Postgres] {
            return Err(BenchError::Setup(
                "--nodes needs --engines postgres: the nodes of a country share one PostgreSQL database".into(),
            ));
        }
        let settings = PairSettings {
            engine: Engine::Postgres,
            signed: args.signed && signing_available,
            max_attachment_bytes: max_attachment,
            outbox_workers: args.outbox_workers.max(1),
            db_connections: args.db_connections.max(1),
            repo: repo.clone(),
        };
        let nodes = usize::from(args.nodes);
        let result = multi_node::run(&dir, &files, &settings, nodes, clients, seconds, sed).await?;
        multi_node::print(&result);
        let report = json!({
            "benchmark": "e2e",
            "mode": if args.short { "short" } else { "full" },
            "command": std::env::args().collect::<Vec<_>>().join(" "),
            "started_at": started_at,
            "version": env!("CARGO_PKG_VERSION"),
            "machine": procfs::machine(),
            "settings": {
                "clients": clients,
                "seconds_per_phase": seconds,
                "outbox_workers": args.outbox_workers,
                "db_connections": args.db_connections,
                "security": security,
            },
            "multi_node": result,
        });
        write_json(args.json.as_deref(), &report)?;
        drop(temp);
        return Ok(());
    }

    let mut results = Vec::new();
    for engine in &engines {
        let settings = PairSettings {
            engine: *engine,
            signed: args.signed && signing_available,
            max_attachment_bytes: max_attachment,
            outbox_workers: args.outbox_workers.max(1),
            db_connections: args.db_connections.max(1),
            repo: repo.clone(),
        };
        results.push(engine_run(&dir, &files, &settings, &plan, security).await?);
    }

    println!("baselines...");
    let echo = baseline::echo(
        &files,
        Bytes::from(sed.as_bytes().to_vec()),
        clients,
        seconds,
    )
    .await?;
    let rsa_seconds = if args.short { 0.5 } else { 3.0 };
    let rsa = tokio::task::spawn_blocking(move || baseline::rsa(rsa_seconds))
        .await
        .map_err(|e| BenchError::Setup(format!("RSA baseline thread: {e}")))??;
    let mut inserts = serde_json::Map::new();
    for engine in &engines {
        // As many connections as the gateway writes with: SQLite has one writer.
        let connections = match engine {
            Engine::Sqlite => 1,
            Engine::Postgres => args.db_connections.max(1),
        };
        let r = baseline::inserts(
            *engine,
            &dir.join(format!("inserts-{}", engine_name(*engine))),
            connections,
            seconds.min(10.0),
        )
        .await?;
        inserts.insert(
            engine_name(*engine).into(),
            serde_json::to_value(r).unwrap_or_default(),
        );
    }

    let report = json!({
        "benchmark": "e2e",
        "mode": if args.short { "short" } else { "full" },
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "started_at": started_at,
        "version": env!("CARGO_PKG_VERSION"),
        "machine": procfs::machine(),
        "settings": {
            "clients": clients,
            "seconds_per_phase": seconds,
            "outbox_workers": args.outbox_workers,
            "db_connections": args.db_connections,
            "log_level": "warn",
            "sqlite": "WAL, synchronous=FULL",
            "postgres": "127.0.0.1:5432, server defaults (fsync on, synchronous_commit on)",
        },
        "signed": {
            "requested": args.signed,
            "available": signing_available,
            "note": if signing_available { "measured" } else { "WS-Security signing is not wired into the gateways yet; only the RSA bound is measured" },
        },
        "engines": results,
        "baselines": {
            "mtls_echo": echo,
            "rsa": rsa,
            "db_insert_commit": inserts,
        },
    });
    let mut report = with_ratios_and_targets(report);
    report["machine"]["load_average_at_start"] = json!(load_at_start);
    report["machine"]["load_average_at_end"] = json!(procfs::load_average());
    print_tables(&report);
    write_json(args.json.as_deref(), &report)?;
    drop(temp);
    Ok(())
}

async fn engine_run(
    dir: &std::path::Path,
    files: &RunFiles,
    settings: &PairSettings,
    plan: &Plan,
    security: &'static str,
) -> Result<EngineResult, BenchError> {
    let name = engine_name(settings.engine);
    let mut pair = Pair::prepare(&dir.join(name), files, settings).await?;
    let result = engine_phases(&mut pair, plan, name, security).await;
    pair.stop().await;
    pair.drop_databases().await;
    result
}

async fn engine_phases(
    pair: &mut Pair,
    plan: &Plan,
    name: &'static str,
    security: &'static str,
) -> Result<EngineResult, BenchError> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(plan.clients * 2)
        .timeout(Duration::from_secs(1800))
        .build()?;
    let first_at = pair.at.start(&http).await?;
    let first_no = pair.no.start(&http).await?;
    let institutions = pair.at.institutions(&http).await;
    pair.at.stop().await;
    let restart = pair.at.start(&http).await?;
    println!(
        "[{name}] gateways ready: first start AT {:.0} ms, NO {:.0} ms (IR seeded with {} institutions); restart {:.0} ms",
        ms(first_at),
        ms(first_no),
        institutions.map(|n| n.to_string()).unwrap_or_else(|| "?".into()),
        ms(restart)
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = PerGateway {
        at: pair.at.memory().map(|m| m.rss),
        no: pair.no.memory().map(|m| m.rss),
    };

    let mut phases = Vec::new();
    for (n, sample) in plan.samples.iter().enumerate() {
        let client = Client::new(http.clone(), &pair.at, sample.clone());
        let full = phase(
            pair,
            &http,
            &client,
            plan,
            Load::Full,
            None,
            &format!("{n}F"),
            name,
            security,
        )
        .await?;
        print_phase(&full);
        let rate = full.end_to_end_per_second / 2.0;
        let half = phase(
            pair,
            &http,
            &client,
            plan,
            Load::Half,
            Some(rate),
            &format!("{n}H"),
            name,
            security,
        )
        .await?;
        print_phase(&half);
        phases.push(full);
        phases.push(half);
    }
    let peak_under_load = PerGateway {
        at: pair.at.memory().map(|m| m.peak),
        no: pair.no.memory().map(|m| m.peak),
    };

    // Fresh processes: the peak must show what the large message costs, not what the
    // allocator kept from the concurrent 1 MB uploads before.
    if !plan.large.is_empty() {
        pair.stop().await;
        pair.at.start(&http).await?;
        pair.no.start(&http).await?;
    }
    let mut large = Vec::new();
    for (len, path) in &plan.large {
        let r = large_phase(pair, &http, plan, *len, path, name).await?;
        println!(
            "[{name}] {} MB attachment: delivered in {:.1} s ({:.0} MB/s), peak RSS AT {} NO {} ({})",
            len >> 20,
            r.seconds,
            r.megabytes_per_second,
            mib(r.peak_rss_bytes.at),
            mib(r.peak_rss_bytes.no),
            r.peak_method
        );
        large.push(r);
    }
    Ok(EngineResult {
        engine: name,
        startup: Startup {
            institutions,
            first_start_ms: PerGateway {
                at: ms(first_at),
                no: ms(first_no),
            },
            restart_ready_ms: ms(restart),
        },
        idle_rss_bytes: idle,
        peak_rss_under_load_bytes: peak_under_load,
        phases,
        large,
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn mib(bytes: Option<u64>) -> String {
    bytes
        .map(|b| format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)))
        .unwrap_or_else(|| "n/a".into())
}

fn cpu_of(pair: &Pair) -> Option<f64> {
    Some(pair.at.cpu_seconds()? + pair.no.cpu_seconds()?)
}

#[allow(clippy::too_many_arguments)]
async fn phase(
    pair: &Pair,
    http: &reqwest::Client,
    client: &Client,
    plan: &Plan,
    load: Load,
    rate: Option<f64>,
    tag: &str,
    engine: &'static str,
    security: &'static str,
) -> Result<PhaseResult, BenchError> {
    let before_at = load::counts(http, &pair.at).await?;
    let before_no = load::counts(http, &pair.no).await?;
    let cpu_before = cpu_of(pair);
    let machine_before = procfs::machine_busy_seconds();
    let began_utc = Utc::now();
    let began = Instant::now();
    let posting: Posting = match (load, rate) {
        (Load::Half, Some(rate)) => {
            load::open_loop(client, rate, plan.seconds, plan.clients * 4, tag).await
        }
        _ => load::closed_loop(client, plan.clients, plan.seconds, tag).await,
    };
    let posting_seconds = began.elapsed().as_secs_f64();
    let accepted = posting.posted.len();
    if accepted == 0 {
        return Err(BenchError::NothingAccepted(
            posting
                .first_failure
                .unwrap_or_else(|| "no request was sent".into()),
        ));
    }
    let drain_limit = Duration::from_secs_f64((plan.seconds * 20.0).max(120.0));
    let drained = load::wait_delivered(
        http,
        pair,
        before_at.delivered + accepted as u64,
        before_no.received + accepted as u64,
        drain_limit,
    )
    .await?;
    let cpu = match (cpu_before, cpu_of(pair)) {
        (Some(a), Some(b)) => Some((b - a) / accepted as f64),
        _ => None,
    };
    let machine = match (machine_before, procfs::machine_busy_seconds()) {
        (Some(a), Some(b)) => Some((b - a) / accepted as f64),
        _ => None,
    };
    let after_at = load::counts(http, &pair.at).await?;
    let after_no = load::counts(http, &pair.no).await?;
    let per_message = |of: fn(&load::Counts) -> u64| {
        let spent = (of(&after_at) + of(&after_no)).saturating_sub(of(&before_at) + of(&before_no));
        spent as f64 / accepted as f64
    };
    let db_statements_per_message = per_message(|c| c.exchange_statements);
    let db_group_commits_per_message = per_message(|c| c.group_commits);
    let (latencies, last) =
        load::latencies(http, &pair.at, &posting.posted, LATENCY_SAMPLES).await?;
    let end_to_end_seconds = last
        .and_then(|l| (l - began_utc).to_std().ok())
        .map(|d| d.as_secs_f64())
        .filter(|s| *s > 0.0)
        .unwrap_or_else(|| (drained - began).as_secs_f64());
    let mut answers: Vec<Duration> = posting.posted.iter().map(|p| p.answer).collect();
    answers.sort_unstable();
    Ok(PhaseResult {
        engine,
        size: client.sample.name,
        security,
        load,
        clients: plan.clients,
        offered_per_second: rate,
        posting_seconds,
        accepted,
        retries: posting.retries,
        failed_posts: posting.failures,
        accepted_per_second: accepted as f64 / posting_seconds,
        end_to_end_seconds,
        end_to_end_per_second: accepted as f64 / end_to_end_seconds,
        latency_ms: percentiles(&latencies),
        accept_latency_ms: percentiles(&answers),
        gateway_cpu_seconds_per_message: cpu,
        machine_cpu_seconds_per_message: machine,
        db_statements_per_message,
        db_group_commits_per_message,
    })
}

async fn large_phase(
    pair: &Pair,
    http: &reqwest::Client,
    plan: &Plan,
    len: u64,
    path: &std::path::Path,
    engine: &'static str,
) -> Result<LargeResult, BenchError> {
    let sed = plan.samples[0].sed.clone();
    let sample = Arc::new(Sample {
        name: "large",
        sed,
        attachment: Attachment::File {
            path: path.to_owned(),
            len,
        },
    });
    let client = Client::new(http.clone(), &pair.at, sample);
    let before_at = load::counts(http, &pair.at).await?;
    let before_no = load::counts(http, &pair.no).await?;
    let pids = (pair.at.pid(), pair.no.pid());
    let rss_before = PerGateway {
        at: pair.at.memory().map(|m| m.rss),
        no: pair.no.memory().map(|m| m.rss),
    };
    let reset = [pids.0, pids.1]
        .iter()
        .all(|p| p.is_some_and(procfs::reset_peak));
    // Sampled as well, in case the kernel does not allow resetting the peak.
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let sampler = tokio::spawn(async move {
        let mut max = (0u64, 0u64);
        loop {
            if let Some(m) = pids.0.and_then(procfs::memory) {
                max.0 = max.0.max(m.rss);
            }
            if let Some(m) = pids.1.and_then(procfs::memory) {
                max.1 = max.1.max(m.rss);
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(20)) => {}
                _ = stop_rx.changed() => return max,
            }
        }
    });
    let began = Instant::now();
    let posted = client
        .post(&format!(
            "BL{}-{}",
            len >> 20,
            uuid::Uuid::new_v4().simple()
        ))
        .await
        .map_err(|(e, _)| BenchError::NothingAccepted(e))?
        .0;
    load::wait_delivered(
        http,
        pair,
        before_at.delivered + 1,
        before_no.received + 1,
        Duration::from_secs(1800),
    )
    .await?;
    let _ = stop_tx.send(true);
    let sampled = sampler.await.unwrap_or((0, 0));
    let delivered = load::delivered_at(http, &pair.at, &posted.id).await?;
    let seconds = delivered
        .and_then(|d| (d - posted.began).to_std().ok())
        .unwrap_or_else(|| began.elapsed())
        .as_secs_f64();
    let peak = |gw: &gateway::Gateway, sampled: u64| {
        let hwm = if reset {
            gw.memory().map(|m| m.peak)
        } else {
            None
        };
        hwm.or(Some(sampled).filter(|s| *s > 0))
    };
    Ok(LargeResult {
        engine,
        attachment_bytes: len,
        seconds,
        megabytes_per_second: len as f64 / (1024.0 * 1024.0) / seconds.max(1e-9),
        peak_rss_bytes: PerGateway {
            at: peak(&pair.at, sampled.0),
            no: peak(&pair.no, sampled.1),
        },
        rss_before_bytes: rss_before,
        peak_method: if reset {
            "VmHWM reset before the upload"
        } else {
            "VmRSS sampled every 20 ms"
        },
    })
}

fn print_phase(p: &PhaseResult) {
    println!(
        "[{}] {} {:?}: {} accepted ({:.0}/s), end to end {:.0} SED/s, POST→receipt p50 {:.1} p95 {:.1} p99 {:.1} ms, {:.1} SQL statements per SED",
        p.engine,
        p.size,
        p.load,
        p.accepted,
        p.accepted_per_second,
        p.end_to_end_per_second,
        p.latency_ms.p50,
        p.latency_ms.p95,
        p.latency_ms.p99,
        p.db_statements_per_message
    );
}

/// Adds sedgate-as-a-fraction-of-baseline ratios and the targets.
fn with_ratios_and_targets(mut report: serde_json::Value) -> serde_json::Value {
    let echo = report["baselines"]["mtls_echo"]["requests_per_second"].as_f64();
    let rsa_bound = report["baselines"]["rsa"]["bound_messages_per_second"].as_f64();
    let mut ratios = Vec::new();
    let mut targets = Vec::new();
    let engines = report["engines"].as_array().cloned().unwrap_or_default();
    for e in &engines {
        let engine = e["engine"].as_str().unwrap_or("?");
        let inserts =
            report["baselines"]["db_insert_commit"][engine]["commits_per_second"].as_f64();
        let phases = e["phases"].as_array().cloned().unwrap_or_default();
        for p in &phases {
            let rate = p["end_to_end_per_second"].as_f64().unwrap_or(0.0);
            ratios.push(json!({
                "engine": engine, "size": p["size"], "security": p["security"], "load": p["load"],
                "end_to_end_per_second": rate,
                "of_mtls_echo": echo.map(|b| rate / b),
                "of_db_insert_commit": inserts.map(|b| rate / b),
                "of_rsa_bound": if p["security"] == "signed" { rsa_bound.map(|b| rate / b) } else { None },
            }));
        }
        let small = |load: &str| {
            phases
                .iter()
                .find(|p| p["size"] == "10KB SED" && p["load"] == load)
                .cloned()
        };
        if let Some(full) = small("full") {
            if full["security"] == "unsigned" {
                let v = full["db_statements_per_message"]
                    .as_f64()
                    .unwrap_or(f64::MAX);
                targets.push(json!({"target": format!("{engine}: <= 12 SQL statements per unsigned 10 KB SED, both gateways"), "value": v, "met": v <= 12.0}));
            }
            let v = full["end_to_end_per_second"].as_f64().unwrap_or(0.0);
            if full["security"] == "signed" {
                // Signed: at least half of what the same run's RSA figures allow.
                if let Some(bound) = rsa_bound {
                    targets.push(json!({"target": format!("{engine}: signed 10 KB end to end >= 50% of the RSA bound ({:.0} SED/s)", bound / 2.0), "value": v, "met": v >= bound / 2.0}));
                }
            } else {
                targets.push(json!({"target": format!("{engine}: unsigned 10 KB end to end >= 1500 SED/s"), "value": v, "met": v >= 1500.0}));
            }
        }
        if let Some(half) = small("half") {
            let v = half["latency_ms"]["p99"].as_f64().unwrap_or(f64::MAX);
            targets.push(json!({"target": format!("{engine}: p99 POST→receipt < 50 ms at half load"), "value": v, "met": v < 50.0}));
        }
        for gw in ["at", "no"] {
            if let Some(v) = e["idle_rss_bytes"][gw].as_f64() {
                let mb = v / (1024.0 * 1024.0);
                targets.push(json!({"target": format!("{engine}: idle RSS of {} < 40 MB", gw.to_uppercase()), "value": mb, "met": mb < 40.0}));
            }
        }
        for l in e["large"].as_array().cloned().unwrap_or_default() {
            if l["attachment_bytes"].as_u64() == Some(1 << 30) {
                for gw in ["at", "no"] {
                    if let Some(v) = l["peak_rss_bytes"][gw].as_f64() {
                        let mb = v / (1024.0 * 1024.0);
                        targets.push(json!({"target": format!("{engine}: peak RSS of {} with a 1 GB attachment < 128 MB", gw.to_uppercase()), "value": mb, "met": mb < 128.0}));
                    }
                }
            }
        }
        if let Some(v) = e["startup"]["restart_ready_ms"].as_f64() {
            targets.push(json!({"target": format!("{engine}: ready < 300 ms with {} institutions in the IR", e["startup"]["institutions"]), "value": v, "met": v < 300.0}));
        }
    }
    if report["signed"]["available"] != true {
        targets.push(json!({"target": "signed: >= 50% of the RSA bound (2 signatures + 2 verifications per message)", "value": null, "met": null, "note": "signing not wired into the gateways: not measured"}));
    }
    report["ratios"] = json!(ratios);
    report["targets"] = json!(targets);
    report
}

fn print_tables(report: &serde_json::Value) {
    let f = |v: &serde_json::Value, digits: usize| {
        v.as_f64()
            .map(|x| format!("{x:.digits$}"))
            .unwrap_or_else(|| "n/a".into())
    };
    let mb = |v: &serde_json::Value| {
        v.as_f64()
            .map(|x| format!("{:.1}", x / (1024.0 * 1024.0)))
            .unwrap_or_else(|| "n/a".into())
    };
    println!();
    println!(
        "{:<9} {:<19} {:<8} {:<4} {:>8} {:>8} {:>9} {:>7} {:>7} {:>7} {:>9} {:>9} {:>8} {:>7} {:>7}",
        "engine",
        "size",
        "security",
        "load",
        "accepted",
        "post/s",
        "e2e SED/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "gw CPU ms",
        "all CPU ms",
        "stmt/SED",
        "%echo",
        "%db"
    );
    let ratios = report["ratios"].as_array().cloned().unwrap_or_default();
    for e in report["engines"].as_array().cloned().unwrap_or_default() {
        for (i, p) in e["phases"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let r = ratios
                .iter()
                .filter(|r| r["engine"] == e["engine"])
                .nth(i)
                .cloned()
                .unwrap_or_default();
            let pct = |v: &serde_json::Value| {
                v.as_f64()
                    .map(|x| format!("{:.1}", x * 100.0))
                    .unwrap_or_else(|| "n/a".into())
            };
            println!(
                "{:<9} {:<19} {:<8} {:<4} {:>8} {:>8} {:>9} {:>7} {:>7} {:>7} {:>9} {:>9} {:>8} {:>7} {:>7}",
                e["engine"].as_str().unwrap_or(""),
                p["size"].as_str().unwrap_or(""),
                p["security"].as_str().unwrap_or(""),
                p["load"].as_str().unwrap_or(""),
                p["accepted"],
                f(&p["accepted_per_second"], 0),
                f(&p["end_to_end_per_second"], 0),
                f(&p["latency_ms"]["p50"], 1),
                f(&p["latency_ms"]["p95"], 1),
                f(&p["latency_ms"]["p99"], 1),
                p["gateway_cpu_seconds_per_message"].as_f64().map(|x| format!("{:.2}", x * 1000.0)).unwrap_or_else(|| "n/a".into()),
                p["machine_cpu_seconds_per_message"].as_f64().map(|x| format!("{:.2}", x * 1000.0)).unwrap_or_else(|| "n/a".into()),
                f(&p["db_statements_per_message"], 1),
                pct(&r["of_mtls_echo"]),
                pct(&r["of_db_insert_commit"]),
            );
        }
    }
    println!();
    println!(
        "{:<9} {:>12} {:>14} {:>14} {:>11} {:>11} {:>13} {:>13}",
        "engine",
        "institutions",
        "first start ms",
        "restart ms",
        "idle AT MB",
        "idle NO MB",
        "load peak AT",
        "load peak NO"
    );
    for e in report["engines"].as_array().cloned().unwrap_or_default() {
        println!(
            "{:<9} {:>12} {:>14} {:>14} {:>11} {:>11} {:>13} {:>13}",
            e["engine"].as_str().unwrap_or(""),
            e["startup"]["institutions"],
            format!(
                "{}/{}",
                f(&e["startup"]["first_start_ms"]["at"], 0),
                f(&e["startup"]["first_start_ms"]["no"], 0)
            ),
            f(&e["startup"]["restart_ready_ms"], 0),
            mb(&e["idle_rss_bytes"]["at"]),
            mb(&e["idle_rss_bytes"]["no"]),
            mb(&e["peak_rss_under_load_bytes"]["at"]),
            mb(&e["peak_rss_under_load_bytes"]["no"]),
        );
    }
    let large: Vec<_> = report["engines"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .flat_map(|e| e["large"].as_array().cloned().unwrap_or_default())
        .collect();
    if !large.is_empty() {
        println!();
        println!(
            "{:<9} {:>11} {:>9} {:>8} {:>13} {:>13}",
            "engine", "attachment", "seconds", "MB/s", "peak RSS AT", "peak RSS NO"
        );
        for l in large {
            println!(
                "{:<9} {:>11} {:>9} {:>8} {:>13} {:>13}",
                l["engine"].as_str().unwrap_or(""),
                format!("{} MB", l["attachment_bytes"].as_u64().unwrap_or(0) >> 20),
                f(&l["seconds"], 1),
                f(&l["megabytes_per_second"], 0),
                mb(&l["peak_rss_bytes"]["at"]),
                mb(&l["peak_rss_bytes"]["no"]),
            );
        }
    }
    let b = &report["baselines"];
    println!();
    println!(
        "baselines: mTLS echo {} req/s ({} clients, {} B); RSA-2048 (ring, {} threads) {} sign/s, {} verify/s, bound {} msg/s for 2 sign + 2 verify",
        f(&b["mtls_echo"]["requests_per_second"], 0),
        b["mtls_echo"]["clients"],
        b["mtls_echo"]["request_bytes"],
        b["rsa"]["threads"],
        f(&b["rsa"]["signs_per_second"], 0),
        f(&b["rsa"]["verifies_per_second"], 0),
        f(&b["rsa"]["bound_messages_per_second"], 0),
    );
    if let Some(map) = b["db_insert_commit"].as_object() {
        for (engine, r) in map {
            println!(
                "           {engine} INSERT+COMMIT {} commits/s from {} connection(s)",
                f(&r["commits_per_second"], 0),
                r["connections"]
            );
        }
    }
    println!();
    for t in report["targets"].as_array().cloned().unwrap_or_default() {
        let mark = match t["met"].as_bool() {
            Some(true) => "met   ",
            Some(false) => "MISSED",
            None => "n/a   ",
        };
        println!(
            "target {mark} {} (measured {})",
            t["target"].as_str().unwrap_or(""),
            f(&t["value"], 1)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let samples: Vec<Duration> = (1..=200).map(Duration::from_millis).collect();
        let p = percentiles(&samples);
        assert_eq!((p.p50, p.p95, p.p99, p.samples), (100.0, 190.0, 198.0, 200));
        assert_eq!(percentiles(&[]).p99, 0.0);
    }

    #[test]
    fn pseudo_pdf_has_the_length_asked_and_does_not_compress() {
        let pdf = pseudo_pdf(100_000, 3);
        assert_eq!(pdf.len(), 100_000);
        assert!(pdf.starts_with(b"%PDF-1.4\n"));
        let mut gz = sedgate_as4::gzip::Gzip::new();
        let mut out = Vec::new();
        gz.feed(&pdf, &mut out);
        gz.finish(&mut out);
        assert!(out.len() > 99_000, "compressed to {}", out.len());
    }
}
