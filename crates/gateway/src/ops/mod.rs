//! Operations: /livez, /readyz, /metrics, tracing set-up.

pub mod health;
pub mod metrics;
pub mod telemetry;
