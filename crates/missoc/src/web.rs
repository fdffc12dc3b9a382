//! The MISSOC pages under `/missoc/` (login with a MISSOC user's token → a cookie session,
//! editions, compare, diff, glossary, competent institutions) and the downloads: CSV and
//! XLSX of a comparison and the PDF publication, both with a bearer token under
//! `/api/v1/missoc/` and with the page session under `/missoc/`.
//!
//! The data comes from the JSON API's handlers (`missoc::api`), called with the page
//! session's user, so pages, downloads and JSON answer the same query the same way;
//! readers see published editions only. Sessions reuse the console's cookie, CSRF and
//! token helpers.

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Path, Query, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::Utc;
use serde::Deserialize;

use super::api::{self as json, CompareParams, DiffParams, GlossaryParams};
use super::auth::MissocUser;
use super::export::{comparison_csv, comparison_xlsx, publication_pdf, ExportError};
use super::labels::ui;
use super::model::{missoc_country, CategoryCode, Comparison, EditionId, Language, TableNo};
use super::pages::{self, CompareChoice, DiffChoice, EditionRef, Frame, InstitutionView};
use crate::MissocState;
use sedgate_base::domain::CountryCode;
use sedgate_base::secret::{hash_token, random_token, same_secret};
use sedgate_web::error_page::error_page as shared_error_page;
use sedgate_web::session::{cookie, is_https, SessionCookies, SESSION_HOURS};
use sedgate_web::ApiError;

/// The page session's cookie and the login form's CSRF cookie.
pub const MISSOC_COOKIES: SessionCookies = SessionCookies {
    session: "sedgate_missoc",
    path: "/missoc",
    login: "sedgate_missoc_login",
    login_path: "/missoc/login",
};
const INSTITUTIONS_LIMIT: usize = 200;

/// The HTML pages and the downloads with the page session (merged at the root).
pub fn router() -> Router<MissocState> {
    Router::new()
        .route(
            "/missoc",
            get(|| async { Redirect::to("/missoc/editions") }),
        )
        .route("/missoc/login", get(login_form).post(login_submit))
        .route("/missoc/logout", post(logout))
        .route("/missoc/editions", get(editions))
        .route("/missoc/compare", get(compare))
        .route("/missoc/diff", get(diff))
        .route("/missoc/glossary", get(glossary))
        .route("/missoc/tables/{table}/institutions", get(institutions))
        .route("/missoc/compare.csv", get(page_compare_csv))
        .route("/missoc/compare.xlsx", get(page_compare_xlsx))
        .route(
            "/missoc/editions/{edition}/publication.pdf",
            get(page_publication),
        )
}

/// The downloads with a bearer token (nested under `/api/v1`).
pub fn api_router() -> Router<MissocState> {
    Router::new()
        .route("/missoc/compare.csv", get(api_compare_csv))
        .route("/missoc/compare.xlsx", get(api_compare_xlsx))
        .route(
            "/missoc/editions/{edition}/publication.pdf",
            get(api_publication),
        )
}

// ---- errors ----

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("login required")]
    LoginRequired,
    #[error("the form's CSRF token does not match the session")]
    Csrf,
    #[error("{}", .0.detail)]
    Api(ApiError),
    #[error("template: {0}")]
    Template(#[from] askama::Error),
    #[error(transparent)]
    Export(#[from] ExportError),
    #[error("{0}")]
    Internal(String),
}

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        PageError::Api(e)
    }
}

impl From<crate::store::StoreError> for PageError {
    fn from(e: crate::store::StoreError) -> Self {
        PageError::Api(ApiError::from(e))
    }
}

