//! Sends an outbox message to the receiving country's access point as an AS4
//! UserMessage: SOAP envelope first, then the SED and attachments gzip-compressed as
//! MIME parts, streamed from the payload store (a large attachment is never held whole).

use std::sync::Arc;

use arc_swap::ArcSwap;
use bytes::Bytes;
use chrono::Utc;
use futures::{Stream, StreamExt};
use tokio::io::AsyncReadExt;

use super::{SendResult, Transmitter};
use crate::as4::eessi::{self, PayloadRef, SedHeaderInfo};
use crate::as4::gzip::Gzip;
use crate::as4::{build_user_message, parse_message, EbmsCode, MimeWriter, PartType};
use crate::ir::IrIndex;
use crate::store::{OutboxItem, PartType as StoredPartType, PayloadData, Store};
use crate::transport::OutboundClient;

/// Largest response we read: receipts and error signals are small.
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;
const CHUNK: usize = 64 * 1024;

pub struct As4Sender {
    pub client: OutboundClient,
    pub store: Store,
    pub ir: Arc<ArcSwap<IrIndex>>,
    pub pmode: Option<String>,
}

type ByteStream = std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

/// A payload's bytes gzip-compressed as a stream of chunks.
async fn gzip_stream(data: PayloadData) -> Result<ByteStream, std::io::Error> {
    match data {
        PayloadData::Inline(bytes) => {
            let mut out = Vec::new();
            let mut gz = Gzip::new();
            gz.feed(&bytes, &mut out);
            gz.finish(&mut out);
            Ok(Box::pin(futures::stream::once(async move {
                Ok(Bytes::from(out))
            })))
        }
        PayloadData::Blob(path) => {
            let file = tokio::fs::File::open(&path).await?;
            let state = (file, Some(Gzip::new()));
            Ok(Box::pin(futures::stream::unfold(
                state,
                |(mut file, gz)| async move {
                    let mut gz = gz?;
                    let mut buf = vec![0u8; CHUNK];
                    loop {
                        match file.read(&mut buf).await {
                            Ok(0) => {
                                let mut out = Vec::new();
                                gz.finish(&mut out);
                                return Some((Ok(Bytes::from(out)), (file, None)));
                            }
                            Ok(n) => {
                                let mut out = Vec::new();
                                gz.feed(&buf[..n], &mut out);
                                if !out.is_empty() {
                                    return Some((Ok(Bytes::from(out)), (file, Some(gz))));
                                }
                            }
                            Err(e) => return Some((Err(e), (file, None))),
                        }
                    }
                },
            )))
        }
    }
}

/// Why a message body could not be put together.
enum BodyError {
    /// A payload is gone: retrying will not bring it back.
    Missing(String),
    /// The store failed (connection lost, database restarting): try again later.
    Store(String),
}

impl As4Sender {
    async fn body(&self, item: &OutboxItem) -> Result<(String, ByteStream), BodyError> {
        let m = &item.message;
        let refs: Vec<PayloadRef> = item
            .parts
            .iter()
            .map(|p| PayloadRef {
                content_id: p.content_id.clone(),
                mime_type: p.mime_type.clone(),
                part_type: match p.part_type {
                    StoredPartType::Sed => PartType::Sed,
                    StoredPartType::Attachment => PartType::Attachment,
                },
            })
            .collect();
        let info = SedHeaderInfo {
            message_id: m.id.clone(),
            timestamp: Utc::now(),
            case_id: m.case_id.clone(),
            buc: m.buc.clone(),
            sed_type: m.sed_type.clone(),
            cdm: m.cdm_version,
            sender: m.sender.clone(),
            receiver: m.receiver.clone(),
            pmode: self.pmode.clone(),
        };
        let envelope = build_user_message(&eessi::user_message(&info, &refs));
        let writer = MimeWriter::new();
        let mut pieces: Vec<ByteStream> = vec![Box::pin(futures::stream::iter([
            Ok(Bytes::from(writer.root_head())),
            Ok(Bytes::from(envelope.xml)),
        ]))];
        for part in &item.parts {
            let data = self
                .store
                .payload(&part.hash)
                .await
                .map_err(|e| BodyError::Store(format!("payload {}: {e}", part.hash)))?
                .ok_or_else(|| BodyError::Missing(format!("payload {} is missing", part.hash)))?;
            let head = Bytes::from(writer.part_head(&part.content_id, "application/gzip"));
            pieces.push(Box::pin(futures::stream::once(async move { Ok(head) })));
            pieces.push(
                gzip_stream(data)
                    .await
                    .map_err(|e| BodyError::Missing(format!("payload {}: {e}", part.hash)))?,
            );
        }
        let close = Bytes::from(writer.close());
        pieces.push(Box::pin(futures::stream::once(async move { Ok(close) })));
        Ok((
            writer.content_type(),
            Box::pin(futures::stream::iter(pieces).flatten()),
        ))
    }
}

