//! Institution repository: model, import, in-memory index, search, routing.
pub mod import;
pub mod importer;
pub mod index;
pub use sedgate_store::ir as model;
pub mod route;

pub use import::{parse, ImportError, ImportFormat, ParsedImport, RowError};
pub use index::{IrIndex, SearchPage, SearchQuery};
pub use model::{
    AccessPoint, Competence, ImportCounts, Institution, InstitutionUpsert, IrSnapshot,
};
pub use route::{route, Route, RouteError, RouteQuery};

#[cfg(test)]
mod test_data;
