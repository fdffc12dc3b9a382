//! The inbound `/as4` endpoint, served on the mutual-TLS listener.
//!
//! One request: MIME is parsed as it streams in; the envelope (root part) is checked
//! against the EESSI profile, the peer's TLS certificate against the IR entry of the
//! sender's country, the WS-Security signature (header, body and the attachment digests it
//! claims; the signer must chain to our trust anchors and be listed in the IR for the
//! sender's country), and a MessageId seen before is answered with the receipt sent then.
//! Payloads are digested as they arrive (compressed, as signed), decompressed and hashed on
//! the way to the payload store; a digest that differs from the signed one refuses the
//! message. The SED goes through the same XSD validation as intake. Only after the inbox row
//! (with the signed receipt and the evidence) has committed is the receipt returned. Every
//! refusal is an ebMS error signal; every verification failure the same EBMS:0101.
//!
//! Encrypted payloads are buffered (up to `MAX_ENCRYPTED_BYTES` per message) and decrypted
//! once the message has arrived: decryption is not streamed.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Router};
use bytes::Bytes;
use chrono::Utc;
use futures::StreamExt;

use std::collections::HashMap;

use crate::app::AppState;
use crate::ops::metrics::{EbmsLabels, OutcomeLabels};
use crate::store::{
    Evidence, EvidenceReference, InboundMessage, InboundOutcome, PartType as StoredPartType,
    PayloadWriter, StagedPart,
};
use crate::transport::PeerIdentity;
use sedgate_as4::eessi::{payload_refs, read_user_message, PayloadRef, SedHeaderInfo};
use sedgate_as4::gzip::{Gunzip, GzipLimits};
use sedgate_as4::mime::{ContentType, MimeEvent, MimeLimits, MimeParser};
use sedgate_as4::{
    build_error, build_receipt, check_attachments, check_profile, parse_envelope, As4Envelope,
    As4Error, EbmsCode, EbmsError, MessageInfo, PartType, ProfileRules, UserMessage,
};
use sedgate_base::domain::{CountryCode, MessageId};
use sedgate_base::xml::XmlLimits;
use sedgate_wssec::{self as wssec, AttachmentContent, AttachmentDigest, Digester, WsSecError};

/// Most ciphertext one encrypted message may carry: decryption is done in memory.
pub const MAX_ENCRYPTED_BYTES: u64 = 64 * 1024 * 1024;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/as4", post(receive))
        // The body is streamed and capped by `as4.max_message_bytes` below.
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

/// Why a message was refused: the ebMS error to answer with.
struct Refusal {
    /// Boxed: a `Result<_, Refusal>` stays small.
    error: Box<EbmsError>,
    /// A 5xx tells a generic sender to retry (EBMS:0202); other refusals are final.
    status: StatusCode,
}

impl Refusal {
    fn new(code: EbmsCode, description: impl Into<String>) -> Self {
        let mut error = EbmsError::from(code);
        error.description = Some(description.into());
        let status = if code == EbmsCode::DeliveryFailure {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::BAD_REQUEST
        };
        Self {
            error: Box::new(error),
            status,
        }
    }
}

impl From<&WsSecError> for Refusal {
    /// The generic wire form; the precise reason only in the log.
    fn from(e: &WsSecError) -> Self {
        tracing::info!(error = %e, "WS-Security check failed");
        Refusal {
            error: Box::new(e.to_ebms_error(None)),
            status: StatusCode::BAD_REQUEST,
        }
    }
}

impl From<WsSecError> for Refusal {
    fn from(e: WsSecError) -> Self {
        Refusal::from(&e)
    }
}

impl From<As4Error> for Refusal {
    fn from(e: As4Error) -> Self {
        Refusal {
            error: Box::new(EbmsError::from(&e)),
            status: StatusCode::BAD_REQUEST,
        }
    }
}

fn soap_response(status: StatusCode, xml: Vec<u8>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/soap+xml; charset=UTF-8")],
        xml,
    )
        .into_response()
}

