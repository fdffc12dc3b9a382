//! Certificates (what a key reference may match: the DER itself, its SubjectKeyIdentifier, its
//! issuer and serial) and our own RSA key pair.

use chrono::{DateTime, TimeZone, Utc};
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::DecodePrivateKey;
use x509_parser::extensions::ParsedExtension;
use x509_parser::oid_registry::OID_PKCS1_RSAENCRYPTION;

use super::error::WsSecError;

/// A parsed X.509 certificate with an RSA public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    der: Vec<u8>,
    /// PKCS#1 RSAPublicKey DER (the SPKI's bit string).
    rsa_public_key: Vec<u8>,
    ski: Option<Vec<u8>>,
    issuer: Vec<(String, String)>,
    issuer_text: String,
    serial_decimal: String,
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
}

impl Certificate {
    pub fn from_der(der: &[u8]) -> Result<Self, WsSecError> {
        let bad = |m: String| WsSecError::Certificate(m);
        let (rest, cert) =
            x509_parser::parse_x509_certificate(der).map_err(|e| bad(e.to_string()))?;
        if !rest.is_empty() {
            return Err(bad("trailing bytes after the certificate".into()));
        }
        let spki = cert.public_key();
        if spki.algorithm.algorithm != OID_PKCS1_RSAENCRYPTION {
            return Err(bad("the public key is not RSA".into()));
        }
        let ski = cert
            .extensions()
            .iter()
            .find_map(|e| match e.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
                _ => None,
            });
        let time = |t: i64| {
            Utc.timestamp_opt(t, 0)
                .single()
                .ok_or_else(|| bad("validity time out of range".into()))
        };
        let issuer = cert
            .issuer()
            .iter_rdn()
            .flat_map(|rdn| rdn.iter())
            .map(|atv| {
                let key = oid_short_name(&atv.attr_type().to_id_string());
                let value = atv
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|_| hex::encode(atv.attr_value().data));
                (key, value)
            })
            .collect::<Vec<_>>();
        Ok(Self {
            der: der.to_vec(),
            rsa_public_key: spki.subject_public_key.data.to_vec(),
            ski,
            issuer_text: rfc4514(&issuer),
            issuer: sorted(issuer),
            serial_decimal: cert.tbs_certificate.serial.to_string(),
            not_before: time(cert.validity().not_before.timestamp())?,
            not_after: time(cert.validity().not_after.timestamp())?,
        })
    }

    /// The first certificate of a PEM text.
    pub fn from_pem(pem: &str) -> Result<Self, WsSecError> {
        let der = rustls_pemfile::certs(&mut pem.as_bytes())
            .next()
            .ok_or_else(|| WsSecError::Certificate("no certificate in PEM".into()))?
            .map_err(|e| WsSecError::Certificate(e.to_string()))?;
        Self::from_der(der.as_ref())
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }
    pub fn subject_key_identifier(&self) -> Option<&[u8]> {
        self.ski.as_deref()
    }
    pub fn serial_decimal(&self) -> &str {
        &self.serial_decimal
    }
    /// Issuer DN as RFC 4514 text (most significant RDN last), as IssuerSerial carries it.
    pub fn issuer_name(&self) -> &str {
        &self.issuer_text
    }
    pub fn valid_at(&self, now: DateTime<Utc>) -> bool {
        self.not_before <= now && now <= self.not_after
    }
    pub(crate) fn rsa_public_key_der(&self) -> &[u8] {
        &self.rsa_public_key
    }
    pub(crate) fn rsa_public_key(&self) -> Result<rsa::RsaPublicKey, WsSecError> {
        rsa::RsaPublicKey::from_pkcs1_der(&self.rsa_public_key)
            .map_err(|e| WsSecError::Certificate(e.to_string()))
    }

    /// Does an X509IssuerSerial (issuer DN text, decimal serial) name this certificate?
    /// The DN is compared as a set of attribute=value pairs, so RDN order and spacing do not
    /// matter (implementations differ on both).
    pub fn matches_issuer_serial(&self, issuer_name: &str, serial: &str) -> bool {
        let serial = serial.trim().trim_start_matches('0');
        let own = self.serial_decimal.trim_start_matches('0');
        serial == own && parse_dn(issuer_name).is_some_and(|dn| sorted(dn) == self.issuer)
    }
}

fn sorted(mut v: Vec<(String, String)>) -> Vec<(String, String)> {
    v.sort();
    v
}

fn oid_short_name(oid: &str) -> String {
    match oid {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.5" => "SERIALNUMBER",
        "2.5.4.97" => "ORGANIZATIONIDENTIFIER",
        "1.2.840.113549.1.9.1" => "E",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        other => return format!("OID.{other}"),
    }
    .to_owned()
}

fn key_alias(key: &str) -> String {
    let upper = key.trim().to_ascii_uppercase();
    match upper.as_str() {
        "EMAILADDRESS" | "EMAIL" => "E".to_owned(),
        "S" => "ST".to_owned(),
        _ => {
            let numeric = upper.strip_prefix("OID.").unwrap_or(&upper);
            if numeric.chars().all(|c| c.is_ascii_digit() || c == '.') {
                oid_short_name(numeric)
            } else {
                upper
            }
        }
    }
}

