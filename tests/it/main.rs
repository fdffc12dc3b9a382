//! One integration test binary (faster to link than one per file).

mod chaos;
mod common;
mod exchange;
mod faultproxy;
mod gateways;
mod hostile;
mod institutions_api;
mod intake;
mod store_suite;
