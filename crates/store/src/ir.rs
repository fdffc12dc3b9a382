//! The institution repository's data model: institutions, their competences per BUC,
//! and the access point of each country.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use sedgate_base::domain::{BucRole, BucType, CountryCode, InstitutionId};

/// One institution as the IR knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Institution {
    pub id: InstitutionId,
    pub country: CountryCode,
    pub acronym: Option<String>,
    /// Names by lower-case ISO 639-1 language code (`en`, `fr`, `no`, ...).
    pub names: BTreeMap<String, String>,
    /// `None` for an institution that was never activated in EESSI.
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_to: Option<DateTime<Utc>>,
    pub eessi_ready: bool,
    pub competences: Vec<Competence>,
}

/// The right of an institution to take part in a BUC in a role.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Competence {
    pub buc: BucType,
    pub role: BucRole,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_to: Option<DateTime<Utc>>,
    pub eessi_ready: bool,
}

/// What one import source says about an institution. Fields a source does not carry
/// are `None` and leave the stored value as it is, so importing `Organisations.csv`
/// (ids and activation dates) and then a JSON extract (names and competences) merges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstitutionUpsert {
    pub id: InstitutionId,
    pub acronym: Option<String>,
    pub names: BTreeMap<String, String>,
    /// `Some(None)`: the source says the institution is not activated.
    pub valid_from: Option<Option<DateTime<Utc>>>,
    pub valid_to: Option<Option<DateTime<Utc>>>,
    pub eessi_ready: Option<bool>,
    /// `Some`: replaces the institution's whole competence set.
    pub competences: Option<Vec<Competence>>,
}

impl InstitutionUpsert {
    /// The institution after applying this upsert to what is stored (if anything).
    pub fn apply(&self, existing: Option<&Institution>) -> Institution {
        let mut inst = existing.cloned().unwrap_or_else(|| Institution {
            id: self.id.clone(),
            country: self.id.country(),
            acronym: None,
            names: BTreeMap::new(),
            valid_from: None,
            valid_to: None,
            eessi_ready: false,
            competences: Vec::new(),
        });
        if let Some(acronym) = &self.acronym {
            inst.acronym = Some(acronym.clone());
        }
        for (lang, name) in &self.names {
            inst.names.insert(lang.clone(), name.clone());
        }
        if let Some(from) = self.valid_from {
            inst.valid_from = from;
        }
        if let Some(to) = self.valid_to {
            inst.valid_to = to;
        }
        if let Some(ready) = self.eessi_ready {
            inst.eessi_ready = ready;
        }
        if let Some(competences) = &self.competences {
            let mut sorted = competences.clone();
            sorted.sort();
            sorted.dedup();
            inst.competences = sorted;
        }
        inst
    }
}

/// The AS4 access point that serves every institution of one country.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessPoint {
    pub country: CountryCode,
    /// `https://host:port/as4`
    pub endpoint_url: String,
    /// SHA-256 fingerprints (lower-case hex, no separators) of the TLS client and
    /// signing certificates this access point may present.
    pub cert_fingerprints: Vec<String>,
}

/// Counts reported after an import.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportCounts {
    pub added: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: u64,
}

/// Everything routing needs, loaded in one go.
#[derive(Debug, Clone, Default)]
pub struct IrSnapshot {
    pub institutions: Vec<Institution>,
    pub access_points: Vec<AccessPoint>,
}

impl Competence {
    /// Whether the competence can be used on `on`: EESSI-ready and `on` in
    /// `[valid_from, valid_to)`; a missing bound is no bound.
    pub fn is_usable_on(&self, on: DateTime<Utc>) -> bool {
        self.eessi_ready
            && self.valid_from.is_none_or(|from| from <= on)
            && self.valid_to.is_none_or(|to| on < to)
    }
}

impl Institution {
    /// Whether `on` lies in `[valid_from, valid_to)`. A missing `valid_from` is no lower
    /// bound here: activation itself is `eessi_ready` (`Organisations.csv` sets it false for
    /// a `NULL` activation, while an institution known only from a JSON extract has no
    /// institution-level date but is ready through its competences).
    pub fn is_valid_on(&self, on: DateTime<Utc>) -> bool {
        self.valid_from.is_none_or(|from| from <= on) && self.valid_to.is_none_or(|to| on < to)
    }

    /// A competence for `buc` (in `role`, if given) usable on `on`.
    pub fn competence_on(
        &self,
        buc: &BucType,
        role: Option<BucRole>,
        on: DateTime<Utc>,
    ) -> Option<&Competence> {
        self.competences
            .iter()
            .find(|c| &c.buc == buc && role.is_none_or(|r| c.role == r) && c.is_usable_on(on))
    }
}

