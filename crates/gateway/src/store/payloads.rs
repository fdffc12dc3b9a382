//! Payloads: small ones travel inline in their row; larger ones are staged while they
//! stream in (memory stays bounded) and become part of the store only with the commit
//! that stores their row.
//!
//! - SQLite: a temporary file of `blob_dir/tmp` (mode 0600), renamed to its content
//!   address by the batch that commits its row, removed again when that write is refused;
//!   files no row refers to (a crash between rename and commit) are swept at start.
//! - PostgreSQL: chunks of an upload in the database, so every node reads what any node
//!   stored; an upload no payload row refers to is discarded when its request ends and
//!   swept when its process is gone.
//!
//! A `StagedPart` removes what it staged when dropped, unless a committed row refers to it:
//! every refusal and every dropped request leaves the payload store as it was.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use chrono::Utc;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use sedgate_store::GroupWrite;

use super::{
    Engine, NewPart, PartType, PayloadData, StagedPayload, Store, StoreError, StoreResult,
    StoredPayload,
};

/// Bytes per chunk of a PostgreSQL upload.
const CHUNK_BYTES: usize = 1024 * 1024;
/// Chunks read per statement when streaming a payload out.
const CHUNKS_PER_READ: i32 = 4;

impl Store {
    /// Where a blob lives on SQLite: `blob_dir/ab/abcdef…`.
    pub fn blob_path(&self, hash: &str) -> PathBuf {
        self.blob_dir().join(blob_relative_path(hash))
    }

    /// Starts a payload of unknown size.
    pub fn payload_writer(&self) -> PayloadWriter {
        PayloadWriter {
            store: self.clone(),
            hasher: Sha256::new(),
            size: 0,
            buffer: Vec::new(),
            spilled: None,
        }
    }

    /// A payload's bytes, wherever they are.
    pub async fn payload_body(&self, hash: &str) -> StoreResult<Option<PayloadBody>> {
        Ok(match self.backend().payload(hash).await? {
            None => None,
            Some(PayloadData::Inline(bytes)) => Some(PayloadBody::Bytes(bytes)),
            // The file's place is this module's business: by hash under `blob_dir`.
            Some(PayloadData::Blob) => Some(PayloadBody::File(self.blob_path(hash))),
            Some(PayloadData::Chunks { upload_id, size }) => {
                Some(PayloadBody::Chunks { upload_id, size })
            }
        })
    }

    /// A whole payload in memory (for SEDs and small parts; stream large ones).
    pub async fn payload_bytes(&self, hash: &str) -> StoreResult<Option<Vec<u8>>> {
        let Some(body) = self.payload_body(hash).await? else {
            return Ok(None);
        };
        match body {
            PayloadBody::Bytes(bytes) => Ok(Some(bytes)),
            PayloadBody::File(path) => Ok(Some(tokio::fs::read(&path).await?)),
            PayloadBody::Chunks { upload_id, size } => {
                let mut all = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
                let mut next = 0;
                loop {
                    let chunks = self
                        .backend()
                        .read_upload_chunks(&upload_id, next, CHUNKS_PER_READ)
                        .await?;
                    if chunks.is_empty() {
                        break;
                    }
                    next += i32::try_from(chunks.len()).unwrap_or(CHUNKS_PER_READ);
                    for c in chunks {
                        all.extend_from_slice(&c);
                    }
                }
                if all.len() as u64 != size {
                    return Err(StoreError::Corrupt(format!(
                        "payload {hash}: {} of {size} bytes stored",
                        all.len()
                    )));
                }
                Ok(Some(all))
            }
        }
    }