fn error_page(status: StatusCode, title: &str, detail: &str) -> Response {
    shared_error_page(
        status,
        title,
        detail,
        "MISSOC",
        ("Editions", "/missoc/editions"),
    )
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::LoginRequired => Redirect::to("/missoc/login").into_response(),
            PageError::Csrf => error_page(
                StatusCode::FORBIDDEN,
                "Form refused",
                "The form did not carry this session's security token (CSRF). Reload the page and try again.",
            ),
            PageError::Api(e) if e.status.is_server_error() => {
                tracing::error!(detail = %e.detail, "missoc page: internal error");
                error_page(
                    e.status,
                    "Not available",
                    "This page could not be built; the cause has been logged.",
                )
            }
            PageError::Api(e) => error_page(e.status, "Not possible", &e.detail),
            PageError::Template(_) | PageError::Export(_) | PageError::Internal(_) => {
                tracing::error!(error = %self, "missoc page: internal error");
                error_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal error",
                    "This page could not be built; the cause has been logged.",
                )
            }
        }
    }
}

/// A download that failed to build is a 500 problem; the cause goes to the log.
fn export_failed(e: ExportError) -> ApiError {
    ApiError::internal(&e)
}

// ---- sessions ----

/// A MISSOC user logged in to the pages (cookie session).
#[derive(Debug, Clone)]
pub struct PageUser {
    pub user: MissocUser,
    pub csrf: String,
    pub token_hash: String,
}

impl PageUser {
    fn frame(&self, lang: Language) -> Frame {
        Frame::new(lang, &self.user.name, self.user.role.name(), &self.csrf)
    }
}

impl FromRequestParts<MissocState> for PageUser {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &MissocState) -> Result<Self, PageError> {
        let token =
            cookie(&parts.headers, MISSOC_COOKIES.session).ok_or(PageError::LoginRequired)?;
        let token_hash = hash_token(token);
        let session = state
            .store
            .missoc_session(&token_hash, Utc::now())
            .await?
            .ok_or(PageError::LoginRequired)?;
        Ok(PageUser {
            user: session.user,
            csrf: session.csrf,
            token_hash,
        })
    }
}

