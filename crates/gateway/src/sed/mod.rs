//! SEDs: the XSD validation pool, the SED/BUC catalogue and the business rules of intake.
//! Hardened XML reading lives in `sedgate_base::xml`; everything here is pure except the
//! validator threads of [`xsd::XsdPool`] (std threads, no async runtime).

pub mod catalogue;
pub mod rules;
pub mod xsd;

pub use catalogue::{BucDefinition, Catalogue, CatalogueError};
pub use rules::{
    check, check_ids, extract_header, HeaderError, RequestIds, RuleViolation, SedHeader,
    SubmissionFacts,
};
pub use xsd::{bench_validations, sed_namespace, Finding, XsdError, XsdPool};
