//! Human-readable views of a SED in the reader's language:
//! `GET /api/v1/messages/{id}/render` and `GET /api/v1/inbox/{id}/render` (`?lang=de`,
//! `&format=pdf`), with the same visibility as the JSON views, and
//! `GET /api/v1/render/review?lang=xx`, the labels a language still lacks.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::auth::AuthClient;
use super::error::ApiError;
use super::inbox::{load_bytes, visible_item};
use crate::app::AppState;
use crate::render::{self, RenderError, Review, SedContext};
use crate::store::MessageRecord;
use sedgate_base::domain::MessageId;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/messages/{id}/render", get(message))
        .route("/inbox/{id}/render", get(inbox_item))
        .route("/render/review", get(review))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct RenderParams {
    /// Language tag with a label file, e.g. `en`, `fr`, `de`, `nb`.
    pub lang: String,
    /// `html` (default) or `pdf`.
    pub format: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Html,
    Pdf,
}

impl Format {
    pub fn parse(raw: Option<&str>) -> Result<Format, ApiError> {
        match raw {
            None | Some("html") => Ok(Format::Html),
            Some("pdf") => Ok(Format::Pdf),
            Some(other) => Err(ApiError::bad_request(
                "invalid_format",
                format!("format {other:?}: use html or pdf"),
            )),
        }
    }
}

fn render_error(e: RenderError) -> ApiError {
    match e {
        RenderError::UnknownLanguage { .. } => {
            ApiError::not_found("unknown_language", e.to_string())
        }
        RenderError::Xml(_) => ApiError::unprocessable("sed_unreadable", e.to_string()),
        RenderError::Template(_) | RenderError::Pdf(_) => ApiError::internal(&e),
    }
}

fn query<T>(q: Result<Query<T>, axum::extract::rejection::QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(p)| p)
        .map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))
}

/// Renders the SED of a stored message as HTML or PDF (shared with the operator console).
pub async fn render_message(
    state: &AppState,
    message: &MessageRecord,
    lang: &str,
    format: Format,
) -> Result<Response, ApiError> {
    let bytes = load_bytes(state, &message.sed_hash).await?;
    let ctx = SedContext {
        message_id: message.id.to_string(),
        case_id: message.case_id.to_string(),
        buc: message.buc.clone(),
        sed: message.sed_type.clone(),
        cdm: message.cdm_version,
        sender: message.sender.to_string(),
        receiver: message.receiver.to_string(),
        date: message.created_at,
    };
    let renderer = state.render.clone();
    let catalogue = state.catalogue.clone();
    let lang = lang.to_owned();
    let body = tokio::task::spawn_blocking(move || {
        let rendered = renderer.render(&catalogue, &lang, &ctx, &bytes)?;
        match format {
            Format::Html => render::html::to_html(&rendered).map(String::into_bytes),
            Format::Pdf => render::pdf::to_pdf(&rendered),
        }
    })
    .await
    .map_err(|e| ApiError::internal(&e))?
    .map_err(render_error)?;
    let content_type = match format {
        Format::Html => "text/html; charset=utf-8",
        Format::Pdf => "application/pdf",
    };
    let mut response = (
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response();
    if format == Format::Pdf {
        let name = format!("inline; filename=\"{}.pdf\"", message.sed_type);
        if let Ok(v) = HeaderValue::from_str(&name) {
            response
                .headers_mut()
                .insert(header::CONTENT_DISPOSITION, v);
        }
    }
    Ok(response)
}

/// A sent or received message's SED in `lang`, for a client that may act for its
/// sender or receiver.
#[utoipa::path(get, path = "/api/v1/messages/{id}/render",
    params(("id" = String, Path), RenderParams),
    responses(
        (status = 200, description = "text/html or application/pdf"),
        (status = 404, body = super::error::Problem, description = "unknown_message, unknown_language"),
    ),
    security(("bearer" = [])))]
pub async fn message(
    client: AuthClient,
    State(state): State<AppState>,
    Path(raw): Path<String>,
    params: Result<Query<RenderParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let params = query(params)?;
    let format = Format::parse(params.format.as_deref())?;
    let unknown = || {
        ApiError::not_found(
            "unknown_message",
            format!("no message {raw} for this client"),
        )
    };
    let id: MessageId = raw.parse().map_err(|_| unknown())?;
    let message = state
        .store
        .message(&id)
        .await?
        .filter(|m| client.may_act_for(&m.sender) || client.may_act_for(&m.receiver))
        .ok_or_else(unknown)?;
    render_message(&state, &message, &params.lang, format).await
}

/// A received SED in `lang`, for a client that may act for its receiver.
#[utoipa::path(get, path = "/api/v1/inbox/{id}/render",
    params(("id" = String, Path), RenderParams),
    responses(
        (status = 200, description = "text/html or application/pdf"),
        (status = 404, body = super::error::Problem, description = "unknown_inbox_item, unknown_language"),
    ),
    security(("bearer" = [])))]
pub async fn inbox_item(
    client: AuthClient,
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Result<Query<RenderParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let params = query(params)?;
    let format = Format::parse(params.format.as_deref())?;
    let item = visible_item(&state, &client, &id).await?;
    render_message(&state, &item.message, &params.lang, format).await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ReviewParams {
    pub lang: String,
}

/// The labels `lang` lacks, per SED type, for translators.
#[utoipa::path(get, path = "/api/v1/render/review", params(ReviewParams),
    responses((status = 200, body = Review), (status = 404, body = super::error::Problem, description = "unknown_language")),
    security(("bearer" = [])))]
pub async fn review(
    _client: AuthClient,
    State(state): State<AppState>,
    params: Result<Query<ReviewParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Review>, ApiError> {
    let params = query(params)?;
    state
        .render
        .review(&state.catalogue, &params.lang)
        .map(Json)
        .map_err(render_error)
}
