//! The allow-listed algorithm identifiers and what they do. Anything else is refused: XSLT,
//! XPath and enveloped-signature transforms, SHA-1 digests and signatures, RSA PKCS#1 v1.5 key
//! transport, CBC modes.

use sha2::Digest as _;

use super::error::WsSecError;

pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
pub const ATTACHMENT_CONTENT_SIGNATURE: &str =
    "http://docs.oasis-open.org/wss/oasis-wss-SwAProfile-1.1#Attachment-Content-Signature-Transform";
pub const ATTACHMENT_CIPHERTEXT: &str =
    "http://docs.oasis-open.org/wss/oasis-wss-SwAProfile-1.1#Attachment-Ciphertext-Transform";
pub const ATTACHMENT_CONTENT_ONLY: &str =
    "http://docs.oasis-open.org/wss/oasis-wss-SwAProfile-1.1#Attachment-Content-Only";
pub const AES128_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes128-gcm";
/// RSA-OAEP with MGF1-SHA1 (the "p" variant); the OAEP digest is given by ds:DigestMethod.
pub const RSA_OAEP_MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
/// RSA-OAEP of XML Encryption 1.1: digest and MGF given by child elements.
pub const RSA_OAEP: &str = "http://www.w3.org/2009/xmlenc11#rsa-oaep";
pub const MGF1_SHA1: &str = "http://www.w3.org/2009/xmlenc11#mgf1sha1";
pub const MGF1_SHA256: &str = "http://www.w3.org/2009/xmlenc11#mgf1sha256";

pub const X509V3: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3";
pub const X509_SKI: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509SubjectKeyIdentifier";
pub const BASE64_BINARY: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary";
pub const TOKEN_TYPE_ENCRYPTED_KEY: &str =
    "http://docs.oasis-open.org/wss/oasis-wss-soap-message-security-1.1#EncryptedKey";
pub const WSSE11_NS: &str = "http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd";
pub const XENC11_NS: &str = "http://www.w3.org/2009/xmlenc11#";
pub const EXC_C14N_NS: &str = EXC_C14N;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestAlg {
    Sha256,
    Sha384,
    Sha512,
}

impl DigestAlg {
    pub fn uri(self) -> &'static str {
        match self {
            DigestAlg::Sha256 => "http://www.w3.org/2001/04/xmlenc#sha256",
            DigestAlg::Sha384 => "http://www.w3.org/2001/04/xmldsig-more#sha384",
            DigestAlg::Sha512 => "http://www.w3.org/2001/04/xmlenc#sha512",
        }
    }

    pub fn from_uri(uri: &str, element: &'static str) -> Result<Self, WsSecError> {
        [DigestAlg::Sha256, DigestAlg::Sha384, DigestAlg::Sha512]
            .into_iter()
            .find(|a| a.uri() == uri)
            .ok_or_else(|| WsSecError::Algorithm {
                element,
                uri: uri.to_owned(),
            })
    }

    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        let mut d = Digester::new(self);
        d.update(data);
        d.finish()
    }
}

/// A running digest, for attachments hashed while they stream past.
#[derive(Clone)]
pub enum Digester {
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

impl Digester {
    pub fn new(alg: DigestAlg) -> Self {
        match alg {
            DigestAlg::Sha256 => Digester::Sha256(sha2::Sha256::new()),
            DigestAlg::Sha384 => Digester::Sha384(sha2::Sha384::new()),
            DigestAlg::Sha512 => Digester::Sha512(sha2::Sha512::new()),
        }
    }
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Digester::Sha256(h) => h.update(data),
            Digester::Sha384(h) => h.update(data),
            Digester::Sha512(h) => h.update(data),
        }
    }
    pub fn finish(self) -> Vec<u8> {
        match self {
            Digester::Sha256(h) => h.finalize().to_vec(),
            Digester::Sha384(h) => h.finalize().to_vec(),
            Digester::Sha512(h) => h.finalize().to_vec(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureAlg {
    RsaSha256,
    RsaSha384,
    RsaSha512,
}

impl SignatureAlg {
    pub fn uri(self) -> &'static str {
        match self {
            SignatureAlg::RsaSha256 => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            SignatureAlg::RsaSha384 => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
            SignatureAlg::RsaSha512 => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
        }
    }

    pub fn from_uri(uri: &str) -> Result<Self, WsSecError> {
        [
            SignatureAlg::RsaSha256,
            SignatureAlg::RsaSha384,
            SignatureAlg::RsaSha512,
        ]
        .into_iter()
        .find(|a| a.uri() == uri)
        .ok_or_else(|| WsSecError::Algorithm {
            element: "ds:SignatureMethod",
            uri: uri.to_owned(),
        })
    }

    /// ring's parameters; with `legacy_1024`, keys from 1024 bits (ring has no SHA-384 variant).
    pub(crate) fn ring_verification(
        self,
        legacy_1024: bool,
    ) -> &'static ring::signature::RsaParameters {
        use ring::signature as s;
        match (self, legacy_1024) {
            (SignatureAlg::RsaSha256, false) => &s::RSA_PKCS1_2048_8192_SHA256,
            (SignatureAlg::RsaSha384, _) => &s::RSA_PKCS1_2048_8192_SHA384,
            (SignatureAlg::RsaSha512, false) => &s::RSA_PKCS1_2048_8192_SHA512,
            (SignatureAlg::RsaSha256, true) => &s::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
            (SignatureAlg::RsaSha512, true) => &s::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY,
        }
    }
}
