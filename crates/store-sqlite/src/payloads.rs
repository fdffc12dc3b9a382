//! Payloads: inline in the payload row when small, else a file of the blob directory named
//! by the hash (content NULL in the row). The gateway stages the file while it streams and
//! promotes it to its content address with the commit that stores the row; this engine
//! only writes and reads the rows. Upload chunks are PostgreSQL's way of keeping large
//! payloads and are not used here.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sedgate_db::{StoreError, StoreResult};
use sedgate_store::{Operation, PayloadData};

use crate::SqliteBackend;

impl SqliteBackend {
    pub(crate) async fn payload_impl(&self, hash: &str) -> StoreResult<Option<PayloadData>> {
        let row = sqlx::query!("SELECT content FROM payloads WHERE hash = ?1", hash)
            .fetch_optional(&self.reader)
            .await?;
        self.count(Operation::PayloadRead, 1);
        Ok(row.map(|r| match r.content {
            Some(content) => PayloadData::Inline(content),
            // Relative to the blob directory: the file is named by the hash.
            None => PayloadData::Blob,
        }))
    }

    pub(crate) async fn payload_exists_impl(&self, hash: &str) -> StoreResult<bool> {
        let found = sqlx::query_scalar!(
            "SELECT 1 AS \"one!: i64\" FROM payloads WHERE hash = ?1",
            hash
        )
        .fetch_optional(&self.reader)
        .await?;
        self.count(Operation::PayloadRead, 1);
        Ok(found.is_some())
    }

    pub(crate) async fn write_upload_chunk_impl(
        &self,
        upload_id: &str,
        _incarnation: &str,
        idx: i32,
        _data: &[u8],
        _now: DateTime<Utc>,
    ) -> StoreResult<()> {
        Err(StoreError::Corrupt(format!(
            "upload chunks are not used on SQLite (chunk {idx} of upload {upload_id}): \
             large payloads are files of the blob directory"
        )))
    }

    pub(crate) async fn read_upload_chunks_impl(
        &self,
        upload_id: &str,
        _from: i32,
        _count: i32,
    ) -> StoreResult<Vec<Vec<u8>>> {
        Err(StoreError::Corrupt(format!(
            "upload chunks are not used on SQLite (upload {upload_id}): \
             large payloads are files of the blob directory"
        )))
    }

    /// Nothing to discard: SQLite keeps no uploads.
    pub(crate) async fn discard_upload_impl(&self, _upload_id: &str) -> StoreResult<()> {
        Ok(())
    }

    /// Nothing to sweep: SQLite keeps no uploads.
    pub(crate) async fn sweep_uploads_impl(
        &self,
        _now: DateTime<Utc>,
        _stale_after: Duration,
    ) -> StoreResult<u64> {
        Ok(0)
    }
}
