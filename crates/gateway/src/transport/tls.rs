//! rustls configuration for gateway-to-gateway mutual TLS, and a reloader that swaps it without
//! a restart when certificates or CRLs change on disk.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{ring, CryptoProvider};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig, SupportedCipherSuite};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};

/// The only cipher suites offered or accepted: AEADs with forward secrecy. rustls has no CBC
/// suites at all; the list is explicit so a rustls upgrade cannot widen it silently.
pub static ALLOWED_CIPHER_SUITES: &[SupportedCipherSuite] = &[
    ring::cipher_suite::TLS13_AES_256_GCM_SHA384,
    ring::cipher_suite::TLS13_AES_128_GCM_SHA256,
    ring::cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
    ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ring::cipher_suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    ring::cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    ring::cipher_suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
];

static ALLOWED_VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// Where a gateway's TLS material lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// PEM: our certificate, then any intermediates.
    pub cert_path: PathBuf,
    /// PEM private key (PKCS#8, SEC1 or PKCS#1); must not be group- or world-readable.
    pub key_path: PathBuf,
    /// PEM bundle of the CAs whose certificates we accept from peers (and only those).
    pub trust_anchors_path: PathBuf,
    /// PEM CRLs. With at least one CRL, a peer certificate whose revocation status cannot be
    /// determined is refused; with none, revocation is not checked.
    pub crl_paths: Vec<PathBuf>,
    /// How long a connection may take to complete its TLS handshake.
    pub handshake_timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("{path} contains no PEM certificate")]
    NoCertificate { path: PathBuf },
    #[error("{path} contains no PEM CRL")]
    NoCrl { path: PathBuf },
    #[error("{path} contains no PEM private key")]
    NoPrivateKey { path: PathBuf },
    #[error("private key {path} is readable by group or others (mode {mode:o}); chmod 600 it")]
    KeyFileTooOpen { path: PathBuf, mode: u32 },
    #[error("trust anchor in {path} is not usable: {source}")]
    TrustAnchor {
        path: PathBuf,
        source: rustls::Error,
    },
    #[error("cannot build the peer certificate verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    #[error("TLS configuration refused: {0}")]
    Config(#[from] rustls::Error),
}

/// The crypto provider every TLS config of sedgate uses: ring, restricted to our suites.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(CryptoProvider {
        cipher_suites: ALLOWED_CIPHER_SUITES.to_vec(),
        ..ring::default_provider()
    })
}

/// Everything read from disk for one configuration generation.
struct Material {
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    roots: Arc<RootCertStore>,
    crls: Vec<CertificateRevocationListDer<'static>>,
}

impl Material {
    fn load(settings: &TlsSettings) -> Result<Self, TlsError> {
        let certs = read_certs(&settings.cert_path)?;
        let key = read_key(&settings.key_path)?;
        let mut roots = RootCertStore::empty();
        for anchor in read_certs(&settings.trust_anchors_path)? {
            roots.add(anchor).map_err(|source| TlsError::TrustAnchor {
                path: settings.trust_anchors_path.clone(),
                source,
            })?;
        }
        let crls = read_crls(&settings.crl_paths)?;
        Ok(Self {
            certs,
            key,
            roots: Arc::new(roots),
            crls,
        })
    }
}

/// Server side: TLS 1.2/1.3, our suites, a client certificate required and verified against
/// the trust anchors and CRLs (end entity only: our CAs issue gateway certificates directly).
pub fn server_config(settings: &TlsSettings) -> Result<ServerConfig, TlsError> {
    build_server_config(Material::load(settings)?)
}

/// Client side: the same versions and suites, our certificate as client certificate, only our
/// trust anchors (no web roots), the same CRLs for the server's certificate.
pub fn client_config(settings: &TlsSettings) -> Result<ClientConfig, TlsError> {
    build_client_config(Material::load(settings)?)
}

