//! `POST /api/v1/messages` (SED intake) and `GET /api/v1/messages/{id}`.
//!
//! Intake reads the multipart body in order: `metadata`, `sed`, then any `attachment`s.
//! What depends only on the submitted bytes (hardened XML, XSD, the ids in the SED
//! header) is checked before any attachment is read. Attachments then stream into blob
//! files that are not yet durable. Next the idempotency key is looked up: a replay must
//! be answered before the case rules, which its first run has made false (the case now
//! exists). Then the case rules and the routing decide, and only then do the blobs become
//! durable and the one transaction commits. A refused request leaves nothing behind.

use std::sync::Arc;

use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::auth::AuthClient;
use super::error::{ApiError, Finding};
use crate::app::AppState;
use crate::ir::route::{route, RouteError, RouteQuery};
use crate::sed::{self, RequestIds, RuleViolation, SedHeader, SubmissionFacts, XsdError};
use crate::store::{
    AcceptOutcome, Direction, IdempotencyRecord, MessageEvent, MessageRecord, NewOutboundMessage,
    PartRecord, PartType, PayloadWriter, SavedResponse, StagedPart, Submission,
};
use sedgate_base::domain::{
    BucRole, BucType, CaseId, CdmVersion, CountryCode, InstitutionId, MessageId, SedType,
};
use sedgate_base::xml::{self as xml, XmlError, XmlLimits};

pub fn router() -> Router<AppState> {
    Router::new()
        // Every part has its own cap below; axum's 2 MB default would cut attachments.
        .route("/messages", post(submit).layer(DefaultBodyLimit::disable()))
        .route("/messages/{id}", get(show))
}

const MAX_METADATA_BYTES: usize = 64 * 1024;
/// Attachments per submission; with `api.max_attachment_bytes` it bounds a request.
pub const MAX_ATTACHMENTS: usize = 32;
const MAX_RECEIVERS: usize = 64;
const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;
const MAX_FILENAME_LEN: usize = 255;
const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// The `metadata` part of a submission (JSON).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmissionMetadata {
    /// The case (BUC instance). A case is new when no message of it is stored yet.
    /// Optional: without it, the SED's `Header/CaseID` names the case.
    pub case_id: Option<String>,
    /// BUC type, e.g. `P_BUC_01`.
    pub buc: String,
    /// SED type, e.g. `P2000`.
    pub sed_type: String,
    /// CDM version, e.g. `4.2`.
    pub cdm_version: String,
    /// Sending institution (`CC:ID`); the API token must be allowed to act for it.
    pub sender: String,
    /// Receiving institutions (`CC:ID`); one message is sent to each.
    pub receivers: Vec<String>,
}

/// The multipart/form-data body of `POST /api/v1/messages`, parts in this order.
#[derive(utoipa::ToSchema)]
pub struct SubmissionForm {
    pub metadata: SubmissionMetadata,
    /// The SED XML (capped by `api.max_sed_bytes`, default 5 MB).
    #[schema(value_type = String, format = Binary)]
    pub sed: Vec<u8>,
    /// Zero or more files (PDF, images) with filename and content type, each capped by
    /// `api.max_attachment_bytes` (default 100 MB).
    #[schema(value_type = Vec<String>, format = Binary)]
    pub attachment: Vec<Vec<u8>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AcceptedMessage {
    pub id: String,
    pub receiver: String,
}

/// The 202 answer: one message per receiver, all stored and queued for sending.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SubmissionAccepted {
    pub submission_id: String,
    pub messages: Vec<AcceptedMessage>,
}

/// The typed metadata; inner code never sees the raw strings.
#[derive(Debug, Clone)]
struct Metadata {
    case_id: Option<CaseId>,
    buc: BucType,
    sed: SedType,
    cdm: CdmVersion,
    sender: InstitutionId,
    receivers: Vec<InstitutionId>,
}

fn invalid_metadata(detail: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_metadata", detail)
}

