//! `sedgate bench e2e --engines postgres --nodes N`: N AT nodes (one country, one
//! PostgreSQL database, each with its API, outbox and AS4 listener) send to NO while the
//! back-office clients are spread over them. Halfway through, the last node is killed with
//! SIGKILL and restarted. Afterwards every SED answered 202 must be in NO's inbox exactly
//! once, and every audit chain must verify.
//!
//! The attachment is larger than the inline limit, so payloads go through the database's
//! chunked store: a node sends what another node accepted.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use super::gateway::{Gateway, Pair, PairSettings, RunFiles};
use super::load::{self, Attachment, Client, Posting, Sample};
use super::pseudo_pdf;
use crate::BenchError;

/// Above the inline limit: the payload is staged in the database, not in the row.
pub const ATTACHMENT_BYTES: usize = 300 * 1024;

/// What the scenario found (the `multi_node` object of the JSON).
#[derive(Debug, Clone, Serialize)]
pub struct MultiNodeResult {
    pub nodes: usize,
    /// Nodes killed with SIGKILL (and restarted) while the clients posted.
    pub killed: usize,
    /// SEDs answered 202.
    pub accepted: usize,
    /// Accepted SEDs that AT recorded as delivered (receipt stored).
    pub delivered: usize,
    /// Accepted, but never in NO's inbox.
    pub lost: usize,
    /// Messages with more than one inbox row at NO.
    pub duplicated: usize,
    /// `sedgate audit verify` passed on AT's shared database and on NO's.
    pub audit_ok: bool,
    /// From the kill to the last delivery of a SED accepted before it.
    pub max_redelivery_seconds: Option<f64>,
    /// Killed node: spawn → /readyz 200 after the kill.
    pub restart_ready_ms: f64,
    pub posting_seconds: f64,
    pub retries: u64,
    pub failed_posts: u64,
    pub end_to_end_per_second: f64,
    pub attachment_bytes: usize,
}

/// Runs the scenario on a fresh set of databases; stops every process either way.
pub async fn run(
    dir: &std::path::Path,
    files: &RunFiles,
    settings: &PairSettings,
    nodes: usize,
    clients: usize,
    seconds: f64,
    sed: Arc<str>,
) -> Result<MultiNodeResult, BenchError> {
    let mut pair = Pair::prepare_nodes(&dir.join("multi-node"), files, settings, nodes).await?;
    let result = scenario(&mut pair, nodes, clients, seconds, sed).await;
    pair.stop().await;
    pair.drop_databases().await;
    result
}

async fn scenario(
    pair: &mut Pair,
    nodes: usize,
    clients: usize,
    seconds: f64,
    sed: Arc<str>,
) -> Result<MultiNodeResult, BenchError> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients * 2)
        .timeout(Duration::from_secs(600))
        .build()?;
    pair.no.start(&http).await?;
    pair.at.start(&http).await?;
    for sibling in &mut pair.at_siblings {
        sibling.start(&http).await?;
    }
    let sample = Arc::new(Sample {
        name: "10KB SED + 300KB PDF",
        sed,
        attachment: Attachment::Bytes(Bytes::from(pseudo_pdf(ATTACHMENT_BYTES, 11))),
    });
    let senders: Vec<&Gateway> = std::iter::once(&pair.at)
        .chain(pair.at_siblings.iter())
        .collect();
    let client = Client::spread(http.clone(), &senders, sample);

    let began = Instant::now();
    let posting = load::closed_loop(&client, clients, seconds, "MN");
    let chaos = async {
        tokio::time::sleep(Duration::from_secs_f64(seconds / 2.0)).await;
        let victim = pair
            .at_siblings
            .last_mut()
            .ok_or_else(|| BenchError::Setup("--nodes needs at least 2".into()))?;
        let killed_at = Utc::now();
        victim.kill();
        // Down long enough for its clients to move to the other node(s).
        tokio::time::sleep(Duration::from_millis(500)).await;
        let ready = victim.start(&http).await?;
        Ok::<_, BenchError>((killed_at, ready))
    };
    let (posting, chaos): (Posting, _) = tokio::join!(posting, chaos);
    let (killed_at, restart) = chaos?;
    let posting_seconds = began.elapsed().as_secs_f64();
    if posting.posted.is_empty() {
        return Err(BenchError::NothingAccepted(
            posting
                .first_failure
                .unwrap_or_else(|| "no request was sent".into()),
        ));
    }

    let accepted: HashSet<&str> = posting.posted.iter().map(|p| p.id.as_str()).collect();
    let settle_limit = Duration::from_secs_f64((seconds * 10.0).max(120.0));
    let delivered = wait_settled(&pair.at.database_url, &accepted, settle_limit).await?;
    let end_to_end_seconds = began.elapsed().as_secs_f64();
    let inbox = inbox_rows(&pair.no.database_url).await?;
    let lost = accepted
        .iter()
        .filter(|id| !inbox.contains_key(**id))
        .count();
    let duplicated = inbox.values().filter(|n| **n > 1).count();
    let mut audit_ok = true;
    for gateway in [&pair.at, &pair.no] {
        let (ok, out) = gateway.cli(&["audit", "verify"])?;
        if !ok {
            println!("[multi-node] audit verify at {}: {out}", gateway.country);
            audit_ok = false;
        }
    }
    let max_redelivery_seconds = last_delivery_after(&pair.at.database_url, killed_at)
        .await?
        .map(|last| (last - killed_at).num_milliseconds() as f64 / 1000.0);
    Ok(MultiNodeResult {
        nodes,
        killed: 1,
        accepted: accepted.len(),
        delivered,
        lost,
        duplicated,
        audit_ok,
        max_redelivery_seconds,
        restart_ready_ms: restart.as_secs_f64() * 1000.0,
        posting_seconds,
        retries: posting.retries,
        failed_posts: posting.failures,
        end_to_end_per_second: accepted.len() as f64 / end_to_end_seconds,
        attachment_bytes: ATTACHMENT_BYTES,
    })
}