fn build_server_config(material: Material) -> Result<ServerConfig, TlsError> {
    let provider = crypto_provider();
    let mut verifier =
        WebPkiClientVerifier::builder_with_provider(material.roots.clone(), provider.clone())
            .with_crls(material.crls.iter().cloned())
            .only_check_end_entity_revocation();
    if material.crls.is_empty() {
        verifier = verifier.allow_unknown_revocation_status();
    }
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(ALLOWED_VERSIONS)?
        .with_client_cert_verifier(verifier.build()?)
        .with_single_cert(material.certs, material.key)?;
    // Our suite order (AES-256 first), not whatever a peer happens to prefer.
    config.ignore_client_order = true;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

fn build_client_config(material: Material) -> Result<ClientConfig, TlsError> {
    let provider = crypto_provider();
    let mut verifier =
        WebPkiServerVerifier::builder_with_provider(material.roots.clone(), provider.clone())
            .with_crls(material.crls.iter().cloned())
            .only_check_end_entity_revocation();
    if material.crls.is_empty() {
        verifier = verifier.allow_unknown_revocation_status();
    }
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(ALLOWED_VERSIONS)?
        .with_webpki_verifier(verifier.build()?)
        .with_client_auth_cert(material.certs, material.key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Holds the current server and client configs; [`TlsReloader::reload`] re-reads the files and
/// swaps both. Connections already open keep the config they started with.
pub struct TlsReloader {
    settings: TlsSettings,
    server: ArcSwap<ServerConfig>,
    client: ArcSwap<ClientConfig>,
    generation: AtomicU64,
}

impl TlsReloader {
    pub fn new(settings: TlsSettings) -> Result<Self, TlsError> {
        let (server, client) = Self::build(&settings)?;
        Ok(Self {
            settings,
            server: ArcSwap::from_pointee(server),
            client: ArcSwap::from_pointee(client),
            generation: AtomicU64::new(0),
        })
    }

    fn build(settings: &TlsSettings) -> Result<(ServerConfig, ClientConfig), TlsError> {
        // One read of the files for both sides, so they never disagree about the CRLs.
        let material = Material::load(settings)?;
        let client_material = Material {
            certs: material.certs.clone(),
            key: material.key.clone_key(),
            roots: material.roots.clone(),
            crls: material.crls.clone(),
        };
        Ok((
            build_server_config(material)?,
            build_client_config(client_material)?,
        ))
    }

    /// Re-reads certificate, key, trust anchors and CRLs. On error the previous configs stay
    /// in force and the error is returned for the caller to log.
    pub fn reload(&self) -> Result<(), TlsError> {
        let (server, client) = Self::build(&self.settings)?;
        self.server.store(Arc::new(server));
        self.client.store(Arc::new(client));
        self.generation.fetch_add(1, Ordering::Release);
        Ok(())
    }

    pub fn server_config(&self) -> Arc<ServerConfig> {
        self.server.load_full()
    }

    pub fn client_config(&self) -> Arc<ClientConfig> {
        self.client.load_full()
    }

    /// Counts successful reloads; lets holders of derived objects (HTTP clients) see staleness.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn settings(&self) -> &TlsSettings {
        &self.settings
    }
}

fn read_err(path: &Path) -> impl Fn(rustls_pki_types::pem::Error) -> TlsError + '_ {
    move |e| TlsError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

pub(super) fn read_crls(
    paths: &[PathBuf],
) -> Result<Vec<CertificateRevocationListDer<'static>>, TlsError> {
    let mut crls = Vec::new();
    for path in paths {
        let before = crls.len();
        for crl in CertificateRevocationListDer::pem_file_iter(path).map_err(read_err(path))? {
            crls.push(crl.map_err(read_err(path))?);
        }
        // A configured CRL file without a CRL would silently turn revocation checks off.
        if crls.len() == before {
            return Err(TlsError::NoCrl { path: path.clone() });
        }
    }
    Ok(crls)
}

pub(super) fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(read_err(path))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(read_err(path))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    check_key_mode(path)?;
    PrivateKeyDer::from_pem_file(path).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => TlsError::NoPrivateKey {
            path: path.to_path_buf(),
        },
        other => read_err(path)(other),
    })
}

#[cfg(unix)]
pub(super) fn check_key_mode(path: &Path) -> Result<(), TlsError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| TlsError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(TlsError::KeyFileTooOpen {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
pub(super) fn check_key_mode(_path: &Path) -> Result<(), TlsError> {
    Ok(())
}
