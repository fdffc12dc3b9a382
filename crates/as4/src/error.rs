//! As4Error (what went wrong, precisely) and its one mapping to the wire: ebMS3/AS4 error codes.

use std::fmt;
use std::str::FromStr;

use super::gzip::GzipError;
use super::mime::MimeError;
use super::model::{EbmsError, Severity};
use super::xml::XmlError;

/// ebMS3 Core (section 6.7) and AS4 profile (section 5.2.3) error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EbmsCode {
    ValueNotRecognized,
    FeatureNotSupported,
    ValueInconsistent,
    Other,
    ConnectionFailure,
    EmptyMessagePartitionChannel,
    MimeInconsistency,
    /// EBMS:0008, also called FeatureNotSupported in the spec table (Unpackaging, failure).
    FeatureNotSupportedInconsistency,
    InvalidHeader,
    ProcessingModeMismatch,
    ExternalPayloadError,
    FailedAuthentication,
    FailedDecryption,
    PolicyNoncompliance,
    DysfunctionalReliability,
    DeliveryFailure,
    MissingReceipt,
    InvalidReceipt,
    DecompressionFailure,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCategory {
    Content,
    Communication,
    Unpackaging,
    Processing,
}

impl ErrorCategory {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCategory::Content => "Content",
            ErrorCategory::Communication => "Communication",
            ErrorCategory::Unpackaging => "Unpackaging",
            ErrorCategory::Processing => "Processing",
        }
    }
}

impl EbmsCode {
    pub const ALL: [EbmsCode; 19] = [
        EbmsCode::ValueNotRecognized,
        EbmsCode::FeatureNotSupported,
        EbmsCode::ValueInconsistent,
        EbmsCode::Other,
        EbmsCode::ConnectionFailure,
        EbmsCode::EmptyMessagePartitionChannel,
        EbmsCode::MimeInconsistency,
        EbmsCode::FeatureNotSupportedInconsistency,
        EbmsCode::InvalidHeader,
        EbmsCode::ProcessingModeMismatch,
        EbmsCode::ExternalPayloadError,
        EbmsCode::FailedAuthentication,
        EbmsCode::FailedDecryption,
        EbmsCode::PolicyNoncompliance,
        EbmsCode::DysfunctionalReliability,
        EbmsCode::DeliveryFailure,
        EbmsCode::MissingReceipt,
        EbmsCode::InvalidReceipt,
        EbmsCode::DecompressionFailure,
    ];

    /// (code, short description, severity, category) as in the spec tables. Severities follow
    /// the spec; phase4 differs on 0005 (warning) and 0006 (failure).
    fn row(self) -> (&'static str, &'static str, Severity, ErrorCategory) {
        use EbmsCode::*;
        use ErrorCategory::*;
        use Severity::*;
        match self {
            ValueNotRecognized => ("EBMS:0001", "ValueNotRecognized", Failure, Content),
            FeatureNotSupported => ("EBMS:0002", "FeatureNotSupported", Warning, Content),
            ValueInconsistent => ("EBMS:0003", "ValueInconsistent", Failure, Content),
            Other => ("EBMS:0004", "Other", Failure, Content),
            ConnectionFailure => ("EBMS:0005", "ConnectionFailure", Failure, Communication),
            EmptyMessagePartitionChannel => (
                "EBMS:0006",
                "EmptyMessagePartitionChannel",
                Warning,
                Communication,
            ),
            MimeInconsistency => ("EBMS:0007", "MimeInconsistency", Failure, Unpackaging),
            FeatureNotSupportedInconsistency => {
                ("EBMS:0008", "FeatureNotSupported", Failure, Unpackaging)
            }
            InvalidHeader => ("EBMS:0009", "InvalidHeader", Failure, Unpackaging),
            ProcessingModeMismatch => ("EBMS:0010", "ProcessingModeMismatch", Failure, Processing),
            ExternalPayloadError => ("EBMS:0011", "ExternalPayloadError", Failure, Content),
            FailedAuthentication => ("EBMS:0101", "FailedAuthentication", Failure, Processing),
            FailedDecryption => ("EBMS:0102", "FailedDecryption", Failure, Processing),
            PolicyNoncompliance => ("EBMS:0103", "PolicyNoncompliance", Failure, Processing),
            DysfunctionalReliability => {
                ("EBMS:0201", "DysfunctionalReliability", Failure, Processing)
            }
            DeliveryFailure => ("EBMS:0202", "DeliveryFailure", Failure, Communication),
            MissingReceipt => ("EBMS:0301", "MissingReceipt", Failure, Communication),
            InvalidReceipt => ("EBMS:0302", "InvalidReceipt", Failure, Communication),
            DecompressionFailure => ("EBMS:0303", "DecompressionFailure", Failure, Communication),
        }
    }

