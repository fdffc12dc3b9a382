//! The SED/BUC catalogue: which SED types belong to which BUC, which start it, which each
//! role may send, and titles per language.
//!
//! Read from the RINA BUC definitions (`<seed>/bucs/<cdm>/{po,cp}_*.xml`) and from title
//! files (`<seed>/catalogue/titles.<lang>.toml`). The header comments of the BUC files
//! (`STARTERS=[..] POCREATED=[..] CPCREATED=[..]`) are not used: `sedgate_base::xml` drops
//! comments, and 63 of the 198 files per version have no such comment. Instead:
//! - starters are the documents with parameter `isStarter = true`;
//! - follow-ups a role may send are the `documentType`s of the `createActionTrigger`s with
//!   `actionType` `DOC_CREATE` or `DOC_CREATE_REPLY` in that role's file;
//! - the SED types of a BUC are the `document/@type`s of both files.
//!
//! The tests check this derivation against the header comments where they exist.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use crate::data::SubDir;

use sedgate_base::domain::{BucRole, BucType, CdmVersion, SedType};
use sedgate_base::xml::{self as xml, Element, XmlError, XmlLimits};

pub const BUC_NAMESPACE: &str = "http://ec.europa.eu/eessi/rina/buc";

#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not readable XML: {source}")]
    Xml { path: PathBuf, source: XmlError },
    #[error("{path}: not a BUC definition: {reason}")]
    NotABuc { path: PathBuf, reason: String },
    #[error("{path}: BUC version {found} in the folder of CDM {expected}")]
    VersionMismatch {
        path: PathBuf,
        found: String,
        expected: CdmVersion,
    },
    #[error("{path}: second {role} definition of {buc} for CDM {cdm}")]
    DuplicateRole {
        path: PathBuf,
        cdm: CdmVersion,
        buc: BucType,
        role: &'static str,
    },
    #[error("BUC {buc} for CDM {cdm} has no {role} definition")]
    MissingRole {
        cdm: CdmVersion,
        buc: BucType,
        role: &'static str,
    },
    #[error("no BUC definitions found in {0}")]
    Empty(PathBuf),
    #[error("{path}: {source}")]
    Titles {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("{path}: title key {key:?} is neither a known BUC type nor a SED type")]
    UnknownTitleKey { path: PathBuf, key: String },
}

/// One BUC type in one CDM version, merged from its case owner (PO) and counterparty (CP)
/// definitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucDefinition {
    pub buc: BucType,
    pub cdm: CdmVersion,
    /// Bilateral BUCs (`isML = false`) allow one counterparty at a time.
    pub multilateral: bool,
    sed_types: BTreeSet<SedType>,
    starters: BTreeSet<SedType>,
    case_owner_follow_ups: BTreeSet<SedType>,
    counterparty_follow_ups: BTreeSet<SedType>,
    other_document_types: BTreeSet<String>,
}

impl BucDefinition {
    /// Every SED type that occurs in the BUC (either role).
    pub fn sed_types(&self) -> &BTreeSet<SedType> {
        &self.sed_types
    }

    pub fn contains(&self, sed: &SedType) -> bool {
        self.sed_types.contains(sed)
    }

    /// The SED types that open a case of this BUC.
    pub fn starters(&self) -> &BTreeSet<SedType> {
        &self.starters
    }

    pub fn is_starter(&self, sed: &SedType) -> bool {
        self.starters.contains(sed)
    }

    /// SEDs `role` may send once the case exists (not counting the starter).
    pub fn follow_ups(&self, role: BucRole) -> &BTreeSet<SedType> {
        match role {
            BucRole::CaseOwner => &self.case_owner_follow_ups,
            BucRole::CounterParty => &self.counterparty_follow_ups,
        }
    }

