//! Label tables, one TOML file per language (`seed/labels/<lang>.toml`): adding a language
//! is adding a file. A lookup that finds nothing answers `None`; the caller marks the label
//! as missing and never falls back on another language.

use crate::data::SubDir;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use serde::Deserialize;

/// The words of the rendered page itself; every language file must have them all.
pub const UI_KEYS: &[&str] = &[
    "message",
    "case",
    "buc",
    "sed",
    "cdm_version",
    "sender",
    "receiver",
    "date",
    "missing_label",
    "missing_legend",
];

#[derive(Debug, thiserror::Error)]
pub enum LabelsError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Toml {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("no label files (<lang>.toml) in {0}")]
    Empty(PathBuf),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct LabelFile {
    /// The language's own name, e.g. "Deutsch".
    language: String,
    #[serde(default)]
    ui: HashMap<String, String>,
    /// By element path below the SED root (`Person/FamilyName`) or by element name.
    #[serde(default)]
    fields: HashMap<String, String>,
    /// Code table (named after the element) -> code -> label.
    #[serde(default)]
    codes: HashMap<String, HashMap<String, String>>,
    /// Country code -> country name.
    #[serde(default)]
    countries: HashMap<String, String>,
}

/// The labels of one language.
#[derive(Debug, Clone)]
pub struct LabelSet {
    pub lang: String,
    pub language_name: String,
    file: LabelFile,
}

impl LabelSet {
    /// The label of an element: by its path first, then by its name.
    pub fn field(&self, path: &str, name: &str) -> Option<&str> {
        self.file
            .fields
            .get(path)
            .or_else(|| self.file.fields.get(name))
            .map(String::as_str)
    }

    pub fn code(&self, table: &str, code: &str) -> Option<&str> {
        self.file.codes.get(table)?.get(code).map(String::as_str)
    }

    pub fn country(&self, code: &str) -> Option<&str> {
        self.file.countries.get(code).map(String::as_str)
    }

    pub fn ui(&self, key: &str) -> Option<&str> {
        self.file.ui.get(key).map(String::as_str)
    }
}

/// Every language with a label file.
#[derive(Debug, Clone)]
pub struct Labels {
    langs: BTreeMap<String, LabelSet>,
}

/// A language tag as used in file names and `?lang=`: `de`, `fr`, `nb`, `pt-BR`.
pub fn is_language_tag(s: &str) -> bool {
    let (primary, region) = match s.split_once('-') {
        Some((p, r)) => (p, Some(r)),
        None => (s, None),
    };
    (2..=3).contains(&primary.len())
        && primary.bytes().all(|b| b.is_ascii_lowercase())
        && region.is_none_or(|r| {
            (2..=8).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_alphanumeric())
        })
}

impl Labels {
    pub fn load(dir: impl Into<SubDir>) -> Result<Labels, LabelsError> {
        let dir = dir.into();
        let io = |rel: &str| {
            let path = dir.describe(rel);
            move |source| LabelsError::Io { path, source }
        };
        let mut langs = BTreeMap::new();
        for entry in dir.list("").map_err(io(""))? {
            let Some(lang) = entry
                .name
                .strip_suffix(".toml")
                .filter(|l| is_language_tag(l))
            else {
                continue;
            };
            let path = dir.describe(&entry.name);
            let bytes = dir.read(&entry.name).map_err(io(&entry.name))?;
            let text = String::from_utf8_lossy(&bytes);
            let file: LabelFile = toml::from_str(&text).map_err(|source| LabelsError::Toml {
                path: path.clone(),
                source,
            })?;
            langs.insert(
                lang.to_owned(),
                LabelSet {
                    lang: lang.to_owned(),
                    language_name: file.language.clone(),
                    file,
                },
            );
        }
        if langs.is_empty() {
            return Err(LabelsError::Empty(dir.describe("")));
        }
        Ok(Labels { langs })
    }

    pub fn get(&self, lang: &str) -> Option<&LabelSet> {
        self.langs.get(lang)
    }

    /// Language tags, sorted.
    pub fn languages(&self) -> Vec<&str> {
        self.langs.keys().map(String::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_language_tags_and_refuses_others() {
        for ok in ["en", "de", "nb", "pt-BR"] {
            assert!(is_language_tag(ok), "{ok}");
        }
        for bad in ["", "e", "EN", "english", "../en", "en-", "de_DE"] {
            assert!(!is_language_tag(bad), "{bad}");
        }
    }

    #[test]
    fn finds_by_path_before_name_and_nothing_from_another_language() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("xx.toml"),
            "language = \"Test\"\n[fields]\nName = \"Name\"\n\"Header/Sender/Name\" = \"Sender name\"\n[codes.Sex]\nM = \"Male\"\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("yy.toml"),
            "language = \"Other\"\n[fields]\nTown = \"Town\"\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("README.md"), "not a label file").unwrap();
        let labels = Labels::load(dir.path()).unwrap();
        assert_eq!(labels.languages(), ["xx", "yy"]);
        let xx = labels.get("xx").unwrap();
        assert_eq!(xx.field("Header/Sender/Name", "Name"), Some("Sender name"));
        assert_eq!(xx.field("Person/Name", "Name"), Some("Name"));
        assert_eq!(xx.field("Address/Town", "Town"), None);
        assert_eq!(xx.code("Sex", "M"), Some("Male"));
        assert_eq!(xx.code("Sex", "F"), None);
    }
}