/// `CN=a, O=b\, c` → [(CN, a), (O, "b, c")]; `+` multi-valued RDNs are split too.
fn parse_dn(text: &str) -> Option<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars();
    let mut in_quotes = false;
    let push = |raw: &str, pairs: &mut Vec<(String, String)>| -> Option<()> {
        if raw.trim().is_empty() {
            return Some(());
        }
        let (k, v) = raw.split_once('=')?;
        pairs.push((key_alias(k), v.trim().trim_matches('"').to_owned()));
        Some(())
    };
    while let Some(c) = chars.next() {
        match c {
            '\\' => current.push(chars.next()?),
            '"' => in_quotes = !in_quotes,
            ',' | ';' | '+' if !in_quotes => {
                push(&current, &mut pairs)?;
                current.clear();
            }
            c => current.push(c),
        }
    }
    push(&current, &mut pairs)?;
    Some(pairs)
}

fn rfc4514(attrs: &[(String, String)]) -> String {
    attrs
        .iter()
        .rev()
        .map(|(k, v)| {
            let mut escaped = String::new();
            for (i, c) in v.chars().enumerate() {
                if matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
                    || (i == 0 && matches!(c, '#' | ' '))
                {
                    escaped.push('\\');
                }
                escaped.push(c);
            }
            format!("{k}={escaped}")
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Our RSA private key with its certificate: signs (ring) and unwraps content keys (rsa).
pub struct PrivateKey {
    /// `None` for a decrypt-only legacy key (ring signs with 2048 bits or more only).
    signing: Option<ring::signature::RsaKeyPair>,
    decrypting: rsa::RsaPrivateKey,
    certificate: Certificate,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateKey")
            .field("certificate_issuer", &self.certificate.issuer_text)
            .field("certificate_serial", &self.certificate.serial_decimal)
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    /// A PKCS#8 PEM private key ("BEGIN PRIVATE KEY") and its certificate (DER).
    pub fn from_pkcs8_pem(key_pem: &str, certificate_der: &[u8]) -> Result<Self, WsSecError> {
        let key = rustls_pemfile::private_key(&mut key_pem.as_bytes())
            .map_err(|e| WsSecError::Key(e.to_string()))?
            .ok_or_else(|| WsSecError::Key("no private key in PEM".into()))?;
        match key {
            rustls_pki_types::PrivateKeyDer::Pkcs8(der) => {
                Self::from_pkcs8_der(der.secret_pkcs8_der(), certificate_der)
            }
            _ => Err(WsSecError::Key("the private key is not PKCS#8".into())),
        }
    }

    pub fn from_pkcs8_der(key_der: &[u8], certificate_der: &[u8]) -> Result<Self, WsSecError> {
        let signing = ring::signature::RsaKeyPair::from_pkcs8(key_der)
            .map_err(|e| WsSecError::Key(format!("RSA key rejected: {e}")))?;
        let mut key = Self::decrypt_only_from_pkcs8_der(key_der, certificate_der)?;
        key.signing = Some(signing);
        Ok(key)
    }

    /// A key that can only unwrap content keys, e.g. a legacy 1024-bit key of a test vector.
    pub fn decrypt_only_from_pkcs8_der(
        key_der: &[u8],
        certificate_der: &[u8],
    ) -> Result<Self, WsSecError> {
        use rsa::traits::PublicKeyParts as _;
        let certificate =
            Certificate::from_der(certificate_der).map_err(|e| WsSecError::Key(e.to_string()))?;
        let decrypting = rsa::RsaPrivateKey::from_pkcs8_der(key_der)
            .map_err(|e| WsSecError::Key(e.to_string()))?;
        let public = certificate
            .rsa_public_key()
            .map_err(|e| WsSecError::Key(e.to_string()))?;
        if public.n() != decrypting.n() || public.e() != decrypting.e() {
            return Err(WsSecError::Key(
                "the certificate does not belong to the private key".into(),
            ));
        }
        Ok(Self {
            signing: None,
            decrypting,
            certificate,
        })
    }

    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    pub(crate) fn sign(
        &self,
        alg: super::algorithms::SignatureAlg,
        message: &[u8],
    ) -> Result<Vec<u8>, WsSecError> {
        use super::algorithms::SignatureAlg;
        let padding: &'static dyn ring::signature::RsaEncoding = match alg {
            SignatureAlg::RsaSha256 => &ring::signature::RSA_PKCS1_SHA256,
            SignatureAlg::RsaSha384 => &ring::signature::RSA_PKCS1_SHA384,
            SignatureAlg::RsaSha512 => &ring::signature::RSA_PKCS1_SHA512,
        };
        let signing = self
            .signing
            .as_ref()
            .ok_or_else(|| WsSecError::Key("this key can only decrypt".into()))?;
        let mut signature = vec![0; signing.public().modulus_len()];
        signing
            .sign(
                padding,
                &ring::rand::SystemRandom::new(),
                message,
                &mut signature,
            )
            .map_err(|_| WsSecError::Random)?;
        Ok(signature)
    }

    pub(crate) fn rsa(&self) -> &rsa::RsaPrivateKey {
        &self.decrypting
    }
}
