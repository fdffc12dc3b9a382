//! What sedgate's two stores (the gateway's and MISSOC's) share over sqlx: the engines and
//! how to open their pools (`pool`), the store error (`StoreError`), time and parsed
//! columns (`column`), and the hash-chained audit table (`audit`). SQL specific to a
//! product stays in its crate.
#![forbid(unsafe_code)]

pub mod audit;
pub mod column;
pub mod pool;

pub use pool::{Engine, Pools};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Backend(#[source] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("payload storage: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}: not a database URL (sqlite:… or postgres://…)")]
    Url(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_) => StoreError::Unavailable(e.to_string()),
            _ => StoreError::Backend(e),
        }
    }
}

impl StoreError {
    /// True when the database could not be reached (answer 503, retry later).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

pub type StoreResult<T> = Result<T, StoreError>;
