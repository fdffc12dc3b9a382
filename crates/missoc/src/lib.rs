//! MISSOC: the Mutual Information System on Social Protection's comparative tables
//! (31 countries, tables I–XII, editions of 1 January and 1 July, in English, French and
//! German), kept by national correspondents and published by a secretariat. A product of
//! its own beside the gateway: its own store and audit chain (`store`), served on the
//! gateway's API listener when the binary mounts `MissocState::routes`. It shares nothing
//! with the SED exchange but the IR link (`directory`: each table maps to the EESSI sector
//! whose institutions are competent for it).
#![forbid(unsafe_code)]

pub mod api;
pub mod auth;
pub mod dataset;
pub mod diff;
pub mod directory;
pub mod export;
pub mod labels;
pub mod model;
pub mod pages;
pub mod samples;
mod state;
pub mod store;
pub mod views;
pub mod web;
pub mod workflow;

pub use state::MissocState;
pub use store::MissocStore;
