//! The institution repository browser: search by country, BUC and name; one institution
//! with its competences and the access point that serves it.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::auth::OperatorAuth;
use super::{page, path_segment, ConsoleError, Layout};
use crate::app::AppState;
use crate::ir::model::Institution;
use crate::ir::SearchQuery;
use sedgate_base::domain::{BucType, CountryCode, InstitutionId};

const LIMIT: usize = 100;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SearchForm {
    country: String,
    buc: String,
    q: String,
}

pub struct InstitutionRow {
    pub id: String,
    pub href: String,
    pub country: String,
    pub acronym: String,
    pub name: String,
    pub competences: usize,
    pub ready: &'static str,
}

#[derive(Template)]
#[template(path = "console/institutions.html")]
struct SearchPage {
    layout: Layout,
    form: SearchForm,
    errors: Vec<String>,
    items: Vec<InstitutionRow>,
    total: usize,
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// The English name, else any.
fn display_name(i: &Institution) -> String {
    i.names
        .get("en")
        .or_else(|| i.names.values().next())
        .cloned()
        .unwrap_or_default()
}

pub async fn search(
    State(state): State<AppState>,
    op: OperatorAuth,
    Query(form): Query<SearchForm>,
) -> Result<Response, ConsoleError> {
    let mut errors = Vec::new();
    let country = Some(form.country.trim().to_ascii_uppercase())
        .filter(|c| !c.is_empty())
        .and_then(|c| {
            c.parse::<CountryCode>()
                .map_err(|e| errors.push(format!("country: {e}")))
                .ok()
        });
    let buc = Some(form.buc.trim())
        .filter(|b| !b.is_empty())
        .and_then(|b| {
            b.parse::<BucType>()
                .map_err(|e| errors.push(format!("BUC: {e}")))
                .ok()
        });
    let index = state.ir();
    let (items, total) = if errors.is_empty() {
        let result = index.search(&SearchQuery {
            country,
            buc,
            role: None,
            q: Some(form.q.trim().to_owned()).filter(|q| !q.is_empty()),
            on: None,
            offset: 0,
            limit: LIMIT,
        });
        let items = result
            .items
            .iter()
            .map(|i| InstitutionRow {
                id: i.id.to_string(),
                href: format!("/console/institutions/{}", path_segment(i.id.as_str())),
                country: i.country.to_string(),
                acronym: i.acronym.clone().unwrap_or_default(),
                name: display_name(i),
                competences: i.competences.len(),
                ready: yes_no(i.eessi_ready),
            })
            .collect();
        (items, result.total)
    } else {
        (Vec::new(), 0)
    };
    page(&SearchPage {
        layout: Layout::new(&state, &op),
        form,
        errors,
        items,
        total,
    })
}

#[derive(Template)]
#[template(path = "console/institution.html")]
struct InstitutionPage {
    layout: Layout,
    id: String,
    country: String,
    acronym: String,
    names: Vec<(String, String)>,
    valid: String,
    ready: &'static str,
    /// (endpoint, fingerprints)
    access_point: Option<(String, String)>,
    /// (BUC, role, valid, ready)
    competences: Vec<(String, String, String, &'static str)>,
}

fn validity(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> String {
    let day = |d: Option<DateTime<Utc>>, open: &str| {
        d.map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_else(|| open.to_owned())
    };
    format!("{} – {}", day(from, "…"), day(to, "…"))
}

pub async fn show(
    State(state): State<AppState>,
    op: OperatorAuth,
    Path(raw): Path<String>,
) -> Result<Response, ConsoleError> {
    let not_found = || ConsoleError::NotFound(format!("Institution {raw} is not in the IR."));
    let id: InstitutionId = raw.parse().map_err(|_| not_found())?;
    let index = state.ir();
    let inst = index.get(&id).ok_or_else(not_found)?;
    page(&InstitutionPage {
        layout: Layout::new(&state, &op),
        id: inst.id.to_string(),
        country: inst.country.to_string(),
        acronym: inst.acronym.clone().unwrap_or_default(),
        names: inst
            .names
            .iter()
            .map(|(l, n)| (l.clone(), n.clone()))
            .collect(),
        valid: validity(inst.valid_from, inst.valid_to),
        ready: yes_no(inst.eessi_ready),
        access_point: index
            .access_point(&inst.country)
            .map(|ap| (ap.endpoint_url.clone(), ap.cert_fingerprints.join(", "))),
        competences: inst
            .competences
            .iter()
            .map(|c| {
                (
                    c.buc.to_string(),
                    c.role.as_str().to_owned(),
                    validity(c.valid_from, c.valid_to),
                    yes_no(c.eessi_ready),
                )
            })
            .collect(),
    })
}
