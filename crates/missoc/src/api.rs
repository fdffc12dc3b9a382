//! The MISSOC REST API under `/api/v1/missoc/`: editions and their workflow, entries,
//! change sets, comparison, diff, glossary, the IR institutions competent for a table, and
//! import/export of a whole edition. Bearer token of a MISSOC user; problem+json errors.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::auth::MissocUser;
use super::dataset;
use super::diff::DiffFilter;
use super::model::{
    missoc_country, CategoryCode, Comparison, EditionDiff, EditionId, EditionState, Entry,
    EntryText, GlossaryTerm, Language, TableNo,
};
use super::workflow::{self, ChangeSetAction, EntryKey, MissocError};
use sedgate_web::{ApiError, ApiJson, Finding, Problem};

use crate::directory::Institution;
use crate::store::{ChangeSet, EditionSummary, MissocImportSummary, Review};
use crate::MissocState;
use sedgate_base::domain::CountryCode;

pub fn router() -> Router<MissocState> {
    Router::new()
        .route("/missoc/editions", get(list_editions).post(open_edition))
        .route(
            "/missoc/editions/import",
            post(import_edition).layer(DefaultBodyLimit::disable()),
        )
        .route("/missoc/editions/{edition}", get(show_edition))
        .route("/missoc/editions/{edition}/transition", post(transition))
        .route("/missoc/editions/{edition}/publish", post(publish))
        .route("/missoc/editions/{edition}/review", get(review))
        .route("/missoc/editions/{edition}/export", get(export_edition))
        .route(
            "/missoc/editions/{edition}/entries/{country}/{category}/{lang}",
            get(get_entry).put(put_entry).delete(delete_entry),
        )
        .route(
            "/missoc/editions/{edition}/change-sets/{country}/{action}",
            post(change_set),
        )
        .route("/missoc/compare", get(compare))
        .route("/missoc/diff", get(diff))
        .route("/missoc/glossary", get(glossary))
        .route("/missoc/tables/{table}/institutions", get(institutions))
}

/// MISSOC's part of `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list_editions,
        show_edition,
        open_edition,
        transition,
        publish,
        review,
        export_edition,
        import_edition,
        get_entry,
        put_entry,
        delete_entry,
        change_set,
        compare,
        diff,
        glossary,
        institutions,
        crate::web::api_compare_csv,
        crate::web::api_compare_xlsx,
        crate::web::api_publication
    ),
    components(schemas(Problem, Finding))
)]
pub struct ApiDoc;

impl From<MissocError> for ApiError {
    fn from(e: MissocError) -> Self {
        let detail = e.to_string();
        let (status, code) = match e {
            MissocError::Store(inner) => return ApiError::from(inner),
            MissocError::UnknownEdition(_) => (StatusCode::NOT_FOUND, "unknown_edition"),
            MissocError::UnknownChangeSet { .. } => (StatusCode::NOT_FOUND, "unknown_change_set"),
            MissocError::UnknownEntry { .. } => (StatusCode::NOT_FOUND, "unknown_entry"),
            MissocError::EditionPublished(_) => (StatusCode::CONFLICT, "edition_published"),
            MissocError::EditionNotEditable { .. } => {
                (StatusCode::CONFLICT, "edition_not_editable")
            }
            MissocError::EditionExists(_) => (StatusCode::CONFLICT, "edition_exists"),
            MissocError::UnpublishedEditionExists(_) => {
                (StatusCode::CONFLICT, "unpublished_edition_exists")
            }
            MissocError::NotNextEdition { .. } => (StatusCode::CONFLICT, "not_next_edition"),
            MissocError::NoPreviousEdition { .. } => (StatusCode::CONFLICT, "no_previous_edition"),
            MissocError::InvalidEditionTransition { .. } => {
                (StatusCode::CONFLICT, "invalid_edition_transition")
            }
            MissocError::PublishBlocked { .. } => (StatusCode::CONFLICT, "publish_blocked"),
            MissocError::InvalidChangeSetTransition { .. } => {
                (StatusCode::CONFLICT, "invalid_change_set_transition")
            }
            MissocError::ChangeSetNotEditable { .. } => {
                (StatusCode::CONFLICT, "change_set_not_editable")
            }
            MissocError::RoleNotPermitted { .. } => (StatusCode::FORBIDDEN, "role_not_permitted"),
            MissocError::CountryNotPermitted { .. } => {
                (StatusCode::FORBIDDEN, "country_not_permitted")
            }
            MissocError::CommentRequired => (StatusCode::UNPROCESSABLE_ENTITY, "comment_required"),
            MissocError::UnknownCategory(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "unknown_category")
            }
            MissocError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_entry"),
            MissocError::Dataset(errors) => {
                let findings = errors
                    .0
                    .iter()
                    .map(|d| Finding {
                        line: u32::try_from(d.line).unwrap_or(u32::MAX),
                        column: d.column.and_then(|c| u32::try_from(c).ok()).unwrap_or(0),
                        path: String::new(),
                        message: d.message.clone(),
                    })
                    .collect();
                return ApiError::unprocessable("invalid_dataset", detail).with_findings(findings);
            }
        };
        ApiError::new(status, code, detail)
    }
}

