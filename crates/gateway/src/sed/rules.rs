//! Business rules for a SED submission, pure: catalogue facts in, a verdict out.

use crate::sed::catalogue::Catalogue;
use sedgate_base::domain::{BucRole, BucType, CaseId, CdmVersion, InstitutionId, SedType};
use sedgate_base::xml::{Document, Element};

/// What intake knows about one submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmissionFacts {
    pub cdm: CdmVersion,
    pub buc: BucType,
    pub sed: SedType,
    /// Whether the case (BUC instance) already exists.
    pub case_exists: bool,
    /// `CaseOwner` if this gateway's side started the case or starts it now.
    pub sender_role: BucRole,
    /// Whether a schema exists for (cdm, sed): `XsdPool::known`.
    pub has_schema: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleViolation {
    #[error("BUC {buc} is not defined for CDM {cdm}")]
    UnknownBuc { cdm: CdmVersion, buc: BucType },
    #[error("no schema for SED type {sed} in CDM {cdm}")]
    UnknownSedType { cdm: CdmVersion, sed: SedType },
    #[error("SED {sed} is not part of {buc} (CDM {cdm})")]
    SedNotInBuc {
        cdm: CdmVersion,
        buc: BucType,
        sed: SedType,
    },
    #[error("SED {sed} starts a {buc} case, but the case already exists")]
    StarterOnExistingCase { buc: BucType, sed: SedType },
    #[error("SED {sed} is a follow-up in {buc}, but there is no case yet (starters: {starters})")]
    FollowUpWithoutCase {
        buc: BucType,
        sed: SedType,
        starters: String,
    },
    #[error("the {role} of a {buc} case may not send {sed}")]
    SedNotAllowedForRole {
        buc: BucType,
        sed: SedType,
        role: &'static str,
    },
    #[error("the SED says {field} is {in_sed:?}, the request says {in_request:?}")]
    IdsDisagree {
        field: &'static str,
        in_sed: String,
        in_request: String,
    },
}

impl RuleViolation {
    /// Stable machine-readable code (problem+json `code`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownBuc { .. } => "unknown_buc",
            Self::UnknownSedType { .. } => "unknown_sed_type",
            Self::SedNotInBuc { .. } => "sed_not_in_buc",
            Self::StarterOnExistingCase { .. } => "starter_on_existing_case",
            Self::FollowUpWithoutCase { .. } => "follow_up_without_case",
            Self::SedNotAllowedForRole { .. } => "sed_not_allowed_for_role",
            Self::IdsDisagree { .. } => "ids_disagree",
        }
    }
}

/// Checks that `facts.sed` may be sent in `facts.buc` by `facts.sender_role` now.
pub fn check(catalogue: &Catalogue, facts: &SubmissionFacts) -> Result<(), RuleViolation> {
    let Some(buc) = catalogue.buc(facts.cdm, &facts.buc) else {
        return Err(RuleViolation::UnknownBuc {
            cdm: facts.cdm,
            buc: facts.buc.clone(),
        });
    };
    if !facts.has_schema {
        return Err(RuleViolation::UnknownSedType {
            cdm: facts.cdm,
            sed: facts.sed.clone(),
        });
    }
    if !buc.contains(&facts.sed) {
        return Err(RuleViolation::SedNotInBuc {
            cdm: facts.cdm,
            buc: facts.buc.clone(),
            sed: facts.sed.clone(),
        });
    }
    let not_allowed = || RuleViolation::SedNotAllowedForRole {
        buc: facts.buc.clone(),
        sed: facts.sed.clone(),
        role: facts.sender_role.as_str(),
    };
    if !facts.case_exists {
        if !buc.is_starter(&facts.sed) {
            let starters: Vec<&str> = buc.starters().iter().map(SedType::as_str).collect();
            return Err(RuleViolation::FollowUpWithoutCase {
                buc: facts.buc.clone(),
                sed: facts.sed.clone(),
                starters: starters.join(", "),
            });
        }
        // Whoever sends the starter owns the case: a counterparty cannot open one.
        return match facts.sender_role {
            BucRole::CaseOwner => Ok(()),
            BucRole::CounterParty => Err(not_allowed()),
        };
    }
    if buc.follow_ups(facts.sender_role).contains(&facts.sed) {
        return Ok(());
    }
    if buc.is_starter(&facts.sed) {
        return Err(RuleViolation::StarterOnExistingCase {
            buc: facts.buc.clone(),
            sed: facts.sed.clone(),
        });
    }
    Err(not_allowed())
}

