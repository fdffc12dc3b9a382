//! The back office's inbox: SEDs received from other countries for the institutions a
//! token may act for, collected by cursor and acknowledged.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::auth::AuthClient;
use super::error::ApiError;
use crate::app::AppState;
use crate::store::InboxItem;
use sedgate_base::domain::MessageId;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/inbox", get(list))
        .route("/inbox/{id}", get(show))
        .route("/inbox/{id}/ack", post(ack))
        .route("/inbox/{id}/parts/{idx}", get(part))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ListParams {
    /// Cursor: the `seq` of the last item already seen (0 to start).
    #[serde(default)]
    pub after: i64,
    pub limit: Option<i64>,
    /// Include items already acknowledged.
    #[serde(default)]
    pub include_acked: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InboxPart {
    pub idx: i64,
    pub part_type: String,
    pub mime_type: String,
    pub size: u64,
    pub sha256: String,
    /// Where to download the bytes.
    pub href: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InboxEntry {
    pub seq: i64,
    pub id: String,
    pub case_id: String,
    pub buc: String,
    pub sed_type: String,
    pub cdm_version: String,
    pub sender: String,
    pub receiver: String,
    pub state: String,
    pub received_at: DateTime<Utc>,
    pub acked_at: Option<DateTime<Utc>>,
    pub parts: Vec<InboxPart>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InboxPage {
    pub items: Vec<InboxEntry>,
    /// Pass as `after` to get the next page.
    pub next_cursor: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InboxDetail {
    #[serde(flatten)]
    pub entry: InboxEntry,
    /// The SED document itself.
    pub sed: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AckResult {
    pub id: String,
    /// False when it had been acknowledged before.
    pub newly_acknowledged: bool,
}

fn entry(item: &InboxItem) -> InboxEntry {
    let m = &item.message;
    InboxEntry {
        seq: item.seq,
        id: m.id.to_string(),
        case_id: m.case_id.to_string(),
        buc: m.buc.to_string(),
        sed_type: m.sed_type.to_string(),
        cdm_version: m.cdm_version.to_string(),
        sender: m.sender.to_string(),
        receiver: m.receiver.to_string(),
        state: m.state.as_str().to_owned(),
        received_at: m.created_at,
        acked_at: item.acked_at,
        parts: item
            .parts
            .iter()
            .map(|p| InboxPart {
                idx: p.idx,
                part_type: p.part_type.as_str().to_owned(),
                mime_type: p.mime_type.clone(),
                size: p.size,
                sha256: p.hash.clone(),
                href: format!("/api/v1/inbox/{}/parts/{}", m.id, p.idx),
            })
            .collect(),
    }
}

/// The item, if it exists and is addressed to one of the client's institutions. Others'
/// items answer 404 as if they did not exist.
pub(super) async fn visible_item(
    state: &AppState,
    client: &AuthClient,
    id: &str,
) -> Result<InboxItem, ApiError> {
    let not_found = || {
        ApiError::not_found(
            "unknown_inbox_item",
            format!("no inbox item {id} for this client"),
        )
    };
    let id: MessageId = id.parse().map_err(|_| not_found())?;
    let item = state.store.inbox_item(&id).await?.ok_or_else(not_found)?;
    if !client.may_act_for(&item.message.receiver) {
        return Err(not_found());
    }
    Ok(item)
}

pub(super) async fn load_bytes(state: &AppState, hash: &str) -> Result<Vec<u8>, ApiError> {
    state
        .store
        .payload_bytes(hash)
        .await?
        .ok_or_else(|| ApiError::internal(&format!("payload {hash} is missing")))
}

/// SEDs received for the client's institutions, oldest first.
#[utoipa::path(get, path = "/api/v1/inbox", params(ListParams),
    responses((status = 200, body = InboxPage)), security(("bearer" = [])))]
pub async fn list(
    client: AuthClient,
    State(state): State<AppState>,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<InboxPage>, ApiError> {
    let Query(params) =
        params.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let limit = params.limit.unwrap_or(50).clamp(1, 500);
    let items = state
        .store
        .inbox_list(
            &client.institutions,
            params.after,
            limit,
            params.include_acked,
        )
        .await?;
    let next_cursor = items.last().map(|i| i.seq).unwrap_or(params.after);
    Ok(Json(InboxPage {
        items: items.iter().map(entry).collect(),
        next_cursor,
    }))
}

/// One received SED with its document and links to its attachments.
#[utoipa::path(get, path = "/api/v1/inbox/{id}", params(("id" = String, Path)),
    responses((status = 200, body = InboxDetail), (status = 404, body = super::error::Problem)),
    security(("bearer" = [])))]
pub async fn show(
    client: AuthClient,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<InboxDetail>, ApiError> {
    let item = visible_item(&state, &client, &id).await?;
    let sed_hash = item
        .parts
        .first()
        .map(|p| p.hash.clone())
        .ok_or_else(|| ApiError::internal(&format!("inbox item {id} has no SED part")))?;
    let sed = String::from_utf8(load_bytes(&state, &sed_hash).await?)
        .map_err(|_| ApiError::internal(&format!("SED of {id} is not UTF-8")))?;
    Ok(Json(InboxDetail {
        entry: entry(&item),
        sed,
    }))
}

/// Acknowledges a received SED: the back office has it.
#[utoipa::path(post, path = "/api/v1/inbox/{id}/ack", params(("id" = String, Path)),
    responses((status = 200, body = AckResult), (status = 404, body = super::error::Problem)),
    security(("bearer" = [])))]
pub async fn ack(
    client: AuthClient,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<AckResult>, ApiError> {
    let item = visible_item(&state, &client, &id).await?;
    let newly = state
        .store
        .inbox_ack(
            &item.message.id,
            &format!("client:{}", client.name),
            Utc::now(),
        )
        .await?;
    Ok(Json(AckResult {
        id: item.message.id.to_string(),
        newly_acknowledged: newly,
    }))
}

/// The bytes of one part (the SED or an attachment), streamed.
#[utoipa::path(get, path = "/api/v1/inbox/{id}/parts/{idx}",
    params(("id" = String, Path), ("idx" = i64, Path)),
    responses((status = 200, description = "the part's bytes"), (status = 404, body = super::error::Problem)),
    security(("bearer" = [])))]
pub async fn part(
    client: AuthClient,
    State(state): State<AppState>,
    Path((id, idx)): Path<(String, i64)>,
) -> Result<Response, ApiError> {
    let item = visible_item(&state, &client, &id).await?;
    let part = item.parts.iter().find(|p| p.idx == idx).ok_or_else(|| {
        ApiError::not_found("unknown_part", format!("inbox item {id} has no part {idx}"))
    })?;
    let stored = state
        .store
        .payload_body(&part.hash)
        .await?
        .ok_or_else(|| ApiError::internal(&format!("payload {} is missing", part.hash)))?;
    let body = Body::from_stream(state.store.payload_stream(stored));
    Ok((
        [
            (header::CONTENT_TYPE, part.mime_type.clone()),
            (header::CONTENT_LENGTH, part.size.to_string()),
            (
                header::HeaderName::from_static("x-content-sha256"),
                part.hash.clone(),
            ),
        ],
        body,
    )
        .into_response())
}
