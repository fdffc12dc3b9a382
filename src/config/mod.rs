//! Typed configuration from a TOML file and SEDGATE_* environment variables.