async fn connect(url: &str) -> Result<sqlx::AnyPool, BenchError> {
    sqlx::any::install_default_drivers();
    sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .map_err(|e| BenchError::Setup(format!("cannot read the gateways' database: {e}")))
}

fn db_error(e: sqlx::Error) -> BenchError {
    BenchError::Setup(format!("reading the gateways' database: {e}"))
}

/// Waits until no outbound message at AT is still on its way (or `within` passed); returns
/// how many of `accepted` are delivered.
async fn wait_settled(
    at_db: &str,
    accepted: &HashSet<&str>,
    within: Duration,
) -> Result<usize, BenchError> {
    let db = connect(at_db).await?;
    let deadline = Instant::now() + within;
    let delivered = loop {
        let rows = sqlx::query("SELECT id, state FROM messages WHERE direction = 'out'")
            .fetch_all(&db)
            .await
            .map_err(db_error)?;
        let mut pending = 0;
        let mut delivered = 0;
        for row in &rows {
            let id: String = row.try_get(0).map_err(db_error)?;
            let state: String = row.try_get(1).map_err(db_error)?;
            match state.as_str() {
                "accepted" | "sending" => pending += 1,
                "delivered" if accepted.contains(id.as_str()) => delivered += 1,
                _ => {}
            }
        }
        if pending == 0 || Instant::now() > deadline {
            break delivered;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    db.close().await;
    Ok(delivered)
}

/// NO's inbox: inbound rows per message id.
async fn inbox_rows(no_db: &str) -> Result<HashMap<String, i64>, BenchError> {
    let db = connect(no_db).await?;
    let rows =
        sqlx::query("SELECT id, COUNT(*) AS n FROM messages WHERE direction = 'in' GROUP BY id")
            .fetch_all(&db)
            .await
            .map_err(db_error)?;
    db.close().await;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get(0).map_err(db_error)?,
                r.try_get(1).map_err(db_error)?,
            ))
        })
        .collect()
}

/// The last delivery, after `killed_at`, of a SED accepted before it.
async fn last_delivery_after(
    at_db: &str,
    killed_at: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, BenchError> {
    let db = connect(at_db).await?;
    let micros: Option<i64> = sqlx::query(
        "SELECT CAST(EXTRACT(EPOCH FROM MAX(delivered_at)) * 1000000 AS BIGINT) FROM messages \
         WHERE direction = 'out' AND created_at < to_timestamp($1) AND delivered_at > to_timestamp($1)",
    )
    .bind(killed_at.timestamp_micros() as f64 / 1e6)
    .fetch_one(&db)
    .await
    .map_err(db_error)?
    .try_get(0)
    .map_err(db_error)?;
    db.close().await;
    Ok(micros.and_then(DateTime::from_timestamp_micros))
}

pub fn print(r: &MultiNodeResult) {
    println!();
    println!(
        "{:>5} {:>6} {:>8} {:>9} {:>5} {:>10} {:>8} {:>14} {:>10} {:>9}",
        "nodes",
        "killed",
        "accepted",
        "delivered",
        "lost",
        "duplicated",
        "audit",
        "redelivery s",
        "restart ms",
        "e2e SED/s"
    );
    println!(
        "{:>5} {:>6} {:>8} {:>9} {:>5} {:>10} {:>8} {:>14} {:>10.0} {:>9.0}",
        r.nodes,
        r.killed,
        r.accepted,
        r.delivered,
        r.lost,
        r.duplicated,
        if r.audit_ok { "intact" } else { "BROKEN" },
        r.max_redelivery_seconds
            .map(|s| format!("{s:.2}"))
            .unwrap_or_else(|| "n/a".into()),
        r.restart_ready_ms,
        r.end_to_end_per_second
    );
}