fn field<T: std::str::FromStr>(name: &str, raw: &str) -> Result<T, ApiError>
where
    T::Err: std::fmt::Display,
{
    raw.parse()
        .map_err(|e: T::Err| invalid_metadata(format!("metadata {name}: {e}")))
}

impl TryFrom<SubmissionMetadata> for Metadata {
    type Error = ApiError;
    fn try_from(m: SubmissionMetadata) -> Result<Self, ApiError> {
        if m.receivers.is_empty() {
            return Err(invalid_metadata(
                "metadata receivers: at least one is needed",
            ));
        }
        if m.receivers.len() > MAX_RECEIVERS {
            return Err(invalid_metadata(format!(
                "metadata receivers: at most {MAX_RECEIVERS}"
            )));
        }
        let mut receivers: Vec<InstitutionId> = Vec::with_capacity(m.receivers.len());
        for raw in &m.receivers {
            let id: InstitutionId = field("receivers", raw)?;
            if receivers.contains(&id) {
                return Err(invalid_metadata(format!(
                    "metadata receivers: {id} is named twice"
                )));
            }
            receivers.push(id);
        }
        Ok(Metadata {
            case_id: m
                .case_id
                .as_deref()
                .map(|c| field("case_id", c))
                .transpose()?,
            buc: field("buc", &m.buc)?,
            sed: field("sed_type", &m.sed_type)?,
            cdm: field("cdm_version", &m.cdm_version)?,
            sender: field("sender", &m.sender)?,
            receivers,
        })
    }
}

fn multipart_error(e: MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_too_large",
            e.body_text(),
        )
    } else {
        ApiError::bad_request("invalid_multipart", e.body_text())
    }
}

fn too_large(code: &'static str, what: &str, cap: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        code,
        format!("{what} is larger than the limit of {cap} bytes"),
    )
}

/// The next part, which must be named `name`.
async fn expect_part<'a>(multipart: &'a mut Multipart, name: &str) -> Result<Field<'a>, ApiError> {
    match multipart.next_field().await.map_err(multipart_error)? {
        Some(field) if field.name() == Some(name) => Ok(field),
        Some(field) => Err(ApiError::bad_request(
            "invalid_multipart",
            format!(
                "expected the part {name:?} here, found {:?} (parts come in the order metadata, sed, attachment...)",
                field.name().unwrap_or("")
            ),
        )),
        None => Err(ApiError::bad_request(
            "invalid_multipart",
            format!("the part {name:?} is missing"),
        )),
    }
}

