//! XSD validation of SEDs on a fixed pool of validator threads.
//!
//! libxml2 schema contexts are not `Send`, so each validator thread compiles and owns the
//! schemas it needs from the schema directory (`<dir>/<cdm>/<SED>.xsd`, e.g.
//! `4.2/P2000.xsd`), and jobs reach it over a channel. Every document first goes through the
//! hardened `sedgate_base::xml::parse` (no DOCTYPE, no entities, size/depth limits) on the
//! validator thread; only documents that pass it, with the expected root element and
//! namespace, are handed to libxml2.
//!
//! Schemas are compiled lazily: a thread compiles (CDM version, SED type) the first time it
//! validates that type and keeps it. Compiling all 36 up front cost ~7.5 MB of resident
//! memory per thread for types most gateways never see; a SED type compiles in a few
//! milliseconds. Start-up checks that every schema file is readable; a schema that does
//! not compile is reported (naming the file) on the first SED of that type, as
//! `XsdError::Uncompilable`, and leaves the other types working.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use futures::channel::oneshot;
use libxml::error::StructuredError;
use libxml::parser::{Parser, ParserOptions};
use libxml::schemas::{SchemaParserContext, SchemaValidationContext};
use parking_lot::Mutex;

use sedgate_base::domain::{CdmVersion, SedType};
use sedgate_base::xml::{self as xml, Document, Element, XmlError, XmlLimits};

