//! The gateway's store, engine-neutral: the records it keeps (`model`, `ir`), the
//! `Backend` trait that each engine implements with typed, compile-time checked queries
//! (`sedgate-store-sqlite`, `sedgate-store-postgres`), the audit chain of one process
//! (`chain`) and statement counts (`stats`). The gateway's `store` module puts the group
//! commit, payload staging and the process's heartbeat around a `Backend`.
//!
//! What the engines share, whatever the SQL: a message row carries its parts, history,
//! outbox state, inbox state and receipt (so the exchange of one SED costs a few
//! statements); payloads are content-addressed; each process appends to its own audit
//! chain (no row locked by every writer of the cluster); outbox claims name the
//! incarnation that holds them and are free again when it stops heartbeating.
#![forbid(unsafe_code)]

mod backend;
pub mod chain;
#[doc(hidden)]
pub mod forward;
pub mod ir;
pub mod model;
pub mod rows;
pub mod stats;

pub use backend::{Backend, BatchOutcome, GroupDone, GroupWrite, Incarnation, StartReport};
pub use chain::{AuditChain, AuditEvent, AuditRow};
pub use model::*;
pub use sedgate_base::audit::{AuditEntry, AuditReport};
pub use sedgate_db::{Engine, StoreError, StoreResult};
pub use stats::{Operation, Stats};

/// Message ids, states and other domain values are stored as text; one that does not
/// parse back means the row is corrupt.
pub fn parse_stored<T: std::str::FromStr>(column: &str, raw: &str) -> StoreResult<T>
where
    T::Err: std::fmt::Display,
{
    raw.parse()
        .map_err(|e: T::Err| StoreError::Corrupt(format!("column {column} value {raw:?}: {e}")))
}

/// A stored count or size as the unsigned value it is.
/// A migration failure in an operator's words: a database that holds another schema (a v1
/// gateway's, say) is named as such instead of sqlx's "previously applied but modified".
pub fn migration_failed(e: sqlx::migrate::MigrateError) -> StoreError {
    use sqlx::migrate::MigrateError;
    match e {
        MigrateError::VersionMismatch(v) | MigrateError::VersionMissing(v) => {
            StoreError::Corrupt(format!(
                "this database holds another sedgate schema (migration {v} differs from this \
                 version's): storage v2 starts on an empty database; drain and keep the old one"
            ))
        }
        other => StoreError::Migrate(other),
    }
}

pub fn unsigned(column: &str, value: i64) -> StoreResult<u64> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("column {column} is {value}")))
}

/// A JSON document of a row (parts, history, references).
pub fn from_json<T: serde::de::DeserializeOwned>(column: &str, raw: &str) -> StoreResult<T> {
    serde_json::from_str(raw).map_err(|e| {
        StoreError::Corrupt(format!("column {column} is not the JSON it should be: {e}"))
    })
}

pub fn to_json<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(format!("JSON: {e}")))
}
