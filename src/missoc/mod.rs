//! MISSOC: the Mutual Information System on Social Protection's comparative tables
//! (31 countries, tables I–XII, editions of 1 January and 1 July, in English, French and
//! German), kept by national correspondents and published by a secretariat. Lives on the
//! gateway's store and server; shares nothing with the SED exchange but the IR link
//! (each table maps to the EESSI sector whose institutions are competent for it).

pub mod api;
pub mod auth;
pub mod dataset;
pub mod diff;
pub mod export;
pub mod labels;
pub mod model;
pub mod pages;
pub mod views;
pub mod web;
pub mod workflow;
