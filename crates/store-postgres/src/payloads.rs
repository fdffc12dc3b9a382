//! Payloads in the database, so every node of a cluster reads what any node stored: inline
//! in the payload row when small, else as chunks of an upload. An upload's chunks are
//! committed as they stream (memory stays bounded) but belong to nothing until the commit
//! that stores the payload row naming the upload; a refused or abandoned upload is removed,
//! and what a dead process left is swept.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sedgate_db::StoreResult;
use sedgate_store::{Operation, PayloadData};

use crate::{millis, PgBackend};

impl PgBackend {
    pub(crate) async fn payload_impl(&self, hash: &str) -> StoreResult<Option<PayloadData>> {
        let row = sqlx::query!(
            "SELECT size, content, upload_id FROM payloads WHERE hash = $1",
            hash
        )
        .fetch_optional(&self.pool)
        .await?;
        self.count(Operation::PayloadRead, 1);
        Ok(row.map(|r| match (r.content, r.upload_id) {
            (Some(content), _) => PayloadData::Inline(content),
            (None, Some(upload_id)) => PayloadData::Chunks {
                upload_id,
                size: u64::try_from(r.size).unwrap_or(0),
            },
            // The CHECK constraint makes this impossible; an empty payload is the safe read.
            (None, None) => PayloadData::Inline(Vec::new()),
        }))
    }

    pub(crate) async fn payload_exists_impl(&self, hash: &str) -> StoreResult<bool> {
        let found = sqlx::query_scalar!("SELECT 1 AS \"one!\" FROM payloads WHERE hash = $1", hash)
            .fetch_optional(&self.pool)
            .await?;
        self.count(Operation::PayloadRead, 1);
        Ok(found.is_some())
    }

    pub(crate) async fn write_upload_chunk_impl(
        &self,
        upload_id: &str,
        incarnation: &str,
        idx: i32,
        data: &[u8],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        if idx == 0 {
            sqlx::query!(
                "WITH up AS (INSERT INTO uploads (id, incarnation, started_at) VALUES ($1, $2, $3)) \
                 INSERT INTO upload_chunks (upload_id, idx, data) VALUES ($1, 0, $4)",
                upload_id,
                incarnation,
                now,
                data
            )
            .execute(&self.pool)
            .await?;
        } else {
            sqlx::query!(
                "INSERT INTO upload_chunks (upload_id, idx, data) VALUES ($1, $2, $3)",
                upload_id,
                idx,
                data
            )
            .execute(&self.pool)
            .await?;
        }
        self.count(Operation::PayloadWrite, 1);
        Ok(())
    }

    pub(crate) async fn read_upload_chunks_impl(
        &self,
        upload_id: &str,
        from: i32,
        count: i32,
    ) -> StoreResult<Vec<Vec<u8>>> {
        let chunks = sqlx::query_scalar!(
            "SELECT data FROM upload_chunks WHERE upload_id = $1 AND idx >= $2 AND idx < $2 + $3 ORDER BY idx",
            upload_id,
            from,
            count
        )
        .fetch_all(&self.pool)
        .await?;
        self.count(Operation::PayloadRead, 1);
        Ok(chunks)
    }

    pub(crate) async fn discard_upload_impl(&self, upload_id: &str) -> StoreResult<()> {
        sqlx::query!(
            "WITH gone AS (DELETE FROM uploads WHERE id = $1 \
                 AND NOT EXISTS (SELECT 1 FROM payloads WHERE upload_id = $1) RETURNING id) \
             DELETE FROM upload_chunks WHERE upload_id IN (SELECT id FROM gone)",
            upload_id
        )
        .execute(&self.pool)
        .await?;
        self.count(Operation::PayloadWrite, 1);
        Ok(())
    }

    pub(crate) async fn sweep_uploads_impl(
        &self,
        now: DateTime<Utc>,
        stale_after: Duration,
    ) -> StoreResult<u64> {
        let swept = sqlx::query_scalar!(
            "WITH gone AS (DELETE FROM uploads u \
                 WHERE NOT EXISTS (SELECT 1 FROM payloads p WHERE p.upload_id = u.id) \
                 AND u.incarnation NOT IN (SELECT incarnation FROM nodes WHERE NOT stopped \
                     AND heartbeat_at > ($1::timestamptz - make_interval(secs => $2::bigint / 1000.0))) \
                 RETURNING u.id), \
             chunks AS (DELETE FROM upload_chunks WHERE upload_id IN (SELECT id FROM gone)) \
             SELECT COUNT(*) AS \"n!\" FROM gone",
            now,
            millis(stale_after)
        )
        .fetch_one(&self.pool)
        .await?;
        self.count(Operation::PayloadWrite, 1);
        Ok(u64::try_from(swept).unwrap_or(0))
    }
}
