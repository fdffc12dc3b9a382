//! Sends an outbox message to the receiving country's access point as an AS4
//! UserMessage: SOAP envelope first, then the SED and attachments gzip-compressed as
//! MIME parts, streamed from the payload store (a large attachment is never held whole).
//!
//! With `[security] sign`, the envelope is signed over the compressed parts: a first pass
//! gzips each stored payload only to digest it, the second pass (the send) gzips it again
//! (gzip is deterministic: same input, same octets). The receipt must then be a signed
//! receipt whose NRI lists exactly our signed references, signed by a certificate that
//! chains to our trust anchors and that the IR lists for the receiver's country; anything
//! else is EBMS:0302 and the message is retried within its budget. Envelope, receipt and
//! verification outcome are kept as evidence. With `encrypt`, the compressed parts are held
//! in memory to be encrypted (up to `inbound::MAX_ENCRYPTED_BYTES`).

use std::sync::Arc;

use arc_swap::ArcSwap;
use bytes::Bytes;
use chrono::Utc;
use futures::{Stream, StreamExt};

use super::{SendResult, Transmitter};
use crate::inbound::{evidence_references, MAX_ENCRYPTED_BYTES};
use crate::ir::IrIndex;
use crate::store::{
    Direction, Evidence, OutboxItem, PartType as StoredPartType, Store, StoreError,
};
use crate::transport::{MessageSecurity, OutboundClient};
use sedgate_as4::eessi::{self, PayloadRef, SedHeaderInfo};
use sedgate_as4::gzip::Gzip;
use sedgate_as4::{build_user_message, parse_message, EbmsCode, MimeWriter, PartType};
use sedgate_wssec::{
    self as wssec, AttachmentContent, AttachmentDigest, DigestAlg, SignedEnvelope,
};

/// Largest response we read: receipts and error signals are small.
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

pub struct As4Sender {
    pub client: OutboundClient,
    pub store: Store,
    pub ir: Arc<ArcSwap<IrIndex>>,
    pub pmode: Option<String>,
    pub security: Arc<MessageSecurity>,
}

/// A message ready to send.
struct Prepared {
    content_type: String,
    body: ByteStream,
    /// What we signed (`None` when not signing): the receipt must list these references.
    signed: Option<SignedEnvelope>,
    /// The signed SOAP envelope (before encryption, when encrypting).
    envelope: Vec<u8>,
}

/// SHA-256 of a payload's gzip stream, without keeping it.
async fn compressed_digest(raw: RawStream) -> Result<Vec<u8>, std::io::Error> {
    let mut stream = gzip_stream(raw);
    let mut digester = wssec::Digester::new(DigestAlg::Sha256);
    while let Some(chunk) = stream.next().await {
        digester.update(&chunk?);
    }
    Ok(digester.finish())
}

