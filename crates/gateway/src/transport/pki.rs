//! A development PKI: one root CA, per country a gateway certificate (TLS server and client,
//! ECDSA P-256) and a message-signing certificate (RSA-2048, as the AS4 profile signs with
//! RSA-SHA256 and encrypts with RSA-OAEP), and a CRL. Good for `sedgate demo` and for tests;
//! production certificates come from a real CA.
//!
//! Layout of the directory written by [`DevPki::generate`]:
//! `ca.pem`, `ca-key.pem` (0600), `crl.pem`, and per country `<cc>/cert.pem`, `<cc>/key.pem`
//! (0600), `<cc>/sign-cert.pem`, `<cc>/sign-key.pem` (0600, PKCS#8).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::RngCore;
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, CertificateRevocationListParams,
    DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyIdMethod, KeyPair,
    KeyUsagePurpose, RevokedCertParams, SanType,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use x509_parser::prelude::{FromDer, X509Certificate};

pub use rcgen::SerialNumber;

use sedgate_base::domain::CountryCode;

/// Common name of the development root CA; also how a stored CA is recognised.
pub const DEV_CA_NAME: &str = "sedgate development CA";
/// Files whose certificate ends within this margin are regenerated rather than reused.
const RENEW_MARGIN_DAYS: i64 = 30;
const CA_VALIDITY_DAYS: i64 = 3650;
const GATEWAY_VALIDITY_DAYS: i64 = 825;
const CRL_VALIDITY_DAYS: i64 = 365;
/// RSA modulus size of signing keys: the eDelivery AS4 profile's minimum.
const SIGNING_KEY_BITS: usize = 2048;

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("certificate generation failed: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("host name {0:?} cannot be put into a certificate")]
    InvalidHostname(String),
    #[error("date {0} is before 1970 and cannot be used as certificate validity")]
    DateBefore1970(DateTime<Utc>),
    #[error("RSA key generation failed: {0}")]
    Rsa(String),
}

/// One certificate issued by a [`DevCa`], with its fresh private key.
pub struct IssuedCert {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: Vec<u8>,
    pub serial: SerialNumber,
}

/// What to put into an end-entity certificate.
#[derive(Debug, Clone)]
pub struct LeafSpec {
    pub common_name: String,
    /// DNS names or IP addresses for the subjectAltName extension.
    pub subject_alt_names: Vec<String>,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

impl LeafSpec {
    /// A gateway certificate for `country`: CN `sedgate <CC> gateway`, SAN `localhost`,
    /// `127.0.0.1` and `hostnames`, valid from yesterday for about two years.
    pub fn gateway(country: &CountryCode, hostnames: &[String]) -> Self {
        let now = Utc::now();
        let mut subject_alt_names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        for host in hostnames {
            if !subject_alt_names.contains(host) {
                subject_alt_names.push(host.clone());
            }
        }
        Self {
            common_name: format!("sedgate {country} gateway"),
            subject_alt_names,
            not_before: now - chrono::Duration::days(1),
            not_after: now + chrono::Duration::days(GATEWAY_VALIDITY_DAYS),
        }
    }

    /// A message-signing certificate for `country`: CN `sedgate <CC> signing`, no SAN.
    pub fn signing(country: &CountryCode) -> Self {
        let now = Utc::now();
        Self {
            common_name: format!("sedgate {country} signing"),
            subject_alt_names: Vec::new(),
            not_before: now - chrono::Duration::days(1),
            not_after: now + chrono::Duration::days(GATEWAY_VALIDITY_DAYS),
        }
    }

    /// The same certificate with another validity window (e.g. an expired one for tests).
    pub fn valid_between(mut self, not_before: DateTime<Utc>, not_after: DateTime<Utc>) -> Self {
        self.not_before = not_before;
        self.not_after = not_after;
        self
    }
}

/// A certificate authority that can issue gateway certificates and CRLs.
pub struct DevCa {
    cert: Certificate,
    key: KeyPair,
}

impl DevCa {
    /// A fresh self-signed root CA named `common_name`, valid from yesterday for ten years.
    pub fn generate(common_name: &str) -> Result<Self, PkiError> {
        let key = KeyPair::generate()?;
        let now = Utc::now();
        let params = ca_params(
            common_name,
            now - chrono::Duration::days(1),
            now + chrono::Duration::days(CA_VALIDITY_DAYS),
        )?;
        let cert = params.self_signed(&key)?;
        Ok(Self { cert, key })
    }