async fn receive(
    State(state): State<AppState>,
    peer: Option<Extension<PeerIdentity>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut in_reply_to: Option<String> = None;
    let result = match peer {
        Some(Extension(peer)) => process(&state, &peer, &headers, body, &mut in_reply_to).await,
        None => Err(Refusal::new(
            EbmsCode::FailedAuthentication,
            "no TLS client certificate",
        )),
    };
    match result {
        Ok(receipt) => {
            state
                .metrics
                .as4_inbound
                .get_or_create(&OutcomeLabels {
                    outcome: "receipt".into(),
                })
                .inc();
            soap_response(StatusCode::OK, receipt)
        }
        Err(refusal) => {
            let code = refusal.error.error_code.clone();
            tracing::info!(%code, description = ?refusal.error.description, message_id = ?in_reply_to, "AS4 message refused");
            state
                .metrics
                .as4_errors
                .get_or_create(&EbmsLabels { code: code.clone() })
                .inc();
            state
                .metrics
                .as4_inbound
                .get_or_create(&OutcomeLabels {
                    outcome: "error".into(),
                })
                .inc();
            let error = (*refusal.error).with_ref_to(in_reply_to.as_deref());
            let info =
                MessageInfo::new(&MessageId::generate(&state.config.party_domain), Utc::now());
            let mut info = info;
            info.ref_to_message_id = in_reply_to;
            soap_response(refusal.status, build_error(&info, &[error]).xml)
        }
    }
}

/// Where one payload's decompressed bytes go.
enum Sink {
    /// The SED, needed whole for validation.
    Memory(Vec<u8>),
    /// Boxed: a writer is much larger than a buffer handle.
    Blob(Box<PayloadWriter>),
}

struct IncomingPart {
    reference: PayloadRef,
    /// Digest of the octets as signed (compressed) and the signed value it must equal.
    digest: Option<(Digester, Vec<u8>)>,
    /// A signed part that failed to decompress is still digested to its end: a digest
    /// mismatch (tampering) is reported before the decompression error.
    failed: Option<As4Error>,
    body: PartBody,
}

enum PartBody {
    Plain {
        gunzip: Box<Gunzip>,
        sink: Sink,
    },
    /// Ciphertext, decrypted once the whole message has arrived.
    Encrypted {
        content_type: Option<String>,
        bytes: Vec<u8>,
    },
}

/// What the signature of a message established.
struct InboundSecurity {
    verified: wssec::Verified,
    /// Signed digest of each attachment, by content id.
    expected: HashMap<String, (wssec::DigestAlg, Vec<u8>)>,
    encrypted: bool,
}

impl InboundSecurity {
    fn digester_for(&self, content_id: &str) -> Result<(Digester, Vec<u8>), Refusal> {
        let (alg, value) = self
            .expected
            .get(content_id)
            .ok_or_else(|| WsSecError::NotSigned {
                element: format!("MIME part <{content_id}>"),
            })?;
        Ok((Digester::new(*alg), value.clone()))
    }

    fn evidence(
        &self,
        id: &MessageId,
        peer_country: &CountryCode,
        envelope: &[u8],
        receipt: &[u8],
        now: chrono::DateTime<Utc>,
    ) -> Evidence {
        Evidence {
            message_id: id.clone(),
            direction: crate::store::Direction::Inbound,
            peer_country: peer_country.clone(),
            envelope: envelope.to_vec(),
            references: evidence_references(&self.verified.references),
            receipt: Some(receipt.to_vec()),
            peer_cert: Some(self.verified.signer_cert_der.clone()),
            verification: "verified".into(),
            at: now,
        }
    }
}

/// Signed references as the store keeps them.
pub fn evidence_references(references: &[wssec::SignedReference]) -> Vec<EvidenceReference> {
    use base64::Engine as _;
    references
        .iter()
        .map(|r| EvidenceReference {
            uri: r.uri.clone(),
            digest_alg: r.digest_alg.uri().to_owned(),
            digest: base64::engine::general_purpose::STANDARD.encode(&r.digest_value),
        })
        .collect()
}

