//! The `sedgate` binary as a library (so the integration tests run what users run): the
//! command line (`cli`), the two-gateway demo (`demo`), and the composition of the gateway
//! with MISSOC mounted beside it (`serve`). The products themselves are the workspace's
//! crates; see ARCHITECTURE.md for the map.
#![forbid(unsafe_code)]

pub mod cli;
pub mod demo;
pub mod serve;