/// One schema violation, located in the submitted document.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    pub line: u32,
    /// libxml2 often reports 0 (unknown); then it is the column of the element's start tag.
    pub column: u32,
    /// Element path such as `/P2000/Header/Sender/InstitutionID` (local names).
    pub path: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum XsdError {
    #[error("schema directory {path} cannot be read: {source}")]
    SchemaDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no SED schema (<cdm>/<SED>.xsd) found in {0}")]
    NoSchemas(PathBuf),
    #[error("schema {path} cannot be read: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("schema {path} does not compile: {message}")]
    Uncompilable { path: PathBuf, message: String },
    #[error("the validator pool needs at least one thread")]
    NoThreads,
    #[error("cannot start a validator thread: {0}")]
    Spawn(std::io::Error),
    #[error("no schema for SED type {sed} in CDM {cdm}")]
    UnknownSchema { cdm: CdmVersion, sed: SedType },
    #[error("XML refused before schema validation: {0}")]
    Xml(#[from] XmlError),
    #[error("libxml2 could not read a document that the hardened parser accepted")]
    LibxmlParse,
    #[error("the validator pool has stopped")]
    PoolClosed,
}

type Reply = Result<Vec<Finding>, XsdError>;

struct Job {
    cdm: CdmVersion,
    sed: SedType,
    xml: Arc<[u8]>,
    reply: oneshot::Sender<Reply>,
}

#[derive(Debug, Clone)]
struct SchemaFile {
    cdm: CdmVersion,
    sed: SedType,
    path: PathBuf,
}

/// A fixed pool of validator threads. Dropping it stops the threads after queued jobs.
pub struct XsdPool {
    jobs: Option<mpsc::Sender<Job>>,
    workers: Vec<JoinHandle<()>>,
    known: BTreeSet<(CdmVersion, SedType)>,
    startup: Duration,
}

/// The namespace of a SED root element: `http://ec.europa.eu/eessi/ns/4_2/P2000`.
pub fn sed_namespace(cdm: CdmVersion, sed: &SedType) -> String {
    format!(
        "http://ec.europa.eu/eessi/ns/{}/{}",
        cdm.namespace_segment(),
        sed
    )
}

impl XsdPool {
    /// Starts `threads` validator threads for the schemas under `dir` (compiled on first use).
    pub fn start(dir: &Path, threads: usize) -> Result<XsdPool, XsdError> {
        Self::start_with_limits(dir, threads, XmlLimits::default())
    }

    pub fn start_with_limits(
        dir: &Path,
        threads: usize,
        limits: XmlLimits,
    ) -> Result<XsdPool, XsdError> {
        if threads == 0 {
            return Err(XsdError::NoThreads);
        }
        let began = Instant::now();
        let files = discover(dir)?;
        for file in &files {
            std::fs::File::open(&file.path).map_err(|source| XsdError::Unreadable {
                path: file.path.clone(),
                source,
            })?;
        }
        let known = files.iter().map(|f| (f.cdm, f.sed.clone())).collect();
        let files: Arc<HashMap<(CdmVersion, SedType), PathBuf>> = Arc::new(
            files
                .into_iter()
                .map(|f| ((f.cdm, f.sed), f.path))
                .collect(),
        );
        let (job_tx, job_rx) = mpsc::channel::<Job>();
        let job_rx = Arc::new(Mutex::new(job_rx));
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), XsdError>>();
        let mut workers = Vec::with_capacity(threads);
        for n in 0..threads {
            let files = Arc::clone(&files);
            let limits = limits.clone();
            let job_rx = Arc::clone(&job_rx);
            let ready_tx = ready_tx.clone();
            let handle = std::thread::Builder::new()
                .name(format!("xsd-{n}"))
                .spawn(move || worker(&files, &limits, &job_rx, &ready_tx))
                .map_err(XsdError::Spawn)?;
            workers.push(handle);
        }
        drop(ready_tx);
        let mut pool = XsdPool {
            jobs: Some(job_tx),
            workers,
            known,
            startup: Duration::ZERO,
        };
        for _ in 0..threads {
            match ready_rx.recv() {
                Ok(Ok(())) => {}
                // Dropping `pool` stops the threads that did start.
                Ok(Err(e)) => return Err(e),
                Err(_) => return Err(XsdError::PoolClosed),
            }
        }
        pool.startup = began.elapsed();
        Ok(pool)
    }

    /// Whether a schema exists for this CDM version and SED type.
    pub fn known(&self, cdm: CdmVersion, sed: &SedType) -> bool {
        self.known.contains(&(cdm, sed.clone()))
    }

    /// All (CDM version, SED type) pairs that have a schema.
    pub fn schemas(&self) -> impl Iterator<Item = &(CdmVersion, SedType)> {
        self.known.iter()
    }

    /// How long starting the pool (finding the schemas, starting the threads) took.
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    pub fn threads(&self) -> usize {
        self.workers.len()
    }

    /// Validates `xml` as SED `sed` of CDM `cdm`. `Ok(vec![])` means valid; findings are
    /// the schema violations; `Err` means the document was refused before validation
    /// (hostile or malformed XML) or no schema exists.
    pub async fn validate(&self, cdm: CdmVersion, sed: &SedType, xml: Arc<[u8]>) -> Reply {
        let rx = self.submit(cdm, sed, xml)?;
        rx.await.map_err(|_| XsdError::PoolClosed)?
    }

    /// The blocking form of [`XsdPool::validate`], for tests, benches and the CLI.
    pub fn validate_blocking(&self, cdm: CdmVersion, sed: &SedType, xml: Arc<[u8]>) -> Reply {
        let rx = self.submit(cdm, sed, xml)?;
        futures::executor::block_on(rx).map_err(|_| XsdError::PoolClosed)?
    }

    fn submit(
        &self,
        cdm: CdmVersion,
        sed: &SedType,
        xml: Arc<[u8]>,
    ) -> Result<oneshot::Receiver<Reply>, XsdError> {
        if !self.known(cdm, sed) {
            return Err(XsdError::UnknownSchema {
                cdm,
                sed: sed.clone(),
            });
        }
        let (reply, rx) = oneshot::channel();
        let job = Job {
            cdm,
            sed: sed.clone(),
            xml,
            reply,
        };
        self.jobs
            .as_ref()
            .ok_or(XsdError::PoolClosed)?
            .send(job)
            .map_err(|_| XsdError::PoolClosed)?;
        Ok(rx)
    }
}

impl Drop for XsdPool {
    fn drop(&mut self) {
        // Closing the channel ends each worker's loop.
        self.jobs = None;
        for handle in self.workers.drain(..) {
            let _ = handle.join();
        }
    }
}

/// Validates the same document over and over for `seconds` on all threads of the pool
/// and returns validations per second (for `sedgate bench`).
pub fn bench_validations(
    pool: &XsdPool,
    cdm: CdmVersion,
    sed: &SedType,
    xml: Arc<[u8]>,
    seconds: f64,
) -> Result<f64, XsdError> {
    let window = Duration::from_secs_f64(seconds.max(0.01));
    let began = Instant::now();
    let mut done: u64 = 0;
    // Keep every thread busy: a batch of jobs in flight per round.
    let batch = pool.threads() * 4;
    while began.elapsed() < window {
        let receivers = (0..batch)
            .map(|_| pool.submit(cdm, sed, Arc::clone(&xml)))
            .collect::<Result<Vec<_>, _>>()?;
        for rx in receivers {
            futures::executor::block_on(rx).map_err(|_| XsdError::PoolClosed)??;
            done += 1;
        }
    }
    Ok(done as f64 / began.elapsed().as_secs_f64())
}

