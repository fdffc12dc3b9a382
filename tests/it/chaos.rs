//! Faults under load: `kill -9` of either gateway at seeded random moments, a network that
//! resets, stalls and loses answers, a database connection that drops. Whatever happens,
//! every SED answered 202 arrives exactly once, byte-identical, with a receipt at the sender,
//! and nothing else arrives.
//!
//! CI runs short variants; `scripts/chaos.sh` runs long ones (CHAOS_KILLS, CHAOS_SECONDS).
//! The seed is printed; CHAOS_SEED=<n> replays a run.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use sedgate_gateway::config::Engine;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::both_engines;
use crate::faultproxy::Fault;
use crate::gateways::{sed_for, GatewayOptions, TwoGateways};

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn seed() -> u64 {
    let seed = env_u64("CHAOS_SEED").unwrap_or_else(|| rand::thread_rng().gen());
    println!("CHAOS_SEED={seed}");
    seed
}

fn sha256(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// What the back office was told: message id → (case id, SED hash, attachment hash).
type Accepted = Arc<Mutex<BTreeMap<String, (String, String, String)>>>;

/// A back-office client posting P2000s until `stop`, retrying each with the same
/// Idempotency-Key on connection errors and 503 (the gateway may be dead or restarting).
async fn client_loop(
    gws: Arc<TwoGateways>,
    client: usize,
    seed: u64,
    stop: Arc<std::sync::atomic::AtomicBool>,
    accepted: Accepted,
    attachment_size: std::ops::Range<usize>,
) -> Result<usize, String> {
    let mut rng = StdRng::seed_from_u64(seed.wrapping_add(client as u64));
    let mut n = 0usize;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        n += 1;
        let case_id = format!("chaos-{seed}-{client}-{n}");
        let mut attachment = vec![0u8; rng.gen_range(attachment_size.clone())];
        rng.fill_bytes(&mut attachment);
        let key = format!("key-{seed}-{client}-{n}");
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            match gws.try_post_sed(&case_id, &attachment, Some(&key)).await {
                Ok((202, body)) => {
                    let id = body["messages"][0]["id"]
                        .as_str()
                        .ok_or_else(|| format!("202 without id: {body}"))?
                        .to_owned();
                    let previous = accepted.lock().insert(
                        id.clone(),
                        (
                            case_id.clone(),
                            sha256(sed_for(&case_id).as_bytes()),
                            sha256(&attachment),
                        ),
                    );
                    if previous.is_some() {
                        return Err(format!("two submissions answered with one id {id}"));
                    }
                    break;
                }
                Ok((503, _)) | Err(_) => {}
                Ok((status, body)) => {
                    return Err(format!("case {case_id}: unexpected {status}: {body}"));
                }
            }
            if Instant::now() > deadline {
                return Err(format!("case {case_id}: no 202 within 90 s"));
            }
            tokio::time::sleep(Duration::from_millis(rng.gen_range(50..250))).await;
        }
        tokio::time::sleep(Duration::from_millis(rng.gen_range(50..300))).await;
    }
    Ok(n)
}

async fn pool(url: &str) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .expect("connect to a gateway's database")
}

/// Outbound messages at AT by state, and AT's stored receipts.
async fn sender_summary(url: &str) -> (BTreeMap<String, i64>, i64) {
    let db = pool(url).await;
    let mut states = BTreeMap::new();
    for row in sqlx::query(
        "SELECT state, COUNT(*) AS n FROM messages WHERE direction = 'out' GROUP BY state",
    )
    .fetch_all(&db)
    .await
    .expect("states")
    {
        states.insert(row.get::<String, _>("state"), row.get::<i64, _>("n"));
    }
    let receipts: i64 = sqlx::query(
        "SELECT COUNT(*) FROM messages WHERE direction = 'out' AND receipt IS NOT NULL",
    )
    .fetch_one(&db)
    .await
    .expect("receipts")
    .get(0);
    db.close().await;
    (states, receipts)
}

