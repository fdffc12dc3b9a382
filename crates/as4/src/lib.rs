//! ebMS3/AS4 messages: header model, SOAP 1.2 envelope, MIME, receipts, error signals, P-Modes.
//! Pure: bytes in, values out (no I/O, no async).
//!
//! Small messages: `parse_message(content_type, body)`, then `check_message(&msg, &rules)`.
//! Large messages (streaming): feed the body to `mime::MimeParser`; collect the root part
//! (capped by `MimeLimits::max_root_part_bytes`) and `parse_envelope` it; stream the other
//! parts to storage (through `gzip::Gunzip` when CompressionType is application/gzip); then
//! `check_profile(&envelope, &rules)` and `check_attachments(&envelope, &content_ids)`.
//! Sending: `build_user_message`, `mime::MimeWriter`/`build_multipart`; replying:
//! `build_receipt`, `build_error` (from `EbmsError::from(&As4Error)`).

pub mod build;
pub mod eessi;
pub mod error;
pub mod gzip;
pub mod mime;
pub mod model;
pub mod parse;
pub mod pmode;

#[cfg(test)]
mod vector_tests;

// The hardened XML reader shared with the sed module.
use sedgate_base::xml;

pub use build::{build_error, build_receipt, build_user_message, BuiltEnvelope};
pub use error::{As4Error, EbmsCode};
pub use mime::{build_multipart, MimeEvent, MimeLimits, MimeParser, MimeWriter, OutgoingPart};
pub use model::*;
pub use parse::{check_attachments, check_profile, parse_envelope, ProfileRules};
pub use pmode::PMode;

/// One received AS4 message held in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct As4Message {
    pub envelope: As4Envelope,
    /// The exact bytes of the SOAP envelope (signature verification works on these).
    pub soap: Vec<u8>,
    /// The non-root MIME parts in wire order, transfer-decoded, not decompressed.
    pub attachments: Vec<Attachment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub content_id: Option<String>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl As4Message {
    pub fn attachment(&self, content_id: &str) -> Option<&Attachment> {
        self.attachments
            .iter()
            .find(|a| a.content_id.as_deref() == Some(content_id))
    }
}

/// Parse a whole message: SOAP alone (`application/soap+xml`, or `text/xml` for SOAP 1.1) or
/// multipart/related with the envelope as root part. Structure only; the profile is
/// `check_message`.
pub fn parse_message(content_type: &str, body: &[u8]) -> Result<As4Message, As4Error> {
    let ct = mime::ContentType::parse(content_type)?;
    match ct.mime_type.as_str() {
        "application/soap+xml" | "text/xml" => {
            let envelope = parse_envelope(body)?;
            check_soap_media_type(&ct.mime_type, envelope.soap_version)?;
            Ok(As4Message {
                envelope,
                soap: body.to_vec(),
                attachments: Vec::new(),
            })
        }
        "multipart/related" => {
            let parts = mime::parse_all(content_type, body)?;
            let start = ct.param("start").map(|s| mime::strip_angle(s).to_owned());
            let mut root = None;
            let mut attachments = Vec::new();
            for part in parts {
                if part.is_root && root.is_none() {
                    root = Some(part);
                } else {
                    attachments.push(Attachment {
                        content_id: part.headers.content_id,
                        content_type: part.headers.content_type,
                        body: part.body,
                    });
                }
            }
            let root = root.ok_or(As4Error::MissingRootPart { start })?;
            let root_type = root.headers.content_type.clone().unwrap_or_default();
            let root_ct =
                mime::ContentType::parse(&root_type).map_err(|_| As4Error::RootPartNotSoap {
                    found: root_type.clone(),
                })?;
            if !matches!(
                root_ct.mime_type.as_str(),
                "application/soap+xml" | "text/xml"
            ) {
                return Err(As4Error::RootPartNotSoap { found: root_type });
            }
            let envelope = parse_envelope(&root.body)?;
            check_soap_media_type(&root_ct.mime_type, envelope.soap_version)?;
            Ok(As4Message {
                envelope,
                soap: root.body,
                attachments,
            })
        }
        _ => Err(As4Error::UnsupportedContentType {
            found: content_type.to_owned(),
        }),
    }
}

/// SOAP 1.2 travels as application/soap+xml, SOAP 1.1 as text/xml.
fn check_soap_media_type(media_type: &str, version: SoapVersion) -> Result<(), As4Error> {
    match (media_type, version) {
        ("application/soap+xml", SoapVersion::V12) | ("text/xml", SoapVersion::V11) => Ok(()),
        (m, v) => Err(As4Error::SoapVersionMismatch {
            content_type: m.to_owned(),
            found: match v {
                SoapVersion::V11 => "1.1",
                SoapVersion::V12 => "1.2",
            },
        }),
    }
}

/// `check_profile` plus the MIME consistency of the attachments.
pub fn check_message(msg: &As4Message, rules: &ProfileRules) -> Result<(), As4Error> {
    check_profile(&msg.envelope, rules)?;
    let ids: Vec<Option<&str>> = msg
        .attachments
        .iter()
        .map(|a| a.content_id.as_deref())
        .collect();
    check_attachments(&msg.envelope, &ids)
}

/// Decompress an attachment whose PartInfo says CompressionType application/gzip.
pub fn decompress_attachment(
    attachment: &Attachment,
    limits: gzip::GzipLimits,
) -> Result<Vec<u8>, As4Error> {
    gzip::gunzip(&attachment.body, limits).map_err(|source| As4Error::Decompression {
        content_id: attachment.content_id.clone(),
        source,
    })
}