fn bad_param(name: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request("invalid_query", format!("{name}: {e}"))
}

fn parse_edition(raw: &str) -> Result<EditionId, ApiError> {
    raw.parse().map_err(|e| bad_param("edition", e))
}

fn parse_country(raw: &str) -> Result<CountryCode, ApiError> {
    missoc_country(raw).map_err(|e| bad_param("country", e))
}

fn parse_category(raw: &str) -> Result<CategoryCode, ApiError> {
    raw.parse().map_err(|e| bad_param("category", e))
}

fn parse_language(raw: &str) -> Result<Language, ApiError> {
    raw.parse().map_err(|e| bad_param("lang", e))
}

/// A comma-separated list (empty: none).
fn parse_list<T>(
    raw: Option<&str>,
    parse: impl Fn(&str) -> Result<T, ApiError>,
) -> Result<Vec<T>, ApiError> {
    raw.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(parse)
        .collect()
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(t)| t)
        .map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))
}

// ---- editions ----

/// The editions the user may see (readers: published only), newest first, with counts.
#[utoipa::path(get, path = "/api/v1/missoc/editions", tag = "missoc",
    responses((status = 200, body = [Object], description = "EditionSummary[]: edition, state, opened_at, published_at, sample_data, notice, entries, countries, change_sets per state"),
        (status = 401, body = Problem)),
    security(("bearer" = [])))]
pub async fn list_editions(
    user: MissocUser,
    State(state): State<MissocState>,
) -> Result<Json<Vec<EditionSummary>>, ApiError> {
    Ok(Json(state.store.missoc_editions(&user.role).await?))
}