async fn read_capped(
    field: &mut Field<'_>,
    cap: u64,
    on_excess: ApiError,
) -> Result<Vec<u8>, ApiError> {
    let mut buf = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        if (buf.len() + chunk.len()) as u64 > cap {
            return Err(on_excess);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

/// Returns the raw metadata JSON (part of the request hash) and its typed form.
async fn read_metadata(multipart: &mut Multipart) -> Result<(Vec<u8>, Metadata), ApiError> {
    let mut part = expect_part(multipart, "metadata").await?;
    let raw = read_capped(
        &mut part,
        MAX_METADATA_BYTES as u64,
        invalid_metadata(format!(
            "the metadata part is larger than {MAX_METADATA_BYTES} bytes"
        )),
    )
    .await?;
    let dto: SubmissionMetadata = serde_json::from_slice(&raw)
        .map_err(|e| invalid_metadata(format!("the metadata part is not valid: {e}")))?;
    Ok((raw, Metadata::try_from(dto)?))
}

async fn read_sed(multipart: &mut Multipart, cap: u64) -> Result<Arc<[u8]>, ApiError> {
    let mut part = expect_part(multipart, "sed").await?;
    let bytes = read_capped(&mut part, cap, too_large("sed_too_large", "the SED", cap)).await?;
    Ok(Arc::from(bytes))
}

fn xml_refused(e: XmlError) -> ApiError {
    ApiError::bad_request("xml_refused", format!("the SED XML was refused: {e}"))
}

fn rule_error(v: RuleViolation) -> ApiError {
    ApiError::unprocessable(v.code(), v.to_string())
}

fn route_error(e: RouteError) -> ApiError {
    ApiError::unprocessable(e.code(), e.to_string())
}

fn to_finding(f: sed::Finding) -> Finding {
    Finding {
        line: f.line,
        column: f.column,
        path: f.path,
        message: f.message,
    }
}

/// The checks on the SED bytes alone: hardened XML, schema, header ids. Returns the case
/// named by the request or, failing that, by the SED.
async fn check_document(
    state: &AppState,
    meta: &Metadata,
    sed_bytes: &Arc<[u8]>,
) -> Result<CaseId, ApiError> {
    let limits = XmlLimits {
        max_bytes: usize::try_from(state.config.api.max_sed_bytes).unwrap_or(usize::MAX),
        ..XmlLimits::default()
    };
    let bytes = Arc::clone(sed_bytes);
    let header = tokio::task::spawn_blocking(move || {
        xml::parse(&bytes, &limits).map(|doc| sed::extract_header(&doc))
    })
    .await
    .map_err(|e| ApiError::internal(&e))?
    .map_err(xml_refused)?;
    if !state.xsd.known(meta.cdm, &meta.sed) {
        // Without a schema the catalogue names the reason (unknown BUC or SED type).
        let facts = SubmissionFacts {
            cdm: meta.cdm,
            buc: meta.buc.clone(),
            sed: meta.sed.clone(),
            case_exists: false,
            sender_role: BucRole::CaseOwner,
            has_schema: false,
        };
        let violation =
            sed::check(&state.catalogue, &facts)
                .err()
                .unwrap_or(RuleViolation::UnknownSedType {
                    cdm: meta.cdm,
                    sed: meta.sed.clone(),
                });
        return Err(rule_error(violation));
    }
    let findings = state
        .xsd
        .validate(meta.cdm, &meta.sed, Arc::clone(sed_bytes))
        .await
        .map_err(|e| match e {
            XsdError::Xml(x) => xml_refused(x),
            other => ApiError::internal(&other),
        })?;
    if !findings.is_empty() {
        return Err(ApiError::unprocessable(
            "sed_invalid",
            format!(
                "the SED does not conform to the {} schema of CDM {}: {} finding(s)",
                meta.sed,
                meta.cdm,
                findings.len()
            ),
        )
        .with_findings(findings.into_iter().map(to_finding).collect()));
    }
    let header: SedHeader = header.map_err(|e| {
        ApiError::unprocessable("invalid_sed_header", format!("the SED header: {e}"))
    })?;
    sed::check_ids(
        &header,
        &RequestIds {
            case_id: meta.case_id.clone(),
            sender: meta.sender.clone(),
            receivers: meta.receivers.clone(),
        },
    )
    .map_err(rule_error)?;
    Ok(meta.case_id.clone().unwrap_or(header.case_id))
}

/// An attachment streamed into a payload writer, not yet finished.
struct PendingAttachment {
    writer: PayloadWriter,
    filename: Option<String>,
    mime_type: String,
    hash: String,
}

/// Attachments of one request; `abort` or `finish` must end them.
#[derive(Default)]
struct Attachments(Vec<PendingAttachment>);

impl Attachments {
    async fn abort(self) {
        for a in self.0 {
            a.writer.abort().await;
        }
    }

    /// Makes every staged payload durable; on a failure the rest are dropped.
    async fn finish(self) -> Result<Vec<FinishedAttachment>, ApiError> {
        let mut done = Vec::with_capacity(self.0.len());
        let mut pending = self.0.into_iter();
        while let Some(a) = pending.next() {
            match a.writer.finish().await {
                Ok(staged) => done.push(FinishedAttachment {
                    filename: a.filename,
                    mime_type: a.mime_type,
                    staged,
                }),
                Err(e) => {
                    for rest in pending {
                        rest.writer.abort().await;
                    }
                    return Err(e.into());
                }
            }
        }
        Ok(done)
    }
}

/// Staged until the submission is stored; dropped, it leaves nothing behind.
struct FinishedAttachment {
    filename: Option<String>,
    mime_type: String,
    staged: StagedPart,
}

fn attachment_header(field: &Field<'_>) -> Result<(Option<String>, String), ApiError> {
    let bad = |detail: String| ApiError::bad_request("invalid_multipart", detail);
    let filename = field.file_name().map(str::to_owned);
    if let Some(name) = &filename {
        if name.is_empty() || name.len() > MAX_FILENAME_LEN || name.chars().any(char::is_control) {
            return Err(bad(format!(
                "attachment filename {name:?} must be 1 to {MAX_FILENAME_LEN} bytes without control characters"
            )));
        }
    }
    let mime_type = field
        .content_type()
        .unwrap_or("application/octet-stream")
        .to_owned();
    let plausible = mime_type.len() <= 127
        && mime_type.split_once('/').is_some_and(|(t, s)| {
            !t.is_empty()
                && !s.is_empty()
                && mime_type.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
        });
    if !plausible {
        return Err(bad(format!(
            "attachment content type {mime_type:?} is not a media type"
        )));
    }
    Ok((filename, mime_type))
}

/// Streams one attachment into a payload writer, hashing on the way, never holding it
/// whole.
async fn stream_attachment(
    state: &AppState,
    field: &mut Field<'_>,
    cap: u64,
) -> Result<PendingAttachment, ApiError> {
    let (filename, mime_type) = attachment_header(field)?;
    let mut writer = state.store.payload_writer();
    loop {
        let chunk: Bytes = match field.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(e) => {
                writer.abort().await;
                return Err(multipart_error(e));
            }
        };
        if writer.size() + chunk.len() as u64 > cap {
            writer.abort().await;
            let what = format!("attachment {:?}", filename.as_deref().unwrap_or(""));
            return Err(too_large("attachment_too_large", &what, cap));
        }
        if let Err(e) = writer.write(&chunk).await {
            writer.abort().await;
            return Err(e.into());
        }
    }
    Ok(PendingAttachment {
        hash: writer.sha256_hex(),
        writer,
        filename,
        mime_type,
    })
}

async fn read_attachments(
    state: &AppState,
    multipart: &mut Multipart,
) -> Result<Attachments, ApiError> {
    let cap = state.config.api.max_attachment_bytes;
    let mut attachments = Attachments::default();
    loop {
        let next = match multipart.next_field().await {
            Ok(next) => next,
            Err(e) => {
                attachments.abort().await;
                return Err(multipart_error(e));
            }
        };
        let Some(mut field) = next else { break };
        let problem = if field.name() != Some("attachment") {
            Some(ApiError::bad_request(
                "invalid_multipart",
                format!(
                    "unexpected part {:?}: after metadata and sed only attachment parts may follow",
                    field.name().unwrap_or("")
                ),
            ))
        } else if attachments.0.len() == MAX_ATTACHMENTS {
            Some(ApiError::bad_request(
                "too_many_attachments",
                format!("at most {MAX_ATTACHMENTS} attachments per submission"),
            ))
        } else {
            None
        };
        if let Some(problem) = problem {
            attachments.abort().await;
            return Err(problem);
        }
        match stream_attachment(state, &mut field, cap).await {
            Ok(a) => attachments.0.push(a),
            Err(e) => {
                attachments.abort().await;
                return Err(e);
            }
        }
    }
    Ok(attachments)
}

/// SHA-256 over the metadata JSON, the SED and each attachment (hash, type, name), each
/// length-prefixed so that no two different requests share an input.
fn request_hash(metadata: &[u8], sed: &[u8], attachments: &Attachments) -> String {
    let mut hasher = Sha256::new();
    let mut piece = |bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_be_bytes());
        hasher.update(bytes);
    };
    piece(metadata);
    piece(sed);
    for a in &attachments.0 {
        piece(a.hash.as_bytes());
        piece(a.mime_type.as_bytes());
        piece(a.filename.as_deref().unwrap_or("").as_bytes());
    }
    hex::encode(hasher.finalize())
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(IDEMPOTENCY_HEADER) else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| {
            !k.is_empty() && k.len() <= MAX_IDEMPOTENCY_KEY_LEN && k.bytes().all(|b| b.is_ascii_graphic())
        })
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_idempotency_key",
                format!("Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} visible ASCII characters"),
            )
        })?;
    Ok(Some(key.to_owned()))
}