#[async_trait::async_trait]
impl Transmitter for As4Sender {
    async fn send(&self, item: &OutboxItem) -> SendResult {
        let m = &item.message;
        let endpoint = match self.ir.load().access_point(&m.peer_country) {
            Some(ap) => ap.endpoint_url.clone(),
            None => {
                return SendResult::Transport(format!(
                    "no access point for {} in the IR",
                    m.peer_country
                ))
            }
        };
        let (content_type, body) = match self.body(item).await {
            Ok(b) => b,
            // A missing payload will not appear by retrying; a store failure may pass.
            Err(BodyError::Missing(e)) => return SendResult::Rejected(e),
            Err(BodyError::Store(e)) => return SendResult::Transport(e),
        };
        let client = match self.client.client() {
            Ok(c) => c,
            Err(e) => return SendResult::Transport(format!("TLS client: {e}")),
        };
        let response = match client
            .post(&endpoint)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .header("SOAPAction", "")
            .body(reqwest::Body::wrap_stream(body))
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => {
                return SendResult::Transport(format!("POST {endpoint}: {}", error_chain(&e)))
            }
        };
        let status = response.status();
        let response_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let bytes = match read_capped(response).await {
            Ok(b) => b,
            Err(e) => {
                return SendResult::Transport(format!("reading the answer of {endpoint}: {e}"))
            }
        };
        classify(m.id.as_str(), status, &response_type, bytes)
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        if out.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err("answer too large".into());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Turns the peer's answer into a send result: a receipt for this message, an ebMS
/// error, or something that is neither.
pub fn classify(
    message_id: &str,
    status: reqwest::StatusCode,
    content_type: &str,
    body: Vec<u8>,
) -> SendResult {
    let parsed = parse_message(
        if content_type.is_empty() {
            "application/soap+xml"
        } else {
            content_type
        },
        &body,
    );
    let signal = parsed
        .ok()
        .and_then(|m| m.envelope.signal_message().cloned());
    match signal {
        Some(s) if s.receipt.is_some() => {
            if s.message_info.ref_to_message_id.as_deref().map(str::trim) == Some(message_id) {
                SendResult::Receipt(body)
            } else {
                SendResult::Rejected(format!(
                    "receipt refers to {:?}, not to {message_id}",
                    s.message_info.ref_to_message_id
                ))
            }
        }
        Some(s) if !s.errors.is_empty() => {
            let e = &s.errors[0];
            SendResult::Refused {
                code: e.error_code.clone(),
                detail: e
                    .description
                    .clone()
                    .or_else(|| e.short_description.clone())
                    .unwrap_or_default(),
                retryable: e.error_code == EbmsCode::DeliveryFailure.as_str(),
            }
        }
        _ if status.is_server_error() => {
            SendResult::Transport(format!("HTTP {status} without an ebMS signal"))
        }
        _ => SendResult::Rejected(format!("HTTP {status} without a receipt or ebMS error")),
    }
}
