//! The gateway's message-security material for WS-Security: its own signing key and
//! certificate (`[security]`), the trust anchors and CRLs a peer's signing certificate must
//! chain to (the TLS ones: one PKI for both), and peers' certificates to encrypt for.
//! Reloaded with the TLS files on SIGHUP; a failed reload keeps the previous material.
//!
//! A peer's signing certificate is accepted when it chains to a trust anchor (not revoked
//! when CRLs are configured) and its fingerprint is one the IR lists for the access point of
//! the sender's country, the same rule as for TLS client certificates.

use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};
use webpki::{CertRevocationList, OwnedCertRevocationList};

use super::identity::fingerprint;
use super::tls::{check_key_mode, read_certs, read_crls, TlsError};
use crate::config::Config;
use crate::ir::IrIndex;
use sedgate_base::domain::CountryCode;
use sedgate_wssec::{Certificate, PrivateKey, WsSecError};

#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("{0}")]
    Tls(#[from] TlsError),
    #[error("signing key {key} / certificate {cert}: {source}")]
    Key {
        key: PathBuf,
        cert: PathBuf,
        source: WsSecError,
    },
    #[error("cannot read {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("trust anchor {path} is not usable: {message}")]
    TrustAnchor { path: PathBuf, message: String },
    #[error("CRL is not usable: {0}")]
    Crl(String),
    #[error("encryption certificate {path}: {source}")]
    EncryptCert { path: PathBuf, source: WsSecError },
}

/// Why a peer's signing certificate is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignerRefusal {
    #[error("signer certificate does not chain to a trust anchor: {0}")]
    Chain(String),
    #[error(
        "signer certificate {fingerprint} is not registered for the access point of {country}"
    )]
    NotInIr {
        fingerprint: String,
        country: CountryCode,
    },
}

struct Material {
    key: Option<Arc<PrivateKey>>,
    anchors: Vec<TrustAnchor<'static>>,
    crls: Vec<CertRevocationList<'static>>,
    encrypt_certs: Vec<Certificate>,
}

/// What `[security]` asks for, and the material to do it.
pub struct MessageSecurity {
    pub sign: bool,
    pub encrypt: bool,
    pub require_signature: bool,
    sign_cert: PathBuf,
    sign_key: PathBuf,
    /// The key must load (signing or required signatures); otherwise it is used if present.
    key_required: bool,
    trust_anchors: PathBuf,
    crl_paths: Vec<PathBuf>,
    encrypt_cert_paths: Vec<PathBuf>,
    material: ArcSwap<Material>,
}

impl std::fmt::Debug for MessageSecurity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageSecurity")
            .field("sign", &self.sign)
            .field("encrypt", &self.encrypt)
            .field("require_signature", &self.require_signature)
            .field("sign_cert", &self.sign_cert)
            .finish_non_exhaustive()
    }
}

impl MessageSecurity {
    pub fn load(config: &Config) -> Result<Self, SigningError> {
        let (sign_cert, sign_key) = config.signing_files();
        let s = &config.security;
        let security = Self {
            sign: s.sign,
            encrypt: s.encrypt,
            require_signature: s.require_signature,
            sign_cert,
            sign_key,
            key_required: s.sign || s.require_signature,
            trust_anchors: config.tls.trust_anchors.clone(),
            crl_paths: config.tls.crls.clone(),
            encrypt_cert_paths: s.encrypt_certs.clone(),
            material: ArcSwap::from_pointee(Material {
                key: None,
                anchors: Vec::new(),
                crls: Vec::new(),
                encrypt_certs: Vec::new(),
            }),
        };
        security.reload()?;
        Ok(security)
    }