fn key_reused() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "idempotency_key_reused",
        "this Idempotency-Key was used before for a different request",
    )
}

/// The answer saved with the first request of an idempotency key.
fn replay(saved: SavedResponse) -> Result<Response, ApiError> {
    let status = StatusCode::from_u16(saved.status).map_err(|e| ApiError::internal(&e))?;
    Ok((
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (
                header::HeaderName::from_static("idempotent-replayed"),
                HeaderValue::from_static("true"),
            ),
        ],
        saved.response,
    )
        .into_response())
}

/// What the case rules and routing decided: the peer country of each receiver.
struct Decision {
    peers: Vec<(InstitutionId, CountryCode)>,
}

async fn decide(state: &AppState, meta: &Metadata, case_id: &CaseId) -> Result<Decision, ApiError> {
    let case = state.store.case_info(case_id, &meta.sender).await?;
    let (case_exists, sender_role, receiver_role) = match &case {
        None => (false, BucRole::CaseOwner, BucRole::CounterParty),
        Some(info) if info.buc != meta.buc => {
            return Err(ApiError::unprocessable(
                "case_buc_mismatch",
                format!(
                    "case {case_id} is a {} case, the request says {}",
                    info.buc, meta.buc
                ),
            ))
        }
        // We started the case: we own it.
        Some(info) if info.started_here => (true, BucRole::CaseOwner, BucRole::CounterParty),
        // A peer started it: we take part as its counterparty.
        Some(_) => (true, BucRole::CounterParty, BucRole::CaseOwner),
    };
    sed::check(
        &state.catalogue,
        &SubmissionFacts {
            cdm: meta.cdm,
            buc: meta.buc.clone(),
            sed: meta.sed.clone(),
            case_exists,
            sender_role,
            has_schema: true,
        },
    )
    .map_err(rule_error)?;
    let index = state.ir();
    let on = Utc::now();
    let peers = meta
        .receivers
        .iter()
        .map(|receiver| {
            route(
                &index,
                &RouteQuery {
                    home_country: state.config.country.clone(),
                    sender: meta.sender.clone(),
                    receiver: receiver.clone(),
                    buc: meta.buc.clone(),
                    receiver_role: Some(receiver_role),
                    sender_role: Some(sender_role),
                    on,
                },
            )
            .map(|r| (receiver.clone(), r.receiver_country))
            .map_err(route_error)
        })
        .collect::<Result<_, _>>()?;
    Ok(Decision { peers })
}