    /// Rebuilds a CA able to sign from its stored certificate and key. rcgen signs with the
    /// issuer's name and key (the key identifier is derived from the key), so re-deriving the
    /// parameters from the stored certificate's name and validity yields the same issuer.
    fn from_stored(cert_der: &[u8], key_pem: &str) -> Option<Self> {
        let (_, parsed) = X509Certificate::from_der(cert_der).ok()?;
        let key = KeyPair::from_pem(key_pem).ok()?;
        if parsed.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
            return None;
        }
        let common_name = parsed.subject().iter_common_name().next()?.as_str().ok()?;
        if common_name != DEV_CA_NAME || !parsed.is_ca() {
            return None;
        }
        let not_before = DateTime::from_timestamp(parsed.validity().not_before.timestamp(), 0)?;
        let not_after = DateTime::from_timestamp(parsed.validity().not_after.timestamp(), 0)?;
        if not_after - Utc::now() < chrono::Duration::days(RENEW_MARGIN_DAYS) {
            return None;
        }
        let params = ca_params(common_name, not_before, not_after).ok()?;
        let cert = params.self_signed(&key).ok()?;
        Some(Self { cert, key })
    }

    pub fn cert_pem(&self) -> String {
        self.cert.pem()
    }

    pub fn cert_der(&self) -> &[u8] {
        self.cert.der()
    }

    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }

    /// Issues an end-entity certificate usable as TLS server and TLS client
    /// (EKU serverAuth + clientAuth), with a fresh ECDSA P-256 key and a random serial.
    pub fn issue(&self, spec: &LeafSpec) -> Result<IssuedCert, PkiError> {
        let mut params = leaf_params(spec)?;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = KeyPair::generate()?;
        self.sign_leaf(params, key)
    }

    /// Issues a message-signing certificate with a fresh RSA-2048 key (PKCS#8): key usages
    /// digitalSignature and contentCommitment (signatures, non-repudiation receipts) and
    /// keyEncipherment (peers wrap content keys for it). No extended key usage: it is not a
    /// TLS certificate.
    pub fn issue_signing(&self, spec: &LeafSpec) -> Result<IssuedCert, PkiError> {
        use rsa::pkcs8::{EncodePrivateKey, LineEnding};
        let mut params = leaf_params(spec)?;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::ContentCommitment,
            KeyUsagePurpose::KeyEncipherment,
        ];
        let rsa_key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, SIGNING_KEY_BITS)
            .map_err(|e| PkiError::Rsa(e.to_string()))?;
        let pem = rsa_key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| PkiError::Rsa(e.to_string()))?;
        let key = KeyPair::from_pkcs8_pem_and_sign_algo(&pem, &rcgen::PKCS_RSA_SHA256)?;
        self.sign_leaf(params, key)
    }

    fn sign_leaf(
        &self,
        mut params: CertificateParams,
        key: KeyPair,
    ) -> Result<IssuedCert, PkiError> {
        let serial = random_serial();
        params.serial_number = Some(serial.clone());
        let cert = params.signed_by(&key, &self.cert, &self.key)?;
        Ok(IssuedCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
            serial,
        })
    }

    /// A CRL signed by this CA
    /// A CRL signed by this CA revoking `revoked` (empty for "nothing revoked"), valid for a year.
    /// `crl_number` must grow with each CRL the CA issues.
    pub fn crl_pem(&self, revoked: &[SerialNumber], crl_number: u64) -> Result<String, PkiError> {
        let now = Utc::now();
        let params = CertificateRevocationListParams {
            this_update: rcgen::date_time_ymd(1970, 1, 1)
                + since_epoch(now - chrono::Duration::minutes(5))?,
            next_update: rcgen::date_time_ymd(1970, 1, 1)
                + since_epoch(now + chrono::Duration::days(CRL_VALIDITY_DAYS))?,
            crl_number: SerialNumber::from_slice(&crl_number.to_be_bytes()),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|serial| {
                    Ok(RevokedCertParams {
                        serial_number: serial.clone(),
                        revocation_time: rcgen::date_time_ymd(1970, 1, 1)
                            + since_epoch(now - chrono::Duration::minutes(1))?,
                        reason_code: None,
                        invalidity_date: None,
                    })
                })
                .collect::<Result<_, PkiError>>()?,
            key_identifier_method: KeyIdMethod::Sha256,
        };
        Ok(params.signed_by(&self.cert, &self.key)?.pem()?)
    }
}