    /// Every SED `role` may create and send in this BUC: for the case owner the starters
    /// and its follow-ups, for the counterparty its follow-ups.
    pub fn may_send(&self, role: BucRole) -> BTreeSet<SedType> {
        let mut all = self.follow_ups(role).clone();
        if role == BucRole::CaseOwner {
            all.extend(self.starters.iter().cloned());
        }
        all
    }

    /// Document types of the definition that are not plain SED type names (e.g. the
    /// AW answers `DA003A`, `DA012R`, or `U001CB`); kept so that nothing is silently lost.
    pub fn other_document_types(&self) -> &BTreeSet<String> {
        &self.other_document_types
    }
}

#[derive(Debug, Clone)]
pub struct Catalogue {
    bucs: HashMap<(CdmVersion, BucType), BucDefinition>,
    /// language -> key (BUC type or SED type) -> title
    titles: BTreeMap<String, HashMap<String, String>>,
}

/// One role's file, before merging.
struct RoleFile {
    buc: BucType,
    multilateral: bool,
    documents: BTreeSet<String>,
    starters: BTreeSet<String>,
    creates: BTreeSet<String>,
}

impl Catalogue {
    /// Loads `<seed>/bucs/<cdm>/*.xml` and `<seed>/catalogue/titles.<lang>.toml`.
    pub fn load(seed: impl Into<SubDir>) -> Result<Catalogue, CatalogueError> {
        let seed = seed.into();
        Self::load_from(seed.sub("bucs"), seed.sub("catalogue"))
    }

    pub fn load_from(
        bucs: impl Into<SubDir>,
        titles: impl Into<SubDir>,
    ) -> Result<Catalogue, CatalogueError> {
        let (bucs_dir, titles_dir) = (bucs.into(), titles.into());
        let bucs = load_bucs(&bucs_dir)?;
        let mut catalogue = Catalogue {
            bucs,
            titles: BTreeMap::new(),
        };
        catalogue.titles = load_titles(&titles_dir, &catalogue)?;
        Ok(catalogue)
    }

    pub fn buc(&self, cdm: CdmVersion, buc: &BucType) -> Option<&BucDefinition> {
        self.bucs.get(&(cdm, buc.clone()))
    }

    /// All BUC definitions of one CDM version, sorted by BUC type.
    pub fn bucs(&self, cdm: CdmVersion) -> Vec<&BucDefinition> {
        let mut list: Vec<&BucDefinition> = self
            .bucs
            .iter()
            .filter(|((c, _), _)| *c == cdm)
            .map(|(_, d)| d)
            .collect();
        list.sort_by(|a, b| a.buc.cmp(&b.buc));
        list
    }

    /// The title of a BUC type or SED type in `lang`; `None` when that language has no
    /// title for it (never a title in another language).
    pub fn title(&self, lang: &str, key: &str) -> Option<&str> {
        self.titles.get(lang)?.get(key).map(String::as_str)
    }

    /// Languages with a title file, sorted.
    pub fn languages(&self) -> impl Iterator<Item = &str> {
        self.titles.keys().map(String::as_str)
    }

    fn knows_buc_name(&self, name: &str) -> bool {
        self.bucs.keys().any(|(_, b)| b.as_str() == name)
    }
}

fn io_err(dir: &SubDir, rel: &str) -> impl FnOnce(std::io::Error) -> CatalogueError {
    let path = dir.describe(rel);
    move |source| CatalogueError::Io { path, source }
}

