//! One integration test binary (faster to link than one per file).

mod common;
mod exchange;
mod signed;
mod gateways;
mod institutions_api;
mod intake;
mod interop_live;
mod store_suite;