/// Checks the signature of `soap` (the attachments with the digests the signature claims,
/// compared with the real ones as they arrive) and its signer: chained to our trust anchors
/// and listed in the IR for `sender_country` (`None` for a ping: chain only).
fn verify_signed(
    state: &AppState,
    soap: &[u8],
    envelope: &As4Envelope,
    sender_country: Option<&sedgate_base::domain::CountryCode>,
) -> Result<Option<InboundSecurity>, Refusal> {
    if envelope.security.is_none() {
        if state.security.require_signature {
            return Err(WsSecError::NoSecurityHeader.into());
        }
        return Ok(None);
    }
    let claimed = wssec::claimed_references(soap)?;
    let expected: HashMap<String, (wssec::DigestAlg, Vec<u8>)> = claimed
        .iter()
        .filter_map(|r| {
            r.uri
                .strip_prefix("cid:")
                .map(|cid| (cid.to_owned(), (r.digest_alg, r.digest_value.clone())))
        })
        .collect();
    let attachments: Vec<AttachmentDigest<'_>> = expected
        .iter()
        .map(|(cid, (alg, value))| AttachmentDigest {
            content_id: cid,
            content: AttachmentContent::Digest {
                alg: *alg,
                value: value.clone(),
            },
        })
        .collect();
    let now = Utc::now();
    let verified = wssec::verify_envelope(soap, &attachments, &wssec::VerifyOptions::at(now, &[]))?;
    let signer = match sender_country {
        Some(country) => {
            state
                .security
                .check_signer(&verified.signer_cert_der, country, &state.ir(), now)
        }
        None => state.security.check_chain(&verified.signer_cert_der, now),
    };
    signer.map_err(|e| Refusal::from(WsSecError::Certificate(e.to_string())))?;
    let encrypted = envelope
        .security
        .as_ref()
        .is_some_and(|s| s.encrypted_key_count > 0 || s.encrypted_data_count > 0);
    Ok(Some(InboundSecurity {
        verified,
        expected,
        encrypted,
    }))
}

struct Received {
    part: PayloadRef,
    /// Staged until the message is stored; dropped, it leaves nothing behind.
    staged: StagedPart,
    /// The SED's bytes, kept for validation.
    sed: Option<Bytes>,
}

/// Ends processing early: a refusal, or the receipt of a message seen before.
enum Stop {
    Refuse(Refusal),
    Answer(Vec<u8>),
}

impl From<Refusal> for Stop {
    fn from(r: Refusal) -> Self {
        Stop::Refuse(r)
    }
}

impl From<As4Error> for Stop {
    fn from(e: As4Error) -> Self {
        Stop::Refuse(e.into())
    }
}

/// What the root part said.
struct Header {
    envelope: As4Envelope,
    /// `None` for the ebMS test service (ping).
    info: Option<SedHeaderInfo>,
    refs: Vec<PayloadRef>,
    /// `None` for an unsigned message (accepted only when signatures are not required).
    security: Option<InboundSecurity>,
}

fn delivery_failure(e: impl std::fmt::Display) -> Refusal {
    tracing::warn!(error = %e, "cannot complete delivery");
    Refusal::new(
        EbmsCode::DeliveryFailure,
        "the receiving gateway could not store the message; send it again later",
    )
}

/// The one UserMessage of an envelope that passes the EESSI profile.
fn accepted_user_message<'a>(
    envelope: &'a As4Envelope,
    in_reply_to: &mut Option<String>,
) -> Result<&'a UserMessage, As4Error> {
    if let Some(um) = envelope.user_messages().next() {
        *in_reply_to = Some(um.message_info.message_id.trim().to_owned());
    }
    check_profile(envelope, &ProfileRules::eessi())?;
    envelope.user_message().ok_or(As4Error::EmptyMessaging)
}