/// The page language from `lang` (English when absent or unknown).
fn language(raw: Option<&str>) -> Language {
    raw.and_then(|l| l.parse().ok()).unwrap_or(Language::En)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LangQuery {
    lang: Option<String>,
}

/// A page as a response; pages are never cached (they carry CSRF tokens).
fn page(body: String) -> Response {
    ([(header::CACHE_CONTROL, "no-store")], Html(body)).into_response()
}

fn login_page(
    headers: &HeaderMap,
    lang: Language,
    status: StatusCode,
    error: Option<String>,
) -> Result<Response, PageError> {
    let csrf = random_token();
    let mut response = page(pages::login_page(lang, &csrf, error)?);
    *response.status_mut() = status;
    MISSOC_COOKIES.set_login_csrf(&mut response, &csrf, is_https(headers));
    Ok(response)
}

async fn login_form(headers: HeaderMap, Query(q): Query<LangQuery>) -> Result<Response, PageError> {
    login_page(&headers, language(q.lang.as_deref()), StatusCode::OK, None)
}

#[derive(Deserialize)]
pub struct LoginForm {
    token: String,
    csrf: String,
    #[serde(default)]
    lang: Option<String>,
}

async fn login_submit(
    State(state): State<MissocState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, PageError> {
    let lang = language(form.lang.as_deref());
    let expected = cookie(&headers, MISSOC_COOKIES.login).unwrap_or("");
    if expected.is_empty() || !same_secret(expected, &form.csrf) {
        return Err(PageError::Csrf);
    }
    let user = state
        .store
        .missoc_user_by_token_hash(&hash_token(form.token.trim()))
        .await?;
    let Some(user) = user else {
        tracing::warn!("missoc: page login refused");
        return login_page(
            &headers,
            lang,
            StatusCode::UNAUTHORIZED,
            Some(ui(lang).login_failed.to_owned()),
        );
    };
    let token = random_token();
    let now = Utc::now();
    state
        .store
        .create_missoc_session(
            &user.id,
            &hash_token(&token),
            &random_token(),
            now,
            now + chrono::Duration::hours(SESSION_HOURS),
        )
        .await?;
    let to = format!("/missoc/editions?lang={lang}");
    Ok(MISSOC_COOKIES.logged_in(&to, &token, is_https(&headers)))
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

async fn logout(
    State(state): State<MissocState>,
    user: PageUser,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    if !same_secret(&user.csrf, &form.csrf) {
        return Err(PageError::Csrf);
    }
    state.store.delete_missoc_session(&user.token_hash).await?;
    Ok(MISSOC_COOKIES.logged_out("/missoc/login", is_https(&headers)))
}

// ---- pages ----

/// The editions `user` may see, newest first.
async fn visible_editions(
    state: &MissocState,
    user: &MissocUser,
) -> Result<Vec<EditionRef>, PageError> {
    let list = state
        .store
        .missoc_editions(&user.role)
        .await
        .map_err(ApiError::from)?;
    Ok(list
        .into_iter()
        .map(|e| EditionRef {
            id: e.edition,
            state: e.state,
            sample_data: e.sample_data,
        })
        .collect())
}

async fn editions(
    State(state): State<MissocState>,
    user: PageUser,
    Query(q): Query<LangQuery>,
) -> Result<Response, PageError> {
    let list = visible_editions(&state, &user.user).await?;
    Ok(page(pages::editions_page(
        user.frame(language(q.lang.as_deref())),
        &list,
    )?))
}

/// The query's pairs; list fields may repeat (`countries=AT&countries=DE`, as checkboxes
/// send them) or hold commas (`countries=AT,DE`, as links and the JSON API have them).
fn pairs(raw: Option<&str>) -> Vec<(String, String)> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(raw.unwrap_or_default()).unwrap_or_default()
}

fn values<'a>(pairs: &'a [(String, String)], key: &'a str) -> impl Iterator<Item = &'a str> {
    pairs
        .iter()
        .filter(move |(k, _)| k == key)
        .flat_map(|(_, v)| v.split([',', ' ']))
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn first<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// Parses each value; a bad one becomes a message on the page.
fn parsed<T, E: std::fmt::Display>(
    raw: impl Iterator<Item = impl AsRef<str>>,
    what: &str,
    parse: impl Fn(&str) -> Result<T, E>,
    errors: &mut Vec<String>,
) -> Vec<T> {
    raw.filter_map(|v| {
        parse(v.as_ref())
            .map_err(|e| errors.push(format!("{what}: {e}")))
            .ok()
    })
    .collect()
}

/// Runs the JSON compare for `choice` as `user`.
async fn comparison(
    state: &MissocState,
    user: &MissocUser,
    choice: &CompareChoice,
    lang: Language,
) -> Result<Comparison, ApiError> {
    let edition = choice
        .edition
        .ok_or_else(|| ApiError::bad_request("invalid_query", "no edition chosen"))?;
    let join = |items: Vec<String>| Some(items.join(",")).filter(|s| !s.is_empty());
    let params = CompareParams {
        edition: edition.to_string(),
        lang: Some(lang.to_string()),
        countries: join(choice.countries.iter().map(|c| c.to_string()).collect()),
        categories: join(choice.categories.iter().map(|c| c.to_string()).collect()),
    };
    let axum::Json(c) =
        json::compare(user.clone(), State(state.clone()), Ok(Query(params))).await?;
    Ok(c)
}

/// The compare form's choice from the query; tables become their categories.
async fn compare_choice(
    state: &MissocState,
    raw: Option<&str>,
    errors: &mut Vec<String>,
) -> Result<(CompareChoice, Language, bool), PageError> {
    let q = pairs(raw);
    let lang = language(first(&q, "lang"));
    let edition = first(&q, "edition").and_then(|e| {
        parsed(
            std::iter::once(e),
            "edition",
            str::parse::<EditionId>,
            errors,
        )
        .pop()
    });
    let countries = parsed(values(&q, "countries"), "country", missoc_country, errors);
    let tables = parsed(values(&q, "tables"), "table", str::parse::<TableNo>, errors);
    let mut categories = parsed(
        values(&q, "categories"),
        "category",
        str::parse::<CategoryCode>,
        errors,
    );
    if !tables.is_empty() {
        let all = state.store.missoc_categories().await?;
        for c in all {
            if c.code.table().is_some_and(|t| tables.contains(&t)) && !categories.contains(&c.code)
            {
                categories.push(c.code);
            }
        }
        categories.sort_by_key(CategoryCode::sort_key);
    }
    let submitted = first(&q, "edition").is_some();
    Ok((
        CompareChoice {
            edition,
            countries,
            tables,
            categories,
        },
        lang,
        submitted,
    ))
}

async fn compare(
    State(state): State<MissocState>,
    user: PageUser,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let mut errors = Vec::new();
    let (mut choice, lang, submitted) = compare_choice(&state, raw.as_deref(), &mut errors).await?;
    let editions = visible_editions(&state, &user.user).await?;
    if choice.edition.is_none() {
        choice.edition = editions.first().map(|e| e.id);
    }
    let result = if submitted && errors.is_empty() {
        match comparison(&state, &user.user, &choice, lang).await {
            Ok(c) => Some(c),
            Err(e) if e.status.is_server_error() => return Err(e.into()),
            Err(e) => {
                errors.push(e.detail);
                None
            }
        }
    } else {
        None
    };
    let notice = result.as_ref().and_then(|c| {
        editions
            .iter()
            .find(|e| e.id == c.edition && e.sample_data)
            .map(|_| ui(lang).sample_data.to_uppercase())
    });
    Ok(page(pages::compare_page(
        user.frame(lang),
        &editions,
        &choice,
        errors,
        result.as_ref(),
        notice,
    )?))
}

async fn diff(
    State(state): State<MissocState>,
    user: PageUser,
    Query(q): Query<DiffForm>,
) -> Result<Response, PageError> {
    let lang = language(q.lang.as_deref());
    let mut errors = Vec::new();
    let edition = |raw: &Option<String>, what: &str, errors: &mut Vec<String>| {
        raw.as_deref()
            .filter(|e| !e.is_empty())
            .and_then(|e| parsed(std::iter::once(e), what, str::parse::<EditionId>, errors).pop())
    };
    let choice = DiffChoice {
        from: edition(&q.from, "from", &mut errors),
        to: edition(&q.to, "to", &mut errors),
        country: q
            .country
            .clone()
            .unwrap_or_default()
            .trim()
            .to_ascii_uppercase(),
        category: q.category.clone().unwrap_or_default().trim().to_owned(),
    };
    let editions = visible_editions(&state, &user.user).await?;
    let result = match (choice.from, choice.to) {
        (Some(from), Some(to)) if errors.is_empty() => {
            let params = DiffParams {
                from: from.to_string(),
                to: to.to_string(),
                country: Some(choice.country.clone()).filter(|c| !c.is_empty()),
                category: Some(choice.category.clone()).filter(|c| !c.is_empty()),
            };
            match json::diff(user.user.clone(), State(state.clone()), Ok(Query(params))).await {
                Ok(axum::Json(d)) => Some(d),
                Err(e) if e.status.is_server_error() => return Err(e.into()),
                Err(e) => {
                    errors.push(e.detail);
                    None
                }
            }
        }
        _ => None,
    };
    Ok(page(pages::diff_page(
        user.frame(lang),
        &editions,
        &choice,
        errors,
        result.as_ref(),
    )?))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DiffForm {
    lang: Option<String>,
    from: Option<String>,
    to: Option<String>,
    country: Option<String>,
    category: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct GlossaryForm {
    lang: Option<String>,
    q: Option<String>,
}

async fn glossary(
    State(state): State<MissocState>,
    user: PageUser,
    Query(form): Query<GlossaryForm>,
) -> Result<Response, PageError> {
    let lang = language(form.lang.as_deref());
    let q = form.q.unwrap_or_default();
    let terms = match q.trim() {
        "" => None,
        q => {
            let params = GlossaryParams {
                q: Some(q.to_owned()),
                lang: None,
            };
            let axum::Json(terms) =
                json::glossary(user.user.clone(), State(state.clone()), Ok(Query(params))).await?;
            Some(terms)
        }
    };
    Ok(page(pages::glossary_page(
        user.frame(lang),
        &q,
        terms.as_deref(),
    )?))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct InstitutionsForm {
    lang: Option<String>,
    countries: Option<String>,
}

async fn institutions(
    State(state): State<MissocState>,
    user: PageUser,
    Path(table): Path<String>,
    Query(form): Query<InstitutionsForm>,
) -> Result<Response, PageError> {
    let lang = language(form.lang.as_deref());
    let table: TableNo = table
        .parse()
        .map_err(|e| ApiError::not_found("unknown_table", format!("{e}")))?;
    let mut errors = Vec::new();
    let countries: Vec<CountryCode> = parsed(
        form.countries
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty()),
        "country",
        missoc_country,
        &mut errors,
    );
    if let Some(e) = errors.pop() {
        return Err(ApiError::bad_request("invalid_query", e).into());
    }
    let mut items = Vec::new();
    if let Some(sector) = table.sector() {
        let prefix = sector.buc_prefix();
        let scopes: Vec<Option<&CountryCode>> = if countries.is_empty() {
            vec![None]
        } else {
            countries.iter().map(Some).collect()
        };
        for scope in scopes {
            for inst in state.directory.competent_for_buc_prefix(prefix, scope) {
                let mut bucs: Vec<String> = inst
                    .competences
                    .iter()
                    .filter(|c| c.buc.as_str().starts_with(prefix))
                    .map(|c| c.buc.to_string())
                    .collect();
                bucs.sort();
                bucs.dedup();
                items.push(InstitutionView {
                    id: inst.id.to_string(),
                    country: inst.country.to_string(),
                    name: inst
                        .names
                        .get(lang.code())
                        .or_else(|| inst.names.get("en"))
                        .or_else(|| inst.names.values().next())
                        .cloned()
                        .unwrap_or_default(),
                    bucs: bucs.join(", "),
                });
            }
        }
    }
    items.truncate(INSTITUTIONS_LIMIT);
    Ok(page(pages::institutions_page(
        user.frame(lang),
        table,
        &countries,
        items,
    )?))
}

// ---- downloads ----

/// A file to download: content type and file name.
fn download(body: Vec<u8>, content_type: &'static str, file_name: &str) -> Response {
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}

pub const CSV: &str = "text/csv; charset=utf-8";
pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
pub const PDF: &str = "application/pdf";

fn compare_file(c: &Comparison, ext: &str) -> String {
    format!("missoc-compare-{}-{}.{ext}", c.edition, c.language)
}

#[derive(Clone, Copy)]
enum Sheet {
    Csv,
    Xlsx,
}

/// The comparison of the JSON compare for `params`, as a file.
async fn compare_download(
    state: MissocState,
    user: MissocUser,
    params: Result<Query<CompareParams>, QueryRejection>,
    sheet: Sheet,
) -> Result<Response, ApiError> {
    let axum::Json(c) = json::compare(user, State(state), params).await?;
    let response = tokio::task::spawn_blocking(move || match sheet {
        Sheet::Csv => comparison_csv(&c).map(|b| download(b, CSV, &compare_file(&c, "csv"))),
        Sheet::Xlsx => comparison_xlsx(&c).map(|b| download(b, XLSX, &compare_file(&c, "xlsx"))),
    })
    .await
    .map_err(|e| ApiError::internal(&e))?
    .map_err(export_failed)?;
    Ok(response)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PublicationParams {
    /// en, fr or de (default en).
    lang: Option<String>,
}

async fn publication_download(
    state: MissocState,
    user: MissocUser,
    edition: &str,
    lang: Option<&str>,
) -> Result<Response, ApiError> {
    let edition: EditionId = edition
        .parse()
        .map_err(|e| ApiError::not_found("unknown_edition", format!("{e}")))?;
    let language: Language = lang.unwrap_or("en").parse().map_err(|e| {
        ApiError::bad_request("invalid_query", format!("query parameter lang: {e}"))
    })?;
    let publication = state
        .store
        .missoc_publication(&user.role, edition, language)
        .await?;
    let summary = state.store.missoc_edition(&user.role, edition).await?;
    let notice = summary.notice.or_else(|| {
        summary
            .sample_data
            .then(|| ui(language).sample_data.to_uppercase())
    });
    let file = format!("missoc-{edition}-{language}.pdf");
    tokio::task::spawn_blocking(move || publication_pdf(&publication, notice.as_deref()))
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map(|b| download(b, PDF, &file))
        .map_err(export_failed)
}

/// The comparison as CSV (same query as `GET /api/v1/missoc/compare`).
#[utoipa::path(get, path = "/api/v1/missoc/compare.csv", tag = "missoc", params(CompareParams),
    responses((status = 200, description = "text/csv: header row (category, title, one column per country), one row per category"),
        (status = 400, body = sedgate_web::Problem), (status = 404, body = sedgate_web::Problem)),
    security(("bearer" = [])))]
pub async fn api_compare_csv(
    user: MissocUser,
    State(state): State<MissocState>,
    params: Result<Query<CompareParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    compare_download(state, user, params, Sheet::Csv).await
}

/// The comparison as an XLSX workbook (same query as `GET /api/v1/missoc/compare`).
#[utoipa::path(get, path = "/api/v1/missoc/compare.xlsx", tag = "missoc", params(CompareParams),
    responses((status = 200, description = "XLSX workbook of one sheet"),
        (status = 400, body = sedgate_web::Problem), (status = 404, body = sedgate_web::Problem)),
    security(("bearer" = [])))]
pub async fn api_compare_xlsx(
    user: MissocUser,
    State(state): State<MissocState>,
    params: Result<Query<CompareParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    compare_download(state, user, params, Sheet::Xlsx).await
}

/// The PDF publication of an edition in one language.
#[utoipa::path(get, path = "/api/v1/missoc/editions/{edition}/publication.pdf", tag = "missoc",
    params(("edition" = String, Path, description = "e.g. 2026-07-01"), ("lang" = Option<String>, Query, description = "en, fr or de (default en)")),
    responses((status = 200, description = "application/pdf"),
        (status = 400, body = sedgate_web::Problem), (status = 404, body = sedgate_web::Problem)),
    security(("bearer" = [])))]
