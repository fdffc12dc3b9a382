//! `AppState`: what every handler of the gateway shares.

use std::sync::Arc;

use arc_swap::ArcSwap;

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
    pub rate_limit: Option<Arc<sedgate_web::limits::TokenRateLimit>>,
}

impl AppState {
    pub fn ir(&self) -> arc_swap::Guard<Arc<IrIndex>> {
        self.ir.load()
    }

    /// The size and time bounds of a back-office request.
    pub fn request_bounds(&self) -> sedgate_web::limits::RequestBounds {
        sedgate_web::limits::RequestBounds {
            max_body_bytes: self.config.api.max_request_bytes,
            timeout: self.config.api.request_timeout,
        }
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