/// The TLS client certificate must be one the IR lists for the access point of the
/// sender's country, and the receiver must be served by this gateway.
fn authorise_peer(
    state: &AppState,
    peer: &PeerIdentity,
    info: &SedHeaderInfo,
) -> Result<(), Refusal> {
    let country = info.sender.country();
    let index = state.ir();
    let allowed = index
        .access_point(&country)
        .is_some_and(|ap| ap.cert_fingerprints.contains(&peer.fingerprint));
    if !allowed {
        return Err(Refusal::new(
            EbmsCode::Other,
            format!(
                "the TLS certificate {} ({}) is not registered for the access point of {}, the sender's country",
                peer.fingerprint, peer.subject, country
            ),
        ));
    }
    if info.receiver.country() != state.config.country {
        return Err(Refusal::new(
            EbmsCode::ProcessingModeMismatch,
            format!(
                "receiver {} is not served by this gateway ({})",
                info.receiver, state.config.country
            ),
        ));
    }
    Ok(())
}

async fn write_part(part: &mut IncomingPart, data: &[u8], sed_cap: u64) -> Result<(), Refusal> {
    if let Some((digester, _)) = part.digest.as_mut() {
        digester.update(data);
    }
    match &mut part.body {
        PartBody::Plain { .. } if part.failed.is_some() => Ok(()),
        PartBody::Plain { gunzip, sink } => {
            let mut out = Vec::new();
            if let Err(source) = gunzip.feed(data, &mut out) {
                let error = As4Error::Decompression {
                    content_id: Some(part.reference.content_id.clone()),
                    source,
                };
                if part.digest.is_none() {
                    return Err(error.into());
                }
                part.failed = Some(error);
                return Ok(());
            }
            sink_write(sink, &out, sed_cap).await
        }
        PartBody::Encrypted { bytes, .. } => {
            bytes.extend_from_slice(data);
            Ok(())
        }
    }
}

async fn sink_write(sink: &mut Sink, bytes: &[u8], sed_cap: u64) -> Result<(), Refusal> {
    match sink {
        Sink::Memory(buf) => {
            if (buf.len() + bytes.len()) as u64 > sed_cap {
                return Err(Refusal::new(
                    EbmsCode::Other,
                    format!("the SED is larger than {sed_cap} bytes"),
                ));
            }
            buf.extend_from_slice(bytes);
            Ok(())
        }
        Sink::Blob(writer) => writer.write(bytes).await.map_err(delivery_failure),
    }
}

async fn finish_part(
    state: &AppState,
    part: IncomingPart,
    sed_cap: u64,
) -> Result<Received, Refusal> {
    let IncomingPart {
        reference,
        digest,
        failed,
        body,
    } = part;
    let PartBody::Plain { gunzip, mut sink } = body else {
        return Err(delivery_failure(
            "an encrypted part reached the payload store",
        ));
    };
    if let Some((digester, expected)) = digest {
        if digester.finish() != expected {
            if let Sink::Blob(writer) = sink {
                writer.abort().await;
            }
            return Err(WsSecError::DigestMismatch {
                uri: format!("cid:{}", reference.content_id),
            }
            .into());
        }
    }
    if let Some(error) = failed {
        if let Sink::Blob(writer) = sink {
            writer.abort().await;
        }
        return Err(error.into());
    }
    let mut out = Vec::new();
    gunzip
        .finish(&mut out)
        .map_err(|source| As4Error::Decompression {
            content_id: Some(reference.content_id.clone()),
            source,
        })?;
    sink_write(&mut sink, &out, sed_cap).await?;
    match sink {
        Sink::Memory(bytes) => {
            let bytes = Bytes::from(bytes);
            let staged = if bytes.len() as u64 <= state.store.inline_payload_bytes() {
                StagedPart::inline(bytes.clone())
            } else {
                let mut writer = state.store.payload_writer();
                writer.write(&bytes).await.map_err(delivery_failure)?;
                writer.finish().await.map_err(delivery_failure)?
            };
            Ok(Received {
                part: reference,
                staged,
                sed: Some(bytes),
            })
        }
        Sink::Blob(writer) => Ok(Received {
            part: reference,
            staged: writer.finish().await.map_err(delivery_failure)?,
            sed: None,
        }),
    }
}