    pub fn as_str(self) -> &'static str {
        self.row().0
    }
    pub fn short_description(self) -> &'static str {
        self.row().1
    }
    pub fn severity(self) -> Severity {
        self.row().2
    }
    pub fn category(self) -> ErrorCategory {
        self.row().3
    }
}

impl fmt::Display for EbmsCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown ebMS error code {0}")]
pub struct UnknownEbmsCode(pub String);

impl FromStr for EbmsCode {
    type Err = UnknownEbmsCode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EbmsCode::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownEbmsCode(s.to_owned()))
    }
}

/// Everything the as4 module refuses, precisely. `EbmsError::from(&err)` gives the wire form.
#[derive(Debug, thiserror::Error)]
pub enum As4Error {
    #[error("SOAP envelope is not acceptable XML: {0}")]
    Xml(#[from] XmlError),
    #[error("root element is {found}, not a SOAP 1.1 or 1.2 Envelope")]
    NotSoapEnvelope { found: String },
    #[error("SOAP 1.1 is not allowed by this profile")]
    Soap11NotAllowed,
    #[error("SOAP version mismatch: the Content-Type says {content_type} but the envelope is SOAP {found}")]
    SoapVersionMismatch {
        content_type: String,
        found: &'static str,
    },
    #[error("missing element {element}")]
    MissingElement { element: &'static str },
    #[error("unexpected element {element} in {parent}")]
    UnexpectedElement {
        element: String,
        parent: &'static str,
    },
    #[error("element {element} appears {count} times, at most once allowed")]
    RepeatedElement { element: &'static str, count: usize },
    #[error("missing attribute {attribute} on {element}")]
    MissingAttribute {
        element: &'static str,
        attribute: &'static str,
    },
    #[error("invalid value {value:?} of {element}")]
    InvalidValue {
        element: &'static str,
        value: String,
    },
    #[error("soap:Header holds {count} eb:Messaging elements, exactly one is required")]
    MessagingCount { count: usize },
    #[error("eb:Messaging holds no message unit")]
    EmptyMessaging,
    #[error("eb:Messaging holds {count} UserMessages, exactly one is allowed")]
    MultipleUserMessages { count: usize },
    #[error("bundling of {count} message units is not supported")]
    Bundling { count: usize },
    #[error("eb:{side} holds {count} PartyIds, exactly one is required")]
    PartyIdCount { side: &'static str, count: usize },
    #[error("eb:{side}/eb:PartyId is empty")]
    EmptyPartyId { side: &'static str },
    #[error("eb:{side}/eb:Role is empty")]
    EmptyRole { side: &'static str },
    #[error("eb:ConversationId is empty")]
    EmptyConversationId,
    #[error("eb:Service is empty")]
    EmptyService,
    #[error("eb:Action is empty")]
    EmptyAction,
    #[error("{element} is {found:?}, the profile requires {expected:?}")]
    ProfileValue {
        element: &'static str,
        found: String,
        expected: &'static str,
    },
    #[error("the SOAP Body carries a payload; AS4/EESSI carries payloads as MIME parts only")]
    BodyPayloadNotAllowed,
    #[error("PartInfo href {href:?} is not a cid: reference to a MIME part")]
    ExternalPayload { href: String },
    #[error("two PartInfo elements reference {href}")]
    DuplicatePayloadReference { href: String },
    #[error("two MIME parts have the Content-ID {content_id}")]
    DuplicateContentId { content_id: String },
    #[error("PartInfo references cid:{content_id} but no MIME part has that Content-ID")]
    MissingPayloadPart { content_id: String },
    #[error("MIME part {content_id:?} is not referenced by any PartInfo")]
    UnreferencedPart { content_id: Option<String> },
    #[error("CompressionType {found:?} is not application/gzip")]
    UnsupportedCompression { found: String },
    #[error("a compressed part must give its MimeType")]
    CompressedWithoutMimeType,
    #[error("the first payload must be the SED (PartType SED), found {found:?}")]
    SedNotFirst { found: Option<String> },
    #[error("{element} {value:?} is not a valid message id")]
    InvalidMessageId {
        element: &'static str,
        value: String,
    },
    #[error("Timestamp {value:?} is not a valid xsd:dateTime")]
    InvalidTimestamp { value: String },
    #[error("a Receipt signal must carry RefToMessageId")]
    ReceiptWithoutRef,
    #[error("unsupported message Content-Type {found:?}")]
    UnsupportedContentType { found: String },
    #[error("MIME root part has Content-Type {found:?}, not a SOAP envelope")]
    RootPartNotSoap { found: String },
    #[error("MIME message has no root part {start:?}")]
    MissingRootPart { start: Option<String> },
    #[error("MIME: {0}")]
    Mime(#[from] MimeError),
    #[error("payload {content_id:?} does not decompress: {source}")]
    Decompression {
        content_id: Option<String>,
        #[source]
        source: GzipError,
    },
}

impl As4Error {
    pub fn code(&self) -> EbmsCode {
        use As4Error::*;
        match self {
            Xml(_)
            | NotSoapEnvelope { .. }
            | MissingElement { .. }
            | UnexpectedElement { .. }
            | RepeatedElement { .. }
            | MissingAttribute { .. }
            | MessagingCount { .. }
            | EmptyMessaging
            | PartyIdCount { .. }
            | EmptyPartyId { .. }
            | EmptyRole { .. }
            | EmptyConversationId
            | EmptyService
            | EmptyAction
            | DuplicatePayloadReference { .. }
            | DuplicateContentId { .. }
            | InvalidMessageId { .. }
            | InvalidTimestamp { .. }
            | ReceiptWithoutRef => EbmsCode::InvalidHeader,
            InvalidValue { .. } => EbmsCode::ValueNotRecognized,
            MultipleUserMessages { .. }
            | Bundling { .. }
            | UnsupportedCompression { .. }
            | CompressedWithoutMimeType
            | SedNotFirst { .. } => EbmsCode::ValueInconsistent,
            ProfileValue { .. } => EbmsCode::ProcessingModeMismatch,
            Soap11NotAllowed | SoapVersionMismatch { .. } | BodyPayloadNotAllowed => {
                EbmsCode::FeatureNotSupportedInconsistency
            }
            ExternalPayload { .. } | MissingPayloadPart { .. } => EbmsCode::ExternalPayloadError,
            UnreferencedPart { .. }
            | UnsupportedContentType { .. }
            | RootPartNotSoap { .. }
            | MissingRootPart { .. }
            | Mime(_) => EbmsCode::MimeInconsistency,
            Decompression { .. } => EbmsCode::DecompressionFailure,
        }
    }
}

impl From<EbmsCode> for EbmsError {
    fn from(code: EbmsCode) -> Self {
        EbmsError {
            error_code: code.as_str().to_owned(),
            severity: code.severity(),
            category: Some(code.category().as_str().to_owned()),
            origin: Some("ebMS".to_owned()),
            short_description: Some(code.short_description().to_owned()),
            description: None,
            error_detail: None,
            ref_to_message_in_error: None,
        }
    }
}

/// The one wire mapping. The description is our message; it names no internals beyond the
/// offending header values. The caller sets `ref_to_message_in_error` when the id is known.
impl From<&As4Error> for EbmsError {
    fn from(err: &As4Error) -> Self {
        let mut e = EbmsError::from(err.code());
        e.description = Some(err.to_string());
        e
    }
}

impl EbmsError {
    pub fn with_ref_to(mut self, message_id: Option<&str>) -> Self {
        self.ref_to_message_in_error = message_id.map(str::to_owned);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_follow_the_spec_table() {
        for code in EbmsCode::ALL {
            assert_eq!(code.as_str().parse::<EbmsCode>().unwrap(), code);
        }
        assert_eq!(
            EbmsCode::EmptyMessagePartitionChannel.severity(),
            Severity::Warning
        );
        assert_eq!(EbmsCode::FeatureNotSupported.severity(), Severity::Warning);
        assert_eq!(EbmsCode::ConnectionFailure.severity(), Severity::Failure);
        assert_eq!(
            EbmsCode::FeatureNotSupportedInconsistency.category(),
            ErrorCategory::Unpackaging
        );
        assert_eq!(EbmsCode::DecompressionFailure.as_str(), "EBMS:0303");
        assert_eq!(EbmsCode::MissingReceipt.as_str(), "EBMS:0301");
        assert!("EBMS:4001".parse::<EbmsCode>().is_err());
    }

    #[test]
    fn maps_an_as4_error_to_a_wire_error() {
        let err = As4Error::MultipleUserMessages { count: 2 };
        let wire = EbmsError::from(&err).with_ref_to(Some("a@b"));
        assert_eq!(wire.error_code, "EBMS:0003");
        assert_eq!(wire.short_description.as_deref(), Some("ValueInconsistent"));
        assert_eq!(wire.category.as_deref(), Some("Content"));
        assert_eq!(wire.severity, Severity::Failure);
        assert_eq!(wire.ref_to_message_in_error.as_deref(), Some("a@b"));
        assert!(wire.description.unwrap().contains("2 UserMessages"));
    }
}
