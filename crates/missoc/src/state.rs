//! What MISSOC's handlers share, and its routes as one router for the binary to mount.

use std::sync::Arc;

use axum::Router;
use sedgate_web::limits::{bound_request, RequestBounds, TokenRateLimit};
use utoipa::OpenApi;

use crate::directory::InstitutionDirectory;
use crate::store::MissocStore;

/// Shared by every MISSOC handler. Cheap to clone.
#[derive(Clone)]
pub struct MissocState {
    pub store: MissocStore,
    /// The gateway's IR, for a table's competent institutions.
    pub directory: Arc<dyn InstitutionDirectory>,
    /// Requests per second per MISSOC token (`None`: unlimited).
    pub rate_limit: Option<Arc<TokenRateLimit>>,
}

impl MissocState {
    /// The JSON API under `/api/v1/missoc`, its downloads and the pages under `/missoc`,
    /// every route under `bounds`; and their OpenAPI paths.
    pub fn routes(self, bounds: RequestBounds) -> (Router, utoipa::openapi::OpenApi) {
        let router = Router::new()
            .nest(
                "/api/v1",
                crate::api::router().merge(crate::web::api_router()),
            )
            .merge(crate::web::router())
            .layer(axum::middleware::from_fn_with_state(bounds, bound_request))
            .with_state(self);
        (router, crate::api::ApiDoc::openapi())
    }
}