/// The serial number of a PEM certificate, to revoke a certificate found on disk.
pub fn serial_of_pem(cert_pem: &str) -> Option<SerialNumber> {
    let der = CertificateDer::from_pem_slice(cert_pem.as_bytes()).ok()?;
    let (_, cert) = X509Certificate::from_der(&der).ok()?;
    Some(SerialNumber::from_slice(cert.raw_serial()))
}

/// Paths of one country's gateway (TLS) certificate and key, and its message-signing
/// certificate and key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub sign_cert: PathBuf,
    pub sign_key: PathBuf,
}

impl GatewayFiles {
    /// SHA-256 fingerprints of the TLS and the signing certificate, as the IR lists them.
    pub fn fingerprints(&self) -> Result<Vec<String>, PkiError> {
        [&self.cert, &self.sign_cert]
            .into_iter()
            .map(|path| {
                let pem = std::fs::read(path).map_err(|source| PkiError::Io {
                    action: "read",
                    path: path.clone(),
                    source,
                })?;
                let der = CertificateDer::from_pem_slice(&pem).map_err(|e| PkiError::Io {
                    action: "parse",
                    path: path.clone(),
                    source: std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()),
                })?;
                Ok(super::identity::fingerprint(&der))
            })
            .collect()
    }
}

/// Paths of a development PKI on disk.
#[derive(Debug, Clone)]
pub struct DevPkiFiles {
    pub dir: PathBuf,
    pub ca_cert: PathBuf,
    pub ca_key: PathBuf,
    pub crl: PathBuf,
    pub gateways: BTreeMap<CountryCode, GatewayFiles>,
    /// The files this call wrote; empty when everything was reused.
    pub written: Vec<PathBuf>,
}

impl DevPkiFiles {
    /// TLS settings for `country`'s gateway: its own certificate, the dev CA as the only trust
    /// anchor, the dev CRL.
    pub fn tls_settings(
        &self,
        country: &CountryCode,
        handshake_timeout: Duration,
    ) -> Option<super::tls::TlsSettings> {
        let gateway = self.gateways.get(country)?;
        Some(super::tls::TlsSettings {
            cert_path: gateway.cert.clone(),
            key_path: gateway.key.clone(),
            trust_anchors_path: self.ca_cert.clone(),
            crl_paths: vec![self.crl.clone()],
            handshake_timeout,
        })
    }

    /// The CA that signed this PKI, to issue more certificates or CRLs (e.g. revoke in a demo).
    pub fn load_ca(&self) -> Option<DevCa> {
        let ca_pem = std::fs::read(&self.ca_cert).ok()?;
        let ca_der = CertificateDer::from_pem_slice(&ca_pem).ok()?;
        let key_pem = std::fs::read_to_string(&self.ca_key).ok()?;
        DevCa::from_stored(&ca_der, &key_pem)
    }

