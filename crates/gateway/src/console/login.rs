//! Login and logout. The login form is protected against CSRF by a double-submit cookie;
//! a wrong name and a wrong password are answered alike, after the same hashing work.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use chrono::Utc;
use once_cell::sync::Lazy;
use serde::Deserialize;

use sedgate_base::secret::{hash_password, hash_token, random_token, same_secret, verify_password};
use sedgate_web::session::{cookie, is_https, SESSION_HOURS};

use super::auth::{OperatorAuth, CONSOLE_COOKIES, LOGIN_COOKIE};
use super::{page, ConsoleError};
use crate::app::AppState;

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage {
    country: String,
    csrf: String,
    error: Option<String>,
}

/// A login page with a fresh login CSRF token in a cookie and in the form.
fn login_page(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    error: Option<String>,
) -> Result<Response, ConsoleError> {
    let csrf = random_token();
    let mut response = page(&LoginPage {
        country: state.config.country.to_string(),
        csrf: csrf.clone(),
        error,
    })?;
    *response.status_mut() = status;
    CONSOLE_COOKIES.set_login_csrf(&mut response, &csrf, is_https(headers));
    Ok(response)
}

pub async fn form(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ConsoleError> {
    login_page(&state, &headers, StatusCode::OK, None)
}

#[derive(Deserialize)]
pub struct LoginForm {
    name: String,
    password: String,
    csrf: String,
}

/// Verified against when the name is unknown, so that both failures cost the same.
static DUMMY_HASH: Lazy<Option<String>> = Lazy::new(|| hash_password("no such operator").ok());

pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, ConsoleError> {
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or("");
    if expected.is_empty() || !same_secret(expected, &form.csrf) {
        return Err(ConsoleError::Csrf);
    }
    let operator = state.store.operator_by_name(form.name.trim()).await?;
    let phc = operator
        .as_ref()
        .map(|o| o.password_hash.clone())
        .or_else(|| DUMMY_HASH.clone())
        .unwrap_or_default();
    let password = form.password;
    let verified = tokio::task::spawn_blocking(move || verify_password(&phc, &password))
        .await
        .map_err(|e| ConsoleError::Internal(e.to_string()))?;
    let operator = match operator {
        Some(o) if verified && !o.disabled => o,
        _ => {
            tracing::warn!(name = %form.name, "console: login refused");
            return login_page(
                &state,
                &headers,
                StatusCode::UNAUTHORIZED,
                Some("Wrong name or password.".to_owned()),
            );
        }
    };
    let token = random_token();
    let now = Utc::now();
    state
        .store
        .create_operator_session(
            &operator,
            &hash_token(&token),
            &random_token(),
            now,
            now + chrono::Duration::hours(SESSION_HOURS),
        )
        .await?;
    Ok(CONSOLE_COOKIES.logged_in("/console", &token, is_https(&headers)))
}

#[derive(Deserialize)]
pub struct CsrfForm {
    pub csrf: String,
}

pub async fn logout(
    State(state): State<AppState>,
    op: OperatorAuth,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, ConsoleError> {
    op.check_csrf(&form.csrf)?;
    state.store.delete_operator_session(&op.token_hash).await?;
    Ok(CONSOLE_COOKIES.logged_out("/console/login", is_https(&headers)))
}
