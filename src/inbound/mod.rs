//! The inbound `/as4` endpoint, served on the mutual-TLS listener.
//!
//! One request: MIME is parsed as it streams in; the envelope (root part) is checked
//! against the EESSI profile, the peer's TLS certificate against the IR entry of the
//! sender's country, and a MessageId seen before is answered with the receipt sent
//! then. Payloads are decompressed and hashed on the way to the payload store; the SED
//! goes through the same XSD validation as intake. Only after the inbox row has
//! committed is the receipt returned. Every refusal is an ebMS error signal.

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
use sha2::{Digest, Sha256};

use crate::api::AppState;
use crate::as4::eessi::{payload_refs, read_user_message, PayloadRef, SedHeaderInfo};
use crate::as4::gzip::{Gunzip, GzipLimits};
use crate::as4::mime::{ContentType, MimeEvent, MimeLimits, MimeParser};
use crate::as4::{
    build_error, build_receipt, check_attachments, check_profile, parse_envelope, As4Envelope,
    As4Error, EbmsCode, EbmsError, MessageInfo, PartType, ProfileRules, UserMessage,
};
use crate::domain::MessageId;
use crate::ops::metrics::{EbmsLabels, OutcomeLabels};
use crate::store::{
    BlobWriter, InboundMessage, InboundOutcome, NewPart, PartType as StoredPartType, StoredPayload,
};
use crate::transport::PeerIdentity;
use crate::xml::XmlLimits;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/as4", post(receive))
        // The body is streamed and capped by `as4.max_message_bytes` below.
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

/// Why a message was refused: the ebMS error to answer with.
struct Refusal {
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
            let error = refusal.error.with_ref_to(in_reply_to.as_deref());
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
    Blob(Box<BlobWriter>),
}

struct IncomingPart {
    reference: PayloadRef,
    gunzip: Gunzip,
    sink: Sink,
}

struct Received {
    part: PayloadRef,
    hash: String,
    size: u64,
    stored: StoredPayload,
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
    let mut out = Vec::new();
    part.gunzip
        .feed(data, &mut out)
        .map_err(|source| As4Error::Decompression {
            content_id: Some(part.reference.content_id.clone()),
            source,
        })?;
    sink_write(&mut part.sink, &out, sed_cap).await
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
        gunzip,
        mut sink,
    } = part;
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
            let hash = hex::encode(Sha256::digest(&bytes));
            let bytes = Bytes::from(bytes);
            let size = bytes.len() as u64;
            let stored = if size <= state.store.inline_payload_bytes() {
                StoredPayload::Inline(bytes.clone())
            } else {
                let mut writer = state.store.blob_writer().await.map_err(delivery_failure)?;
                writer.write(&bytes).await.map_err(delivery_failure)?;
                writer.finish().await.map_err(delivery_failure)?;
                StoredPayload::Blob
            };
            Ok(Received {
                part: reference,
                hash,
                size,
                stored,
                sed: Some(bytes),
            })
        }
        Sink::Blob(writer) => {
            let written = writer.finish().await.map_err(delivery_failure)?;
            Ok(Received {
                part: reference,
                hash: written.hash,
                size: written.size,
                stored: StoredPayload::Blob,
                sed: None,
            })
        }
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
    let doc = crate::xml::parse(&sed, &XmlLimits::default())
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

fn receipt_for(state: &AppState, um: &UserMessage) -> Vec<u8> {
    let info = MessageInfo::new(&MessageId::generate(&state.config.party_domain), Utc::now());
    build_receipt(um, &info).xml
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
            sink: Sink::Blob(writer),
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
    let Header { envelope, info, .. } = run.header.ok_or_else(|| As4Error::MissingRootPart {
        start: parser.start().map(str::to_owned),
    })?;
    let seen: Vec<Option<&str>> = run.seen_ids.iter().map(|s| s.as_deref()).collect();
    check_attachments(&envelope, &seen)?;
    let um = envelope.user_message().ok_or(As4Error::EmptyMessaging)?;
    let Some(info) = info else {
        // The ebMS test service: a receipt, nothing delivered.
        return Ok(receipt_for(state, um));
    };

    let sed = run
        .received
        .iter()
        .find_map(|r| r.sed.clone())
        .ok_or(As4Error::SedNotFirst { found: None })?;
    validate_sed(state, &info, sed).await?;

    let parts = run
        .received
        .into_iter()
        .map(|r| NewPart {
            part_type: match r.part.part_type {
                PartType::Sed => StoredPartType::Sed,
                PartType::Attachment => StoredPartType::Attachment,
            },
            content_id: r.part.content_id,
            mime_type: r.part.mime_type,
            filename: None,
            hash: r.hash,
            size: r.size,
            stored: r.stored,
        })
        .collect();
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
        receipt: receipt_for(state, um),
        now: Utc::now(),
    };
    match state
        .store
        .store_inbound(&message)
        .await
        .map_err(delivery_failure)?
    {
        InboundOutcome::Stored => {
            tracing::info!(message_id = %info.message_id, sender = %info.sender, receiver = %info.receiver, "SED received");
            Ok(message.receipt)
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
    let message = crate::as4::parse_message(content_type, &soap)?;
    let um = accepted_user_message(&message.envelope, in_reply_to)?;
    match payload_refs(um)?.first() {
        None if um.is_test_message() => Ok(receipt_for(state, um)),
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
                let sink = if reference.part_type == PartType::Sed {
                    Sink::Memory(Vec::new())
                } else {
                    Sink::Blob(Box::new(
                        state.store.blob_writer().await.map_err(delivery_failure)?,
                    ))
                };
                self.current = Some(IncomingPart {
                    reference,
                    gunzip: Gunzip::new(GzipLimits {
                        max_output_bytes: state.config.as4.max_message_bytes.max(sed_cap),
                        ..GzipLimits::default()
                    }),
                    sink,
                });
            }
            MimeEvent::PartData(data) => {
                if self.in_root {
                    self.root.extend_from_slice(&data);
                } else if let Some(part) = self.current.as_mut() {
                    write_part(part, &data, sed_cap).await?;
                }
            }
            MimeEvent::PartEnd => {
                if self.in_root {
                    self.in_root = false;
                    self.header = Some(self.read_root(state, peer, in_reply_to).await?);
                } else if let Some(part) = self.current.take() {
                    self.received.push(finish_part(state, part, sed_cap).await?);
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
        let info = if um.is_test_message() {
            None
        } else {
            let info = read_user_message(um)?;
            authorise_peer(state, peer, &info)?;
            // A resend of a message already stored: the same receipt again.
            if let Some(receipt) = state
                .store
                .inbound_receipt(&info.message_id)
                .await
                .map_err(delivery_failure)?
            {
                return Err(Stop::Answer(receipt));
            }
            Some(info)
        };
        Ok(Header {
            envelope,
            info,
            refs,
        })
    }
}
