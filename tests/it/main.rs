//! One integration test binary (faster to link than one per file).

mod bench;
mod browser;
mod chaos;
mod cli;
mod common;
mod compose;
mod console;
mod exchange;
mod faultproxy;
mod gateways;
mod hostile;
mod institutions_api;
mod intake;
mod interop_live;
mod missoc;
mod missoc_publish;
mod multi_node;
mod outbox;
mod render_api;
mod signed;
mod store_backends;
mod store_suite;
