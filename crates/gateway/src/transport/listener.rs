//! The mutual-TLS listener for gateway peers: accept, TLS handshake under a deadline, then HTTP
//! with the peer's certificate identity attached to every request as a [`PeerIdentity`].

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use rustls::{CertificateError, ServerConfig};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::identity::{self, PeerIdentity};
use super::tls::TlsReloader;

/// Why a connection did not get past the TLS handshake. Bounded, so usable as a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HandshakeRefusal {
    /// The handshake did not complete within the configured deadline.
    Timeout,
    NoClientCertificate,
    /// The client certificate does not chain to one of our trust anchors.
    UnknownIssuer,
    Revoked,
    Expired,
    /// Any other certificate problem (not yet valid, wrong usage, bad signature, unknown
    /// revocation status, ...).
    BadCertificate,
    /// No protocol version, cipher suite or ALPN protocol in common (e.g. TLS 1.1, CBC only).
    Incompatible,
    /// Any other TLS protocol error.
    Protocol,
    /// The connection failed below TLS (reset, closed early).
    Io,
    /// The verified certificate could not be turned into a [`PeerIdentity`].
    BadIdentity,
}

impl HandshakeRefusal {
    pub const ALL: [Self; 10] = [
        Self::Timeout,
        Self::NoClientCertificate,
        Self::UnknownIssuer,
        Self::Revoked,
        Self::Expired,
        Self::BadCertificate,
        Self::Incompatible,
        Self::Protocol,
        Self::Io,
        Self::BadIdentity,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::NoClientCertificate => "no_client_certificate",
            Self::UnknownIssuer => "unknown_issuer",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
            Self::BadCertificate => "bad_certificate",
            Self::Incompatible => "incompatible",
            Self::Protocol => "protocol",
            Self::Io => "io",
            Self::BadIdentity => "bad_identity",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// Classifies the error tokio-rustls returns from a failed server handshake.
    pub fn classify(error: &std::io::Error) -> Self {
        let Some(tls_error) = error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        else {
            return Self::Io;
        };
        match tls_error {
            rustls::Error::NoCertificatesPresented => Self::NoClientCertificate,
            rustls::Error::InvalidCertificate(cert_error) => match cert_error {
                CertificateError::UnknownIssuer => Self::UnknownIssuer,
                CertificateError::Revoked => Self::Revoked,
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    Self::Expired
                }
                _ => Self::BadCertificate,
            },
            rustls::Error::PeerIncompatible(_) | rustls::Error::NoApplicationProtocol => {
                Self::Incompatible
            }
            _ => Self::Protocol,
        }
    }
}

/// Handshake and connection counters, cheap to update; the lead wires them to `/metrics`.
#[derive(Debug, Default)]
pub struct ListenerStats {
    established: AtomicU64,
    refused: [AtomicU64; HandshakeRefusal::ALL.len()],
    active: AtomicU64,
}

impl ListenerStats {
    /// Handshakes that completed with a verified client certificate.
    pub fn established(&self) -> u64 {
        self.established.load(Ordering::Relaxed)
    }

    /// Handshakes refused for `reason`.
    pub fn refused(&self, reason: HandshakeRefusal) -> u64 {
        self.refused[reason.index()].load(Ordering::Relaxed)
    }

    /// Connections currently held (handshaking or serving HTTP).
    pub fn active_connections(&self) -> u64 {
        self.active.load(Ordering::Relaxed)
    }

    fn record_refusal(&self, reason: HandshakeRefusal) {
        self.refused[reason.index()].fetch_add(1, Ordering::Relaxed);
    }
}

/// Knobs of [`serve_tls`] beyond the TLS material.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Connections held at once (handshaking or serving); further clients wait in the backlog.
    pub max_connections: usize,
    /// How long a client may take to send the headers of a request (and between requests).
    pub header_read_timeout: Duration,
    pub stats: Arc<ListenerStats>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            max_connections: 512,
            header_read_timeout: Duration::from_secs(10),
            stats: Arc::default(),
        }
    }
}

/// Serves `app` over mutual TLS on `listener` until `shutdown` completes, then stops accepting,
/// lets open connections finish their requests and returns. Each connection uses the TLS config
/// current when it was accepted, so [`TlsReloader::reload`] applies to new connections.
/// Handlers see the peer as `Extension<PeerIdentity>` and `ConnectInfo<SocketAddr>`.
pub async fn serve_tls(
    listener: TcpListener,
    tls: Arc<TlsReloader>,
    app: Router,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send,
) {
    let handshake_timeout = tls.settings().handshake_timeout;
    let header_read_timeout = options.header_read_timeout;
    accept_loop(
        listener,
        &options,
        "TLS",
        shutdown,
        |stream, remote, slot, drain| {
            let connection = Connection {
                config: tls.server_config(),
                handshake_timeout,
                header_read_timeout,
                app: app.clone(),
                remote,
                drain,
                slot,
            };
            tokio::spawn(connection.run(stream));
        },
    )
    .await;
}

/// The accept loop both listeners share: at most `max_connections` connections at once
/// (others wait in the backlog), a short back-off when accepting fails, and on shutdown:
/// stop accepting, tell open connections to drain, wait until every slot is free.
async fn accept_loop(
    listener: TcpListener,
    options: &ServeOptions,
    kind: &'static str,
    shutdown: impl Future<Output = ()> + Send,
    mut serve: impl FnMut(TcpStream, SocketAddr, Slot, watch::Receiver<bool>),
) {
    let max_connections = options.max_connections.max(1);
    let slots = Arc::new(Semaphore::new(max_connections));
    let (drain_tx, drain_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_closed) => break,
            },
        };
        let (stream, remote) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Usually out of file descriptors: back off instead of spinning.
                    tracing::warn!(%error, kind, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        serve(
            stream,
            remote,
            Slot::take(permit, options.stats.clone()),
            drain_rx.clone(),
        );
    }
    drop(listener);
    // Receivers only wait for `true`; an error just means no connection is left to tell.
    let _ = drain_tx.send(true);
    let all = u32::try_from(max_connections).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
}

