//! Liveness, readiness and the metrics endpoint.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::app::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

async fn livez() -> &'static str {
    "ok"
}

#[derive(Serialize)]
struct Readiness {
    ready: bool,
    database: Check,
    migrations: Check,
    ir: Check,
}

#[derive(Serialize)]
struct Check {
    ok: bool,
    detail: String,
}

/// A database that does not answer within this is not ready: a probe must not hang on a
/// blackholed connection.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

async fn readyz(State(state): State<AppState>) -> Response {
    let database = match tokio::time::timeout(PROBE_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => Check {
            ok: true,
            detail: format!("{:?} reachable", state.store.engine()),
        },
        Ok(Err(e)) => Check {
            ok: false,
            detail: e.to_string(),
        },
        Err(_) => Check {
            ok: false,
            detail: format!("no answer within {PROBE_TIMEOUT:?}"),
        },
    };
    let migrations = if !database.ok {
        Check {
            ok: false,
            detail: "unknown: the database does not answer".into(),
        }
    } else {
        match tokio::time::timeout(PROBE_TIMEOUT, state.store.migrations_applied()).await {
            Ok(Ok(true)) => Check {
                ok: true,
                detail: "all applied".into(),
            },
            Ok(Ok(false)) => Check {
                ok: false,
                detail: "pending migrations".into(),
            },
            Ok(Err(e)) => Check {
                ok: false,
                detail: e.to_string(),
            },
            Err(_) => Check {
                ok: false,
                detail: format!("no answer within {PROBE_TIMEOUT:?}"),
            },
        }
    };
    let size = state.ir().len();
    let ir = Check {
        ok: size > 0,
        detail: format!("{size} institutions loaded"),
    };
    let ready = database.ok && migrations.ok && ir.ok;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Readiness {
            ready,
            database,
            migrations,
            ir,
        }),
    )
        .into_response()
}

async fn metrics(State(state): State<AppState>) -> Response {
    let m = &state.metrics;
    let (size, idle) = state.store.pool_status();
    m.db_connections.set(i64::from(size));
    m.db_idle_connections.set(i64::from(idle));
    let group = state.store.group_commit_stats();
    m.db_write_commits
        .set(i64::try_from(group.commits).unwrap_or(i64::MAX));
    m.db_grouped_writes
        .set(i64::try_from(group.writes).unwrap_or(i64::MAX));
    m.sync_statements(|op| state.store.statements(op));
    m.ir_institutions
        .set(i64::try_from(state.ir().len()).unwrap_or(i64::MAX));
    if let Ok(counts) = state.store.message_counts().await {
        for (direction, st, n) in counts {
            m.messages
                .get_or_create(&crate::ops::metrics::StateLabels {
                    direction,
                    state: st,
                })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }
    if let Ok((pending, dead)) = state.store.outbox_counts().await {
        m.outbox_pending
            .set(i64::try_from(pending).unwrap_or(i64::MAX));
        m.outbox_dead.set(i64::try_from(dead).unwrap_or(i64::MAX));
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        m.encode(),
    )
        .into_response()
}