/// What an import changes, decided before anything is written.
#[derive(Debug, Clone, Default)]
pub struct ImportPlan {
    pub counts: ImportCounts,
    /// Institutions added or changed, in id order.
    pub write: Vec<Institution>,
    /// Of those, the ones whose names are to be replaced.
    pub replace_names: Vec<InstitutionId>,
    /// Of those, the ones whose competences are to be replaced.
    pub replace_competences: Vec<InstitutionId>,
}

/// Applies `batch` (in order) to `existing` and says what to write. Importing the same
/// data twice plans nothing.
pub fn plan_import(
    existing: &[Institution],
    batch: &[InstitutionUpsert],
    rejected: u64,
) -> ImportPlan {
    let existing: std::collections::HashMap<&InstitutionId, &Institution> =
        existing.iter().map(|i| (&i.id, i)).collect();
    let mut merged: BTreeMap<&InstitutionId, Institution> = BTreeMap::new();
    for upsert in batch {
        let before = merged
            .get(&upsert.id)
            .or_else(|| existing.get(&upsert.id).copied());
        let after = upsert.apply(before);
        merged.insert(&upsert.id, after);
    }
    let mut plan = ImportPlan {
        counts: ImportCounts {
            rejected,
            ..ImportCounts::default()
        },
        ..ImportPlan::default()
    };
    for (id, after) in merged {
        match existing.get(id) {
            Some(before) if **before == after => plan.counts.unchanged += 1,
            before => {
                if before.is_some() {
                    plan.counts.updated += 1;
                } else {
                    plan.counts.added += 1;
                }
                // A new institution has no child rows to replace: only its own to write.
                if before.map_or(!after.names.is_empty(), |b| b.names != after.names) {
                    plan.replace_names.push(id.clone());
                }
                if before.map_or(!after.competences.is_empty(), |b| {
                    b.competences != after.competences
                }) {
                    plan.replace_competences.push(id.clone());
                }
                plan.write.push(after);
            }
        }
    }
    plan
}

/// The IR tables' rows as loaded, put together.
pub fn assemble(
    institutions: Vec<Institution>,
    names: Vec<(String, String, String)>,
    competences: Vec<(String, Competence)>,
) -> Vec<Institution> {
    let mut names_of: std::collections::HashMap<String, BTreeMap<String, String>> =
        std::collections::HashMap::new();
    for (id, lang, name) in names {
        names_of.entry(id).or_default().insert(lang, name);
    }
    let mut competences_of: std::collections::HashMap<String, Vec<Competence>> =
        std::collections::HashMap::new();
    for (id, c) in competences {
        competences_of.entry(id).or_default().push(c);
    }
    institutions
        .into_iter()
        .map(|mut inst| {
            inst.names = names_of.remove(inst.id.as_str()).unwrap_or_default();
            let mut comps = competences_of.remove(inst.id.as_str()).unwrap_or_default();
            comps.sort();
            inst.competences = comps;
            inst
        })
        .collect()
}

#[cfg(test)]
mod plan_tests {
    use super::*;

    fn upsert(id: &str, name: Option<&str>) -> InstitutionUpsert {
        InstitutionUpsert {
            id: id.parse().unwrap(),
            acronym: None,
            names: name
                .map(|n| [("en".to_owned(), n.to_owned())].into_iter().collect())
                .unwrap_or_default(),
            valid_from: None,
            valid_to: None,
            eessi_ready: Some(true),
            competences: None,
        }
    }

    #[test]
    fn plans_added_updated_unchanged_and_only_changed_children() {
        let first = plan_import(&[], &[upsert("AT:1", Some("A")), upsert("AT:2", None)], 1);
        assert_eq!(
            (
                first.counts.added,
                first.counts.updated,
                first.counts.unchanged,
                first.counts.rejected
            ),
            (2, 0, 0, 1)
        );
        assert_eq!(first.replace_names.len(), 1);
        let stored = first.write.clone();
        let again = plan_import(
            &stored,
            &[upsert("AT:1", Some("A")), upsert("AT:2", None)],
            0,
        );
        assert_eq!((again.counts.unchanged, again.write.len()), (2, 0));
        let renamed = plan_import(&stored, &[upsert("AT:1", Some("B"))], 0);
        assert_eq!(renamed.counts.updated, 1);
        assert_eq!(renamed.replace_names.len(), 1);
        assert!(renamed.replace_competences.is_empty());
    }
}
