//! Operator authentication for the console: argon2id password hashes
//! (`sedgate_base::secret`), sessions as a random cookie (only its SHA-256 is stored), and a
//! CSRF token bound to the session that every console form carries back
//! (`sedgate_web::session`).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::Utc;
use sedgate_base::secret::{hash_token, same_secret};
use sedgate_web::session::{cookie, SessionCookies};

use super::ConsoleError;
use crate::app::AppState;

pub const SESSION_COOKIE: &str = "sedgate_console";
/// Carries the login form's CSRF token before there is a session (double submit).
pub const LOGIN_COOKIE: &str = "sedgate_console_login";

pub const CONSOLE_COOKIES: SessionCookies = SessionCookies {
    session: SESSION_COOKIE,
    path: "/console",
    login: LOGIN_COOKIE,
    login_path: "/console/login",
};

/// A logged-in operator. Pages without one redirect to the login page.
#[derive(Debug, Clone)]
pub struct OperatorAuth {
    pub name: String,
    pub csrf: String,
    pub token_hash: String,
}

impl OperatorAuth {
    /// Refuses a form whose CSRF token is not this session's.
    pub fn check_csrf(&self, submitted: &str) -> Result<(), ConsoleError> {
        if same_secret(&self.csrf, submitted) {
            Ok(())
        } else {
            Err(ConsoleError::Csrf)
        }
    }

    /// Who the audit log names.
    pub fn actor(&self) -> String {
        format!("operator:{}", self.name)
    }
}

impl FromRequestParts<AppState> for OperatorAuth {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ConsoleError> {
        let token = cookie(&parts.headers, SESSION_COOKIE).ok_or(ConsoleError::LoginRequired)?;
        let token_hash = hash_token(token);
        let session = state
            .store
            .operator_session(&token_hash, Utc::now())
            .await?
            .ok_or(ConsoleError::LoginRequired)?;
        Ok(OperatorAuth {
            name: session.operator_name,
            csrf: session.csrf_token,
            token_hash,
        })
    }
}