/// A held connection slot; frees the slot and the active count when the connection ends.
struct Slot {
    _permit: OwnedSemaphorePermit,
    stats: Arc<ListenerStats>,
}

impl Slot {
    fn take(permit: OwnedSemaphorePermit, stats: Arc<ListenerStats>) -> Self {
        stats.active.fetch_add(1, Ordering::Relaxed);
        Self {
            _permit: permit,
            stats,
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.stats.active.fetch_sub(1, Ordering::Relaxed);
    }
}

struct Connection {
    config: Arc<ServerConfig>,
    handshake_timeout: Duration,
    header_read_timeout: Duration,
    app: Router,
    remote: SocketAddr,
    drain: watch::Receiver<bool>,
    slot: Slot,
}

impl Connection {
    async fn run(mut self, stream: TcpStream) {
        let stats = self.slot.stats.clone();
        let remote = self.remote;
        let refuse = |reason: HandshakeRefusal, detail: &dyn std::fmt::Display| {
            stats.record_refusal(reason);
            match reason {
                HandshakeRefusal::Timeout | HandshakeRefusal::Io => {
                    tracing::debug!(%remote, reason = reason.as_str(), %detail, "TLS handshake failed");
                }
                _ => {
                    tracing::info!(%remote, reason = reason.as_str(), %detail, "TLS handshake refused")
                }
            }
        };
        let acceptor = TlsAcceptor::from(self.config.clone());
        let tls_stream =
            match tokio::time::timeout(self.handshake_timeout, acceptor.accept(stream)).await {
                Err(_elapsed) => {
                    return refuse(
                        HandshakeRefusal::Timeout,
                        &format_args!("no handshake within {:?}", self.handshake_timeout),
                    )
                }
                Ok(Err(error)) => return refuse(HandshakeRefusal::classify(&error), &error),
                Ok(Ok(tls_stream)) => tls_stream,
            };
        // The verifier required a certificate; its absence here would be a rustls bug.
        let peer = match tls_stream.get_ref().1.peer_certificates() {
            Some([end_entity, ..]) => identity::from_der(end_entity),
            _ => {
                return refuse(
                    HandshakeRefusal::BadIdentity,
                    &"no peer certificate after handshake",
                )
            }
        };
        let peer = match peer {
            Ok(peer) => peer,
            Err(error) => return refuse(HandshakeRefusal::BadIdentity, &error),
        };
        stats.established.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(%remote, fingerprint = %peer.fingerprint, subject = %peer.subject, "TLS peer connected");
        self.serve_http(tls_stream, peer).await;
    }

    async fn serve_http(
        &mut self,
        tls_stream: tokio_rustls::server::TlsStream<TcpStream>,
        peer: PeerIdentity,
    ) {
        let remote = self.remote;
        serve_http1(
            TokioIo::new(tls_stream),
            self.app.clone(),
            // Identity comes from the TLS session only; nothing a client sends can set it.
            move |extensions| {
                extensions.insert(peer.clone());
                extensions.insert(ConnectInfo(remote));
            },
            self.header_read_timeout,
            remote,
            &mut self.drain,
        )
        .await;
    }
}

/// Serves `app` over HTTP/1 on one connection until it ends or shutdown begins (then drains
/// it). `tag` adds the connection's extensions (identity, remote address) to each request.
async fn serve_http1<I>(
    io: I,
    app: Router,
    tag: impl Fn(&mut http::Extensions) + Clone + Send + Sync + 'static,
    header_read_timeout: Duration,
    remote: SocketAddr,
    drain: &mut watch::Receiver<bool>,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        tag(request.extensions_mut());
        app.clone().oneshot(request)
    });
    // HTTP/1 only: ALPN offers only http/1.1, and the auto builder's protocol sniffing has
    // no deadline, so a client silent after the handshake would hold its slot forever.
    let mut builder = auto::Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = wait_for_drain(drain) => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%remote, %error, "connection ended with an error");
    }
}

/// Serves `app` over plain HTTP/1 (the back-office API behind its TLS-terminating proxy) until
/// `shutdown` completes, then drains open connections. Unlike `axum::serve` it bounds what a
/// client can hold: at most `max_connections` at once (others wait in the backlog) and
/// `header_read_timeout` to send a request's headers, so byte-a-second clients cannot pin
/// the gateway.
pub async fn serve_plain(
    listener: TcpListener,
    app: Router,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send,
) {
    let header_read_timeout = options.header_read_timeout;
    accept_loop(
        listener,
        &options,
        "API",
        shutdown,
        |stream, remote, slot, mut drain| {
            let app = app.clone();
            tokio::spawn(async move {
                let _slot = slot;
                serve_http1(
                    TokioIo::new(stream),
                    app,
                    move |extensions| {
                        extensions.insert(ConnectInfo(remote));
                    },
                    header_read_timeout,
                    remote,
                    &mut drain,
                )
                .await;
            });
        },
    )
    .await;
}

/// Resolves once shutdown began (or the listener is gone). Returns nothing so no watch guard
/// is held while the connection drains.
async fn wait_for_drain(drain: &mut watch::Receiver<bool>) {
    let _ = drain.wait_for(|draining| *draining).await;
}
