//! Large payloads live in the blob directory under their SHA-256, written while they
//! stream in and made durable (fsync of file and directory) before the row that
//! names them commits. A blob left by a transaction that failed is harmless: the
//! same content reuses it.

use std::path::PathBuf;

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::{Store, StoreResult};

impl Store {
    pub fn blob_path(&self, hash: &str) -> PathBuf {
        let prefix = hash.get(..2).unwrap_or("xx");
        self.blob_dir.join(prefix).join(hash)
    }

    /// Starts writing a payload of unknown size to the blob directory.
    pub async fn blob_writer(&self) -> StoreResult<BlobWriter> {
        let tmp_dir = self.blob_dir.join("tmp");
        tokio::fs::create_dir_all(&tmp_dir).await?;
        let tmp_path = tmp_dir.join(uuid::Uuid::new_v4().to_string());
        let file = tokio::fs::File::create(&tmp_path).await?;
        Ok(BlobWriter {
            file,
            tmp_path,
            hasher: Sha256::new(),
            size: 0,
            store: self.clone(),
        })
    }
}

pub struct BlobWriter {
    file: tokio::fs::File,
    tmp_path: PathBuf,
    hasher: Sha256,
    size: u64,
    store: Store,
}

/// A payload that has been written durably.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenBlob {
    pub hash: String,
    pub size: u64,
}

impl BlobWriter {
    pub async fn write(&mut self, chunk: &[u8]) -> StoreResult<()> {
        self.hasher.update(chunk);
        self.size += chunk.len() as u64;
        self.file.write_all(chunk).await?;
        Ok(())
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// SHA-256 (lower-case hex) of what has been written so far, without finishing:
    /// lets a caller decide on the content's hash before the blob becomes durable.
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.hasher.clone().finalize())
    }

    /// Flushes, fsyncs and moves the file to its content address.
    pub async fn finish(mut self) -> StoreResult<WrittenBlob> {
        self.file.flush().await?;
        self.file.sync_all().await?;
        let hash = hex::encode(self.hasher.finalize_reset());
        let target = self.store.blob_path(&hash);
        if let Some(dir) = target.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        tokio::fs::rename(&self.tmp_path, &target).await?;
        if let Some(dir) = target.parent() {
            // The rename is durable only once the directory entry is.
            tokio::fs::File::open(dir).await?.sync_all().await?;
        }
        Ok(WrittenBlob {
            hash,
            size: self.size,
        })
    }

    /// Drops the partial file (a refused or broken upload).
    pub async fn abort(self) {
        let _ = tokio::fs::remove_file(&self.tmp_path).await;
    }
}
