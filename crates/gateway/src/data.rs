//! The data the gateway ships with, built into the binary: the modelled SED XSDs
//! (`schemas/`), the BUC definitions, SED titles and label tables (`seed/`), the
//! institution-repository seed files and the demo SED. A gateway started anywhere, with a
//! configuration that names no data directory, uses these; a configured directory
//! overrides them (drop in the official XSDs with `[sed] schema_dir`).
//!
//! Loaders read through `DataDir`, which is either the built-in tree or a directory on
//! disk, so each loader has one code path for both.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use include_dir::{include_dir, Dir, DirEntry};

static SCHEMAS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../schemas");
static BUCS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../seed/bucs");
static CATALOGUE: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../seed/catalogue");
static LABELS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../seed/labels");
static INSTITUTIONS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../seed/institutions");
static DEMO: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../seed/demo");

/// How built-in paths are shown in messages and logs.
pub const BUILTIN_PREFIX: &str = "builtin:";

/// A tree of data files: built in, or a directory on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataDir {
    /// `schemas/` as shipped.
    BuiltinSchemas,
    /// `seed/` as shipped: `bucs/`, `catalogue/`, `labels/`, `institutions/`, `demo/`.
    BuiltinSeed,
    Disk(PathBuf),
}

/// One entry of a listed directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub is_dir: bool,
}

impl DataDir {
    /// `Some(dir)` on disk, else the built-in tree `builtin`.
    pub fn or_builtin(dir: Option<&Path>, builtin: DataDir) -> DataDir {
        dir.map_or(builtin, |d| DataDir::Disk(d.to_path_buf()))
    }

    /// Where `rel` is, for messages: a path on disk, or `builtin:seed/bucs/…`.
    pub fn describe(&self, rel: &str) -> PathBuf {
        let join = |root: &str| {
            let rel = rel.trim_start_matches('/');
            if rel.is_empty() {
                PathBuf::from(format!("{BUILTIN_PREFIX}{root}"))
            } else {
                PathBuf::from(format!("{BUILTIN_PREFIX}{root}/{rel}"))
            }
        };
        match self {
            DataDir::BuiltinSchemas => join("schemas"),
            DataDir::BuiltinSeed => join("seed"),
            DataDir::Disk(dir) => dir.join(rel),
        }
    }

    /// The sub-tree `rel` (`DataDir::Disk(dir/rel)` on disk).
    pub fn sub(&self, rel: &str) -> SubDir {
        SubDir {
            root: self.clone(),
            prefix: rel.trim_matches('/').to_owned(),
        }
    }

    pub fn is_builtin(&self) -> bool {
        !matches!(self, DataDir::Disk(_))
    }

    /// The bytes of file `rel`.
    pub fn read(&self, rel: &str) -> std::io::Result<Cow<'static, [u8]>> {
        match self {
            DataDir::Disk(dir) => std::fs::read(dir.join(rel)).map(Cow::Owned),
            _ => match self.builtin_node(rel) {
                Some(Node::File(f)) => Ok(Cow::Borrowed(f.contents())),
                Some(Node::Dir(_)) => Err(std::io::Error::other("is a directory")),
                None => Err(std::io::ErrorKind::NotFound.into()),
            },
        }
    }

    /// The entries of directory `rel` ("" for the root), sorted by name.
    pub fn list(&self, rel: &str) -> std::io::Result<Vec<Entry>> {
        let mut entries = match self {
            DataDir::Disk(dir) => {
                let mut out = Vec::new();
                for entry in std::fs::read_dir(dir.join(rel))? {
                    let entry = entry?;
                    out.push(Entry {
                        name: entry.file_name().to_string_lossy().into_owned(),
                        is_dir: entry.file_type()?.is_dir(),
                    });
                }
                out
            }
            DataDir::BuiltinSeed if rel.trim_matches('/').is_empty() => SEED_ROOT
                .iter()
                .map(|(name, _)| Entry {
                    name: (*name).to_owned(),
                    is_dir: true,
                })
                .collect(),
            _ => match self.builtin_node(rel) {
                Some(Node::Dir(d)) => d
                    .entries()
                    .iter()
                    .map(|e| Entry {
                        name: e
                            .path()
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                        is_dir: matches!(e, DirEntry::Dir(_)),
                    })
                    .collect(),
                Some(Node::File(_)) => return Err(std::io::Error::other("not a directory")),
                None => return Err(std::io::ErrorKind::NotFound.into()),
            },
        };
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    fn builtin_node(&self, rel: &str) -> Option<Node> {
        let rel = rel.trim_matches('/');
        match self {
            DataDir::BuiltinSchemas => find(&SCHEMAS, rel),
            DataDir::BuiltinSeed => {
                let (top, rest) = rel.split_once('/').unwrap_or((rel, ""));
                let (_, dir) = SEED_ROOT.iter().find(|(name, _)| *name == top)?;
                find(dir, rest)
            }
            DataDir::Disk(_) => None,
        }
    }
}

