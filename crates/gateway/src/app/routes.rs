//! The routers of the two listeners: `/as4` over mutual TLS, and the back-office API,
//! console, ops endpoints and mounted products on the API listener.

use axum::Router;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use super::AppState;
use crate::api;
use crate::ops;
use crate::ops::metrics::HttpMetricsLayer;
use sedgate_web::limits::bound_request;

/// Routes of another product served on the API listener, with their OpenAPI paths.
pub struct Mount {
    pub router: Router,
    pub openapi: utoipa::openapi::OpenApi,
}

/// The AS4 router (served over mutual TLS) with tracing and metrics.
pub fn as4_router(state: AppState) -> Router {
    let metrics_layer = HttpMetricsLayer {
        metrics: state.metrics.clone(),
        listener: "as4",
    };
    crate::inbound::router(state)
        .layer(axum::middleware::from_fn_with_state(
            metrics_layer,
            ops::metrics::track,
        ))
        .layer(TraceLayer::new_for_http())
}

/// The back-office and ops router with request ids, tracing and metrics.
pub fn api_router(state: AppState, mounts: Vec<Mount>) -> Router {
    let metrics_layer = HttpMetricsLayer {
        metrics: state.metrics.clone(),
        listener: "api",
    };
    let mut openapi = api::openapi::document();
    let mut router = Router::new()
        .nest(
            "/api/v1",
            api::router().layer(axum::middleware::from_fn_with_state(
                state.request_bounds(),
                bound_request,
            )),
        )
        .merge(ops::health::router())
        .merge(crate::console::router())
        .with_state(state);
    for mount in mounts {
        openapi.merge(mount.openapi);
        router = router.merge(mount.router);
    }
    router
        .merge(api::openapi::router(openapi))
        .layer(axum::middleware::from_fn_with_state(metrics_layer, ops::metrics::track))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
            let request_id = req
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            tracing::info_span!("request", method = %req.method(), uri = %req.uri().path(), request_id = %request_id)
        }))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}