/// A payload's whole gzip stream in memory (for encryption).
async fn compressed_bytes(raw: RawStream, budget: &mut u64) -> Result<Vec<u8>, String> {
    let mut stream = gzip_stream(raw);
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| e.to_string())?;
        *budget = budget.saturating_sub(chunk.len() as u64);
        if *budget == 0 {
            return Err(format!(
                "payloads larger than {MAX_ENCRYPTED_BYTES} bytes compressed cannot be encrypted"
            ));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

type ByteStream = std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;
/// A payload's stored bytes, in chunks.
type RawStream = futures::stream::BoxStream<'static, Result<Bytes, StoreError>>;

/// A payload's bytes gzip-compressed as a stream of chunks.
fn gzip_stream(raw: RawStream) -> ByteStream {
    Box::pin(futures::stream::unfold(
        (raw, Some(Gzip::new())),
        |(mut raw, gz)| async move {
            let mut gz = gz?;
            loop {
                match raw.next().await {
                    None => {
                        let mut out = Vec::new();
                        gz.finish(&mut out);
                        return Some((Ok(Bytes::from(out)), (raw, None)));
                    }
                    Some(Ok(chunk)) => {
                        let mut out = Vec::new();
                        gz.feed(&chunk, &mut out);
                        if !out.is_empty() {
                            return Some((Ok(Bytes::from(out)), (raw, Some(gz))));
                        }
                    }
                    Some(Err(e)) => {
                        return Some((Err(std::io::Error::other(e)), (raw, None)));
                    }
                }
            }
        },
    ))
}

/// Why a message body could not be put together.
enum BodyError {
    /// A payload is gone: retrying will not bring it back.
    Missing(String),
    /// The store failed (connection lost, database restarting): try again later.
    Store(String),
    /// Cannot be sent as configured (no signing key, no encryption certificate, too large
    /// to encrypt): retrying will not help until an operator acts.
    Unsendable(String),
}

impl As4Sender {
    /// A payload's bytes: inline ones came with the claim, others are streamed from the
    /// payload store.
    async fn payload(&self, item: &OutboxItem, hash: &str) -> Result<RawStream, BodyError> {
        if let Some(bytes) = item.inline_content(hash) {
            let bytes = Bytes::copy_from_slice(bytes);
            return Ok(futures::stream::once(async move { Ok(bytes) }).boxed());
        }
        let body = self
            .store
            .payload_body(hash)
            .await
            .map_err(|e| BodyError::Store(format!("payload {hash}: {e}")))?
            .ok_or_else(|| BodyError::Missing(format!("payload {hash} is missing")))?;
        Ok(self.store.payload_stream(body))
    }

    /// Signs `envelope` over the compressed parts (digested in a first pass).
    async fn sign(
        &self,
        item: &OutboxItem,
        envelope: Vec<u8>,
    ) -> Result<SignedEnvelope, BodyError> {
        let key = self.security.key().ok_or_else(|| {
            BodyError::Unsendable("no signing key configured ([security] sign_key)".into())
        })?;
        let mut digests = Vec::with_capacity(item.parts.len());
        for part in &item.parts {
            let data = self.payload(item, &part.hash).await?;
            let digest = compressed_digest(data)
                .await
                .map_err(|e| BodyError::Missing(format!("payload {}: {e}", part.hash)))?;
            digests.push((part.content_id.clone(), digest));
        }
        // RSA signing off the async workers.
        tokio::task::spawn_blocking(move || {
            let attachments: Vec<AttachmentDigest<'_>> = digests
                .iter()
                .map(|(cid, value)| AttachmentDigest {
                    content_id: cid,
                    content: AttachmentContent::Digest {
                        alg: DigestAlg::Sha256,
                        value: value.clone(),
                    },
                })
                .collect();
            wssec::sign_user_message(&envelope, &attachments, &key, Utc::now())
        })
        .await
        .map_err(|e| BodyError::Unsendable(format!("signing: {e}")))?
        .map_err(|e| BodyError::Unsendable(format!("signing: {e}")))
    }

    /// Encrypts the compressed parts for the receiver; the whole body is in memory.
    async fn encrypted_body(
        &self,
        item: &OutboxItem,
        signed_xml: &[u8],
    ) -> Result<(String, ByteStream, Vec<u8>), BodyError> {
        let m = &item.message;
        let recipient = self
            .security
            .encryption_certificate(&m.peer_country, &self.ir.load())
            .ok_or_else(|| {
                BodyError::Unsendable(format!(
                    "no encryption certificate for {} ([security] encrypt_certs, listed in the IR)",
                    m.peer_country
                ))
            })?;
        let mut budget = MAX_ENCRYPTED_BYTES;
        let mut compressed = Vec::with_capacity(item.parts.len());
        for part in &item.parts {
            let data = self.payload(item, &part.hash).await?;
            compressed.push(
                compressed_bytes(data, &mut budget)
                    .await
                    .map_err(BodyError::Unsendable)?,
            );
        }
        let plain: Vec<wssec::PlainPart<'_>> = item
            .parts
            .iter()
            .zip(&compressed)
            .map(|(p, body)| wssec::PlainPart {
                content_id: &p.content_id,
                mime_type: "application/gzip",
                body,
            })
            .collect();
        let (xml, encrypted) = wssec::encrypt_attachments(signed_xml, &plain, &recipient)
            .map_err(|e| BodyError::Unsendable(format!("encrypting: {e}")))?;
        let writer = MimeWriter::new();
        let mut chunks = vec![Bytes::from(writer.root_head()), Bytes::from(xml.clone())];
        for part in encrypted {
            chunks.push(Bytes::from(
                writer.part_head(&part.content_id, &part.content_type),
            ));
            chunks.push(Bytes::from(part.body));
        }
        chunks.push(Bytes::from(writer.close()));
        Ok((
            writer.content_type(),
            Box::pin(futures::stream::iter(chunks.into_iter().map(Ok))),
            xml,
        ))
    }

    /// The envelope signed for an earlier attempt. A resend must be that very envelope: the
    /// receiver answers a MessageId it has seen with the receipt it gave then, whose NRI lists
    /// the references of the first envelope. Looked up even when `attempts` is 0: a sender
    /// killed after sending but before recording the attempt, or a redriven dead letter,
    /// has sent an envelope that `attempts` does not show (one read per signed send).
    /// A failed read is an error, not "none": signing anew would overwrite the envelope the
    /// peer may already hold, and its receipt would never match again.
    async fn earlier_signature(
        &self,
        item: &OutboxItem,
    ) -> Result<Option<SignedEnvelope>, BodyError> {
        let records = self
            .store
            .evidence(&item.message.id)
            .await
            .map_err(|e| BodyError::Store(format!("reading the signed envelope: {e}")))?;
        let Some(sent) = records
            .into_iter()
            .find(|e| e.direction == Direction::Outbound)
        else {
            return Ok(None);
        };
        let references = wssec::claimed_references(&sent.envelope).map_err(|e| {
            BodyError::Unsendable(format!("the stored signed envelope cannot be read: {e}"))
        })?;
        Ok(Some(SignedEnvelope {
            xml: sent.envelope,
            references,
            signature_value: Vec::new(),
        }))
    }

    /// Keeps the signed envelope before it is sent (for resends and as evidence).
    async fn record_sent(
        &self,
        item: &OutboxItem,
        signed: &SignedEnvelope,
    ) -> Result<(), BodyError> {
        self.store
            .record_evidence(&Evidence {
                message_id: item.message.id.clone(),
                direction: Direction::Outbound,
                peer_country: item.message.peer_country.clone(),
                envelope: signed.xml.clone(),
                references: evidence_references(&signed.references),
                receipt: None,
                peer_cert: None,
                verification: "sent, no receipt yet".into(),
                at: Utc::now(),
            })
            .await
            .map_err(|e| BodyError::Store(format!("storing the signed envelope: {e}")))
    }

    async fn body(&self, item: &OutboxItem) -> Result<Prepared, BodyError> {
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
        let envelope = build_user_message(&eessi::user_message(&info, &refs)).xml;
        let (envelope, signed) = if self.security.sign {
            let signed = match self.earlier_signature(item).await? {
                Some(signed) => signed,
                None => {
                    let signed = self.sign(item, envelope).await?;
                    self.record_sent(item, &signed).await?;
                    signed
                }
            };
            (signed.xml.clone(), Some(signed))
        } else {
            (envelope, None)
        };
        if self.security.encrypt {
            let (content_type, body, _) = self.encrypted_body(item, &envelope).await?;
            // The evidence is the signed envelope; encryption only wraps it for transport.
            return Ok(Prepared {
                content_type,
                body,
                signed,
                envelope,
            });
        }
        let writer = MimeWriter::new();
        let mut pieces: Vec<ByteStream> = vec![Box::pin(futures::stream::iter([
            Ok(Bytes::from(writer.root_head())),
            Ok(Bytes::from(envelope.clone())),
        ]))];
        for part in &item.parts {
            let data = self.payload(item, &part.hash).await?;
            let head = Bytes::from(writer.part_head(&part.content_id, "application/gzip"));
            pieces.push(Box::pin(futures::stream::once(async move { Ok(head) })));
            pieces.push(gzip_stream(data));
        }
        let close = Bytes::from(writer.close());
        pieces.push(Box::pin(futures::stream::once(async move { Ok(close) })));
        Ok(Prepared {
            content_type: writer.content_type(),
            body: Box::pin(futures::stream::iter(pieces).flatten()),
            signed,
            envelope,
        })
    }

    /// A receipt for a signed message must be signed and list our references; it and the
    /// envelope are kept as evidence either way.
    async fn check_receipt(
        &self,
        item: &OutboxItem,
        envelope: &[u8],
        signed: &SignedEnvelope,
        receipt: Vec<u8>,
    ) -> SendResult {
        let m = &item.message;
        let now = Utc::now();
        let verified = wssec::verify_receipt(
            &receipt,
            m.id.as_str(),
            &signed.references,
            &wssec::VerifyOptions::at(now, &[]),
        )
        .map_err(|e| e.to_string())
        .and_then(|v| {
            self.security
                .check_signer(
                    &v.verified.signer_cert_der,
                    &m.peer_country,
                    &self.ir.load(),
                    now,
                )
                .map(|()| v)
                .map_err(|e| e.to_string())
        });
        let evidence = Evidence {
            message_id: m.id.clone(),
            direction: Direction::Outbound,
            peer_country: m.peer_country.clone(),
            envelope: envelope.to_vec(),
            references: evidence_references(&signed.references),
            receipt: Some(receipt.clone()),
            peer_cert: verified
                .as_ref()
                .ok()
                .map(|v| v.verified.signer_cert_der.clone()),
            verification: match &verified {
                Ok(_) => "verified".to_owned(),
                Err(reason) => format!("receipt refused: {reason}"),
            },
            at: now,
        };
        match verified {
            // Stored with the settlement, in its transaction.
            Ok(_) => SendResult::SignedReceipt {
                receipt,
                evidence: Box::new(evidence),
            },
            Err(reason) => {
                if let Err(e) = self.store.record_evidence(&evidence).await {
                    return SendResult::Transport(format!("storing the evidence: {e}"));
                }
                SendResult::Refused {
                    code: EbmsCode::InvalidReceipt.as_str().to_owned(),
                    detail: reason,
                    retryable: true,
                }
            }
        }
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
        let Prepared {
            content_type,
            body,
            signed,
            envelope,
        } = match self.body(item).await {
            Ok(p) => p,
            // A missing payload will not appear by retrying; a store failure may pass.
            Err(BodyError::Missing(e) | BodyError::Unsendable(e)) => {
                return SendResult::Rejected(e)
            }
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
        match (
            classify(m.id.as_str(), status, &response_type, bytes),
            &signed,
        ) {
            (SendResult::Receipt(receipt), Some(signed)) => {
                self.check_receipt(item, &envelope, signed, receipt).await
            }
            (result, _) => result,
        }
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