/// Finds `<dir>/<cdm>/<SED>.xsd` files; other files and folders (such as `common/`) are
/// includes or notes and are skipped.
fn discover(dir: &Path) -> Result<Vec<SchemaFile>, XsdError> {
    let read_dir = |path: &Path| {
        std::fs::read_dir(path).map_err(|source| XsdError::SchemaDir {
            path: path.to_owned(),
            source,
        })
    };
    let mut files = Vec::new();
    for cdm_entry in read_dir(dir)? {
        let cdm_entry = cdm_entry.map_err(|source| XsdError::SchemaDir {
            path: dir.to_owned(),
            source,
        })?;
        let Some(cdm) = cdm_entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<CdmVersion>().ok())
        else {
            continue;
        };
        let cdm_dir = cdm_entry.path();
        for entry in read_dir(&cdm_dir)? {
            let entry = entry.map_err(|source| XsdError::SchemaDir {
                path: cdm_dir.clone(),
                source,
            })?;
            let path = entry.path();
            let sed = path
                .extension()
                .filter(|e| *e == "xsd")
                .and_then(|_| path.file_stem())
                .and_then(|s| s.to_str())
                .and_then(|s| s.parse::<SedType>().ok());
            if let Some(sed) = sed {
                files.push(SchemaFile { cdm, sed, path });
            }
        }
    }
    if files.is_empty() {
        return Err(XsdError::NoSchemas(dir.to_owned()));
    }
    files.sort_by(|a, b| (a.cdm, &a.sed).cmp(&(b.cdm, &b.sed)));
    Ok(files)
}

fn compile(path: &Path) -> Result<SchemaValidationContext, XsdError> {
    // Read first so that a missing or unreadable file is an I/O error naming it; libxml2
    // then compiles from the path so that relative includes resolve.
    std::fs::read(path).map_err(|source| XsdError::Unreadable {
        path: path.to_owned(),
        source,
    })?;
    let path_str = path.to_str().ok_or_else(|| XsdError::Uncompilable {
        path: path.to_owned(),
        message: "the path is not UTF-8".to_owned(),
    })?;
    let mut parser = SchemaParserContext::from_file(path_str);
    SchemaValidationContext::from_parser(&mut parser).map_err(|errors| XsdError::Uncompilable {
        path: path.to_owned(),
        message: join_messages(&errors),
    })
}

fn join_messages(errors: &[StructuredError]) -> String {
    let parts: Vec<String> = errors
        .iter()
        .map(|e| {
            let msg = e.message.as_deref().unwrap_or("unknown error").trim();
            match (&e.filename, e.line) {
                (Some(f), Some(l)) => format!("{f}:{l}: {msg}"),
                _ => msg.to_owned(),
            }
        })
        .collect();
    if parts.is_empty() {
        "libxml2 gave no reason".to_owned()
    } else {
        parts.join("; ")
    }
}

fn worker(
    files: &HashMap<(CdmVersion, SedType), PathBuf>,
    limits: &XmlLimits,
    jobs: &Mutex<mpsc::Receiver<Job>>,
    ready: &mpsc::Sender<Result<(), XsdError>>,
) {
    // Compiled on first use by this thread; see the module documentation.
    let mut contexts: HashMap<(CdmVersion, SedType), SchemaValidationContext> = HashMap::new();
    if ready.send(Ok(())).is_err() {
        return;
    }
    loop {
        // The lock is held only while waiting for the next job.
        let job = jobs.lock().recv();
        let Ok(job) = job else { return };
        let result = context_for(&mut contexts, files, job.cdm, &job.sed)
            .and_then(|ctx| validate_one(ctx, limits, job.cdm, &job.sed, &job.xml));
        // The caller may have gone away (request cancelled); nothing to do then.
        let _ = job.reply.send(result);
    }
}

/// This thread's compiled schema for (cdm, sed), compiling it on first use. A schema that
/// does not compile is not kept, so each use reports it again.
fn context_for<'a>(
    contexts: &'a mut HashMap<(CdmVersion, SedType), SchemaValidationContext>,
    files: &HashMap<(CdmVersion, SedType), PathBuf>,
    cdm: CdmVersion,
    sed: &SedType,
) -> Result<&'a mut SchemaValidationContext, XsdError> {
    let key = (cdm, sed.clone());
    match contexts.entry(key) {
        std::collections::hash_map::Entry::Occupied(e) => Ok(e.into_mut()),
        std::collections::hash_map::Entry::Vacant(e) => {
            let path = files.get(e.key()).ok_or_else(|| XsdError::UnknownSchema {
                cdm,
                sed: sed.clone(),
            })?;
            Ok(e.insert(compile(path)?))
        }
    }
}

