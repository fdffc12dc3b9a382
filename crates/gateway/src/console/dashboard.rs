//! The dashboard: message counts, the last hour's throughput and delivery latency (from the
//! stored history), outbox backlog, dead letters, certificate expiry, IR size.

use std::collections::BTreeMap;
use std::path::Path;

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Utc};

use super::auth::OperatorAuth;
use super::{page, path_segment, when, ConsoleError, Layout};
use crate::app::AppState;
use crate::transport::identity;

pub struct ActivityView {
    pub accepted: u64,
    pub delivered: u64,
    pub received: u64,
    pub retries: u64,
    pub dead: u64,
    pub per_minute: String,
    pub p50: String,
    pub p95: String,
    pub max: String,
}

pub struct PeerRow {
    pub country: String,
    pub sent: u64,
    pub received: u64,
}

pub struct DeadRow {
    pub id: String,
    pub href: String,
    pub state: String,
    pub error: String,
    pub attempts: u32,
    pub since: String,
}

pub struct CertRow {
    pub whose: String,
    pub subject: String,
    pub not_after: String,
    pub days_left: i64,
    pub fingerprint: String,
}

#[derive(Template)]
#[template(path = "console/dashboard.html")]
struct DashboardPage {
    layout: Layout,
    backlog: u64,
    activity: ActivityView,
    states: Vec<(String, String, u64)>,
    peers: Vec<PeerRow>,
    dead_letters: Vec<DeadRow>,
    certificates: Vec<CertRow>,
    unknown_peers: String,
    ir_size: usize,
    ir_access_points: usize,
    last_import: Option<String>,
}

fn duration(ms: i64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 120_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{:.1} min", ms as f64 / 60_000.0)
    }
}

/// The value at quantile `q` of sorted `values`.
fn quantile(values: &[i64], q: f64) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    let rank = ((values.len() as f64 - 1.0) * q).round() as usize;
    values.get(rank.min(values.len() - 1)).copied()
}

/// Certificates in a PEM file: (subject, not after, fingerprint). Unreadable files give none.
async fn pem_certificates(path: &Path) -> Vec<identity::PeerIdentity> {
    let Ok(bytes) = tokio::fs::read(path).await else {
        return Vec::new();
    };
    rustls_pemfile::certs(&mut bytes.as_slice())
        .filter_map(Result::ok)
        .filter_map(|der| identity::from_der(der.as_ref()).ok())
        .collect()
}

fn cert_row(whose: String, id: &identity::PeerIdentity, now: DateTime<Utc>) -> CertRow {
    CertRow {
        whose,
        subject: id.subject.clone(),
        not_after: when(id.not_after),
        days_left: (id.not_after - now).num_days(),
        fingerprint: id.fingerprint.clone(),
    }
}

pub async fn show(
    State(state): State<AppState>,
    op: OperatorAuth,
) -> Result<Response, ConsoleError> {
    let now = Utc::now();
    let store = &state.store;
    let mut states = store.message_counts().await?;
    states.sort();
    let mut peers: BTreeMap<String, PeerRow> = BTreeMap::new();
    for (country, direction, n) in store.message_counts_by_peer().await? {
        let row = peers.entry(country.clone()).or_insert(PeerRow {
            country,
            sent: 0,
            received: 0,
        });
        if direction == "in" {
            row.received += n;
        } else {
            row.sent += n;
        }
    }
    let activity = store
        .activity_since(now - chrono::Duration::hours(1))
        .await?;
    let latencies = &activity.delivery_latencies_ms;
    let show_ms = |v: Option<i64>| v.map(duration).unwrap_or_else(|| "–".to_owned());
    let activity_view = ActivityView {
        accepted: activity.accepted,
        delivered: activity.delivered,
        received: activity.received,
        retries: activity.retries,
        dead: activity.dead,
        per_minute: format!("{:.2}", activity.delivered as f64 / 60.0),
        p50: show_ms(quantile(latencies, 0.5)),
        p95: show_ms(quantile(latencies, 0.95)),
        max: show_ms(latencies.last().copied()),
    };
    let (backlog, _) = store.outbox_counts().await?;
    let dead_letters = store
        .dead_letters()
        .await?
        .into_iter()
        .map(|d| DeadRow {
            href: format!("/console/messages/{}", path_segment(d.id.as_str())),
            id: d.id.to_string(),
            state: d.state.as_str().to_owned(),
            error: [d.error_code, d.error_detail]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(": "),
            attempts: d.attempts,
            since: when(d.updated_at),
        })
        .collect();

    let own = pem_certificates(&state.config.tls.cert).await;
    let anchors = pem_certificates(&state.config.tls.trust_anchors).await;
    let mut certificates: Vec<CertRow> = own
        .iter()
        .map(|c| cert_row(format!("this gateway ({})", state.config.country), c, now))
        .chain(
            anchors
                .iter()
                .map(|c| cert_row("trust anchor".to_owned(), c, now)),
        )
        .collect();
    let index = state.ir();
    let mut unknown = Vec::new();
    for ap in index.access_points() {
        let known: Vec<&identity::PeerIdentity> = own
            .iter()
            .chain(anchors.iter())
            .filter(|c| ap.cert_fingerprints.contains(&c.fingerprint))
            .collect();
        if known.is_empty() {
            if ap.country != state.config.country {
                unknown.push(ap.country.to_string());
            }
        } else {
            certificates.extend(
                known
                    .into_iter()
                    .map(|c| cert_row(format!("peer {}", ap.country), c, now)),
            );
        }
    }
    let last_import = store.last_import().await?.map(|li| {
        format!(
            "{} from {} (added {}, updated {}, unchanged {}, rejected {})",
            when(li.at),
            li.source,
            li.counts.added,
            li.counts.updated,
            li.counts.unchanged,
            li.counts.rejected
        )
    });
    page(&DashboardPage {
        layout: Layout::new(&state, &op),
        backlog,
        activity: activity_view,
        states,
        peers: peers.into_values().collect(),
        dead_letters,
        certificates,
        unknown_peers: unknown.join(", "),
        ir_size: index.len(),
        ir_access_points: index.access_points().len(),
        last_import,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_of_sorted_latencies() {
        let v = [10, 20, 30, 40, 1000];
        assert_eq!(quantile(&v, 0.5), Some(30));
        assert_eq!(quantile(&v, 0.95), Some(1000));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(250), "250 ms");
        assert_eq!(duration(1500), "1.5 s");
        assert_eq!(duration(180_000), "3.0 min");
    }
}