/// One edition with its counts (404 for a reader when it is not published).
#[utoipa::path(get, path = "/api/v1/missoc/editions/{edition}", tag = "missoc",
    params(("edition" = String, Path, description = "YYYY-01-01 or YYYY-07-01")),
    responses((status = 200, body = Object, description = "EditionSummary"), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn show_edition(
    user: MissocUser,
    State(state): State<MissocState>,
    Path(edition): Path<String>,
) -> Result<Json<EditionSummary>, ApiError> {
    let edition = parse_edition(&edition)?;
    Ok(Json(state.store.missoc_edition(&user.role, edition).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct OpenEdition {
    /// The edition to open: the one after the latest (published) edition.
    pub edition: String,
}

/// Opens the next edition (secretariat): every entry of the latest edition is carried
/// forward unchanged, every country with entries gets a draft change set.
#[utoipa::path(post, path = "/api/v1/missoc/editions", tag = "missoc", request_body = OpenEdition,
    responses((status = 201, body = Object, description = "EditionSummary of the new edition"),
        (status = 403, body = Problem), (status = 409, body = Problem, description = "another edition is unpublished, or this is not the next one")),
    security(("bearer" = [])))]
pub async fn open_edition(
    user: MissocUser,
    State(state): State<MissocState>,
    ApiJson(body): ApiJson<OpenEdition>,
) -> Result<(StatusCode, Json<EditionSummary>), ApiError> {
    let edition = parse_edition(&body.edition)?;
    let summary = state
        .store
        .open_missoc_edition(&user, edition, Utc::now())
        .await?;
    Ok((StatusCode::CREATED, Json(summary)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Transition {
    /// `in_review` or `open`.
    pub state: String,
}

/// Moves an edition between open and in review (secretariat).
#[utoipa::path(post, path = "/api/v1/missoc/editions/{edition}/transition", tag = "missoc",
    params(("edition" = String, Path)), request_body = Transition,
    responses((status = 204), (status = 403, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn transition(
    user: MissocUser,
    State(state): State<MissocState>,
    Path(edition): Path<String>,
    ApiJson(body): ApiJson<Transition>,
) -> Result<StatusCode, ApiError> {
    let edition = parse_edition(&edition)?;
    let to: EditionState = body
        .state
        .parse()
        .map_err(|e| ApiError::unprocessable("invalid_state", format!("{e}")))?;
    state
        .store
        .transition_missoc_edition(&user, edition, to, Utc::now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Publishes an edition in review when every change set is accepted or carried over
/// (secretariat); 409 `publish_blocked` names the countries that block.
#[utoipa::path(post, path = "/api/v1/missoc/editions/{edition}/publish", tag = "missoc",
    params(("edition" = String, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn publish(
    user: MissocUser,
    State(state): State<MissocState>,
    Path(edition): Path<String>,
) -> Result<StatusCode, ApiError> {
    let edition = parse_edition(&edition)?;
    state
        .store
        .publish_missoc_edition(&user, edition, Utc::now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The review: change-set states and comments, every missing translation of an entry and
/// every category title lacking a language (secretariat and correspondents).
#[utoipa::path(get, path = "/api/v1/missoc/editions/{edition}/review", tag = "missoc",
    params(("edition" = String, Path)),
    responses((status = 200, body = Object, description = "Review: change_sets, missing_translations, missing_titles"),
        (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn review(
    user: MissocUser,
    State(state): State<MissocState>,
    Path(edition): Path<String>,
) -> Result<Json<Review>, ApiError> {
    let edition = parse_edition(&edition)?;
    Ok(Json(state.store.missoc_review(&user.role, edition).await?))
}

/// The whole edition as JSON Lines (`sedgate-missoc-edition/1`).
#[utoipa::path(get, path = "/api/v1/missoc/editions/{edition}/export", tag = "missoc",
    params(("edition" = String, Path)),
    responses((status = 200, content_type = "application/x-ndjson", description = "the edition file"),
        (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn export_edition(
    user: MissocUser,
    State(state): State<MissocState>,
    Path(edition): Path<String>,
) -> Result<Response, ApiError> {
    let edition = parse_edition(&edition)?;
    let file = state
        .store
        .export_missoc_edition(&user.role, edition)
        .await?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/x-ndjson; charset=utf-8".to_owned(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"missoc-{edition}.jsonl\""),
            ),
        ],
        dataset::write(&file),
    )
        .into_response())
}

/// Imports an edition file (secretariat). Nothing is imported if any line is bad: 422
/// `invalid_dataset` with one finding per bad line.
#[utoipa::path(post, path = "/api/v1/missoc/editions/import", tag = "missoc",
    request_body(content = String, content_type = "application/x-ndjson", description = "sedgate-missoc-edition/1 JSON Lines"),
    responses((status = 201, body = Object, description = "MissocImportSummary"),
        (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn import_edition(
    user: MissocUser,
    State(state): State<MissocState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<MissocImportSummary>), ApiError> {
    workflow::require_secretariat(&user.role, "import an edition")?;
    let body = body.map_err(|e| ApiError::new(e.status(), "invalid_body", e.body_text()))?;
    let text = std::str::from_utf8(&body)
        .map_err(|e| ApiError::bad_request("invalid_body", format!("not UTF-8: {e}")))?;
    let summary = state
        .store
        .import_missoc_edition(&user.name, text, Utc::now(), &|_, _| {})
        .await?;
    Ok((StatusCode::CREATED, Json(summary)))
}

// ---- entries ----

type EntryPath = Path<(String, String, String, String)>;

fn entry_key(
    (edition, country, category, lang): (String, String, String, String),
) -> Result<EntryKey, ApiError> {
    Ok(EntryKey {
        edition: parse_edition(&edition)?,
        country: parse_country(&country)?,
        category: parse_category(&category)?,
        language: parse_language(&lang)?,
    })
}

/// One entry; 404 `unknown_entry` (naming the languages it exists in) when missing.
#[utoipa::path(get, path = "/api/v1/missoc/editions/{edition}/entries/{country}/{category}/{lang}", tag = "missoc",
    params(("edition" = String, Path), ("country" = String, Path), ("category" = String, Path, description = "e.g. VI-8 or ORG"), ("lang" = String, Path, description = "en, fr or de")),
    responses((status = 200, body = Object, description = "Entry"), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn get_entry(
    user: MissocUser,
    State(state): State<MissocState>,
    Path(path): EntryPath,
) -> Result<Json<Entry>, ApiError> {
    let key = entry_key(path)?;
    Ok(Json(state.store.missoc_entry(&user.role, &key).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryBody {
    /// Rich text: paragraphs separated by a blank line, list items starting with `- `.
    pub text: String,
    #[serde(default)]
    pub legal_refs: Vec<String>,
}

/// Writes an entry (the country's correspondent, while the edition is open or its set was
/// sent back); its `changed_in` becomes this edition.
#[utoipa::path(put, path = "/api/v1/missoc/editions/{edition}/entries/{country}/{category}/{lang}", tag = "missoc",
    params(("edition" = String, Path), ("country" = String, Path), ("category" = String, Path), ("lang" = String, Path)),
    request_body = EntryBody,
    responses((status = 200, body = Object, description = "Entry"), (status = 403, body = Problem),
        (status = 409, body = Problem, description = "edition_published, edition_not_editable, change_set_not_editable"),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn put_entry(
    user: MissocUser,
    State(state): State<MissocState>,
    Path(path): EntryPath,
    ApiJson(body): ApiJson<EntryBody>,
) -> Result<Json<Entry>, ApiError> {
    let key = entry_key(path)?;
    let content = EntryText {
        text: body.text,
        legal_refs: body.legal_refs,
    };
    Ok(Json(
        state
            .store
            .put_missoc_entry(&user, &key, &content, Utc::now())
            .await?,
    ))
}

/// Deletes an entry (same rules as writing it): the translation becomes missing.
#[utoipa::path(delete, path = "/api/v1/missoc/editions/{edition}/entries/{country}/{category}/{lang}", tag = "missoc",
    params(("edition" = String, Path), ("country" = String, Path), ("category" = String, Path), ("lang" = String, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn delete_entry(
    user: MissocUser,
    State(state): State<MissocState>,
    Path(path): EntryPath,
) -> Result<StatusCode, ApiError> {
    let key = entry_key(path)?;
    state
        .store
        .delete_missoc_entry(&user, &key, Utc::now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- change sets ----

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentBody {
    /// Required to send a set back; optional otherwise (replaces the set's comments).
    pub comment: Option<String>,
}

/// A step of a country's change set: `submit` (its correspondent), `accept`, `send-back`
/// (with a comment) or `carry-over` (secretariat; restores the previous edition's entries).
#[utoipa::path(post, path = "/api/v1/missoc/editions/{edition}/change-sets/{country}/{action}", tag = "missoc",
    params(("edition" = String, Path), ("country" = String, Path),
        ("action" = String, Path, description = "submit, accept, send-back or carry-over")),
    request_body(content = CommentBody, description = "optional"),
    responses((status = 200, body = Object, description = "ChangeSet"), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn change_set(
    user: MissocUser,
    State(state): State<MissocState>,
    Path((edition, country, action)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Json<ChangeSet>, ApiError> {
    let body: CommentBody = if body.iter().all(u8::is_ascii_whitespace) {
        CommentBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request("invalid_json", e.to_string()))?
    };
    let edition = parse_edition(&edition)?;
    let country = parse_country(&country)?;
    let action = match action.as_str() {
        "submit" => ChangeSetAction::Submit,
        "accept" => ChangeSetAction::Accept,
        "send-back" => ChangeSetAction::SendBack,
        "carry-over" => ChangeSetAction::CarryOver,
        other => {
            return Err(ApiError::not_found(
                "unknown_action",
                format!(
                    "{other:?} is not a change-set action (submit, accept, send-back, carry-over)"
                ),
            ))
        }
    };
    let comment = body.comment;
    Ok(Json(
        state
            .store
            .missoc_change_set_action(
                &user,
                edition,
                &country,
                action,
                comment.as_deref(),
                Utc::now(),
            )
            .await?,
    ))
}

// ---- views ----

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct CompareParams {
    /// Edition, e.g. 2026-01-01.
    pub edition: String,
    /// en, fr or de (default en).
    pub lang: Option<String>,
    /// Comma-separated country codes; empty: every country with entries.
    pub countries: Option<String>,
    /// Comma-separated category codes; empty: every category of the tables.
    pub categories: Option<String>,
}

/// Chosen countries × chosen categories of an edition in one language. A cell is `text`,
/// `missing_translation` (with the languages it exists in; never another language's text)
/// or `no_entry`.
#[utoipa::path(get, path = "/api/v1/missoc/compare", tag = "missoc", params(CompareParams),
    responses((status = 200, body = Object, description = "Comparison"), (status = 400, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn compare(
    user: MissocUser,
    State(state): State<MissocState>,
    params: Result<Query<CompareParams>, QueryRejection>,
) -> Result<Json<Comparison>, ApiError> {
    let p = query(params)?;
    let edition = parse_edition(&p.edition)?;
    let language = parse_language(p.lang.as_deref().unwrap_or("en"))?;
    let countries = parse_list(p.countries.as_deref(), parse_country)?;
    let categories = parse_list(p.categories.as_deref(), parse_category)?;
    Ok(Json(
        state
            .store
            .missoc_comparison(&user.role, edition, language, &countries, &categories)
            .await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DiffParams {
    pub from: String,
    pub to: String,
    /// Only this country.
    pub country: Option<String>,
    /// Only this category.
    pub category: Option<String>,
}

/// What changed between two editions: entries added, removed or changed (unchanged ones
/// are not listed).
#[utoipa::path(get, path = "/api/v1/missoc/diff", tag = "missoc", params(DiffParams),
    responses((status = 200, body = Object, description = "EditionDiff"), (status = 400, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn diff(
    user: MissocUser,
    State(state): State<MissocState>,
    params: Result<Query<DiffParams>, QueryRejection>,
) -> Result<Json<EditionDiff>, ApiError> {
    let p = query(params)?;
    let from = parse_edition(&p.from)?;
    let to = parse_edition(&p.to)?;
    let filter = DiffFilter {
        country: p
            .country
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(parse_country)
            .transpose()?,
        category: p
            .category
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(parse_category)
            .transpose()?,
    };
    Ok(Json(
        state
            .store
            .missoc_diff(&user.role, from, to, &filter)
            .await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct GlossaryParams {
    /// Substring of a term or definition, case-insensitive; empty: every term.
    pub q: Option<String>,
    /// Search in this language only (en, fr, de); default all.
    pub lang: Option<String>,
}

/// Searches the glossary.
#[utoipa::path(get, path = "/api/v1/missoc/glossary", tag = "missoc", params(GlossaryParams),
    responses((status = 200, body = [Object], description = "GlossaryTerm[]"), (status = 400, body = Problem)),
    security(("bearer" = [])))]
pub async fn glossary(
    _user: MissocUser,
    State(state): State<MissocState>,
    params: Result<Query<GlossaryParams>, QueryRejection>,
) -> Result<Json<Vec<GlossaryTerm>>, ApiError> {
    let p = query(params)?;
    let language = p
        .lang
        .as_deref()
        .filter(|l| !l.is_empty())
        .map(parse_language)
        .transpose()?;
    Ok(Json(
        state
            .store
            .missoc_glossary(p.q.as_deref().unwrap_or(""), language)
            .await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct InstitutionsParams {
    /// Only institutions of this country.
    pub country: Option<String>,
    #[serde(default)]
    pub offset: usize,
    /// Default 100, at most 500.
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TableInstitutions {
    pub table: String,
    pub title: String,
    /// The EESSI sector (S, P, AW, FB, UB); `null` for tables without one (I, XI).
    pub sector: Option<String>,
    /// BUCs whose name starts with this are the sector's.
    pub buc_prefix: Option<String>,
    pub total: usize,
    pub items: Vec<Institution>,
}

/// The institutions of the IR competent for the table's EESSI sector (a competence for any
/// BUC of the sector), optionally of one country.
#[utoipa::path(get, path = "/api/v1/missoc/tables/{table}/institutions", tag = "missoc",
    params(("table" = String, Path, description = "I to XII"), InstitutionsParams),
    responses((status = 200, body = TableInstitutions), (status = 400, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn institutions(
    _user: MissocUser,
    State(state): State<MissocState>,
    Path(table): Path<String>,
    params: Result<Query<InstitutionsParams>, QueryRejection>,
) -> Result<Json<TableInstitutions>, ApiError> {
    let table: TableNo = table
        .parse()
        .map_err(|e| ApiError::not_found("unknown_table", format!("{e}")))?;
    let p = query(params)?;
    let country = p
        .country
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(parse_country)
        .transpose()?;
    let limit = p.limit.unwrap_or(100).min(500);
    let sector = table.sector();
    let found = match sector {
        Some(s) => state
            .directory
            .competent_for_buc_prefix(s.buc_prefix(), country.as_ref()),
        None => Vec::new(),
    };
    Ok(Json(TableInstitutions {
        table: table.roman().to_owned(),
        title: table.title(Language::En).to_owned(),
        sector: sector.map(|s| format!("{s:?}")),
        buc_prefix: sector.map(|s| s.buc_prefix().to_owned()),
        total: found.len(),
        items: found.into_iter().skip(p.offset).take(limit).collect(),
    }))
}
