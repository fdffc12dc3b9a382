//! TLS identities, rustls server/client configuration, CRLs, the outbound HTTP client.
//!
//! `pki` makes a development PKI, `tls` turns certificate files into rustls configs behind a
//! reloadable [`TlsReloader`], `listener` serves an axum router over mutual TLS with the peer's
//! [`PeerIdentity`] on each request, `client` is the outbound reqwest client, `signing` holds the
//! WS-Security key and checks peers' signing certificates.

pub mod client;
pub mod identity;
pub mod listener;
pub mod pki;
pub mod signing;
pub mod tls;

#[cfg(test)]
mod tests;

pub use client::{ClientError, OutboundClient, OutboundTimeouts};
pub use identity::{IdentityError, PeerIdentity};
pub use listener::{serve_plain, serve_tls, HandshakeRefusal, ListenerStats, ServeOptions};
pub use pki::{DevCa, DevPki, DevPkiFiles, IssuedCert, LeafSpec, PkiError};
pub use signing::{MessageSecurity, SignerRefusal, SigningError};
pub use tls::{TlsError, TlsReloader, TlsSettings};