    /// Writes `access-points.json` (sedgate's access-point format for `ir import`) into the
    /// PKI directory: each gateway's AS4 endpoint with the fingerprints of its TLS and
    /// signing certificates.
    pub fn write_access_points(
        &self,
        endpoints: &[(CountryCode, String)],
    ) -> Result<PathBuf, PkiError> {
        let mut aps = Vec::with_capacity(endpoints.len());
        for (country, url) in endpoints {
            let gateway = self.gateways.get(country).ok_or_else(|| PkiError::Io {
                action: "find the certificates of",
                path: self.dir.join(country.as_str().to_lowercase()),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            })?;
            aps.push(serde_json::json!({
                "country": country.as_str(),
                "endpoint_url": url,
                "cert_fingerprints": gateway.fingerprints()?,
            }));
        }
        let path = self.dir.join("access-points.json");
        let json = serde_json::to_vec_pretty(&aps).map_err(|e| PkiError::Io {
            action: "serialise",
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        std::fs::write(&path, json).map_err(|source| PkiError::Io {
            action: "write",
            path: path.clone(),
            source,
        })?;
        Ok(path)
    }
}

pub struct DevPki;

impl DevPki {
    /// Creates (or completes) a development PKI in `dir`. Existing files are reused when they
    /// are valid: the CA still has 30 days to run and matches its key, a gateway certificate was
    /// issued by that CA, matches its key and has 30 days to run. A new CA means new everything.
    /// The CRL is kept as is (it may list revocations) unless it is missing or the CA changed.
    pub fn generate(
        dir: &Path,
        countries: &[CountryCode],
        hostnames: &[String],
    ) -> Result<DevPkiFiles, PkiError> {
        create_dir(dir)?;
        let mut files = DevPkiFiles {
            dir: dir.to_path_buf(),
            ca_cert: dir.join("ca.pem"),
            ca_key: dir.join("ca-key.pem"),
            crl: dir.join("crl.pem"),
            gateways: BTreeMap::new(),
            written: Vec::new(),
        };
        let (ca, ca_is_new) = match files.load_ca() {
            Some(ca) => (ca, false),
            None => {
                let ca = DevCa::generate(DEV_CA_NAME)?;
                write_file(&files.ca_key, &ca.key_pem(), 0o600)?;
                write_file(&files.ca_cert, &ca.cert_pem(), 0o644)?;
                files
                    .written
                    .extend([files.ca_key.clone(), files.ca_cert.clone()]);
                (ca, true)
            }
        };
        if ca_is_new || !crl_is_readable(&files.crl) {
            write_file(&files.crl, &ca.crl_pem(&[], 1)?, 0o644)?;
            files.written.push(files.crl.clone());
        }
        for country in countries {
            let country_dir = dir.join(country.as_str().to_ascii_lowercase());
            let gateway = GatewayFiles {
                cert: country_dir.join("cert.pem"),
                key: country_dir.join("key.pem"),
                sign_cert: country_dir.join("sign-cert.pem"),
                sign_key: country_dir.join("sign-key.pem"),
            };
            if ca_is_new || !leaf_is_valid(&gateway.cert, &gateway.key, ca.cert_der(), false) {
                create_dir(&country_dir)?;
                let issued = ca.issue(&LeafSpec::gateway(country, hostnames))?;
                write_file(&gateway.key, &issued.key_pem, 0o600)?;
                write_file(&gateway.cert, &issued.cert_pem, 0o644)?;
                files
                    .written
                    .extend([gateway.key.clone(), gateway.cert.clone()]);
            }
            if ca_is_new
                || !leaf_is_valid(&gateway.sign_cert, &gateway.sign_key, ca.cert_der(), true)
            {
                create_dir(&country_dir)?;
                let issued = ca.issue_signing(&LeafSpec::signing(country))?;
                write_file(&gateway.sign_key, &issued.key_pem, 0o600)?;
                write_file(&gateway.sign_cert, &issued.cert_pem, 0o644)?;
                files
                    .written
                    .extend([gateway.sign_key.clone(), gateway.sign_cert.clone()]);
            }
            files.gateways.insert(country.clone(), gateway);
        }
        Ok(files)
    }
}

/// Subject, SAN, validity and the extensions every leaf shares.
fn leaf_params(spec: &LeafSpec) -> Result<CertificateParams, PkiError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, spec.common_name.as_str());
    params
        .distinguished_name
        .push(DnType::OrganizationName, "sedgate");
    params.subject_alt_names = spec
        .subject_alt_names
        .iter()
        .map(|name| san(name))
        .collect::<Result<_, _>>()?;
    params.not_before = rcgen::date_time_ymd(1970, 1, 1) + since_epoch(spec.not_before)?;
    params.not_after = rcgen::date_time_ymd(1970, 1, 1) + since_epoch(spec.not_after)?;
    params.is_ca = IsCa::ExplicitNoCa;
    params.use_authority_key_identifier_extension = true;
    Ok(params)
}

