//! One integration test binary (faster to link than one per file).

mod common;
mod institutions_api;
mod intake;
mod store_suite;
