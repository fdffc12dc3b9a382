//! The operator console under `/console` on the API listener: server-rendered HTML pages
//! (compiled askama templates, every interpolated value HTML-escaped, inline CSS, no
//! script, no external assets) behind operator login. Operators are accounts of their own
//! (`sedgate operator add`), not API clients.

pub mod auth;
mod dashboard;
mod institutions;
mod login;
mod messages;

use askama::Template;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};

use crate::api::error::ApiError;
use crate::app::AppState;
use crate::store::StoreError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console", get(dashboard::show))
        .route("/console/login", get(login::form).post(login::submit))
        .route("/console/logout", post(login::logout))
        .route("/console/messages", get(messages::search))
        .route("/console/messages/{id}", get(messages::show))
        .route("/console/messages/{id}/redrive", post(messages::redrive))
        .route("/console/messages/{id}/render", get(messages::render))
        .route("/console/institutions", get(institutions::search))
        .route("/console/institutions/{id}", get(institutions::show))
}

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("login required")]
    LoginRequired,
    #[error("the form's CSRF token does not match the session")]
    Csrf,
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("template: {0}")]
    Template(#[from] askama::Error),
    #[error("{0}")]
    Internal(String),
    #[error("{}", .0.detail)]
    Api(ApiError),
}

impl From<ApiError> for ConsoleError {
    fn from(e: ApiError) -> Self {
        ConsoleError::Api(e)
    }
}

fn error_page(status: StatusCode, title: &str, detail: &str) -> Response {
    sedgate_web::error_page::error_page(status, title, detail, "sedgate", ("Dashboard", "/console"))
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        match self {
            ConsoleError::LoginRequired => Redirect::to("/console/login").into_response(),
            ConsoleError::Csrf => error_page(
                StatusCode::FORBIDDEN,
                "Form refused",
                "The form did not carry this session's security token (CSRF). Reload the page and try again.",
            ),
            ConsoleError::NotFound(detail) => {
                error_page(StatusCode::NOT_FOUND, "Not found", &detail)
            }
            ConsoleError::Conflict(detail) => {
                error_page(StatusCode::CONFLICT, "Not possible", &detail)
            }
            ConsoleError::Store(e) if e.is_unavailable() => {
                tracing::warn!(error = %e, "console: database unavailable");
                error_page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Database unavailable",
                    "The database cannot be reached; try again later.",
                )
            }
            ConsoleError::Store(_) | ConsoleError::Template(_) | ConsoleError::Internal(_) => {
                tracing::error!(error = %self, "console: internal error");
                error_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal error",
                    "The console could not build this page; the cause has been logged.",
                )
            }
            ConsoleError::Api(e) => e.into_response(),
        }
    }
}

/// What the frame of every page shows.
pub struct Layout {
    pub country: String,
    pub operator: String,
    pub csrf: String,
}

impl Layout {
    fn new(state: &AppState, op: &auth::OperatorAuth) -> Self {
        Layout {
            country: state.config.country.to_string(),
            operator: op.name.clone(),
            csrf: op.csrf.clone(),
        }
    }
}

/// A page as a response; pages are never cached (they show live state and CSRF tokens).
fn page(t: &impl Template) -> Result<Response, ConsoleError> {
    let body = t.render()?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Html(body)).into_response())
}

/// Percent-encodes one path segment (message ids carry `@`, institution ids `:`).
pub fn path_segment(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'@' | b':') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_path_segments() {
        assert_eq!(path_segment("a1b2@at.sedgate.test"), "a1b2@at.sedgate.test");
        assert_eq!(path_segment("x/y?z#<"), "x%2Fy%3Fz%23%3C");
    }
}
