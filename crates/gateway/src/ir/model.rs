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