/// The same checks as intake: hardened parse, XSD, and the ids in the SED header must
/// agree with the ebMS header.
async fn validate_sed(state: &AppState, info: &SedHeaderInfo, sed: Bytes) -> Result<(), Refusal> {
    let findings = state
        .xsd
        .validate(info.cdm, &info.sed_type, Arc::from(sed.as_ref()))
        .await
        .map_err(|e| Refusal::new(EbmsCode::Other, format!("SED refused: {e}")))?;
    if let Some(first) = findings.first() {
        return Err(Refusal::new(
            EbmsCode::Other,
            format!(
                "SED invalid ({} finding(s)); first at line {}, {}: {}",
                findings.len(),
                first.line,
                first.path,
                first.message
            ),
        ));
    }
    let doc = sedgate_base::xml::parse(&sed, &XmlLimits::default())
        .map_err(|e| Refusal::new(EbmsCode::Other, format!("SED refused: {e}")))?;
    let header = crate::sed::extract_header(&doc)
        .map_err(|e| Refusal::new(EbmsCode::Other, format!("SED header: {e}")))?;
    let disagree = |what: &str, in_sed: String, in_ebms: String| {
        Refusal::new(
            EbmsCode::ValueInconsistent,
            format!("{what} is {in_sed} in the SED but {in_ebms} in the ebMS header"),
        )
    };
    if header.case_id != info.case_id {
        return Err(disagree(
            "the case id",
            header.case_id.to_string(),
            info.case_id.to_string(),
        ));
    }
    if header.sender != info.sender {
        return Err(disagree(
            "the sender",
            header.sender.to_string(),
            info.sender.to_string(),
        ));
    }
    if !header.receivers.contains(&info.receiver) {
        return Err(disagree(
            "the receiver",
            header
                .receivers
                .iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
                .join(","),
            info.receiver.to_string(),
        ));
    }
    Ok(())
}

/// The receipt: signed with non-repudiation information when the message was signed and we
/// have a key; plain otherwise.
async fn receipt_for(
    state: &AppState,
    um: &UserMessage,
    security: Option<&InboundSecurity>,
) -> Result<Vec<u8>, Refusal> {
    let info = MessageInfo::new(&MessageId::generate(&state.config.party_domain), Utc::now());
    let (Some(security), Some(key)) = (security, state.security.key()) else {
        return Ok(build_receipt(um, &info).xml);
    };
    let (um, verified) = (um.clone(), security.verified.clone());
    // RSA signing off the async workers.
    tokio::task::spawn_blocking(move || {
        wssec::build_signed_receipt(&um, &verified, &info, &key, Utc::now())
    })
    .await
    .map_err(delivery_failure)?
    .map(|signed| signed.xml)
    .map_err(delivery_failure)
}

fn new_part(
    state: &AppState,
    reference: PayloadRef,
    security: Option<&InboundSecurity>,
    sink: Sink,
    sed_cap: u64,
) -> Result<IncomingPart, Refusal> {
    let digest = security
        .map(|s| s.digester_for(&reference.content_id))
        .transpose()?;
    Ok(IncomingPart {
        reference,
        digest,
        failed: None,
        body: PartBody::Plain {
            gunzip: Box::new(Gunzip::new(GzipLimits {
                max_output_bytes: state.config.as4.max_message_bytes.max(sed_cap),
                ..GzipLimits::default()
            })),
            sink,
        },
    })
}

async fn sink_for(state: &AppState, reference: &PayloadRef) -> Result<Sink, Refusal> {
    Ok(if reference.part_type == PartType::Sed {
        Sink::Memory(Vec::new())
    } else {
        Sink::Blob(Box::new(state.store.payload_writer()))
    })
}

