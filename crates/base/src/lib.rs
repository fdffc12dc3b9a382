//! What both of sedgate's products (the gateway and MISSOC) and its protocol crates share:
//! identifier newtypes (`domain`), the hardened XML reader every untrusted document goes
//! through (`xml`), tokens, secrets and password hashes (`secret`), the audit hash chain's
//! entry hash (`audit`), and the A4 PDF page writer (`pdf`).
//!
//! No I/O stack: this crate knows nothing of tokio, sqlx, axum, hyper or reqwest, so the
//! protocol crates that build on it stay pure.
#![forbid(unsafe_code)]

pub mod audit;
pub mod domain;
pub mod pdf;
pub mod secret;
pub mod xml;