fn ca_params(
    common_name: &str,
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
) -> Result<CertificateParams, PkiError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "sedgate");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = rcgen::date_time_ymd(1970, 1, 1) + since_epoch(not_before)?;
    params.not_after = rcgen::date_time_ymd(1970, 1, 1) + since_epoch(not_after)?;
    params.key_identifier_method = KeyIdMethod::Sha256;
    Ok(params)
}

/// A stored leaf can be reused: issued by the CA, matching its (RSA when `rsa`) key, 30 days
/// to run, the key file private.
fn leaf_is_valid(cert_path: &Path, key_path: &Path, ca_der: &[u8], rsa: bool) -> bool {
    let (Ok(cert_pem), Ok(key_pem)) = (std::fs::read(cert_path), std::fs::read_to_string(key_path))
    else {
        return false;
    };
    let key = if rsa {
        KeyPair::from_pkcs8_pem_and_sign_algo(&key_pem, &rcgen::PKCS_RSA_SHA256)
    } else {
        KeyPair::from_pem(&key_pem)
    };
    let (Ok(der), Ok(key)) = (CertificateDer::from_pem_slice(&cert_pem), key) else {
        return false;
    };
    let (Ok((_, cert)), Ok((_, ca))) = (
        X509Certificate::from_der(&der),
        X509Certificate::from_der(ca_der),
    ) else {
        return false;
    };
    let remaining = cert.validity().not_after.timestamp() - Utc::now().timestamp();
    cert.issuer() == ca.subject()
        && cert.public_key().subject_public_key.data.as_ref() == key.public_key_raw()
        && remaining > RENEW_MARGIN_DAYS * 86_400
        && key_mode_is_private(key_path)
}

fn crl_is_readable(path: &Path) -> bool {
    std::fs::read(path)
        .ok()
        .and_then(|pem| rustls_pki_types::CertificateRevocationListDer::from_pem_slice(&pem).ok())
        .is_some()
}

#[cfg(unix)]
fn key_mode_is_private(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 == 0)
}

#[cfg(not(unix))]
fn key_mode_is_private(_path: &Path) -> bool {
    true
}

fn san(name: &str) -> Result<SanType, PkiError> {
    if let Ok(ip) = name.parse::<std::net::IpAddr>() {
        return Ok(SanType::IpAddress(ip));
    }
    let dns = name
        .to_owned()
        .try_into()
        .map_err(|_| PkiError::InvalidHostname(name.to_owned()))?;
    Ok(SanType::DnsName(dns))
}

/// rcgen takes `time::OffsetDateTime`; we add the offset from the epoch to rcgen's own date
/// rather than depend on the `time` crate directly.
fn since_epoch(at: DateTime<Utc>) -> Result<Duration, PkiError> {
    let secs = u64::try_from(at.timestamp()).map_err(|_| PkiError::DateBefore1970(at))?;
    Ok(Duration::from_secs(secs))
}

fn random_serial() -> SerialNumber {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    // Positive and without a leading zero octet, so the DER INTEGER is exactly these 16 bytes.
    bytes[0] = (bytes[0] & 0x7f).max(1);
    SerialNumber::from_slice(&bytes)
}

fn create_dir(dir: &Path) -> Result<(), PkiError> {
    std::fs::create_dir_all(dir).map_err(|source| PkiError::Io {
        action: "create directory",
        path: dir.to_path_buf(),
        source,
    })
}

