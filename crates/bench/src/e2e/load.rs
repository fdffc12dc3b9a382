//! Back-office clients: post SEDs (closed loop: C clients as fast as answers come; open
//! loop: a fixed rate), then find out when each was delivered.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde_json::{json, Value};
use tokio::io::AsyncReadExt;

use super::gateway::{Gateway, Pair, RECEIVER, SENDER};
use crate::sample::sed_with_header;
use crate::BenchError;

/// Retries of one POST after a 503 or a broken connection, each with the same
/// Idempotency-Key, so that a retry never creates a second message.
const MAX_RETRIES: u32 = 50;

/// What a client posts: a SED template and an optional attachment.
pub struct Sample {
    pub name: &'static str,
    pub sed: Arc<str>,
    pub attachment: Attachment,
}

pub enum Attachment {
    None,
    /// Held in memory and shared by every request.
    Bytes(Bytes),
    /// Streamed from a file (100 MB and 1 GB runs).
    File {
        path: PathBuf,
        len: u64,
    },
}

/// An accepted POST: the message id, when the POST began, how long the 202 took.
#[derive(Debug, Clone)]
pub struct Posted {
    pub id: String,
    pub began: DateTime<Utc>,
    pub answer: Duration,
}

/// The outcome of posting for a while.
#[derive(Debug, Default)]
pub struct Posting {
    pub posted: Vec<Posted>,
    pub retries: u64,
    pub failures: u64,
    pub first_failure: Option<String>,
}

impl Posting {
    fn absorb(&mut self, outcome: Result<(Posted, u32), (String, u32)>) {
        match outcome {
            Ok((p, retries)) => {
                self.posted.push(p);
                self.retries += u64::from(retries);
            }
            Err((e, retries)) => {
                self.failures += 1;
                self.retries += u64::from(retries);
                self.first_failure.get_or_insert(e);
            }
        }
    }
}

#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    /// The message endpoints of the sending nodes (one unless `--nodes`).
    urls: Arc<[Arc<str>]>,
    /// The node this client posts to first; a retry goes to the next one, as behind a
    /// load balancer.
    first: usize,
    pub token: Arc<str>,
    pub sample: Arc<Sample>,
}

impl Client {
    pub fn new(http: reqwest::Client, sender: &Gateway, sample: Arc<Sample>) -> Self {
        Self::spread(http, &[sender], sample)
    }

    /// A client of several nodes of one country (one database, one token).
    pub fn spread(http: reqwest::Client, senders: &[&Gateway], sample: Arc<Sample>) -> Self {
        Self {
            http,
            urls: senders
                .iter()
                .map(|g| Arc::from(g.url("/api/v1/messages")))
                .collect(),
            first: 0,
            token: Arc::from(
                senders
                    .first()
                    .map(|g| g.token.as_str())
                    .unwrap_or_default(),
            ),
            sample,
        }
    }

    /// The same client, posting first to node `n` (modulo the number of nodes).
    pub fn starting_at(&self, n: usize) -> Self {
        Self {
            first: n % self.urls.len().max(1),
            ..self.clone()
        }
    }

    async fn form(&self, case_id: &str) -> Result<reqwest::multipart::Form, String> {
        let sed = sed_with_header(&self.sample.sed, case_id, SENDER, &[RECEIVER])
            .ok_or("the sample SED has no rewritable header")?;
        let metadata = json!({
            "case_id": case_id, "buc": "P_BUC_01", "sed_type": "P2000", "cdm_version": "4.2",
            "sender": SENDER, "receivers": [RECEIVER],
        });
        let mut form = reqwest::multipart::Form::new()
            .part(
                "metadata",
                reqwest::multipart::Part::text(metadata.to_string())
                    .mime_str("application/json")
                    .map_err(|e| e.to_string())?,
            )
            .part(
                "sed",
                reqwest::multipart::Part::text(sed)
                    .file_name("P2000.xml")
                    .mime_str("application/xml")
                    .map_err(|e| e.to_string())?,
            );
        let body = match &self.sample.attachment {
            Attachment::None => None,
            Attachment::Bytes(b) => Some((reqwest::Body::from(b.clone()), b.len() as u64)),
            Attachment::File { path, len } => {
                let file = tokio::fs::File::open(path)
                    .await
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                Some((reqwest::Body::wrap_stream(file_chunks(file)), *len))
            }
        };
        if let Some((body, len)) = body {
            form = form.part(
                "attachment",
                reqwest::multipart::Part::stream_with_length(body, len)
                    .file_name("report.pdf")
                    .mime_str("application/pdf")
                    .map_err(|e| e.to_string())?,
            );
        }
        Ok(form)
    }