fn load_bucs(
    dir: &SubDir,
) -> Result<HashMap<(CdmVersion, BucType), BucDefinition>, CatalogueError> {
    let mut bucs = HashMap::new();
    for entry in dir.list("").map_err(io_err(dir, ""))? {
        let Ok(cdm) = entry.name.parse::<CdmVersion>() else {
            continue;
        };
        let cdm_dir = dir.sub(&entry.name);
        let mut owners: BTreeMap<BucType, RoleFile> = BTreeMap::new();
        let mut counterparties: BTreeMap<BucType, RoleFile> = BTreeMap::new();
        let mut names: Vec<String> = cdm_dir
            .list("")
            .map_err(io_err(&cdm_dir, ""))?
            .into_iter()
            .filter(|e| !e.is_dir && e.name.ends_with(".xml"))
            .map(|e| e.name)
            .collect();
        names.sort();
        for name in names {
            let path = cdm_dir.describe(&name);
            let bytes = cdm_dir.read(&name).map_err(io_err(&cdm_dir, &name))?;
            let (role, file) = read_buc_file(&bytes, &path, cdm)?;
            let (map, role_name) = match role {
                BucRole::CaseOwner => (&mut owners, "PO"),
                BucRole::CounterParty => (&mut counterparties, "CP"),
            };
            if map.contains_key(&file.buc) {
                return Err(CatalogueError::DuplicateRole {
                    path,
                    cdm,
                    buc: file.buc,
                    role: role_name,
                });
            }
            map.insert(file.buc.clone(), file);
        }
        for (buc, po) in owners {
            let cp = counterparties
                .remove(&buc)
                .ok_or_else(|| CatalogueError::MissingRole {
                    cdm,
                    buc: buc.clone(),
                    role: "CP",
                })?;
            bucs.insert((cdm, buc.clone()), merge(cdm, po, cp));
        }
        if let Some(buc) = counterparties.into_keys().next() {
            return Err(CatalogueError::MissingRole {
                cdm,
                buc,
                role: "PO",
            });
        }
    }
    if bucs.is_empty() {
        return Err(CatalogueError::Empty(dir.describe("")));
    }
    Ok(bucs)
}

fn split_types(names: &BTreeSet<String>) -> (BTreeSet<SedType>, BTreeSet<String>) {
    let mut seds = BTreeSet::new();
    let mut others = BTreeSet::new();
    for name in names {
        match name.parse::<SedType>() {
            Ok(sed) => {
                seds.insert(sed);
            }
            Err(_) => {
                others.insert(name.clone());
            }
        }
    }
    (seds, others)
}

fn merge(cdm: CdmVersion, po: RoleFile, cp: RoleFile) -> BucDefinition {
    let documents: BTreeSet<String> = po.documents.union(&cp.documents).cloned().collect();
    let starters: BTreeSet<String> = po.starters.union(&cp.starters).cloned().collect();
    // Only documents of the BUC count as follow-ups: triggers also name pseudo types
    // (`ANY`, `NONE`) and documents of other processes (X050, X100) received, not sent.
    let keep = |set: &BTreeSet<String>| -> BTreeSet<String> {
        set.intersection(&documents).cloned().collect()
    };
    let (sed_types, other_document_types) = split_types(&documents);
    BucDefinition {
        buc: po.buc,
        cdm,
        multilateral: po.multilateral,
        sed_types,
        starters: split_types(&starters).0,
        case_owner_follow_ups: split_types(&keep(&po.creates)).0,
        counterparty_follow_ups: split_types(&keep(&cp.creates)).0,
        other_document_types,
    }
}