    /// A payload as a stream of chunks, memory bounded by a few chunks.
    pub fn payload_stream(
        &self,
        body: PayloadBody,
    ) -> futures::stream::BoxStream<'static, StoreResult<Bytes>> {
        use futures::StreamExt;
        match body {
            PayloadBody::Bytes(bytes) => {
                futures::stream::once(async move { Ok(Bytes::from(bytes)) }).boxed()
            }
            PayloadBody::File(path) => {
                futures::stream::unfold(FileRead::Closed(path), |state| async move {
                    use tokio::io::AsyncReadExt;
                    let mut file = match state {
                        FileRead::Closed(path) => match tokio::fs::File::open(&path).await {
                            Ok(file) => file,
                            Err(e) => return Some((Err(e.into()), FileRead::Done)),
                        },
                        FileRead::Open(file) => file,
                        FileRead::Done => return None,
                    };
                    let mut buf = vec![0u8; 64 * 1024];
                    match file.read(&mut buf).await {
                        Ok(0) => None,
                        Ok(n) => {
                            buf.truncate(n);
                            Some((Ok(Bytes::from(buf)), FileRead::Open(file)))
                        }
                        Err(e) => Some((Err(e.into()), FileRead::Done)),
                    }
                })
                .boxed()
            }
            PayloadBody::Chunks { upload_id, .. } => {
                let store = self.clone();
                futures::stream::unfold(Some(0i32), move |next| {
                    let store = store.clone();
                    let upload_id = upload_id.clone();
                    async move {
                        let from = next?;
                        match store
                            .backend()
                            .read_upload_chunks(&upload_id, from, CHUNKS_PER_READ)
                            .await
                        {
                            Ok(chunks) if chunks.is_empty() => None,
                            Ok(chunks) => {
                                let n = i32::try_from(chunks.len()).unwrap_or(CHUNKS_PER_READ);
                                let bytes: Vec<StoreResult<Bytes>> =
                                    chunks.into_iter().map(|c| Ok(Bytes::from(c))).collect();
                                Some((futures::stream::iter(bytes), Some(from + n)))
                            }
                            Err(e) => Some((futures::stream::iter(vec![Err(e)]), None)),
                        }
                    }
                })
                .flatten()
                .boxed()
            }
        }
    }

    /// SQLite: moves the staged files of a batch to their content addresses before the
    /// commit (a crash in between leaves a file no row names, swept at start).
    pub(super) async fn promote_staged(&self, writes: &[GroupWrite]) -> StoreResult<()> {
        let mut dirs = HashSet::new();
        for (tmp, hash) in writes.iter().flat_map(staged_files) {
            let target = self.blob_path(hash);
            if tokio::fs::try_exists(&target).await? {
                continue;
            }
            if let Some(dir) = target.parent() {
                tokio::fs::create_dir_all(dir).await?;
                dirs.insert(dir.to_path_buf());
            }
            tokio::fs::rename(tmp, &target).await?;
        }
        for dir in dirs {
            // A rename is durable only once its directory entry is.
            tokio::fs::File::open(&dir).await?.sync_all().await?;
        }
        Ok(())
    }

    /// After a batch: the blobs promoted for a write that was not stored are removed,
    /// unless a row (of this batch or an earlier one) refers to the same content. Batches
    /// run one at a time, so no other batch promotes meanwhile.
    pub(super) async fn settle_staged(&self, write: &GroupWrite, stored: bool) {
        if stored {
            return;
        }
        for (_, hash) in staged_files(write) {
            match self.backend().payload_exists(hash).await {
                Ok(true) => {}
                Ok(false) => {
                    let _ = tokio::fs::remove_file(self.blob_path(hash)).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, %hash, "cannot tell whether a blob is used; kept until the next start");
                }
            }
        }
    }

    /// At start (SQLite): temporary files of an earlier process and blobs no row refers
    /// to are removed.
    pub(super) async fn sweep_blobs(&self) -> StoreResult<()> {
        let tmp = self.blob_dir().join("tmp");
        let mut removed = 0u64;
        if let Ok(mut entries) = tokio::fs::read_dir(&tmp).await {
            while let Some(entry) = entries.next_entry().await? {
                tokio::fs::remove_file(entry.path()).await?;
                removed += 1;
            }
        }
        let mut dirs = tokio::fs::read_dir(self.blob_dir()).await?;
        while let Some(dir) = dirs.next_entry().await? {
            let name = dir.file_name();
            if name == "tmp" || !dir.file_type().await?.is_dir() {
                continue;
            }
            let mut files = tokio::fs::read_dir(dir.path()).await?;
            while let Some(file) = files.next_entry().await? {
                let hash = file.file_name().to_string_lossy().into_owned();
                if !self.backend().payload_exists(&hash).await? {
                    tokio::fs::remove_file(file.path()).await?;
                    removed += 1;
                }
            }
        }
        if removed > 0 {
            tracing::info!(removed, "removed payload files no message refers to");
        }
        Ok(())
    }
}