/// The SED payload: inline when small, else staged like an attachment.
async fn store_sed(state: &AppState, sed_bytes: &[u8]) -> Result<StagedPart, ApiError> {
    if sed_bytes.len() as u64 <= state.store.inline_payload_bytes() {
        return Ok(StagedPart::inline(Bytes::copy_from_slice(sed_bytes)));
    }
    let mut writer = state.store.payload_writer();
    writer.write(sed_bytes).await?;
    Ok(writer.finish().await?)
}

fn build_messages(
    state: &AppState,
    meta: &Metadata,
    case_id: &CaseId,
    decision: &Decision,
    sed: &StagedPart,
    attachments: &[FinishedAttachment],
) -> Vec<NewOutboundMessage> {
    decision
        .peers
        .iter()
        .map(|(receiver, peer_country)| {
            let id = MessageId::generate(&state.config.party_domain);
            let mut parts = Vec::with_capacity(1 + attachments.len());
            parts.push(sed.part(
                PartType::Sed,
                format!("sed.{id}"),
                "application/xml".to_owned(),
                None,
            ));
            for (n, a) in attachments.iter().enumerate() {
                parts.push(a.staged.part(
                    PartType::Attachment,
                    format!("attachment{}.{id}", n + 1),
                    a.mime_type.clone(),
                    a.filename.clone(),
                ));
            }
            NewOutboundMessage {
                id,
                case_id: case_id.clone(),
                buc: meta.buc.clone(),
                sed_type: meta.sed.clone(),
                cdm: meta.cdm,
                sender: meta.sender.clone(),
                receiver: receiver.clone(),
                peer_country: peer_country.clone(),
                parts,
            }
        })
        .collect()
}

