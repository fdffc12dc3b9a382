//! One integration test binary (faster to link than one per file).

mod bench;
mod common;
mod exchange;
mod gateways;
mod institutions_api;
mod intake;
mod store_suite;