enum FileRead {
    Closed(PathBuf),
    Open(tokio::fs::File),
    Done,
}

fn blob_relative_path(hash: &str) -> PathBuf {
    Path::new(hash.get(..2).unwrap_or("xx")).join(hash)
}

/// (temporary file, hash) of each part of `write` staged as a file.
fn staged_files(write: &GroupWrite) -> Vec<(&Path, &str)> {
    let parts: &[NewPart] = match write {
        GroupWrite::Accept(sub) => {
            return sub
                .messages
                .iter()
                .flat_map(|m| m.parts.iter())
                .filter_map(staged_file)
                .collect()
        }
        GroupWrite::Inbound(msg) => &msg.parts,
        GroupWrite::Delivered(_) => &[],
    };
    parts.iter().filter_map(staged_file).collect()
}

fn staged_file(part: &NewPart) -> Option<(&Path, &str)> {
    match &part.stored {
        StoredPayload::Staged(StagedPayload::File(tmp)) => {
            Some((tmp.as_path(), part.hash.as_str()))
        }
        _ => None,
    }
}

/// A payload's bytes as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadBody {
    Bytes(Vec<u8>),
    File(PathBuf),
    Chunks { upload_id: String, size: u64 },
}

/// Writes a payload as it streams in: in memory up to the inline limit, then to a staged
/// file (SQLite) or upload (PostgreSQL), hashing on the way.
pub struct PayloadWriter {
    store: Store,
    hasher: Sha256,
    size: u64,
    buffer: Vec<u8>,
    spilled: Option<Spill>,
}

enum Spill {
    File {
        file: tokio::fs::File,
        guard: Arc<StageGuard>,
    },
    Upload {
        next_idx: i32,
        guard: Arc<StageGuard>,
    },
}

