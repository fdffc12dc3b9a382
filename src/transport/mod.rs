//! TLS identities, rustls server/client configuration, CRLs, the outbound HTTP client.
