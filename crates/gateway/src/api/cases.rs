//! `GET /api/v1/cases/{case_id}`: the SEDs of a case, in the order they were stored.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::auth::AuthClient;
use super::error::ApiError;
use super::messages::MessageSummary;
use crate::app::AppState;
use sedgate_base::domain::CaseId;

pub fn router() -> Router<AppState> {
    Router::new().route("/cases/{case_id}", get(show))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CaseView {
    pub case_id: String,
    pub buc: String,
    /// The client's messages of the case (sent or received by its institutions), oldest first.
    pub messages: Vec<MessageSummary>,
}

fn unknown_case(id: &str) -> ApiError {
    ApiError::not_found("unknown_case", format!("no case {id} for this client"))
}

/// The SEDs of a case that concern the client's institutions, in order.
#[utoipa::path(get, path = "/api/v1/cases/{case_id}",
    params(("case_id" = String, Path, description = "Case (BUC instance) id")),
    responses((status = 200, body = CaseView), (status = 404, body = super::error::Problem)),
    security(("bearer" = [])))]
pub async fn show(
    client: AuthClient,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Json<CaseView>, ApiError> {
    let case_id: CaseId = raw.parse().map_err(|_| unknown_case(&raw))?;
    let messages: Vec<MessageSummary> = state
        .store
        .case_messages(&case_id)
        .await?
        .iter()
        .filter(|m| client.may_act_for(&m.sender) || client.may_act_for(&m.receiver))
        .map(MessageSummary::from)
        .collect();
    // A case the client has no message in does not exist for it.
    let buc = messages
        .first()
        .map(|m| m.buc.clone())
        .ok_or_else(|| unknown_case(&raw))?;
    Ok(Json(CaseView {
        case_id: case_id.to_string(),
        buc,
        messages,
    }))
}
