//! The HTTP client gateways use to reach their peers: reqwest over our rustls client config
//! (ring, our suites, our client certificate, only our trust anchors).

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use rustls::ClientConfig;

use super::tls::TlsReloader;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboundTimeouts {
    /// TCP connect plus TLS handshake.
    pub connect: Duration,
    /// The whole request, from connect to the end of the response body.
    pub request: Duration,
}

impl Default for OutboundTimeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot build the outbound HTTP client: {0}")]
    Build(#[from] reqwest::Error),
}

/// A reqwest client over `tls`: HTTPS only, no redirects (an AS4 endpoint answers itself).
pub fn build_client(
    tls: &ClientConfig,
    timeouts: OutboundTimeouts,
) -> Result<reqwest::Client, ClientError> {
    Ok(reqwest::Client::builder()
        .use_preconfigured_tls(tls.clone())
        .https_only(true)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(timeouts.connect)
        .timeout(timeouts.request)
        .build()?)
}

struct Built {
    generation: u64,
    client: reqwest::Client,
}

/// Hands out a reqwest client that follows [`TlsReloader::reload`]: [`OutboundClient::client`]
/// rebuilds it (new connection pool, new certificates and CRLs) when the TLS generation moved,
/// so the outbox calls `client()` per dispatch instead of keeping a `reqwest::Client`.
pub struct OutboundClient {
    tls: Arc<TlsReloader>,
    timeouts: OutboundTimeouts,
    current: ArcSwap<Built>,
}

impl OutboundClient {
    pub fn new(tls: Arc<TlsReloader>, timeouts: OutboundTimeouts) -> Result<Self, ClientError> {
        let generation = tls.generation();
        let client = build_client(&tls.client_config(), timeouts)?;
        Ok(Self {
            tls,
            timeouts,
            current: ArcSwap::from_pointee(Built { generation, client }),
        })
    }

    /// The client for the current TLS configuration (a cheap clone sharing its pool).
    pub fn client(&self) -> Result<reqwest::Client, ClientError> {
        let current = self.current.load();
        let generation = self.tls.generation();
        if current.generation == generation {
            return Ok(current.client.clone());
        }
        // Two callers may rebuild at once after a reload; both results are equivalent.
        let client = build_client(&self.tls.client_config(), self.timeouts)?;
        self.current.store(Arc::new(Built {
            generation,
            client: client.clone(),
        }));
        Ok(client)
    }
}
