//! Back-office REST API: messages, inbox, institutions, cases, catalogue. Each feature
//! file owns its routes and DTOs and exposes `router()`.

pub mod auth;
pub mod cases;
pub mod catalogue;
pub mod error;
pub mod inbox;
pub mod institutions;
pub mod limits;
pub mod messages;
pub mod openapi;
pub mod render;

use std::sync::Arc;

use arc_swap::ArcSwap;
use axum::Router;

use crate::config::Config;
use crate::ir::index::IrIndex;
use crate::ops::metrics::Metrics;
use crate::sed::{Catalogue, XsdPool};
use crate::store::Store;

/// Shared by every handler. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    /// Swapped whole after each import, so a reader never sees half an index.
    pub ir: Arc<ArcSwap<IrIndex>>,
    pub metrics: Arc<Metrics>,
    /// XSD validation on dedicated threads (libxml2 contexts are not `Send`).
    pub xsd: Arc<XsdPool>,
    pub catalogue: Arc<Catalogue>,
    /// Wakes the outbox dispatcher when intake has committed new messages.
    pub outbox_wake: Arc<tokio::sync::Notify>,
    /// WS-Security: our signing key, peers' signer checks (`[security]`).
    pub security: Arc<crate::transport::MessageSecurity>,
    /// Label tables and SED models for human-readable views.
    pub render: Arc<crate::render::Renderer>,
    /// Requests per second per API token (`None`: unlimited).
    pub rate_limit: Option<Arc<limits::ClientRateLimit>>,
}

impl AppState {
    pub fn ir(&self) -> arc_swap::Guard<Arc<IrIndex>> {
        self.ir.load()
    }

    /// Reloads the in-memory IR index from the store.
    pub async fn reload_ir(&self) -> Result<usize, crate::store::StoreError> {
        let snapshot = self.store.load_ir().await?;
        Ok(self.install_ir(IrIndex::build(snapshot)))
    }

    /// Swaps in a built IR index; returns its number of institutions.
    pub fn install_ir(&self, index: IrIndex) -> usize {
        let size = index.len();
        self.ir.store(Arc::new(index));
        self.metrics
            .ir_institutions
            .set(i64::try_from(size).unwrap_or(i64::MAX));
        size
    }
}

/// All back-office routes under /api/v1.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(institutions::router())
        .merge(inbox::router())
        .merge(messages::router())
        .merge(cases::router())
        .merge(catalogue::router())
        .merge(render::router())
        .merge(crate::missoc::api::router())
        .merge(crate::missoc::web::api_router())
}
