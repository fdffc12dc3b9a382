//! Operations: /livez, /readyz, /metrics, tracing setup.