/// Waits until every accepted message is delivered at AT, then checks NO's inbox: each
/// exactly once, with the SED and attachment hashes the back office sent, nothing else.
async fn assert_exactly_once(gws: &TwoGateways, accepted: &Accepted, within: Duration) {
    let expected = accepted.lock().clone();
    let total = expected.len() as i64;
    let deadline = Instant::now() + within;
    loop {
        let (states, receipts) = sender_summary(&gws.at_db).await;
        let delivered = states.get("delivered").copied().unwrap_or(0);
        if delivered == total && receipts == total && states.values().sum::<i64>() == total {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not all {total} delivered within {within:?}: states {states:?}, receipts {receipts}\nAT log tail:\n{}",
            tail(&gws.at.log)
        );
        if states.contains_key("dead_lettered") || states.contains_key("failed") {
            let db = pool(&gws.at_db).await;
            let why: Vec<(String, Option<String>)> = sqlx::query(
                "SELECT id, error_detail FROM messages WHERE state IN ('failed', 'dead_lettered')",
            )
            .fetch_all(&db)
            .await
            .expect("dead letters")
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
            panic!("dead letters: {states:?}: {why:?}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let inbox = gws.inbox_all().await;
    let mut seen = HashSet::new();
    for item in &inbox {
        let id = item["id"].as_str().expect("id");
        assert!(seen.insert(id.to_owned()), "{id} twice in the inbox");
        let (case_id, sed_hash, attachment_hash) = expected
            .get(id)
            .unwrap_or_else(|| panic!("{id} in the inbox was never answered 202"));
        assert_eq!(item["case_id"], case_id.as_str());
        assert_eq!(item["parts"][0]["sha256"], sed_hash.as_str(), "{item}");
        assert_eq!(
            item["parts"][1]["sha256"],
            attachment_hash.as_str(),
            "{item}"
        );
    }
    assert_eq!(
        inbox.len(),
        expected.len(),
        "inbox holds a different number"
    );
    // Byte-identical on download too, for a sample.
    for item in inbox.iter().step_by((inbox.len() / 10).max(1)) {
        let id = item["id"].as_str().unwrap();
        let sed = gws
            .download(item["parts"][0]["href"].as_str().unwrap())
            .await;
        assert_eq!(sha256(&sed), expected[id].1);
        let attachment = gws
            .download(item["parts"][1]["href"].as_str().unwrap())
            .await;
        assert_eq!(sha256(&attachment), expected[id].2);
    }
    for gw in [&gws.at, &gws.no] {
        let (ok, out, err) = gw.cli(&["audit", "verify"]);
        assert!(
            ok && out.contains("gateway audit chains intact"),
            "{out}{err}"
        );
    }
}

fn tail(path: &std::path::Path) -> String {
    let log = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

struct Load {
    stop: Arc<std::sync::atomic::AtomicBool>,
    clients: Vec<tokio::task::JoinHandle<Result<usize, String>>>,
    accepted: Accepted,
}

fn start_load(gws: &Arc<TwoGateways>, seed: u64, clients: usize) -> Load {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let accepted: Accepted = Arc::default();
    let clients = (0..clients)
        .map(|c| {
            tokio::spawn(client_loop(
                gws.clone(),
                c,
                seed,
                stop.clone(),
                accepted.clone(),
                // Above the proxy's threshold, so request faults hit the payload.
                16 * 1024..48 * 1024,
            ))
        })
        .collect();
    Load {
        stop,
        clients,
        accepted,
    }
}

impl Load {
    async fn finish(self) -> Accepted {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut posted = 0;
        for c in self.clients {
            posted += c.await.expect("client task").expect("client");
        }
        println!(
            "posted {posted} SEDs, {} answered 202",
            self.accepted.lock().len()
        );
        self.accepted
    }
}

/// kill -9 of AT, then NO, alternately, at seeded random moments under load; each restarted.
async fn kill_gateways_under_load(engine: Engine) {
    let seed = seed();
    let kills = env_u64("CHAOS_KILLS").unwrap_or(20);
    let mut rng = StdRng::seed_from_u64(seed);
    let gws = TwoGateways::start_with(
        engine,
        GatewayOptions {
            max_attempts: 1000,
            send_timeout: "5s",
            ..Default::default()
        },
    )
    .await;
    let gws = Arc::new(gws);
    let load = start_load(&gws, seed, 3);
    let started = Instant::now();
    for k in 0..kills {
        tokio::time::sleep(Duration::from_millis(rng.gen_range(800..2500))).await;
        // The sender, then the receiver, and so on.
        let gw = if k % 2 == 0 { &gws.at } else { &gws.no };
        gw.kill();
        tokio::time::sleep(Duration::from_millis(rng.gen_range(0..600))).await;
        gw.start();
        gw.wait_ready().await;
    }
    println!("{kills} kills in {:?}", started.elapsed());
    let accepted = load.finish().await;
    assert!(
        accepted.lock().len() >= 20,
        "too little load to mean anything"
    );
    assert_exactly_once(&gws, &accepted, Duration::from_secs(60)).await;
}
both_engines!(crash, kill_gateways_under_load, multi_thread);

/// AT's outbox reaches NO through a proxy that resets, stalls, half-writes and loses answers
/// (and, on PostgreSQL, AT's database connections drop): still exactly once.
async fn network_faults_under_load(engine: Engine) {
    let seed = seed();
    let seconds = env_u64("CHAOS_SECONDS").unwrap_or(15);
    let gws = Arc::new(
        TwoGateways::start_with(
            engine,
            GatewayOptions {
                max_attempts: 1000,
                send_timeout: "3s",
                proxy_at_to_no: true,
                proxy_at_to_db: true,
                ..Default::default()
            },
        )
        .await,
    );
    let as4 = gws.at_to_no.as_ref().expect("AS4 proxy");
    as4.set_random(
        seed,
        &[
            (Fault::Pass, 2),
            (Fault::ResetMidRequest, 2),
            (Fault::Stall, 1),
            (Fault::HalfResponse, 2),
            (Fault::LoseResponse, 3),
        ],
    );
    let load = start_load(&gws, seed, 2);
    if let Some(db) = &gws.at_to_db {
        db.set_random(seed ^ 1, &[(Fault::Pass, 1), (Fault::ResetAfterBytes, 1)]);
        // The pool keeps its connections for good: drop them under load, so that the
        // reconnections go through the faults.
        tokio::time::sleep(Duration::from_millis(500)).await;
        db.cut();
        tokio::time::sleep(Duration::from_millis(200)).await;
        db.restore();
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let accepted = load.finish().await;
    as4.set(Fault::Pass);
    if let Some(db) = &gws.at_to_db {
        db.set(Fault::Pass);
        let counts = db.counts();
        println!("database connections by fault: {counts:?}");
        assert!(
            counts.get(&Fault::ResetAfterBytes).copied().unwrap_or(0) > 0,
            "no database connection was reset: {counts:?}"
        );
    }
    let counts = as4.counts();
    println!("AS4 connections by fault: {counts:?}");
    for fault in [
        Fault::ResetMidRequest,
        Fault::HalfResponse,
        Fault::LoseResponse,
    ] {
        assert!(
            counts.get(&fault).copied().unwrap_or(0) > 0,
            "{fault:?} never happened: {counts:?}"
        );
    }
    assert!(
        accepted.lock().len() >= 5,
        "too little load to mean anything"
    );
    assert_exactly_once(&gws, &accepted, Duration::from_secs(60)).await;
}
both_engines!(network, network_faults_under_load, multi_thread);

/// The receipt is lost after NO committed: AT sends again and NO answers from its dedup
/// record — the very receipt it stored the first time — and stores nothing new.
async fn lost_receipt_is_answered_from_dedup(engine: Engine) {
    let gws = TwoGateways::start_with(
        engine,
        GatewayOptions {
            proxy_at_to_no: true,
            send_timeout: "3s",
            ..Default::default()
        },
    )
    .await;
    let proxy = gws.at_to_no.as_ref().expect("proxy");
    proxy.set(Fault::LoseResponse);
    let mut attachment = vec![0u8; 32 * 1024];
    rand::thread_rng().fill_bytes(&mut attachment);
    let id = gws.post_sed("case-lost-receipt", &attachment).await;
    // NO has it while AT, without the receipt, is still trying.
    let deadline = Instant::now() + Duration::from_secs(60);
    while gws.inbox().await.is_empty() {
        assert!(Instant::now() < deadline, "NO never stored the message");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let m = gws.message(&id).await;
    assert_ne!(m["state"], "delivered", "{m}");
    proxy.set(Fault::Pass);
    let m = gws
        .wait_state(&id, "delivered", Duration::from_secs(30))
        .await;
    assert!(
        m["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["state"] == "retry"),
        "{m}"
    );
    assert_eq!(gws.inbox().await.len(), 1);
    let receipt = |url: String, direction: &'static str| {
        let id = id.clone();
        async move {
            let db = pool(&url).await;
            let rows = sqlx::query(
                "SELECT receipt FROM messages WHERE id = $1 AND direction = $2 AND receipt IS NOT NULL",
            )
            .bind(id.as_str())
            .bind(direction)
            .fetch_all(&db)
            .await
            .expect("receipts");
            db.close().await;
            rows.iter()
                .map(|r| r.get::<Vec<u8>, _>(0))
                .collect::<Vec<_>>()
        }
    };
    let sent = receipt(gws.no_db.clone(), "in").await;
    let kept = receipt(gws.at_db.clone(), "out").await;
    assert_eq!(sent.len(), 1, "NO stored one receipt");
    assert_eq!(kept, sent, "AT keeps the receipt NO stored the first time");
}
both_engines!(
    lost_receipt,
    lost_receipt_is_answered_from_dedup,
    multi_thread
);

/// PostgreSQL out of reach (every connection cut, new ones refused): requests fail fast with
/// 503 database_unavailable, /readyz turns red, and the gateway recovers by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_loss_fails_fast_and_recovers() {
    let gws = TwoGateways::start_with(
        Engine::Postgres,
        GatewayOptions {
            proxy_at_to_db: true,
            ..Default::default()
        },
    )
    .await;
    let db = gws.at_to_db.as_ref().expect("database proxy");
    let before = gws.post_sed("case-db-1", b"%PDF-1.4 before").await;
    gws.wait_state(&before, "delivered", Duration::from_secs(30))
        .await;

    db.cut();
    let started = Instant::now();
    let (status, body) = gws
        .try_post_sed("case-db-2", b"%PDF-1.4 during", Some("db-outage-1"))
        .await
        .expect("an answer, not a hang");
    let took = started.elapsed();
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], "database_unavailable", "{body}");
    println!("503 database_unavailable after {took:?}");
    assert!(took < Duration::from_secs(3), "503 took {took:?}");
    let started = Instant::now();
    let ready = gws
        .http
        .get(gws.at.url("/readyz"))
        .send()
        .await
        .expect("readyz");
    let took = started.elapsed();
    assert_eq!(ready.status(), 503);
    let ready: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(ready["database"]["ok"], false, "{ready}");
    println!("/readyz red after {took:?}");
    assert!(took < Duration::from_secs(3), "/readyz took {took:?}");
    assert_eq!(
        gws.http
            .get(gws.at.url("/livez"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    db.restore();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = gws
            .http
            .get(gws.at.url("/readyz"))
            .send()
            .await
            .expect("readyz");
        if r.status() == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not ready again after the database returned"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The retry of the refused request with its key now goes through, once.
    let (status, body) = gws
        .try_post_sed("case-db-2", b"%PDF-1.4 during", Some("db-outage-1"))
        .await
        .unwrap();
    assert_eq!(status, 202, "{body}");
    let id = body["messages"][0]["id"].as_str().unwrap().to_owned();
    gws.wait_state(&id, "delivered", Duration::from_secs(30))
        .await;
    assert_eq!(gws.inbox().await.len(), 2);
    assert!(db.refused() > 0, "the cut refused no connection");
}
