//! What WS-Security refuses, precisely (for logs and evidence), and its one outward form: every
//! verification failure is the same EBMS:0101, every decryption failure the same EBMS:0102, so
//! a sender learns nothing about which check failed.

use sedgate_as4::{EbmsCode, EbmsError};
use sedgate_base::xml::XmlError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WsSecError {
    // --- structure of the envelope and the security header
    #[error("envelope is not acceptable XML: {0}")]
    Xml(#[from] XmlError),
    #[error("root element is not a SOAP envelope")]
    NotSoapEnvelope,
    #[error("{element} occurs {count} times where exactly one is required")]
    Count { element: &'static str, count: usize },
    #[error("the message carries no wsse:Security header")]
    NoSecurityHeader,
    #[error("the security header carries no ds:Signature")]
    NoSignature,
    #[error("{element} is missing")]
    Missing { element: &'static str },
    #[error("ID {id:?} is used by more than one element")]
    DuplicateId { id: String },
    #[error("{element} holds invalid base64")]
    Base64 { element: &'static str },

    // --- algorithms and references
    #[error("{element} algorithm {uri:?} is not allowed")]
    Algorithm { element: &'static str, uri: String },
    #[error("reference {uri:?} must have exactly the transforms {expected}")]
    Transforms { uri: String, expected: &'static str },
    #[error("reference URI {uri:?} is neither #id nor cid:")]
    ReferenceUri { uri: String },
    #[error("reference {uri:?} does not resolve")]
    UnresolvedReference { uri: String },
    #[error("reference {uri:?} points at {element}, which may not be signed")]
    ReferenceTarget { uri: String, element: String },
    #[error("{uri:?} is referenced more than once")]
    DuplicateReference { uri: String },
    #[error("{element} is not covered by the signature")]
    NotSigned { element: String },
    #[error("digest of {uri:?} does not match")]
    DigestMismatch { uri: String },
    #[error("signature value does not verify")]
    BadSignature,

    // --- signer certificate
    #[error("unsupported key reference in ds:KeyInfo: {0}")]
    KeyReference(String),
    #[error("no candidate certificate matches the key reference")]
    SignerNotFound,
    #[error("certificate cannot be used: {0}")]
    Certificate(String),
    #[error("certificate is not valid at the verification time")]
    CertificateExpired,

    // --- receipts
    #[error("not a receipt: {0}")]
    NotAReceipt(&'static str),
    #[error("receipt refers to {found:?}, not to {expected:?}")]
    ReceiptRef { expected: String, found: String },
    #[error("receipt NonRepudiationInformation does not list exactly the signed references: {0}")]
    NriMismatch(String),

    // --- decryption
    #[error("decryption failed: {0}")]
    Decryption(String),

    // --- our own inputs when signing/encrypting (not the peer's fault)
    #[error("private key or certificate unusable: {0}")]
    Key(String),
    #[error("envelope cannot be signed: {0}")]
    Unsignable(String),
    #[error("random number generator failed")]
    Random,
}

impl WsSecError {
    pub fn code(&self) -> EbmsCode {
        match self {
            WsSecError::NoSecurityHeader | WsSecError::NoSignature => EbmsCode::PolicyNoncompliance,
            WsSecError::Decryption(_) => EbmsCode::FailedDecryption,
            WsSecError::Key(_) | WsSecError::Unsignable(_) | WsSecError::Random => EbmsCode::Other,
            WsSecError::NotAReceipt(_)
            | WsSecError::ReceiptRef { .. }
            | WsSecError::NriMismatch(_) => EbmsCode::InvalidReceipt,
            _ => EbmsCode::FailedAuthentication,
        }
    }

    /// The wire form: the same description for every failure with the same code.
    pub fn to_ebms_error(&self, ref_to_message_in_error: Option<&str>) -> EbmsError {
        let code = self.code();
        let mut e = EbmsError::from(code);
        e.description = Some(
            match code {
                EbmsCode::FailedAuthentication => "The message could not be authenticated.",
                EbmsCode::FailedDecryption => "The message could not be decrypted.",
                EbmsCode::PolicyNoncompliance => {
                    "The message is not signed as the agreement requires."
                }
                EbmsCode::InvalidReceipt => "The receipt is not valid.",
                _ => "Internal error.",
            }
            .to_owned(),
        );
        e.ref_to_message_in_error = ref_to_message_in_error.map(str::to_owned);
        e
    }
}
