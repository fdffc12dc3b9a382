//! The identity of a TLS peer, taken from the certificate it presented. Pure: DER in, value out.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use x509_parser::prelude::{FromDer, X509Certificate};

/// Who is on the other end of a mutually authenticated TLS connection. Inserted by the
/// listener as a request extension, taken from the TLS session (never from headers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerIdentity {
    /// SHA-256 of the certificate's DER encoding, lower-case hex (64 characters).
    pub fingerprint: String,
    /// The subject distinguished name, RFC 4514 style (e.g. `CN=sedgate AT gateway, O=sedgate`).
    pub subject: String,
    /// End of the certificate's validity.
    pub not_after: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("the peer certificate is not valid DER X.509: {0}")]
    NotX509(String),
    #[error("the peer certificate has {0} bytes after its end")]
    TrailingBytes(usize),
    #[error("the peer certificate's notAfter ({0}) is outside the representable range")]
    NotAfterOutOfRange(i64),
}

/// Lower-case hex SHA-256 of `der`: the fingerprint that access-point records compare against.
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// Reads the identity of a DER-encoded X.509 certificate. Trailing bytes are refused so the
/// fingerprint always covers exactly the certificate that was parsed.
pub fn from_der(der: &[u8]) -> Result<PeerIdentity, IdentityError> {
    let (rest, cert) =
        X509Certificate::from_der(der).map_err(|e| IdentityError::NotX509(e.to_string()))?;
    if !rest.is_empty() {
        return Err(IdentityError::TrailingBytes(rest.len()));
    }
    let not_after_ts = cert.validity().not_after.timestamp();
    let not_after = DateTime::<Utc>::from_timestamp(not_after_ts, 0)
        .ok_or(IdentityError::NotAfterOutOfRange(not_after_ts))?;
    Ok(PeerIdentity {
        fingerprint: fingerprint(der),
        subject: cert.subject().to_string(),
        not_after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, DnType, KeyPair};

    fn cert_der(cn: &str) -> Vec<u8> {
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.not_after = rcgen::date_time_ymd(2031, 7, 1);
        let key = KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn accepts_certificate_and_reads_subject_expiry_and_fingerprint() {
        let der = cert_der("sedgate AT gateway");
        let id = from_der(&der).unwrap();
        assert_eq!(id.subject, "CN=sedgate AT gateway");
        assert_eq!(id.not_after.to_rfc3339(), "2031-07-01T00:00:00+00:00");
        assert_eq!(id.fingerprint, hex::encode(Sha256::digest(&der)));
        assert_eq!(id.fingerprint.len(), 64);
        assert!(id
            .fingerprint
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    }

    #[test]
    fn fingerprint_is_known_sha256_of_bytes() {
        assert_eq!(
            fingerprint(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn refuses_trailing_bytes() {
        let mut der = cert_der("x");
        der.extend_from_slice(&[0, 0]);
        assert_eq!(from_der(&der), Err(IdentityError::TrailingBytes(2)));
    }

    #[test]
    fn refuses_garbage_and_every_truncation() {
        assert!(matches!(
            from_der(b"not a certificate"),
            Err(IdentityError::NotX509(_))
        ));
        let der = cert_der("x");
        for len in 0..der.len() {
            assert!(
                from_der(&der[..len]).is_err(),
                "prefix of {len} bytes accepted"
            );
        }
    }
}
