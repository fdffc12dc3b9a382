//! Importing a file into the IR: read, parse, refuse or skip bad rows, upsert in one
//! transaction. The CLI and start-up seeding both use it.

use std::path::Path;

use chrono::Utc;

use super::import::{parse, ImportError, ImportFormat, RowError};
use super::model::ImportCounts;
use crate::config::SeedFile;
use crate::store::{Store, StoreError};

#[derive(Debug, Clone)]
pub struct ImportSummary {
    pub file: String,
    pub format: ImportFormat,
    pub records: u64,
    pub counts: ImportCounts,
    /// Rows that were skipped (only with `skip_invalid`).
    pub skipped: Vec<RowError>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportFileError {
    #[error("cannot read {file}: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: cannot tell the format; give --format (organisations-csv, ir-json, access-points-json, access-points-csv)")]
    UnknownFormat { file: String },
    #[error("{file}: {source}")]
    Parse {
        file: String,
        #[source]
        source: ImportError,
    },
    #[error("{file}: {} bad row(s), nothing imported (use --skip-invalid to import the good ones):\n{}",
        rejected.len(),
        rejected.iter().map(|r| format!("  {r}")).collect::<Vec<_>>().join("\n"))]
    BadRows {
        file: String,
        rejected: Vec<RowError>,
    },
    #[error("{file}: no institutions or access points in it")]
    NothingToImport { file: String },
    #[error("{file}: {source}")]
    Store {
        file: String,
        #[source]
        source: StoreError,
    },
}

/// Progress callbacks: (done, total) rows written.
pub type Progress<'a> = &'a (dyn Fn(u64, u64) + Send + Sync);

pub async fn import_file(
    store: &Store,
    path: &Path,
    format: Option<ImportFormat>,
    skip_invalid: bool,
    progress: Progress<'_>,
) -> Result<ImportSummary, ImportFileError> {
    let file = path.display().to_string();
    let bytes = tokio::fs::read(path)
        .await
        .map_err(|source| ImportFileError::Read {
            file: file.clone(),
            source,
        })?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    import_bytes(store, &file, &name, &bytes, format, skip_invalid, progress).await
}

/// Imports a seed file of the configuration: a file on disk, or one built into the binary.
pub async fn import_seed(store: &Store, seed: &SeedFile) -> Result<ImportSummary, ImportFileError> {
    match seed {
        SeedFile::File(path) => import_file(store, path, None, false, &|_, _| {}).await,
        SeedFile::Builtin(_) => {
            let file = seed.to_string();
            let (name, bytes) =
                crate::data::builtin_seed_file(&file).ok_or_else(|| ImportFileError::Read {
                    file: file.clone(),
                    source: std::io::ErrorKind::NotFound.into(),
                })?;
            import_bytes(store, &file, name, bytes, None, false, &|_, _| {}).await
        }
    }
}

/// Imports `bytes`, named `file` in messages; `name` (the file name) helps tell the format.
pub async fn import_bytes(
    store: &Store,
    file: &str,
    name: &str,
    bytes: &[u8],
    format: Option<ImportFormat>,
    skip_invalid: bool,
    progress: Progress<'_>,
) -> Result<ImportSummary, ImportFileError> {
    let file = file.to_owned();
    let format = format
        .or_else(|| ImportFormat::detect(name, &bytes[..bytes.len().min(4096)]))
        .ok_or_else(|| ImportFileError::UnknownFormat { file: file.clone() })?;
    let parsed = parse(bytes, format).map_err(|source| ImportFileError::Parse {
        file: file.clone(),
        source,
    })?;
    if !parsed.rejected.is_empty() && !skip_invalid {
        return Err(ImportFileError::BadRows {
            file,
            rejected: parsed.rejected,
        });
    }
    let rejected = parsed.rejected.len() as u64;
    let store_err = |source| ImportFileError::Store {
        file: file.clone(),
        source,
    };
    let now = Utc::now();
    let (records, counts) = if !parsed.institutions.is_empty() {
        let batch: Vec<_> = parsed.institutions.into_iter().map(|(_, u)| u).collect();
        let total = batch.len() as u64;
        let counts = store
            .import_institutions(&batch, &file, rejected, now, &|done| progress(done, total))
            .await
            .map_err(store_err)?;
        (total, counts)
    } else if !parsed.access_points.is_empty() {
        let batch: Vec<_> = parsed.access_points.into_iter().map(|(_, a)| a).collect();
        let total = batch.len() as u64;
        let counts = store
            .import_access_points(&batch, &file, rejected, now)
            .await
            .map_err(store_err)?;
        progress(total, total);
        (total, counts)
    } else {
        return Err(ImportFileError::NothingToImport { file });
    };
    Ok(ImportSummary {
        file,
        format,
        records,
        counts,
        skipped: parsed.rejected,
    })
}