fn validate_one(
    ctx: &mut SchemaValidationContext,
    limits: &XmlLimits,
    cdm: CdmVersion,
    sed: &SedType,
    bytes: &[u8],
) -> Reply {
    // Hostile input stops here: libxml2 only ever sees what the hardened parser accepted.
    let doc = xml::parse(bytes, limits)?;
    let root_findings = check_root(&doc, cdm, sed);
    if !root_findings.is_empty() {
        return Ok(root_findings);
    }
    let options = ParserOptions {
        recover: false,
        no_def_dtd: true,
        no_error: true,
        no_warning: true,
        no_net: true,
        // The hardened parser accepted these bytes as UTF-8: ignore any declared encoding.
        encoding: Some("UTF-8"),
        ..ParserOptions::default()
    };
    let lx_doc = Parser::default()
        .parse_string_with_options(bytes, options)
        .map_err(|_| XsdError::LibxmlParse)?;
    match ctx.validate_document(&lx_doc) {
        Ok(()) => Ok(Vec::new()),
        Err(errors) => Ok(errors.iter().map(|e| to_finding(&doc, e)).collect()),
    }
}

/// The root must be the SED type in the namespace of (CDM version, SED type).
fn check_root(doc: &Document, cdm: CdmVersion, sed: &SedType) -> Vec<Finding> {
    let root = &doc.root;
    let expected_ns = sed_namespace(cdm, sed);
    let mut findings = Vec::new();
    if root.local != sed.as_str() {
        findings.push(Finding {
            line: root.line,
            column: root.column,
            path: format!("/{}", root.local),
            message: format!(
                "root element is {:?}, expected {:?} for SED type {sed}",
                root.local,
                sed.as_str()
            ),
        });
    }
    if root.ns.as_deref() != Some(expected_ns.as_str()) {
        findings.push(Finding {
            line: root.line,
            column: root.column,
            path: format!("/{}", root.local),
            message: format!(
                "root namespace is {:?}, expected {expected_ns:?} for SED {sed} in CDM {cdm}",
                root.ns.as_deref().unwrap_or("")
            ),
        });
    }
    findings
}

fn to_finding(doc: &Document, error: &StructuredError) -> Finding {
    let message = error
        .message
        .as_deref()
        .unwrap_or("schema validation failed")
        .trim()
        .to_owned();
    let line = error.line.and_then(|l| u32::try_from(l).ok()).unwrap_or(0);
    let reported_column = error.col.and_then(|c| u32::try_from(c).ok()).unwrap_or(0);
    let name = element_name_in_message(&message);
    let (path, column) = match locate(&doc.root, line, name) {
        Some((path, el_column)) => (
            path,
            if reported_column == 0 {
                el_column
            } else {
                reported_column
            },
        ),
        None => (format!("/{}", doc.root.local), reported_column),
    };
    Finding {
        line,
        column,
        path,
        message,
    }
}

/// libxml2 names the element as `Element '{namespace}Local'` (or `'Local'`).
fn element_name_in_message(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("Element '")?;
    let quoted = &rest[..rest.find('\'')?];
    Some(match quoted.rfind('}') {
        Some(i) => &quoted[i + 1..],
        None => quoted,
    })
}

/// The path and column of the element starting at `line`, preferring one named `name`
/// (several elements can share a line). Falls back to the last element that starts
/// before `line`, which contains the error position.
fn locate(root: &Element, line: u32, name: Option<&str>) -> Option<(String, u32)> {
    let mut at_line: Vec<(String, u32, bool)> = Vec::new();
    let mut before: Option<(String, u32)> = None;
    let mut stack: Vec<(&Element, String)> = vec![(root, format!("/{}", root.local))];
    while let Some((el, path)) = stack.pop() {
        if el.line == line {
            at_line.push((path.clone(), el.column, Some(el.local.as_str()) == name));
        } else if el.line < line {
            // Visited in document order, so the last one kept starts nearest before `line`.
            before = Some((path.clone(), el.column));
        }
        // Push children in reverse so that they pop in document order.
        let children: Vec<&Element> = el.elements().collect();
        for child in children.into_iter().rev() {
            stack.push((child, format!("{path}/{}", child.local)));
        }
    }
    if let Some((path, col, _)) = at_line
        .iter()
        .find(|(_, _, named)| *named)
        .or_else(|| at_line.first())
    {
        return Some((path.clone(), *col));
    }
    before
}

#[cfg(test)]
mod tests;