pub async fn api_publication(
    user: MissocUser,
    State(state): State<MissocState>,
    Path(edition): Path<String>,
    Query(q): Query<PublicationParams>,
) -> Result<Response, ApiError> {
    publication_download(state, user, &edition, q.lang.as_deref()).await
}

async fn page_compare_csv(
    State(state): State<MissocState>,
    user: PageUser,
    params: Result<Query<CompareParams>, QueryRejection>,
) -> Result<Response, PageError> {
    Ok(compare_download(state, user.user, params, Sheet::Csv).await?)
}

async fn page_compare_xlsx(
    State(state): State<MissocState>,
    user: PageUser,
    params: Result<Query<CompareParams>, QueryRejection>,
) -> Result<Response, PageError> {
    Ok(compare_download(state, user.user, params, Sheet::Xlsx).await?)
}

async fn page_publication(
    State(state): State<MissocState>,
    user: PageUser,
    Path(edition): Path<String>,
    Query(q): Query<PublicationParams>,
) -> Result<Response, PageError> {
    Ok(publication_download(state, user.user, &edition, q.lang.as_deref()).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_repeated_and_comma_separated_lists() {
        let q = pairs(Some(
            "countries=AT&countries=DE,FR&tables=VI&lang=fr&categories=",
        ));
        assert_eq!(
            values(&q, "countries").collect::<Vec<_>>(),
            ["AT", "DE", "FR"]
        );
        assert_eq!(first(&q, "lang"), Some("fr"));
        assert_eq!(values(&q, "categories").count(), 0);
        assert_eq!(first(&q, "edition"), None);
    }

    #[test]
    fn unknown_page_languages_fall_back_to_english() {
        assert_eq!(language(Some("de")), Language::De);
        assert_eq!(language(Some("xx")), Language::En);
        assert_eq!(language(None), Language::En);
    }
}
