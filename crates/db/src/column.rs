//! Columns both engines store the same way: times as Unix milliseconds, domain values as
//! their text (a value that does not parse back means the row is corrupt).

use chrono::{DateTime, TimeZone, Utc};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{StoreError, StoreResult};

pub fn to_millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub fn from_millis(ms: i64) -> StoreResult<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .ok_or_else(|| StoreError::Corrupt(format!("timestamp {ms} out of range")))
}

pub fn opt_from_millis(ms: Option<i64>) -> StoreResult<Option<DateTime<Utc>>> {
    ms.map(from_millis).transpose()
}

/// Parses a stored string into a domain type.
pub fn parse_col<T: std::str::FromStr>(row: &AnyRow, col: &str) -> StoreResult<T>
where
    T::Err: std::fmt::Display,
{
    let raw: String = row.try_get(col)?;
    raw.parse()
        .map_err(|e: T::Err| StoreError::Corrupt(format!("column {col} value {raw:?}: {e}")))
}
