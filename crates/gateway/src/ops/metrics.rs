//! Prometheus metrics. Each family has bounded labels: route templates, status codes,
//! countries, ebMS codes; never message or institution ids.

use std::sync::atomic::AtomicU64;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub listener: &'static str,
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LatencyLabels {
    pub listener: &'static str,
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    pub direction: String,
    pub state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    pub operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EbmsLabels {
    pub code: String,
}

/// All metric families of one gateway.
pub struct Metrics {
    pub registry: Registry,
    pub http_requests: Family<RequestLabels, Counter>,
    pub http_latency: Family<LatencyLabels, Histogram>,
    pub db_connections: Gauge,
    pub db_idle_connections: Gauge,
    pub db_write_commits: Gauge,
    pub db_grouped_writes: Gauge,
    /// SQL statements sent, by store operation (brought up to the store's counts when
    /// scraped; `db_statements_sync` keeps concurrent scrapes from counting twice).
    pub db_statements: Family<OperationLabels, Counter>,
    pub db_statements_sync: parking_lot::Mutex<()>,
    pub ir_institutions: Gauge,
    pub ir_access_points: Gauge,
    pub messages: Family<StateLabels, Gauge>,
    pub outbox_pending: Gauge,
    pub outbox_dead: Gauge,
    pub outbox_attempts: Family<OutcomeLabels, Counter>,
    pub as4_inbound: Family<OutcomeLabels, Counter>,
    pub as4_errors: Family<EbmsLabels, Counter>,
    pub tls_handshake_failures: Counter<u64, AtomicU64>,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("sedgate");
        let http_requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by listener, route and status",
            http_requests.clone(),
        );
        let http_latency = Family::<LatencyLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency",
            http_latency.clone(),
        );
        let db_connections = Gauge::default();
        registry.register(
            "db_pool_connections",
            "Open database connections",
            db_connections.clone(),
        );
        let db_idle_connections = Gauge::default();
        registry.register(
            "db_pool_idle_connections",
            "Idle database connections",
            db_idle_connections.clone(),
        );
        let db_write_commits = Gauge::default();
        registry.register(
            "db_write_commits",
            "Committed transactions of grouped writes (intake, receipts, inbound) since start",
            db_write_commits.clone(),
        );
        let db_grouped_writes = Gauge::default();
        registry.register(
            "db_grouped_writes",
            "Writes those transactions held (writes / commits = group size)",
            db_grouped_writes.clone(),
        );
        let db_statements = Family::<OperationLabels, Counter>::default();
        registry.register(
            "db_statements",
            "SQL statements sent to the database, by store operation",
            db_statements.clone(),
        );
        let ir_institutions = Gauge::default();
        registry.register(
            "ir_institutions",
            "Institutions in the in-memory IR index",
            ir_institutions.clone(),
        );
        let ir_access_points = Gauge::default();
        registry.register(
            "ir_access_points",
            "Access points in the IR",
            ir_access_points.clone(),
        );
        let messages = Family::<StateLabels, Gauge>::default();
        registry.register(
            "messages",
            "Stored messages by direction and state",
            messages.clone(),
        );
        let outbox_pending = Gauge::default();
        registry.register(
            "outbox_pending",
            "Messages waiting to be sent",
            outbox_pending.clone(),
        );
        let outbox_dead = Gauge::default();
        registry.register(
            "outbox_dead_letters",
            "Messages in the dead-letter queue",
            outbox_dead.clone(),
        );
        let outbox_attempts = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "outbox_attempts",
            "Send attempts by outcome",
            outbox_attempts.clone(),
        );
        let as4_inbound = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "as4_inbound_messages",
            "Inbound AS4 messages by outcome",
            as4_inbound.clone(),
        );
        let as4_errors = Family::<EbmsLabels, Counter>::default();
        registry.register(
            "as4_errors",
            "ebMS error signals sent, by code",
            as4_errors.clone(),
        );
        let tls_handshake_failures = Counter::default();
        registry.register(
            "tls_handshake_failures",
            "Failed inbound TLS handshakes",
            tls_handshake_failures.clone(),
        );
        Self {
            registry,
            http_requests,
            http_latency,
            db_connections,
            db_idle_connections,
            db_write_commits,
            db_grouped_writes,
            db_statements,
            db_statements_sync: parking_lot::Mutex::new(()),
            ir_institutions,
            ir_access_points,
            messages,
            outbox_pending,
            outbox_dead,
            outbox_attempts,
            as4_inbound,
            as4_errors,
            tls_handshake_failures,
        }
    }

    /// Brings `db_statements` up to the store's own counts.
    pub fn sync_statements(&self, count: impl Fn(sedgate_store::Operation) -> u64) {
        let _one_at_a_time = self.db_statements_sync.lock();
        for op in sedgate_store::Operation::ALL {
            let counter = self.db_statements.get_or_create(&OperationLabels {
                operation: op.as_str(),
            });
            let (total, seen) = (count(op), counter.get());
            if total > seen {
                counter.inc_by(total - seen);
            }
        }
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    fn observe(&self, listener: &'static str, method: &str, route: String, status: u16, secs: f64) {
        self.http_requests
            .get_or_create(&RequestLabels {
                listener,
                method: method.to_owned(),
                route: route.clone(),
                status,
            })
            .inc();
        self.http_latency
            .get_or_create(&LatencyLabels { listener, route })
            .observe(secs);
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// State for the request-metrics middleware.
#[derive(Clone)]
pub struct HttpMetricsLayer {
    pub metrics: std::sync::Arc<Metrics>,
    pub listener: &'static str,
}

/// Middleware that counts requests by route template (never by raw path).
pub async fn track(State(layer): State<HttpMetricsLayer>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().as_str().to_owned();
    let response = next.run(req).await;
    layer.metrics.observe(
        layer.listener,
        &method,
        route,
        response.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_families_with_route_labels() {
        let m = Metrics::new();
        m.observe("api", "GET", "/api/v1/messages/{id}".into(), 200, 0.01);
        m.ir_institutions.set(7455);
        let text = m.encode();
        assert!(text.contains(
            "sedgate_http_requests_total{listener=\"api\",method=\"GET\",route=\"/api/v1/messages/{id}\",status=\"200\"} 1"
        ), "{text}");
        assert!(text.contains("sedgate_ir_institutions 7455"), "{text}");
        assert!(
            text.contains("sedgate_http_request_duration_seconds_bucket"),
            "{text}"
        );
    }
}