/// Decrypts the buffered ciphertext parts and runs them through the same path as plain ones.
async fn decrypt_parts(
    state: &AppState,
    run: &mut Run,
    security: &InboundSecurity,
    sed_cap: u64,
) -> Result<(), Refusal> {
    let key = state
        .security
        .key()
        .ok_or_else(|| Refusal::from(WsSecError::Decryption("no private key configured".into())))?;
    let parts = std::mem::take(&mut run.encrypted);
    let attachments: Vec<sedgate_as4::Attachment> = parts
        .iter()
        .map(|(reference, content_type, bytes)| sedgate_as4::Attachment {
            content_id: Some(reference.content_id.clone()),
            content_type: content_type.clone(),
            body: bytes.clone(),
        })
        .collect();
    let root = run.root.clone();
    let decrypted =
        tokio::task::spawn_blocking(move || wssec::decrypt_attachments(&root, &attachments, &key))
            .await
            .map_err(delivery_failure)??;
    for (reference, _, _) in parts {
        let plain = decrypted
            .iter()
            .find(|d| d.content_id.as_deref() == Some(reference.content_id.as_str()))
            .ok_or_else(|| {
                WsSecError::Decryption(format!("part {} not decrypted", reference.content_id))
            })?;
        let sink = sink_for(state, &reference).await?;
        let mut part = new_part(state, reference, Some(security), sink, sed_cap)?;
        if let Err(refusal) = write_part(&mut part, &plain.body, sed_cap).await {
            if let PartBody::Plain {
                sink: Sink::Blob(writer),
                ..
            } = part.body
            {
                writer.abort().await;
            }
            return Err(refusal);
        }
        run.received.push(finish_part(state, part, sed_cap).await?);
    }
    Ok(())
}

async fn process(
    state: &AppState,
    peer: &PeerIdentity,
    headers: &HeaderMap,
    body: Body,
    in_reply_to: &mut Option<String>,
) -> Result<Vec<u8>, Refusal> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let ct = ContentType::parse(&content_type).map_err(As4Error::Mime)?;
    let mut stream = body.into_data_stream();
    if ct.mime_type != "multipart/related" {
        return process_bare_soap(state, &content_type, &mut stream, in_reply_to).await;
    }

    let limit = state.config.as4.max_message_bytes;
    let sed_cap = state.config.api.max_sed_bytes;
    let mut parser =
        MimeParser::new(&content_type, MimeLimits::default()).map_err(As4Error::Mime)?;
    let mut run = Run {
        root: Vec::new(),
        in_root: false,
        header: None,
        current: None,
        received: Vec::new(),
        encrypted: Vec::new(),
        encrypted_bytes: 0,
        seen_ids: Vec::new(),
    };
    let outcome = run
        .consume(
            state,
            peer,
            &mut parser,
            &mut stream,
            limit,
            sed_cap,
            in_reply_to,
        )
        .await;
    if let Err(stop) = outcome {
        if let Some(IncomingPart {
            body:
                PartBody::Plain {
                    sink: Sink::Blob(writer),
                    ..
                },
            ..
        }) = run.current.take()
        {
            writer.abort().await;
        }
        return match stop {
            Stop::Answer(receipt) => Ok(receipt),
            Stop::Refuse(refusal) => Err(refusal),
        };
    }
    let Some(header) = run.header.take() else {
        return Err(As4Error::MissingRootPart {
            start: parser.start().map(str::to_owned),
        }
        .into());
    };
    if let Some(security) = header.security.as_ref().filter(|s| s.encrypted) {
        decrypt_parts(state, &mut run, security, sed_cap).await?;
    }
    let Header {
        envelope,
        info,
        security,
        ..
    } = header;
    let seen: Vec<Option<&str>> = run.seen_ids.iter().map(|s| s.as_deref()).collect();
    check_attachments(&envelope, &seen)?;
    let um = envelope.user_message().ok_or(As4Error::EmptyMessaging)?;
    let Some(info) = info else {
        // The ebMS test service: a receipt, nothing delivered.
        return receipt_for(state, um, security.as_ref()).await;
    };

    let sed = run
        .received
        .iter()
        .find_map(|r| r.sed.clone())
        .ok_or(As4Error::SedNotFirst { found: None })?;
    validate_sed(state, &info, sed).await?;

    // `run.received` keeps the staged payloads until the store has answered.
    let parts = run
        .received
        .iter()
        .map(|r| {
            r.staged.part(
                match r.part.part_type {
                    PartType::Sed => StoredPartType::Sed,
                    PartType::Attachment => StoredPartType::Attachment,
                },
                r.part.content_id.clone(),
                r.part.mime_type.clone(),
                None,
            )
        })
        .collect();
    let now = Utc::now();
    let receipt = receipt_for(state, um, security.as_ref()).await?;
    let evidence = security.as_ref().map(|s| {
        s.evidence(
            &info.message_id,
            &info.sender.country(),
            &run.root,
            &receipt,
            now,
        )
    });
    let message = InboundMessage {
        id: info.message_id.clone(),
        case_id: info.case_id.clone(),
        buc: info.buc.clone(),
        sed_type: info.sed_type.clone(),
        cdm: info.cdm,
        sender: info.sender.clone(),
        receiver: info.receiver.clone(),
        peer_country: info.sender.country(),
        parts,
        receipt,
        evidence,
        now,
    };
    let receipt = message.receipt.clone();
    match state
        .store
        .store_inbound(message)
        .await
        .map_err(delivery_failure)?
    {
        InboundOutcome::Stored => {
            tracing::info!(message_id = %info.message_id, sender = %info.sender, receiver = %info.receiver, "SED received");
            Ok(receipt)
        }
        InboundOutcome::Duplicate { receipt } => Ok(receipt),
    }
}

