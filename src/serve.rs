//! The `sedgate` binary's composition: the gateway, with MISSOC mounted on its API
//! listener. The gateway knows nothing of MISSOC; MISSOC reads the gateway's IR only
//! through `IrDirectory`, its `InstitutionDirectory`.

use std::sync::Arc;

use arc_swap::ArcSwap;
use sedgate_base::domain::CountryCode;
use sedgate_gateway::app::{Application, Mount, StartError};
use sedgate_gateway::config::Config;
use sedgate_gateway::ir::IrIndex;
use sedgate_missoc::directory::{Competence, Institution, InstitutionDirectory};
use sedgate_missoc::{MissocState, MissocStore};
use sedgate_web::limits::TokenRateLimit;

/// A gateway with MISSOC mounted, built and bound, not yet running.
pub struct Sedgate {
    pub gateway: Application,
    /// MISSOC's store (the CLI and tests reach MISSOC's data through it).
    pub missoc: MissocStore,
}

/// Builds the gateway of `config` and mounts MISSOC beside it.
pub async fn build(config: Config) -> Result<Sedgate, StartError> {
    let missoc = open_missoc(&config).await?;
    let mut application = Application::build(config).await?;
    let state = application.state();
    let api = &state.config.api;
    let store = missoc;
    let missoc = MissocState {
        store: store.clone(),
        directory: Arc::new(IrDirectory(state.ir.clone())),
        rate_limit: TokenRateLimit::new(api.rate_limit_per_second, api.rate_limit_burst)
            .map(Arc::new),
    };
    let (router, openapi) = missoc.routes(state.request_bounds());
    application.mount(Mount { router, openapi });
    Ok(Sedgate {
        gateway: application,
        missoc: store,
    })
}

/// MISSOC's store beside the gateway of `config` (its own SQLite file in the data
/// directory, or schema `missoc` of the gateway's PostgreSQL database).
pub async fn open_missoc(config: &Config) -> Result<MissocStore, StartError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|source| StartError::DataDir {
        path: config.data_dir.display().to_string(),
        source,
    })?;
    let url = MissocStore::url_beside(&config.database.url, &config.data_dir);
    MissocStore::open(&url, config.database.max_connections)
        .await
        .map_err(|e| StartError::Other(format!("MISSOC database: {e}")))
}

/// The gateway's IR as MISSOC asks it.
pub struct IrDirectory(pub Arc<ArcSwap<IrIndex>>);

impl InstitutionDirectory for IrDirectory {
    fn competent_for_buc_prefix(
        &self,
        prefix: &str,
        country: Option<&CountryCode>,
    ) -> Vec<Institution> {
        self.0
            .load()
            .competent_for_buc_prefix(prefix, country)
            .into_iter()
            .map(|i| Institution {
                id: i.id.to_string(),
                country: i.country.to_string(),
                acronym: i.acronym.clone(),
                names: i.names.clone(),
                eessi_ready: i.eessi_ready,
                competences: i
                    .competences
                    .iter()
                    .map(|c| Competence {
                        buc: c.buc.to_string(),
                        role: c.role.as_str().to_owned(),
                    })
                    .collect(),
            })
            .collect()
    }
}