/// A built-in file or directory.
enum Node {
    Dir(&'static Dir<'static>),
    File(&'static include_dir::File<'static>),
}

/// A directory within a `DataDir`.
#[derive(Debug, Clone)]
pub struct SubDir {
    root: DataDir,
    prefix: String,
}

impl SubDir {
    fn join(&self, rel: &str) -> String {
        let rel = rel.trim_matches('/');
        match (self.prefix.is_empty(), rel.is_empty()) {
            (true, _) => rel.to_owned(),
            (false, true) => self.prefix.clone(),
            (false, false) => format!("{}/{rel}", self.prefix),
        }
    }

    pub fn read(&self, rel: &str) -> std::io::Result<Cow<'static, [u8]>> {
        self.root.read(&self.join(rel))
    }

    pub fn list(&self, rel: &str) -> std::io::Result<Vec<Entry>> {
        self.root.list(&self.join(rel))
    }

    pub fn describe(&self, rel: &str) -> PathBuf {
        self.root.describe(&self.join(rel))
    }

    pub fn sub(&self, rel: &str) -> SubDir {
        SubDir {
            root: self.root.clone(),
            prefix: self.join(rel),
        }
    }

    pub fn is_builtin(&self) -> bool {
        self.root.is_builtin()
    }

    /// The directory on disk, if this is one.
    pub fn on_disk(&self) -> Option<PathBuf> {
        match &self.root {
            DataDir::Disk(dir) => Some(dir.join(&self.prefix)),
            _ => None,
        }
    }

    /// Writes every file of this tree under `target` (for libxml2, which resolves
    /// `xs:include` by path), keeping the layout.
    pub fn write_to(&self, target: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(target)?;
        for entry in self.list("")? {
            if entry.is_dir {
                self.sub(&entry.name).write_to(&target.join(&entry.name))?;
            } else {
                std::fs::write(target.join(&entry.name), self.read(&entry.name)?)?;
            }
        }
        Ok(())
    }
}

impl From<DataDir> for SubDir {
    fn from(root: DataDir) -> Self {
        root.sub("")
    }
}

impl From<&Path> for SubDir {
    fn from(dir: &Path) -> Self {
        DataDir::Disk(dir.to_path_buf()).sub("")
    }
}

impl From<&PathBuf> for SubDir {
    fn from(dir: &PathBuf) -> Self {
        DataDir::Disk(dir.clone()).sub("")
    }
}

impl From<&SubDir> for SubDir {
    fn from(dir: &SubDir) -> Self {
        dir.clone()
    }
}