/// A SOAP message without MIME: only a ping without payloads is acceptable.
async fn process_bare_soap(
    state: &AppState,
    content_type: &str,
    stream: &mut axum::body::BodyDataStream,
    in_reply_to: &mut Option<String>,
) -> Result<Vec<u8>, Refusal> {
    let cap = XmlLimits::default().max_bytes;
    let mut soap = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| Refusal::new(EbmsCode::Other, format!("reading body: {e}")))?;
        if soap.len() + chunk.len() > cap {
            return Err(Refusal::new(EbmsCode::Other, "SOAP message too large"));
        }
        soap.extend_from_slice(&chunk);
    }
    let message = sedgate_as4::parse_message(content_type, &soap)?;
    let um = accepted_user_message(&message.envelope, in_reply_to)?;
    match payload_refs(um)?.first() {
        None if um.is_test_message() => {
            let security = verify_signed(state, &message.soap, &message.envelope, None)?;
            receipt_for(state, um, security.as_ref()).await
        }
        None => Err(As4Error::SedNotFirst { found: None }.into()),
        Some(first) => Err(As4Error::MissingPayloadPart {
            content_id: first.content_id.clone(),
        }
        .into()),
    }
}

/// The state of one multipart request while it streams.
struct Run {
    root: Vec<u8>,
    in_root: bool,
    header: Option<Header>,
    current: Option<IncomingPart>,
    received: Vec<Received>,
    /// Ciphertext parts (reference, content type, bytes) awaiting decryption.
    encrypted: Vec<(PayloadRef, Option<String>, Vec<u8>)>,
    encrypted_bytes: u64,
    seen_ids: Vec<Option<String>>,
}

impl Run {
    #[allow(clippy::too_many_arguments)]
    async fn consume(
        &mut self,
        state: &AppState,
        peer: &PeerIdentity,
        parser: &mut MimeParser,
        stream: &mut axum::body::BodyDataStream,
        limit: u64,
        sed_cap: u64,
        in_reply_to: &mut Option<String>,
    ) -> Result<(), Stop> {
        let mut events = Vec::new();
        let mut total: u64 = 0;
        while let Some(chunk) = stream.next().await {
            let chunk =
                chunk.map_err(|e| Refusal::new(EbmsCode::Other, format!("reading body: {e}")))?;
            total += chunk.len() as u64;
            if total > limit {
                return Err(Refusal::new(
                    EbmsCode::Other,
                    format!("message larger than the {limit} bytes this gateway accepts"),
                )
                .into());
            }
            parser.feed(&chunk, &mut events).map_err(As4Error::Mime)?;
            for event in events.drain(..) {
                self.on_event(state, peer, parser, event, sed_cap, in_reply_to)
                    .await?;
            }
        }
        parser.finish().map_err(As4Error::Mime)?;
        Ok(())
    }

