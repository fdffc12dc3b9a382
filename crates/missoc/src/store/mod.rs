//! MISSOC's own store: its tables (`migrations/`), in a database of its own on SQLite
//! (`<data_dir>/missoc.db`) and in schema `missoc` of the gateway's database on
//! PostgreSQL, so MISSOC never takes the gateway's writer. Every public method is one
//! transaction; the rules (who may do what, the state machines, views and diffs) are the
//! pure functions of `crate::{workflow, views, diff, dataset}`, asked here with the states
//! read inside the transaction. Every workflow step appends an entry to MISSOC's own audit
//! chain (`audit`) in the same transaction, with the user's name as actor.

mod audit;
mod editions;
mod transfer;
mod users;

use std::path::Path;

use sedgate_db::{Engine, Pools};

pub use editions::{ChangeSet, EditionSummary, Review};
pub use sedgate_base::audit::{AuditEntry, AuditReport};
pub use transfer::MissocImportSummary;
pub use users::{MissocSession, NewMissocUser};

pub use sedgate_db::{StoreError, StoreResult};

impl From<sqlx::Error> for crate::workflow::MissocError {
    fn from(e: sqlx::Error) -> Self {
        crate::workflow::MissocError::Store(StoreError::from(e))
    }
}

/// The schema that holds MISSOC's tables on PostgreSQL.
const PG_SCHEMA: &str = "missoc";

/// MISSOC's database. Cheap to clone.
#[derive(Clone)]
pub struct MissocStore {
    pools: Pools,
}

impl std::fmt::Debug for MissocStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MissocStore")
            .field("engine", &self.pools.engine)
            .finish()
    }
}

impl MissocStore {
    /// Where MISSOC keeps its tables beside a gateway whose database is `gateway_url` and
    /// whose data directory is `data_dir`: its own SQLite file there, or the same
    /// PostgreSQL database (schema `missoc`).
    pub fn url_beside(gateway_url: &str, data_dir: &Path) -> String {
        match Engine::of_url(gateway_url) {
            Some(Engine::Sqlite) => format!("sqlite://{}", data_dir.join("missoc.db").display()),
            _ => gateway_url.to_owned(),
        }
    }

    /// Connects (creating an SQLite file or the PostgreSQL schema if needed) and applies
    /// MISSOC's migrations.
    pub async fn open(url: &str, max_connections: u32) -> StoreResult<MissocStore> {
        let pools = Pools::connect(url, max_connections, Some(PG_SCHEMA)).await?;
        match pools.engine {
            Engine::Sqlite => {
                sqlx::migrate!("migrations/sqlite")
                    .run(&pools.writer)
                    .await?
            }
            Engine::Postgres => {
                sqlx::migrate!("migrations/postgres")
                    .run(&pools.writer)
                    .await?
            }
        }
        Ok(MissocStore { pools })
    }

    pub async fn close(&self) {
        self.pools.close().await;
    }
}

pub(crate) use sedgate_db::column::{from_millis, opt_from_millis, parse_col, to_millis};
