//! `GET /api/v1/institutions` and `/api/v1/institutions/{id}`: the IR, from memory.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::auth::AuthClient;
use super::error::ApiError;
use crate::app::AppState;
use crate::ir::model::{AccessPoint, Institution};
use crate::ir::SearchQuery;
use sedgate_base::domain::{BucRole, InstitutionId};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/institutions", get(search))
        .route("/institutions/{id}", get(show))
}

const MAX_LIMIT: usize = 500;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct SearchParams {
    /// Two-letter EESSI country code.
    pub country: Option<String>,
    /// BUC type, e.g. P_BUC_01.
    pub buc: Option<String>,
    /// CaseOwner or CounterParty.
    pub role: Option<String>,
    /// Id, acronym or name prefix.
    pub q: Option<String>,
    /// Only institutions active on this date (RFC 3339).
    pub on: Option<DateTime<Utc>>,
    #[serde(default)]
    pub offset: usize,
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CompetenceDto {
    pub buc: String,
    pub role: String,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_to: Option<DateTime<Utc>>,
    pub eessi_ready: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InstitutionDto {
    pub id: String,
    pub country: String,
    pub acronym: Option<String>,
    pub names: BTreeMap<String, String>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_to: Option<DateTime<Utc>>,
    pub eessi_ready: bool,
    pub competences: Vec<CompetenceDto>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccessPointDto {
    pub country: String,
    pub endpoint_url: String,
    pub cert_fingerprints: Vec<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InstitutionDetail {
    #[serde(flatten)]
    pub institution: InstitutionDto,
    /// The access point that serves the institution's country, if known.
    pub access_point: Option<AccessPointDto>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SearchResult {
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
    pub items: Vec<InstitutionDto>,
}

impl From<&Institution> for InstitutionDto {
    fn from(i: &Institution) -> Self {
        Self {
            id: i.id.to_string(),
            country: i.country.to_string(),
            acronym: i.acronym.clone(),
            names: i.names.clone(),
            valid_from: i.valid_from,
            valid_to: i.valid_to,
            eessi_ready: i.eessi_ready,
            competences: i
                .competences
                .iter()
                .map(|c| CompetenceDto {
                    buc: c.buc.to_string(),
                    role: c.role.as_str().to_owned(),
                    valid_from: c.valid_from,
                    valid_to: c.valid_to,
                    eessi_ready: c.eessi_ready,
                })
                .collect(),
        }
    }
}

impl From<&AccessPoint> for AccessPointDto {
    fn from(a: &AccessPoint) -> Self {
        Self {
            country: a.country.to_string(),
            endpoint_url: a.endpoint_url.clone(),
            cert_fingerprints: a.cert_fingerprints.clone(),
        }
    }
}

fn bad_param(name: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request("invalid_query", format!("query parameter {name}: {e}"))
}

impl TryFrom<SearchParams> for SearchQuery {
    type Error = ApiError;
    fn try_from(p: SearchParams) -> Result<Self, ApiError> {
        Ok(SearchQuery {
            country: p
                .country
                .map(|c| c.parse())
                .transpose()
                .map_err(|e| bad_param("country", e))?,
            buc: p
                .buc
                .map(|b| b.parse())
                .transpose()
                .map_err(|e| bad_param("buc", e))?,
            role: p
                .role
                .map(|r| r.parse::<BucRole>())
                .transpose()
                .map_err(|e| bad_param("role", e))?,
            q: p.q.filter(|q| !q.trim().is_empty()),
            on: p.on,
            offset: p.offset,
            limit: p.limit.unwrap_or(50).min(MAX_LIMIT),
        })
    }
}

/// Search the institution repository.
#[utoipa::path(get, path = "/api/v1/institutions", params(SearchParams),
    responses((status = 200, body = SearchResult), (status = 400, body = super::error::Problem)),
    security(("bearer" = [])))]
pub async fn search(
    _client: AuthClient,
    State(state): State<AppState>,
    params: Result<Query<SearchParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<SearchResult>, ApiError> {
    let Query(params) =
        params.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let query = SearchQuery::try_from(params)?;
    let index = state.ir();
    let page = index.search(&query);
    Ok(Json(SearchResult {
        total: page.total,
        offset: query.offset,
        limit: query.limit,
        items: page.items.into_iter().map(InstitutionDto::from).collect(),
    }))
}

/// One institution with its competences and access point.
#[utoipa::path(get, path = "/api/v1/institutions/{id}", params(("id" = String, Path, description = "CC:ID")),
    responses((status = 200, body = InstitutionDetail), (status = 404, body = super::error::Problem)),
    security(("bearer" = [])))]
pub async fn show(
    _client: AuthClient,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<InstitutionDetail>, ApiError> {
    let id: InstitutionId = id
        .parse()
        .map_err(|e| ApiError::bad_request("invalid_institution_id", format!("{e}")))?;
    let index = state.ir();
    let inst = index.get(&id).ok_or_else(|| {
        ApiError::not_found(
            "unknown_institution",
            format!("institution {id} is not in the IR"),
        )
    })?;
    Ok(Json(InstitutionDetail {
        institution: InstitutionDto::from(inst),
        access_point: index.access_point(&inst.country).map(AccessPointDto::from),
    }))
}
