//! The sedgate access point: configuration, the store, the institution repository, SED
//! validation, the back-office API, `/as4`, the outbox, transport (mTLS), the operator
//! console and operations. See ARCHITECTURE.md for the map and the path of one SED.
//!
//! Protocol code is in `sedgate_as4` and `sedgate_wssec` (pure); what the gateway shares
//! with MISSOC is in `sedgate_base` and `sedgate_web`. This crate knows nothing of MISSOC:
//! the binary mounts it beside the gateway (`app::Mount`).
#![forbid(unsafe_code)]

pub mod api;
pub mod app;
pub mod config;
pub mod console;
pub mod data;
pub mod evidence;
#[doc(hidden)]
pub mod fuzzing;
pub mod inbound;
pub mod ir;
pub mod ops;
pub mod outbox;
pub mod render;
pub mod sed;
pub mod store;
pub mod transport;
