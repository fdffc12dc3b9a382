//! HTTP glue that both sedgate products (the gateway and MISSOC) use on axum:
//! problem+json errors and the JSON extractor that rejects with them (`problem`),
//! page sessions as cookies with CSRF double submit (`session`), and the error page
//! of the HTML pages (`error_page`).
#![forbid(unsafe_code)]

pub mod error_page;
pub mod limits;
pub mod problem;
pub mod session;

pub use problem::{bearer_token, ApiError, ApiJson, Finding, Problem};