/// Submit a SED to one or more receivers.
///
/// Answers 202 only after the messages, payloads, audit entries and outbox rows have
/// committed. With an `Idempotency-Key`, a retry of the same request gets the first answer
/// again; the same key with another request is 409.
#[utoipa::path(post, path = "/api/v1/messages",
    request_body(content = SubmissionForm, content_type = "multipart/form-data"),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: same key and request, same answer")),
    responses(
        (status = 202, body = SubmissionAccepted, description = "Stored and queued for sending"),
        (status = 400, body = super::error::Problem, description = "invalid_multipart, invalid_metadata, invalid_idempotency_key, too_many_attachments, xml_refused"),
        (status = 401, body = super::error::Problem),
        (status = 403, body = super::error::Problem, description = "institution_not_permitted"),
        (status = 409, body = super::error::Problem, description = "idempotency_key_reused"),
        (status = 413, body = super::error::Problem, description = "sed_too_large, attachment_too_large"),
        (status = 422, body = super::error::Problem, description = "sed_invalid (with findings), invalid_sed_header, ids_disagree, case_buc_mismatch, catalogue rules (unknown_buc, unknown_sed_type, sed_not_in_buc, starter_on_existing_case, follow_up_without_case, sed_not_allowed_for_role), routing (sender_not_of_this_gateway, unknown_sender, unknown_receiver, same_country, receiver_not_active, receiver_not_valid_on, receiver_not_competent, sender_not_competent, no_access_point)"),
    ),
    security(("bearer" = [])))]