impl PayloadWriter {
    pub async fn write(&mut self, chunk: &[u8]) -> StoreResult<()> {
        self.hasher.update(chunk);
        self.size += chunk.len() as u64;
        self.buffer.extend_from_slice(chunk);
        if self.spilled.is_none() && self.size > self.store.inline_payload_bytes() {
            self.spilled = Some(self.spill().await?);
        }
        self.drain(false).await
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// SHA-256 (lower-case hex) of what has been written so far.
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.hasher.clone().finalize())
    }

    async fn spill(&mut self) -> StoreResult<Spill> {
        let store = &self.store;
        match store.engine() {
            Engine::Sqlite => {
                let dir = store.blob_dir().join("tmp");
                tokio::fs::create_dir_all(&dir).await?;
                let path = dir.join(uuid::Uuid::new_v4().simple().to_string());
                // Special-category personal data: readable by the gateway's user only.
                let file = tokio::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&path)
                    .await?;
                Ok(Spill::File {
                    file,
                    guard: Arc::new(StageGuard {
                        store: store.clone(),
                        staged: StagedPayload::File(path),
                    }),
                })
            }
            Engine::Postgres => Ok(Spill::Upload {
                next_idx: 0,
                guard: Arc::new(StageGuard {
                    store: store.clone(),
                    staged: StagedPayload::Upload(uuid::Uuid::new_v4().simple().to_string()),
                }),
            }),
        }
    }

    /// Moves buffered bytes to the staged place (all of them when `all`).
    async fn drain(&mut self, all: bool) -> StoreResult<()> {
        match &mut self.spilled {
            None => Ok(()),
            Some(Spill::File { file, .. }) => {
                file.write_all(&self.buffer).await?;
                self.buffer.clear();
                Ok(())
            }
            Some(Spill::Upload { next_idx, guard }) => {
                let StagedPayload::Upload(upload_id) = &guard.staged else {
                    return Ok(());
                };
                while self.buffer.len() >= CHUNK_BYTES || (all && !self.buffer.is_empty()) {
                    let take = self.buffer.len().min(CHUNK_BYTES);
                    let chunk: Vec<u8> = self.buffer.drain(..take).collect();
                    self.store
                        .backend()
                        .write_upload_chunk(
                            upload_id,
                            &self.store.inner.me.id,
                            *next_idx,
                            &chunk,
                            Utc::now(),
                        )
                        .await?;
                    *next_idx += 1;
                }
                Ok(())
            }
        }
    }

    /// Drops what was written (a refused or broken upload).
    pub async fn abort(self) {}

    /// Ends the payload: durable in its staging place (or inline), ready to be stored.
    pub async fn finish(mut self) -> StoreResult<StagedPart> {
        self.drain(true).await?;
        let hash = hex::encode(self.hasher.clone().finalize());
        let (stored, guard) = match self.spilled.take() {
            None => (
                StoredPayload::Inline(Bytes::from(std::mem::take(&mut self.buffer))),
                None,
            ),
            Some(Spill::File { mut file, guard }) => {
                file.flush().await?;
                file.sync_all().await?;
                (StoredPayload::Staged(guard.staged.clone()), Some(guard))
            }
            Some(Spill::Upload { guard, .. }) => {
                (StoredPayload::Staged(guard.staged.clone()), Some(guard))
            }
        };
        Ok(StagedPart {
            hash,
            size: self.size,
            stored,
            _guard: guard,
        })
    }
}

/// A payload ready to be stored with its message. Keep it until the store has answered:
/// dropping it removes what was staged unless a committed row refers to it.
#[derive(Clone)]
pub struct StagedPart {
    pub hash: String,
    pub size: u64,
    pub stored: StoredPayload,
    _guard: Option<Arc<StageGuard>>,
}

impl StagedPart {
    /// A payload already in memory.
    pub fn inline(bytes: Bytes) -> StagedPart {
        StagedPart {
            hash: hex::encode(Sha256::digest(&bytes)),
            size: bytes.len() as u64,
            stored: StoredPayload::Inline(bytes),
            _guard: None,
        }
    }

    pub fn part(
        &self,
        part_type: PartType,
        content_id: String,
        mime_type: String,
        filename: Option<String>,
    ) -> NewPart {
        NewPart {
            part_type,
            content_id,
            mime_type,
            filename,
            hash: self.hash.clone(),
            size: self.size,
            stored: self.stored.clone(),
        }
    }
}

impl std::fmt::Debug for StagedPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StagedPart")
            .field("hash", &self.hash)
            .field("size", &self.size)
            .finish()
    }
}

/// Removes a staged payload when the last `StagedPart` naming it goes.
struct StageGuard {
    store: Store,
    staged: StagedPayload,
}

impl Drop for StageGuard {
    fn drop(&mut self) {
        match &self.staged {
            // Gone already when its batch promoted it.
            StagedPayload::File(path) => {
                let _ = std::fs::remove_file(path);
            }
            StagedPayload::Upload(upload_id) => {
                let (store, upload_id) = (self.store.clone(), upload_id.clone());
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    runtime.spawn(async move {
                        if let Err(e) = store.backend().discard_upload(&upload_id).await {
                            tracing::warn!(error = %e, %upload_id, "discarding an upload failed; swept later");
                        }
                    });
                }
            }
        }
    }
}