    /// Posts one SED for a new case; retries 503s and broken connections with the same
    /// Idempotency-Key. Returns the number of retries either way.
    pub async fn post(&self, case_id: &str) -> Result<(Posted, u32), (String, u32)> {
        let key = uuid::Uuid::new_v4().to_string();
        let began = Utc::now();
        let started = Instant::now();
        let mut retries = 0;
        loop {
            let form = self.form(case_id).await.map_err(|e| (e, retries))?;
            let url = &self.urls[(self.first + retries as usize) % self.urls.len()];
            let answer = self
                .http
                .post(url.as_ref())
                .bearer_auth(self.token.as_ref())
                .header("Idempotency-Key", &key)
                .multipart(form)
                .send()
                .await;
            let retry_reason = match answer {
                Ok(res) if res.status().as_u16() == 202 => {
                    let body: Value = res.json().await.map_err(|e| (e.to_string(), retries))?;
                    let id = body["messages"][0]["id"]
                        .as_str()
                        .ok_or_else(|| (format!("no message id in {body}"), retries))?
                        .to_owned();
                    return Ok((
                        Posted {
                            id,
                            began,
                            answer: started.elapsed(),
                        },
                        retries,
                    ));
                }
                Ok(res) if res.status().as_u16() == 503 => "503".to_owned(),
                Ok(res) => {
                    let status = res.status();
                    let text = res.text().await.unwrap_or_default();
                    return Err((format!("{status}: {text}"), retries));
                }
                Err(e) if e.is_connect() || e.is_request() => e.to_string(),
                Err(e) => return Err((e.to_string(), retries)),
            };
            if retries >= MAX_RETRIES {
                return Err((
                    format!("still failing after {retries} retries: {retry_reason}"),
                    retries,
                ));
            }
            retries += 1;
            tokio::time::sleep(Duration::from_millis(20 * u64::from(retries.min(10)))).await;
        }
    }
}

/// A file as a stream of 256 KB chunks (never held whole).
fn file_chunks(
    file: tokio::fs::File,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    futures::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buf = vec![0u8; 256 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    })
}

/// `clients` clients post back to back until `seconds` have passed.
pub async fn closed_loop(client: &Client, clients: usize, seconds: f64, tag: &str) -> Posting {
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let workers: Vec<_> = (0..clients)
        .map(|n| {
            let client = client.starting_at(n);
            let tag = tag.to_owned();
            tokio::spawn(async move {
                let mut posting = Posting::default();
                let mut seq = 0u64;
                while Instant::now() < deadline {
                    seq += 1;
                    let case_id = format!("B{tag}-{n}-{seq}");
                    posting.absorb(client.post(&case_id).await);
                }
                posting
            })
        })
        .collect();
    let mut all = Posting::default();
    for w in workers {
        match w.await {
            Ok(p) => {
                all.posted.extend(p.posted);
                all.retries += p.retries;
                all.failures += p.failures;
                all.first_failure = all.first_failure.or(p.first_failure);
            }
            Err(e) => {
                all.failures += 1;
                all.first_failure.get_or_insert(format!("client task: {e}"));
            }
        }
    }
    all
}

/// Posts start at a fixed `rate` per second for `seconds`, whatever the answers take
/// (at most `max_in_flight` at once, so an overloaded gateway cannot exhaust the client).
pub async fn open_loop(
    client: &Client,
    rate: f64,
    seconds: f64,
    max_in_flight: usize,
    tag: &str,
) -> Posting {
    let rate = rate.max(0.1);
    let began = tokio::time::Instant::now();
    let total = (rate * seconds).ceil().max(1.0) as u64;
    let slots = Arc::new(tokio::sync::Semaphore::new(max_in_flight.max(1)));
    let mut tasks = Vec::with_capacity(total as usize);
    for n in 0..total {
        tokio::time::sleep_until(began + Duration::from_secs_f64(n as f64 / rate)).await;
        let Ok(permit) = slots.clone().acquire_owned().await else {
            break;
        };
        let client = client.starting_at(n as usize);
        let case_id = format!("B{tag}-{n}");
        tasks.push(tokio::spawn(async move {
            let outcome = client.post(&case_id).await;
            drop(permit);
            outcome
        }));
    }
    let mut all = Posting::default();
    for t in tasks {
        match t.await {
            Ok(outcome) => all.absorb(outcome),
            Err(e) => all.absorb(Err((format!("client task: {e}"), 0))),
        }
    }
    all
}

/// The value of a Prometheus sample `family{labels}` in an exposition text.
pub fn metric_value(text: &str, family: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let rest = line.strip_prefix(family)?;
            let (label_text, value) = match rest.strip_prefix('{') {
                Some(r) => {
                    let (l, v) = r.split_once('}')?;
                    (l, v)
                }
                None if rest.starts_with(' ') => ("", rest),
                None => return None,
            };
            let all_match = labels
                .iter()
                .all(|(k, v)| label_text.split(',').any(|p| p == format!("{k}=\"{v}\"")));
            if all_match {
                value.split_whitespace().next()?.parse().ok()
            } else {
                None
            }
        })
}

