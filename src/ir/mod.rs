//! Institution repository: model, import, in-memory index, search, routing.
pub mod index;
pub mod model;