/// Writes through a temporary file and a rename so a server reloading its TLS files never
/// reads half a file, and a key is never readable by others, not even briefly.
pub(super) fn write_file(path: &Path, contents: &str, mode: u32) -> Result<(), PkiError> {
    let tmp = path.with_extension("pem.tmp");
    let io_err = |action, source| PkiError::Io {
        action,
        path: path.to_path_buf(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let _ = std::fs::remove_file(&tmp);
    let mut file = options.open(&tmp).map_err(|e| io_err("create", e))?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| io_err("write", e))?;
    std::fs::rename(&tmp, path).map_err(|e| io_err("rename into", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::extensions::GeneralName;

    fn cc(code: &str) -> CountryCode {
        code.parse().unwrap()
    }

    fn read_cert(path: &Path) -> Vec<u8> {
        CertificateDer::from_pem_slice(&std::fs::read(path).unwrap())
            .unwrap()
            .to_vec()
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn generates_ca_gateways_and_crl_with_the_expected_contents() {
        let dir = tempfile::tempdir().unwrap();
        let files =
            DevPki::generate(dir.path(), &[cc("AT"), cc("NO")], &["gw.example".into()]).unwrap();

        assert_eq!(files.written.len(), 11);
        let at = &files.gateways[&cc("AT")];
        assert_eq!(at.cert, dir.path().join("at/cert.pem"));
        assert_eq!(at.key, dir.path().join("at/key.pem"));
        #[cfg(unix)]
        {
            assert_eq!(mode(&at.key), 0o600);
            assert_eq!(mode(&files.ca_key), 0o600);
        }

        let der = read_cert(&at.cert);
        let (_, cert) = X509Certificate::from_der(&der).unwrap();
        assert_eq!(
            cert.subject().to_string(),
            "CN=sedgate AT gateway, O=sedgate"
        );
        assert_eq!(
            cert.issuer().to_string(),
            "CN=sedgate development CA, O=sedgate"
        );
        let eku = cert.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.server_auth && eku.client_auth);
        let san = cert.subject_alternative_name().unwrap().unwrap().value;
        let names: Vec<String> = san
            .general_names
            .iter()
            .map(|n| match n {
                GeneralName::DNSName(d) => d.to_string(),
                GeneralName::IPAddress(ip) => format!("{ip:?}"),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(names, ["localhost", "[127, 0, 0, 1]", "gw.example"]);
        assert!(!cert.is_ca());

        let ca_der = read_cert(&files.ca_cert);
        let (_, ca) = X509Certificate::from_der(&ca_der).unwrap();
        assert!(ca.is_ca());

        let crl_der = rustls_pki_types::CertificateRevocationListDer::from_pem_slice(
            &std::fs::read(&files.crl).unwrap(),
        )
        .unwrap();
        let (_, crl) =
            x509_parser::revocation_list::CertificateRevocationList::from_der(&crl_der).unwrap();
        assert_eq!(crl.iter_revoked_certificates().count(), 0);
        assert_eq!(crl.issuer(), ca.subject());
    }

    #[test]
    fn second_generate_reuses_everything_and_adds_only_new_countries() {
        let dir = tempfile::tempdir().unwrap();
        let first = DevPki::generate(dir.path(), &[cc("AT")], &[]).unwrap();
        let at_cert = std::fs::read(&first.gateways[&cc("AT")].cert).unwrap();
        let ca_cert = std::fs::read(&first.ca_cert).unwrap();

        let again = DevPki::generate(dir.path(), &[cc("AT")], &[]).unwrap();
        assert!(again.written.is_empty(), "{:?}", again.written);

        let more = DevPki::generate(dir.path(), &[cc("AT"), cc("NO")], &[]).unwrap();
        assert_eq!(
            more.written,
            [
                dir.path().join("no/key.pem"),
                dir.path().join("no/cert.pem"),
                dir.path().join("no/sign-key.pem"),
                dir.path().join("no/sign-cert.pem")
            ]
        );
        assert_eq!(
            std::fs::read(&more.gateways[&cc("AT")].cert).unwrap(),
            at_cert
        );
        assert_eq!(std::fs::read(&more.ca_cert).unwrap(), ca_cert);
        let no_der = read_cert(&more.gateways[&cc("NO")].cert);
        let (_, no) = X509Certificate::from_der(&no_der).unwrap();
        assert_eq!(
            no.issuer().to_string(),
            "CN=sedgate development CA, O=sedgate"
        );
    }

    #[test]
    fn regenerates_a_gateway_whose_key_no_longer_matches() {
        let dir = tempfile::tempdir().unwrap();
        let first = DevPki::generate(dir.path(), &[cc("AT")], &[]).unwrap();
        let at = &first.gateways[&cc("AT")];
        write_file(
            &at.key,
            &KeyPair::generate().unwrap().serialize_pem(),
            0o600,
        )
        .unwrap();

        let again = DevPki::generate(dir.path(), &[cc("AT")], &[]).unwrap();

        assert_eq!(again.written, [at.key.clone(), at.cert.clone()]);
    }

    #[test]
    fn issues_an_rsa_signing_certificate_that_wssec_can_sign_with() {
        let dir = tempfile::tempdir().unwrap();
        let files = DevPki::generate(dir.path(), &[cc("AT")], &[]).unwrap();
        let at = &files.gateways[&cc("AT")];
        assert_eq!(at.sign_cert, dir.path().join("at/sign-cert.pem"));
        #[cfg(unix)]
        assert_eq!(mode(&at.sign_key), 0o600);
        let der = read_cert(&at.sign_cert);
        let (_, cert) = X509Certificate::from_der(&der).unwrap();
        assert_eq!(
            cert.subject().to_string(),
            "CN=sedgate AT signing, O=sedgate"
        );
        assert_eq!(
            cert.issuer().to_string(),
            "CN=sedgate development CA, O=sedgate"
        );
        let ku = cert.key_usage().unwrap().unwrap().value;
        assert!(ku.digital_signature() && ku.non_repudiation() && ku.key_encipherment());
        assert!(cert.extended_key_usage().unwrap().is_none());
        let key = sedgate_wssec::PrivateKey::from_pkcs8_pem(
            &std::fs::read_to_string(&at.sign_key).unwrap(),
            &der,
        )
        .unwrap();
        assert_eq!(key.certificate().der(), der.as_slice());
        let fps = at.fingerprints().unwrap();
        assert_eq!(fps.len(), 2);
        assert_eq!(fps[1], crate::transport::identity::fingerprint(&der));

        // Reused on the next run; regenerated alone when its key is replaced.
        assert!(DevPki::generate(dir.path(), &[cc("AT")], &[])
            .unwrap()
            .written
            .is_empty());
        write_file(&at.sign_key, &at_key_pem(), 0o600).unwrap();
        let again = DevPki::generate(dir.path(), &[cc("AT")], &[]).unwrap();
        assert_eq!(again.written, [at.sign_key.clone(), at.sign_cert.clone()]);
    }

    fn at_key_pem() -> String {
        use rsa::pkcs8::{EncodePrivateKey, LineEnding};
        rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048)
            .unwrap()
            .to_pkcs8_pem(LineEnding::LF)
            .unwrap()
            .to_string()
    }

    #[test]
    fn a_broken_ca_means_a_new_pki() {
        let dir = tempfile::tempdir().unwrap();
        let first = DevPki::generate(dir.path(), &[cc("AT")], &[]).unwrap();
        std::fs::write(&first.ca_key, "garbage").unwrap();

        let again = DevPki::generate(dir.path(), &[cc("AT")], &[]).unwrap();

        assert_eq!(again.written.len(), 7);
    }

    #[test]
    fn crl_lists_the_revoked_serials() {
        let ca = DevCa::generate(DEV_CA_NAME).unwrap();
        let leaf = ca.issue(&LeafSpec::gateway(&cc("NO"), &[])).unwrap();
        assert_eq!(serial_of_pem(&leaf.cert_pem), Some(leaf.serial.clone()));

        let pem = ca.crl_pem(std::slice::from_ref(&leaf.serial), 7).unwrap();

        let der =
            rustls_pki_types::CertificateRevocationListDer::from_pem_slice(pem.as_bytes()).unwrap();
        let (_, crl) =
            x509_parser::revocation_list::CertificateRevocationList::from_der(&der).unwrap();
        let revoked: Vec<Vec<u8>> = crl
            .iter_revoked_certificates()
            .map(|r| r.raw_serial().to_vec())
            .collect();
        assert_eq!(revoked, [leaf.serial.to_bytes()]);
        assert_eq!(
            crl.crl_number().map(|n| n.to_string()),
            Some("7".to_owned())
        );
    }

    #[test]
    fn refuses_dates_before_1970_and_bad_hostnames() {
        let ca = DevCa::generate(DEV_CA_NAME).unwrap();
        let old = DateTime::from_timestamp(-10, 0).unwrap();
        let spec = LeafSpec::gateway(&cc("AT"), &[]).valid_between(old, Utc::now());
        assert!(matches!(ca.issue(&spec), Err(PkiError::DateBefore1970(_))));

        let spec = LeafSpec::gateway(&cc("AT"), &["bad host\u{e9}".into()]);
        assert!(
            matches!(ca.issue(&spec), Err(PkiError::InvalidHostname(h)) if h == "bad host\u{e9}")
        );
    }
}