fn read_buc_file(
    bytes: &[u8],
    path: &Path,
    cdm: CdmVersion,
) -> Result<(BucRole, RoleFile), CatalogueError> {
    let doc = xml::parse(bytes, &XmlLimits::default()).map_err(|source| CatalogueError::Xml {
        path: path.to_owned(),
        source,
    })?;
    let not_buc = |reason: &str| CatalogueError::NotABuc {
        path: path.to_owned(),
        reason: reason.to_owned(),
    };
    let root = &doc.root;
    let ns = BUC_NAMESPACE;
    if !root.is(ns, "case") {
        return Err(not_buc(
            "the root is not {http://ec.europa.eu/eessi/rina/buc}case",
        ));
    }
    let buc: BucType = root
        .attr("name")
        .ok_or_else(|| not_buc("no name attribute"))?
        .parse()
        .map_err(|e| not_buc(&format!("{e}")))?;
    let version = root
        .attr("version")
        .ok_or_else(|| not_buc("no version attribute"))?;
    if version != cdm.as_str() {
        return Err(CatalogueError::VersionMismatch {
            path: path.to_owned(),
            found: version.to_owned(),
            expected: cdm,
        });
    }
    let role: BucRole = root
        .attr("role")
        .ok_or_else(|| not_buc("no role attribute"))?
        .parse()
        .map_err(|e: String| not_buc(&e))?;
    let multilateral = root
        .child(ns, "context")
        .and_then(|c| c.child(ns, "parameters"))
        .and_then(|p| parameter(p, "isML"))
        .map(|v| v != "false")
        .unwrap_or(true);
    let mut file = RoleFile {
        buc,
        multilateral,
        documents: BTreeSet::new(),
        starters: BTreeSet::new(),
        creates: BTreeSet::new(),
    };
    let documents = root
        .child(ns, "documents")
        .ok_or_else(|| not_buc("no documents element"))?;
    for document in documents.children_named(ns, "document") {
        let kind = document
            .attr("type")
            .ok_or_else(|| not_buc("a document has no type attribute"))?
            .trim()
            .to_owned();
        let is_starter = document
            .child(ns, "parameters")
            .and_then(|p| parameter(p, "isStarter"))
            .is_some_and(|v| v == "true");
        if is_starter {
            file.starters.insert(kind.clone());
        }
        if let Some(triggers) = document.child(ns, "triggers") {
            for trigger in triggers.children_named(ns, "createActionTrigger") {
                let creates = matches!(
                    trigger.attr("actionType"),
                    Some("DOC_CREATE" | "DOC_CREATE_REPLY")
                );
                if let (true, Some(target)) = (creates, trigger.attr("documentType")) {
                    file.creates.insert(target.trim().to_owned());
                }
            }
        }
        file.documents.insert(kind);
    }
    Ok((role, file))
}

fn parameter(parameters: &Element, key: &str) -> Option<String> {
    parameters
        .children_named(BUC_NAMESPACE, "parameter")
        .find(|p| p.attr("key") == Some(key))
        .map(|p| p.text().trim().to_owned())
}

/// `titles.<lang>.toml` holds `[buc]` and `[sed]` tables of key = "title".
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TitleFile {
    #[serde(default)]
    buc: HashMap<String, String>,
    #[serde(default)]
    sed: HashMap<String, String>,
}

fn load_titles(
    dir: &SubDir,
    catalogue: &Catalogue,
) -> Result<BTreeMap<String, HashMap<String, String>>, CatalogueError> {
    let mut titles = BTreeMap::new();
    for entry in dir.list("").map_err(io_err(dir, ""))? {
        let Some(lang) = entry
            .name
            .strip_prefix("titles.")
            .and_then(|n| n.strip_suffix(".toml"))
            .filter(|l| (2..=3).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_lowercase()))
            .map(str::to_owned)
        else {
            continue;
        };
        let path = dir.describe(&entry.name);
        let bytes = dir.read(&entry.name).map_err(io_err(dir, &entry.name))?;
        let text = String::from_utf8_lossy(&bytes);
        let file: TitleFile = toml::from_str(&text).map_err(|source| CatalogueError::Titles {
            path: path.clone(),
            source,
        })?;
        let mut map = HashMap::new();
        for (key, title) in file.buc {
            if !catalogue.knows_buc_name(&key) {
                return Err(CatalogueError::UnknownTitleKey { path, key });
            }
            map.insert(key, title);
        }
        for (key, title) in file.sed {
            if key.parse::<SedType>().is_err() {
                return Err(CatalogueError::UnknownTitleKey { path, key });
            }
            map.insert(key, title);
        }
        titles.insert(lang, map);
    }
    Ok(titles)
}

#[cfg(test)]
mod tests;