/// The ids in a SED's common header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SedHeader {
    pub case_id: CaseId,
    pub sender: InstitutionId,
    pub receivers: Vec<InstitutionId>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("the SED has no {0} element")]
    Missing(&'static str),
    #[error("{path} holds {value:?}, which is not a valid id")]
    BadId { path: &'static str, value: String },
}

/// Reads `Header/CaseID`, `Header/Sender/InstitutionID` and
/// `Header/Receivers/Receiver/InstitutionID` (in the root element's namespace).
pub fn extract_header(doc: &Document) -> Result<SedHeader, HeaderError> {
    let root = &doc.root;
    // Header elements are in the root's namespace; a root without one has no SED header.
    let ns = root.ns.as_deref().ok_or(HeaderError::Missing("Header"))?;
    let header = root
        .child(ns, "Header")
        .ok_or(HeaderError::Missing("Header"))?;
    let text_of = |el: Option<&Element>, path: &'static str| -> Result<String, HeaderError> {
        el.map(|e| e.text().trim().to_owned())
            .ok_or(HeaderError::Missing(path))
    };
    let case_raw = text_of(header.child(ns, "CaseID"), "Header/CaseID")?;
    let case_id = case_raw.parse().map_err(|_| HeaderError::BadId {
        path: "Header/CaseID",
        value: case_raw.clone(),
    })?;
    const SENDER: &str = "Header/Sender/InstitutionID";
    let sender_raw = text_of(
        header
            .child(ns, "Sender")
            .and_then(|s| s.child(ns, "InstitutionID")),
        SENDER,
    )?;
    let sender = sender_raw.parse().map_err(|_| HeaderError::BadId {
        path: SENDER,
        value: sender_raw.clone(),
    })?;
    const RECEIVER: &str = "Header/Receivers/Receiver/InstitutionID";
    let receivers_el = header
        .child(ns, "Receivers")
        .ok_or(HeaderError::Missing("Header/Receivers"))?;
    let mut receivers = Vec::new();
    for receiver in receivers_el.children_named(ns, "Receiver") {
        let raw = text_of(receiver.child(ns, "InstitutionID"), RECEIVER)?;
        receivers.push(raw.parse().map_err(|_| HeaderError::BadId {
            path: RECEIVER,
            value: raw.clone(),
        })?);
    }
    if receivers.is_empty() {
        return Err(HeaderError::Missing("Header/Receivers/Receiver"));
    }
    Ok(SedHeader {
        case_id,
        sender,
        receivers,
    })
}

/// The ids the back office put in its request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestIds {
    /// `None` when the request opens a new case and lets the SED name it.
    pub case_id: Option<CaseId>,
    pub sender: InstitutionId,
    pub receivers: Vec<InstitutionId>,
}

/// The SED's header must name the same case, sender and receivers (as a set) as the request.
pub fn check_ids(header: &SedHeader, request: &RequestIds) -> Result<(), RuleViolation> {
    if let Some(case_id) = &request.case_id {
        if *case_id != header.case_id {
            return Err(RuleViolation::IdsDisagree {
                field: "case id",
                in_sed: header.case_id.to_string(),
                in_request: case_id.to_string(),
            });
        }
    }
    if header.sender != request.sender {
        return Err(RuleViolation::IdsDisagree {
            field: "sender",
            in_sed: header.sender.to_string(),
            in_request: request.sender.to_string(),
        });
    }
    let mut in_sed: Vec<&str> = header.receivers.iter().map(|r| r.as_str()).collect();
    let mut in_request: Vec<&str> = request.receivers.iter().map(|r| r.as_str()).collect();
    in_sed.sort_unstable();
    in_sed.dedup();
    in_request.sort_unstable();
    in_request.dedup();
    if in_sed != in_request {
        return Err(RuleViolation::IdsDisagree {
            field: "receivers",
            in_sed: in_sed.join(","),
            in_request: in_request.join(","),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