    async fn on_event(
        &mut self,
        state: &AppState,
        peer: &PeerIdentity,
        parser: &MimeParser,
        event: MimeEvent,
        sed_cap: u64,
        in_reply_to: &mut Option<String>,
    ) -> Result<(), Stop> {
        match event {
            MimeEvent::PartStart { is_root: true, .. } => self.in_root = true,
            MimeEvent::PartStart {
                headers,
                is_root: false,
            } => {
                let Some(header) = &self.header else {
                    return Err(As4Error::MissingRootPart {
                        start: parser.start().map(str::to_owned),
                    }
                    .into());
                };
                self.seen_ids.push(headers.content_id.clone());
                let content_id = headers.content_id.clone().unwrap_or_default();
                let reference = header
                    .refs
                    .iter()
                    .find(|r| r.content_id == content_id)
                    .cloned()
                    .ok_or(As4Error::UnreferencedPart {
                        content_id: headers.content_id.clone(),
                    })?;
                let security = header.security.as_ref();
                self.current = Some(if security.is_some_and(|s| s.encrypted) {
                    IncomingPart {
                        reference,
                        digest: None,
                        failed: None,
                        body: PartBody::Encrypted {
                            content_type: headers.content_type.clone(),
                            bytes: Vec::new(),
                        },
                    }
                } else {
                    let sink = sink_for(state, &reference).await?;
                    new_part(state, reference, security, sink, sed_cap)?
                });
            }
            MimeEvent::PartData(data) => {
                if self.in_root {
                    self.root.extend_from_slice(&data);
                } else if let Some(part) = self.current.as_mut() {
                    if matches!(part.body, PartBody::Encrypted { .. }) {
                        self.encrypted_bytes += data.len() as u64;
                        if self.encrypted_bytes > MAX_ENCRYPTED_BYTES {
                            return Err(Refusal::new(
                                EbmsCode::Other,
                                format!(
                                    "encrypted messages may carry at most {MAX_ENCRYPTED_BYTES} bytes"
                                ),
                            )
                            .into());
                        }
                    }
                    write_part(part, &data, sed_cap).await?;
                }
            }
            MimeEvent::PartEnd => {
                if self.in_root {
                    self.in_root = false;
                    self.header = Some(self.read_root(state, peer, in_reply_to).await?);
                } else if let Some(part) = self.current.take() {
                    match part.body {
                        PartBody::Encrypted {
                            content_type,
                            bytes,
                        } => self.encrypted.push((part.reference, content_type, bytes)),
                        PartBody::Plain { .. } => {
                            self.received.push(finish_part(state, part, sed_cap).await?)
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Checks the envelope as soon as it has arrived, before any payload is stored.
    async fn read_root(
        &mut self,
        state: &AppState,
        peer: &PeerIdentity,
        in_reply_to: &mut Option<String>,
    ) -> Result<Header, Stop> {
        let envelope = parse_envelope(&self.root)?;
        let um = accepted_user_message(&envelope, in_reply_to)?;
        let refs = payload_refs(um)?;
        let (info, security) = if um.is_test_message() {
            let security = verify_signed(state, &self.root, &envelope, None)?;
            (None, security)
        } else {
            let info = read_user_message(um)?;
            authorise_peer(state, peer, &info)?;
            let security =
                verify_signed(state, &self.root, &envelope, Some(&info.sender.country()))?;
            // A resend of a message already stored: the same receipt again.
            if let Some(receipt) = state
                .store
                .inbound_receipt(&info.message_id, info.sender.country().as_str())
                .await
                .map_err(delivery_failure)?
            {
                return Err(Stop::Answer(receipt));
            }
            (Some(info), security)
        };
        Ok(Header {
            envelope,
            info,
            refs,
            security,
        })
    }
}