pub async fn submit(
    client: AuthClient,
    State(state): State<AppState>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let mut multipart =
        multipart.map_err(|e| ApiError::bad_request("invalid_multipart", e.body_text()))?;
    let (metadata_raw, meta) = read_metadata(&mut multipart).await?;
    client.require(&meta.sender)?;
    let sed_bytes = read_sed(&mut multipart, state.config.api.max_sed_bytes).await?;
    let case_id = check_document(&state, &meta, &sed_bytes).await?;
    let attachments = read_attachments(&state, &mut multipart).await?;
    let request_hash = request_hash(&metadata_raw, &sed_bytes, &attachments);

    // A retry of an accepted request is answered by the store (its conflict on the key
    // replays the saved answer), which costs no statement on the first attempt. Only when
    // the rules refuse the retry (its first attempt started the case, say) is the saved
    // answer looked up here.
    let decision = match decide(&state, &meta, &case_id).await {
        Ok(decision) => decision,
        Err(refusal) => {
            attachments.abort().await;
            if let Some(key) = &key {
                if let Some(saved) = state.store.saved_response(&client.id, key).await? {
                    return if saved.request_hash == request_hash {
                        replay(saved)
                    } else {
                        Err(key_reused())
                    };
                }
            }
            return Err(refusal);
        }
    };
    let attachments = attachments.finish().await?;
    let sed = store_sed(&state, &sed_bytes).await?;
    let messages = build_messages(&state, &meta, &case_id, &decision, &sed, &attachments);
    let accepted = SubmissionAccepted {
        submission_id: uuid::Uuid::new_v4().to_string(),
        messages: messages
            .iter()
            .map(|m| AcceptedMessage {
                id: m.id.to_string(),
                receiver: m.receiver.to_string(),
            })
            .collect(),
    };
    let body = serde_json::to_string(&accepted).map_err(|e| ApiError::internal(&e))?;
    let submission = Submission {
        client_id: client.id.clone(),
        submission_id: accepted.submission_id.clone(),
        messages,
        idempotency: key.map(|key| IdempotencyRecord {
            key,
            request_hash,
            status: StatusCode::ACCEPTED.as_u16(),
            response: body.clone(),
        }),
        now: Utc::now(),
    };
    // `sed` and `attachments` stay staged until the store has answered.
    match state.store.accept_submission(submission).await? {
        AcceptOutcome::Accepted => {}
        // A concurrent request with the same key committed first.
        AcceptOutcome::Replayed(saved) => return replay(saved),
        AcceptOutcome::KeyReused => return Err(key_reused()),
    }
    state.outbox_wake.notify_one();
    Ok((
        StatusCode::ACCEPTED,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response())
}

/// A message as listed in a case.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MessageSummary {
    pub id: String,
    /// `outbound` (sent by this gateway) or `inbound` (received from a peer).
    pub direction: String,
    pub case_id: String,
    pub buc: String,
    pub sed_type: String,
    pub cdm_version: String,
    pub sender: String,
    pub receiver: String,
    /// accepted, sending, delivered, failed, dead_lettered, received or acknowledged.
    pub state: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&MessageRecord> for MessageSummary {
    fn from(m: &MessageRecord) -> Self {
        Self {
            id: m.id.to_string(),
            direction: match m.direction {
                Direction::Outbound => "outbound",
                Direction::Inbound => "inbound",
            }
            .to_owned(),
            case_id: m.case_id.to_string(),
            buc: m.buc.to_string(),
            sed_type: m.sed_type.to_string(),
            cdm_version: m.cdm_version.as_str().to_owned(),
            sender: m.sender.to_string(),
            receiver: m.receiver.to_string(),
            state: m.state.as_str().to_owned(),
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PartDto {
    /// `SED` or `Attachment`.
    pub part_type: String,
    pub mime_type: String,
    pub filename: Option<String>,
    pub size: u64,
    pub sha256: String,
}

impl From<&PartRecord> for PartDto {
    fn from(p: &PartRecord) -> Self {
        Self {
            part_type: p.part_type.as_str().to_owned(),
            mime_type: p.mime_type.clone(),
            filename: p.filename.clone(),
            size: p.size,
            sha256: p.hash.clone(),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventDto {
    pub at: DateTime<Utc>,
    pub state: String,
    pub detail: Option<String>,
}

impl From<MessageEvent> for EventDto {
    fn from(e: MessageEvent) -> Self {
        Self {
            at: e.at,
            state: e.state,
            detail: e.detail,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MessageDetail {
    #[serde(flatten)]
    pub message: MessageSummary,
    /// Why the message failed or was dead-lettered (an ebMS code such as `EBMS:0301`).
    pub error_code: Option<String>,
    pub error_detail: Option<String>,
    /// The SED first, then the attachments.
    pub parts: Vec<PartDto>,
    /// Every state the message went through, oldest first.
    pub history: Vec<EventDto>,
}

fn unknown_message(id: &str) -> ApiError {
    ApiError::not_found(
        "unknown_message",
        format!("no message {id} for this client"),
    )
}

/// One message with its state, parts and history. Only for a client that may act for
/// its sender or receiver; for others it does not exist.
#[utoipa::path(get, path = "/api/v1/messages/{id}",
    params(("id" = String, Path, description = "MessageId, e.g. 3f2a…@at.sedgate.example")),
    responses((status = 200, body = MessageDetail), (status = 404, body = super::error::Problem)),
    security(("bearer" = [])))]
pub async fn show(
    client: AuthClient,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Json<MessageDetail>, ApiError> {
    let id: MessageId = raw.parse().map_err(|_| unknown_message(&raw))?;
    let message = state
        .store
        .message(&id)
        .await?
        .filter(|m| client.may_act_for(&m.sender) || client.may_act_for(&m.receiver))
        .ok_or_else(|| unknown_message(&raw))?;
    let parts = state.store.message_parts(&id).await?;
    let history = state.store.message_events(&id).await?;
    Ok(Json(MessageDetail {
        message: MessageSummary::from(&message),
        error_code: message.error_code,
        error_detail: message.error_detail,
        parts: parts.iter().map(PartDto::from).collect(),
        history: history.into_iter().map(EventDto::from).collect(),
    }))
}
