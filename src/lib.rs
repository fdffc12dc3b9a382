//! sedgate: an access point for EESSI-style cross-border social-security messaging.
//! See ARCHITECTURE.md for the map of modules and the path of one SED.
#![forbid(unsafe_code)]

pub mod api;
pub mod app;
pub mod as4;
pub mod bench;
pub mod cli;
pub mod config;
pub mod console;
pub mod demo;
pub mod domain;
pub mod evidence;
#[doc(hidden)]
pub mod fuzzing;
pub mod inbound;
pub mod ir;
pub mod missoc;
pub mod ops;
pub mod outbox;
pub mod render;
pub mod sed;
pub mod store;
pub mod transport;
pub mod wssec;
pub mod xml;
