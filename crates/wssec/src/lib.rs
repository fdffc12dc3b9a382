//! WS-Security for AS4 (eDelivery AS4 profile): signing, verification, non-repudiation
//! receipts, payload encryption. Pure: bytes in, values out.
//!
//! Sending: `sign_user_message(envelope, attachments, key, now)` over the envelope from
//! `as4::build_user_message` and the attachment octets as sent (compressed); then, if the P-Mode
//! asks for it, `encrypt_attachments(signed, parts, recipient)`.
//! Receiving: `decrypt_attachments` (if encrypted), then `verify_envelope(soap, attachments,
//! options)` gives `Verified` (signer certificate, digested references) or one `WsSecError`
//! whose wire form is the same EBMS:0101 for every verification failure. Answer with
//! `build_signed_receipt`; a sender checks it with `verify_receipt` against its `SignedEnvelope`.
//! A receiver that digests attachments while they stream takes the algorithms and expected
//! values from `claimed_references` and verifies with those (then compares its own digests).
//!
//! Canonicalisation is our own exclusive C14N over the hardened reader's tree (see `c14n`);
//! RSA PKCS#1 v1.5 signatures, digests and AES-GCM come from ring, RSA-OAEP from RustCrypto rsa.

pub mod algorithms;
pub mod c14n;
mod dom;
mod encrypt;
pub mod error;
mod keys;
mod receipt;
mod sign;
mod verify;

#[cfg(test)]
mod vector_tests;

pub use algorithms::{DigestAlg, Digester, SignatureAlg};
pub use encrypt::{
    decrypt_attachments, encrypt_attachments, DecryptedPart, EncryptedPart, PlainPart,
};
pub use error::WsSecError;
pub use keys::{Certificate, PrivateKey};
pub use receipt::{build_signed_receipt, verify_receipt, VerifiedReceipt};
pub use sign::{sign_envelope, sign_user_message, SignedEnvelope};
pub use verify::{claimed_references, verify_envelope, CertificateTime, Verified, VerifyOptions};

/// How a reference's octets are obtained before digesting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReferenceTransform {
    /// `#id`: exclusive C14N of the element, with these InclusiveNamespaces prefixes
    /// (`None` = `#default`).
    ExcC14n(Vec<Option<String>>),
    /// `cid:`: the attachment octets (Attachment-Content-Signature-Transform).
    AttachmentContent,
}

/// One ds:Reference as signed or verified: kept as evidence and listed in receipts' NRI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedReference {
    pub uri: String,
    pub transform: ReferenceTransform,
    pub digest_alg: DigestAlg,
    pub digest_value: Vec<u8>,
}

/// An attachment as it travels (after compression, before encryption), for signing or
/// verifying: the octets, or a digest computed while streaming them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentDigest<'a> {
    /// Content-ID without angle brackets (the reference is `cid:` + this).
    pub content_id: &'a str,
    pub content: AttachmentContent<'a>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttachmentContent<'a> {
    Bytes(&'a [u8]),
    Digest { alg: DigestAlg, value: Vec<u8> },
}

impl AttachmentContent<'_> {
    /// The digest under `alg`; `None` when only a digest under another algorithm is known.
    fn digest(&self, alg: DigestAlg) -> Option<Vec<u8>> {
        match self {
            AttachmentContent::Bytes(b) => Some(alg.digest(b)),
            AttachmentContent::Digest { alg: a, value } => (*a == alg).then(|| value.clone()),
        }
    }
}