// The seed is included per folder: MISSOC's sample data under seed/missoc belongs to the
// MISSOC crate.
static SEED_ROOT: [(&str, &Dir<'static>); 5] = [
    ("bucs", &BUCS),
    ("catalogue", &CATALOGUE),
    ("labels", &LABELS),
    ("institutions", &INSTITUTIONS),
    ("demo", &DEMO),
];

/// Finds `rel` ("" for `dir` itself) below `dir`.
fn find(dir: &'static Dir<'static>, rel: &str) -> Option<Node> {
    let mut current = Node::Dir(dir);
    for part in rel.split('/').filter(|p| !p.is_empty()) {
        let Node::Dir(d) = current else {
            return None;
        };
        current = match d
            .entries()
            .iter()
            .find(|e| e.path().file_name().is_some_and(|n| n == part))?
        {
            DirEntry::Dir(d) => Node::Dir(d),
            DirEntry::File(f) => Node::File(f),
        };
    }
    Some(current)
}

/// The built-in schemas as a directory on disk, for libxml2 and the schema reader, which
/// resolve `xs:include` by path: `<under>/builtin-schemas-<hash>/`, written once per
/// content (to a temporary sibling, then renamed, so concurrent starts never see half a
/// tree) and reused by later starts of the same build.
pub fn builtin_schemas_on_disk(under: &Path) -> std::io::Result<PathBuf> {
    use sha2::{Digest, Sha256};
    let tree = DataDir::BuiltinSchemas.sub("");
    let mut hasher = Sha256::new();
    hash_tree(&tree, "", &mut hasher)?;
    let hash = hex::encode(&hasher.finalize()[..8]);
    let target = under.join(format!("builtin-schemas-{hash}"));
    if target.is_dir() {
        return Ok(target);
    }
    std::fs::create_dir_all(under)?;
    let staging = tempfile::Builder::new()
        .prefix(".builtin-schemas-")
        .tempdir_in(under)?;
    tree.write_to(staging.path())?;
    match std::fs::rename(staging.path(), &target) {
        Ok(()) => {
            // Renamed away: nothing left for the TempDir to remove.
            let _ = staging.keep();
            Ok(target)
        }
        Err(_) if target.is_dir() => Ok(target),
        Err(e) => Err(e),
    }
}

fn hash_tree(dir: &SubDir, rel: &str, hasher: &mut sha2::Sha256) -> std::io::Result<()> {
    use sha2::Digest;
    for entry in dir.list(rel)? {
        let path = if rel.is_empty() {
            entry.name.clone()
        } else {
            format!("{rel}/{}", entry.name)
        };
        hasher.update(path.as_bytes());
        hasher.update([0]);
        if entry.is_dir {
            hash_tree(dir, &path, hasher)?;
        } else {
            hasher.update(dir.read(&path)?);
            hasher.update([0]);
        }
    }
    Ok(())
}

/// A built-in seed file named in configuration as `builtin:<name>` (e.g.
/// `builtin:Organisations.csv`, from `seed/institutions/`).
pub fn builtin_seed_file(spec: &str) -> Option<(&'static str, &'static [u8])> {
    let name = spec.strip_prefix(BUILTIN_PREFIX)?;
    INSTITUTIONS
        .files()
        .find(|f| f.path().file_name().is_some_and(|n| n == name))
        .map(|f| (name_of(f.path()), f.contents()))
}

fn name_of(path: &'static Path) -> &'static str {
    path.file_name().and_then(|n| n.to_str()).unwrap_or("")
}

/// The IR seed a gateway imports on first start when `[ir] seed` is not configured: the
/// EESSI institution list and the P_BUC_01 participants with their competences.
pub const DEFAULT_IR_SEED: [&str; 2] = [
    "builtin:Organisations.csv",
    "builtin:deltakere_p_buc_01_all.json",
];

/// The demo's SED template (`seed/demo/P2000-AT-NO.xml`).
pub fn demo_sed_template() -> &'static [u8] {
    DEMO.get_file("P2000-AT-NO.xml")
        .map(|f| f.contents())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    /// Every file of a tree, relative paths, sorted.
    fn walk(dir: &SubDir) -> Vec<String> {
        let mut out = Vec::new();
        for e in dir.list("").unwrap() {
            if e.is_dir {
                for f in walk(&dir.sub(&e.name)) {
                    out.push(format!("{}/{f}", e.name));
                }
            } else {
                out.push(e.name);
            }
        }
        out
    }

    #[test]
    fn the_builtin_trees_are_the_repository_folders() {
        for (builtin, disk, rel) in [
            (DataDir::BuiltinSchemas, repo().join("schemas"), ""),
            (DataDir::BuiltinSeed, repo().join("seed"), "bucs"),
            (DataDir::BuiltinSeed, repo().join("seed"), "labels"),
            (DataDir::BuiltinSeed, repo().join("seed"), "catalogue"),
        ] {
            let b = builtin.sub(rel);
            let d = DataDir::Disk(disk).sub(rel);
            let files = walk(&b);
            assert!(!files.is_empty());
            assert_eq!(files, walk(&d), "{rel}");
            for f in files.iter().take(20) {
                assert_eq!(b.read(f).unwrap(), d.read(f).unwrap(), "{rel}/{f}");
            }
        }
    }

    #[test]
    fn builtin_schemas_are_written_once_per_content() {
        let dir = tempfile::tempdir().unwrap();
        let first = builtin_schemas_on_disk(dir.path()).unwrap();
        let second = builtin_schemas_on_disk(dir.path()).unwrap();
        assert_eq!(first, second);
        assert_eq!(
            walk(&DataDir::Disk(first.clone()).sub("")),
            walk(&DataDir::BuiltinSchemas.sub(""))
        );
        assert!(first.join("4.2/common/dates.xsd").is_file());
        // Only the target directory is left, no staging directory.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn builtin_paths_are_described_as_builtin() {
        assert_eq!(
            DataDir::BuiltinSeed.sub("bucs").describe("4.2/x.xml"),
            PathBuf::from("builtin:seed/bucs/4.2/x.xml")
        );
        assert!(DataDir::BuiltinSeed.read("bucs/nope.xml").is_err());
        assert!(DataDir::BuiltinSeed.list("missoc").is_err());
    }

    #[test]
    fn the_default_seed_and_the_demo_sed_are_built_in() {
        for spec in DEFAULT_IR_SEED {
            let (name, bytes) = builtin_seed_file(spec).unwrap();
            assert!(spec.ends_with(name) && bytes.len() > 1000);
        }
        assert!(builtin_seed_file("builtin:nope.csv").is_none());
        assert!(std::str::from_utf8(demo_sed_template())
            .unwrap()
            .contains("{{CASE_ID}}"));
    }
}
