//! One integration test binary (faster to link than one per file).

mod cli;
mod common;
mod compose;
mod exchange;
mod gateways;
mod institutions_api;
mod intake;
mod interop_live;
mod outbox;
mod signed;
mod store_suite;