/// Message counts of one gateway by state, and its database work, from its /metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Counts {
    pub delivered: u64,
    pub failed: u64,
    pub received: u64,
    /// SQL statements of the operations that exchange SEDs (intake, claim, settlement,
    /// inbound, audit, evidence, payloads), since start.
    pub exchange_statements: u64,
    /// Committed group-commit transactions since start.
    pub group_commits: u64,
}

pub async fn counts(http: &reqwest::Client, gw: &Gateway) -> Result<Counts, BenchError> {
    let text = http
        .get(gw.url("/metrics"))
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    let n = |direction: &str, state: &str| {
        metric_value(
            &text,
            "sedgate_messages",
            &[("direction", direction), ("state", state)],
        )
        .unwrap_or(0.0) as u64
    };
    Ok(Counts {
        delivered: n("out", "delivered"),
        failed: n("out", "failed") + n("out", "dead_lettered"),
        received: n("in", "received") + n("in", "acknowledged"),
        exchange_statements: sedgate_store::Operation::ALL
            .iter()
            .filter(|op| op.is_exchange())
            .map(|op| {
                metric_value(
                    &text,
                    "sedgate_db_statements_total",
                    &[("operation", op.as_str())],
                )
                .unwrap_or(0.0) as u64
            })
            .sum(),
        group_commits: metric_value(&text, "sedgate_db_write_commits", &[]).unwrap_or(0.0) as u64,
    })
}

/// Waits until the sender counts `delivered` messages and the receiver `received`.
/// Returns when that was seen (polled every 20 ms).
pub async fn wait_delivered(
    http: &reqwest::Client,
    pair: &Pair,
    delivered: u64,
    received: u64,
    within: Duration,
) -> Result<Instant, BenchError> {
    let deadline = Instant::now() + within;
    loop {
        let at = counts(http, &pair.at).await?;
        if at.failed > 0 {
            return Err(BenchError::Setup(format!(
                "{} message(s) failed or were dead-lettered at AT; see {}",
                at.failed,
                pair.at.log.display()
            )));
        }
        if at.delivered >= delivered {
            let no = counts(http, &pair.no).await?;
            if no.received >= received {
                return Ok(Instant::now());
            }
        }
        if Instant::now() > deadline {
            return Err(BenchError::Setup(format!(
                "only {} of {delivered} messages delivered within {within:?}",
                at.delivered
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// When the sender recorded the receipt of message `id` (its `delivered` event).
pub async fn delivered_at(
    http: &reqwest::Client,
    sender: &Gateway,
    id: &str,
) -> Result<Option<DateTime<Utc>>, BenchError> {
    let m: Value = http
        .get(sender.url(&format!("/api/v1/messages/{id}")))
        .bearer_auth(&sender.token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(m["history"].as_array().and_then(|h| {
        h.iter()
            .filter(|e| e["state"] == "delivered")
            .find_map(|e| e["at"].as_str()?.parse::<DateTime<Utc>>().ok())
    }))
}

/// POST-to-receipt latencies of up to `max` messages spread evenly over `posted`, plus
/// the last ones posted; and the latest delivery time seen.
pub async fn latencies(
    http: &reqwest::Client,
    sender: &Gateway,
    posted: &[Posted],
    max: usize,
) -> Result<(Vec<Duration>, Option<DateTime<Utc>>), BenchError> {
    let step = (posted.len() / max.max(1)).max(1);
    let mut indices: std::collections::BTreeSet<usize> = (0..posted.len()).step_by(step).collect();
    // The last ones posted are about the last delivered: they end the run.
    indices.extend(posted.len().saturating_sub(20)..posted.len());
    let chosen: Vec<&Posted> = indices.into_iter().filter_map(|i| posted.get(i)).collect();
    let found = futures::stream::iter(chosen)
        .map(|p| async move { delivered_at(http, sender, &p.id).await.map(|d| (p, d)) })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
    let mut out = Vec::new();
    let mut last = None;
    for item in found {
        let (p, at) = item?;
        let at = at
            .ok_or_else(|| BenchError::Setup(format!("message {} has no delivered event", p.id)))?;
        last = last.max(Some(at));
        out.push((at - p.began).to_std().unwrap_or(Duration::ZERO));
    }
    out.sort_unstable();
    Ok((out, last))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_labelled_sample_in_exposition_text() {
        let text = "# HELP sedgate_messages Stored messages\n\
                    sedgate_messages{direction=\"out\",state=\"delivered\"} 1234\n\
                    sedgate_messages{direction=\"in\",state=\"received\"} 7\n\
                    sedgate_messages_total 3\n\
                    sedgate_outbox_pending 5\n";
        let get = |labels: &[(&str, &str)]| metric_value(text, "sedgate_messages", labels);
        assert_eq!(
            get(&[("direction", "out"), ("state", "delivered")]),
            Some(1234.0)
        );
        assert_eq!(get(&[("state", "received")]), Some(7.0));
        assert_eq!(get(&[("direction", "out"), ("state", "failed")]), None);
        assert_eq!(metric_value(text, "sedgate_outbox_pending", &[]), Some(5.0));
    }
}
