//! `GET /api/v1/catalogue?lang=fr&cdm=4.2`: the BUCs of a CDM version with their SED types,
//! starters and titles in one language.

use std::collections::BTreeSet;

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::auth::AuthClient;
use super::error::ApiError;
use crate::app::AppState;
use crate::sed::{BucDefinition, Catalogue};
use sedgate_base::domain::{BucRole, CdmVersion};

pub fn router() -> Router<AppState> {
    Router::new().route("/catalogue", get(show))
}

const DEFAULT_LANG: &str = "en";

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct CatalogueParams {
    /// Language of the titles (`en`, `fr`, `de`, ...); default `en`.
    pub lang: Option<String>,
    /// CDM version, e.g. `4.2`; default the newest one with BUC definitions.
    pub cdm: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SedTypeView {
    pub sed_type: String,
    /// `null` when the language has no title for it (never a title in another language).
    pub title: Option<String>,
    /// Whether this SED opens a case of the BUC.
    pub starter: bool,
    /// The roles that may send it: `CaseOwner`, `CounterParty`.
    pub sent_by: Vec<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BucView {
    pub buc: String,
    pub title: Option<String>,
    /// Several counterparties at once (otherwise one at a time).
    pub multilateral: bool,
    pub starters: Vec<String>,
    pub sed_types: Vec<SedTypeView>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CatalogueView {
    pub cdm: String,
    pub lang: String,
    pub bucs: Vec<BucView>,
    /// BUC and SED types without a title in `lang`, sorted.
    pub missing_titles: Vec<String>,
}

fn bad_param(name: &str, detail: String) -> ApiError {
    ApiError::bad_request("invalid_query", format!("query parameter {name}: {detail}"))
}

fn newest_cdm(catalogue: &Catalogue) -> Option<CdmVersion> {
    CdmVersion::ALL
        .into_iter()
        .rev()
        .find(|cdm| !catalogue.bucs(*cdm).is_empty())
}

fn buc_view(
    catalogue: &Catalogue,
    lang: &str,
    def: &BucDefinition,
    missing: &mut BTreeSet<String>,
) -> BucView {
    let mut title_of = |key: &str| {
        let title = catalogue.title(lang, key).map(str::to_owned);
        if title.is_none() {
            missing.insert(key.to_owned());
        }
        title
    };
    let title = title_of(def.buc.as_str());
    let owner = def.may_send(BucRole::CaseOwner);
    let counterparty = def.may_send(BucRole::CounterParty);
    let sed_types = def
        .sed_types()
        .iter()
        .map(|sed| {
            let mut sent_by = Vec::new();
            if owner.contains(sed) {
                sent_by.push(BucRole::CaseOwner.as_str().to_owned());
            }
            if counterparty.contains(sed) {
                sent_by.push(BucRole::CounterParty.as_str().to_owned());
            }
            SedTypeView {
                sed_type: sed.to_string(),
                title: title_of(sed.as_str()),
                starter: def.is_starter(sed),
                sent_by,
            }
        })
        .collect();
    BucView {
        buc: def.buc.to_string(),
        title,
        multilateral: def.multilateral,
        starters: def.starters().iter().map(ToString::to_string).collect(),
        sed_types,
    }
}

/// The SED/BUC catalogue of one CDM version, with titles in one language.
#[utoipa::path(get, path = "/api/v1/catalogue", params(CatalogueParams),
    responses((status = 200, body = CatalogueView), (status = 400, body = super::error::Problem)),
    security(("bearer" = [])))]
pub async fn show(
    _client: AuthClient,
    State(state): State<AppState>,
    params: Result<Query<CatalogueParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<CatalogueView>, ApiError> {
    let Query(params) =
        params.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let catalogue = &state.catalogue;
    let lang = params.lang.unwrap_or_else(|| DEFAULT_LANG.to_owned());
    if !catalogue.languages().any(|l| l == lang) {
        let known: Vec<&str> = catalogue.languages().collect();
        return Err(bad_param(
            "lang",
            format!("no titles in {lang:?}; available: {}", known.join(", ")),
        ));
    }
    let cdm = match params.cdm {
        Some(raw) => raw
            .parse::<CdmVersion>()
            .map_err(|e| bad_param("cdm", e.to_string()))?,
        None => newest_cdm(catalogue)
            .ok_or_else(|| ApiError::internal(&"the catalogue holds no BUC definitions"))?,
    };
    let definitions = catalogue.bucs(cdm);
    if definitions.is_empty() {
        return Err(bad_param(
            "cdm",
            format!("no BUC definitions for CDM {cdm}"),
        ));
    }
    let mut missing = BTreeSet::new();
    let bucs = definitions
        .into_iter()
        .map(|def| buc_view(catalogue, &lang, def, &mut missing))
        .collect();
    Ok(Json(CatalogueView {
        cdm: cdm.as_str().to_owned(),
        lang,
        bucs,
        missing_titles: missing.into_iter().collect(),
    }))
}