    /// Re-reads key, certificates and CRLs; on error the previous material stays in force.
    pub fn reload(&self) -> Result<(), SigningError> {
        let key = if self.key_required || self.sign_key.exists() {
            Some(Arc::new(self.read_key()?))
        } else {
            None
        };
        let mut anchors = Vec::new();
        for der in read_certs(&self.trust_anchors)? {
            let anchor =
                webpki::anchor_from_trusted_cert(&der).map_err(|e| SigningError::TrustAnchor {
                    path: self.trust_anchors.clone(),
                    message: e.to_string(),
                })?;
            anchors.push(anchor.to_owned());
        }
        let crls = read_crls(&self.crl_paths)?
            .iter()
            .map(|der| {
                OwnedCertRevocationList::from_der(der.as_ref())
                    .map(CertRevocationList::from)
                    .map_err(|e| SigningError::Crl(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut encrypt_certs = Vec::new();
        for path in &self.encrypt_cert_paths {
            for der in read_certs(path)? {
                encrypt_certs.push(Certificate::from_der(der.as_ref()).map_err(|source| {
                    SigningError::EncryptCert {
                        path: path.clone(),
                        source,
                    }
                })?);
            }
        }
        self.material.store(Arc::new(Material {
            key,
            anchors,
            crls,
            encrypt_certs,
        }));
        Ok(())
    }

    fn read_key(&self) -> Result<PrivateKey, SigningError> {
        check_key_mode(&self.sign_key)?;
        let read = |path: &PathBuf| {
            std::fs::read_to_string(path).map_err(|e| SigningError::Read {
                path: path.clone(),
                message: e.to_string(),
            })
        };
        let key_pem = read(&self.sign_key)?;
        let cert = read_certs(&self.sign_cert)?;
        PrivateKey::from_pkcs8_pem(&key_pem, cert[0].as_ref()).map_err(|source| SigningError::Key {
            key: self.sign_key.clone(),
            cert: self.sign_cert.clone(),
            source,
        })
    }

    /// Our signing key, if one is configured.
    pub fn key(&self) -> Option<Arc<PrivateKey>> {
        self.material.load().key.clone()
    }

    /// The certificate chains to a trust anchor at `at` and, when CRLs are configured, is
    /// not revoked. Any extended key usage is accepted: the IR pins the exact certificate.
    pub fn check_chain(&self, cert_der: &[u8], at: DateTime<Utc>) -> Result<(), SignerRefusal> {
        let material = self.material.load();
        let chain = |e: webpki::Error| SignerRefusal::Chain(format!("{e:?}"));
        let der = CertificateDer::from(cert_der);
        let cert = webpki::EndEntityCert::try_from(&der).map_err(chain)?;
        let time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(
            u64::try_from(at.timestamp()).unwrap_or(0),
        ));
        let crl_refs: Vec<&CertRevocationList<'_>> = material.crls.iter().collect();
        let revocation = webpki::RevocationOptionsBuilder::new(&crl_refs)
            .ok()
            .map(|b| {
                b.with_depth(webpki::RevocationCheckDepth::EndEntity)
                    .with_status_policy(webpki::UnknownStatusPolicy::Deny)
                    .build()
            });
        cert.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &material.anchors,
            &[],
            time,
            AnyKeyPurpose,
            revocation,
            None,
        )
        .map_err(chain)?;
        Ok(())
    }

    /// A peer's signing certificate, sender of a message from (or receipt of) `country`.
    pub fn check_signer(
        &self,
        cert_der: &[u8],
        country: &CountryCode,
        ir: &IrIndex,
        at: DateTime<Utc>,
    ) -> Result<(), SignerRefusal> {
        self.check_chain(cert_der, at)?;
        let fp = fingerprint(cert_der);
        let listed = ir
            .access_point(country)
            .is_some_and(|ap| ap.cert_fingerprints.contains(&fp));
        if listed {
            Ok(())
        } else {
            Err(SignerRefusal::NotInIr {
                fingerprint: fp,
                country: country.clone(),
            })
        }
    }

    /// The certificate to encrypt for `country`: one of `encrypt_certs` whose fingerprint the
    /// IR lists for that country's access point.
    pub fn encryption_certificate(
        &self,
        country: &CountryCode,
        ir: &IrIndex,
    ) -> Option<Certificate> {
        let ap = ir.access_point(country)?;
        self.material
            .load()
            .encrypt_certs
            .iter()
            .find(|c| ap.cert_fingerprints.contains(&fingerprint(c.der())))
            .cloned()
    }
}

/// Signing certificates carry no extended key usage (or any): no EKU is required.
struct AnyKeyPurpose;

impl webpki::ExtendedKeyUsageValidator for AnyKeyPurpose {
    fn validate(&self, _iter: webpki::KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        Ok(())
    }
}
