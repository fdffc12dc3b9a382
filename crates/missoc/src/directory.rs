//! The one thing MISSOC reads from the gateway: which institutions the institution
//! repository lists as competent for a sector's BUCs (a table's "competent institutions").
//! MISSOC defines what it needs; the binary answers it from the gateway's IR, so this crate
//! never depends on the gateway.

use std::collections::BTreeMap;

use sedgate_base::domain::CountryCode;
use serde::Serialize;

/// An institution as MISSOC shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Institution {
    /// `CC:ID`, e.g. `NO:NAVAT07`.
    pub id: String,
    pub country: String,
    pub acronym: Option<String>,
    /// Names by language code.
    pub names: BTreeMap<String, String>,
    pub eessi_ready: bool,
    pub competences: Vec<Competence>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Competence {
    pub buc: String,
    pub role: String,
}

/// Institutions competent for BUCs whose type starts with a prefix (`P_BUC_`).
pub trait InstitutionDirectory: Send + Sync {
    /// In the IR's order; only those of `country` when given.
    fn competent_for_buc_prefix(
        &self,
        prefix: &str,
        country: Option<&CountryCode>,
    ) -> Vec<Institution>;
}

/// A directory with no institutions (MISSOC without a gateway beside it).
pub struct NoInstitutions;

impl InstitutionDirectory for NoInstitutions {
    fn competent_for_buc_prefix(&self, _: &str, _: Option<&CountryCode>) -> Vec<Institution> {
        Vec::new()
    }
}
