//! Operator authentication for the console: argon2id password hashes, sessions as a
//! random cookie (only its SHA-256 is stored), and a CSRF token bound to the session that
//! every console form carries back.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::FromRequestParts;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use chrono::Utc;
use rand::RngCore;

use super::ConsoleError;
use crate::api::auth::hash_token;
use crate::api::AppState;

pub const SESSION_COOKIE: &str = "sedgate_console";
/// Carries the login form's CSRF token before there is a session (double submit).
pub const LOGIN_COOKIE: &str = "sedgate_console_login";
pub const SESSION_HOURS: i64 = 8;

/// 32 random bytes, base64url.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A new operator password: 18 random bytes, base64url (24 characters).
pub fn generate_password() -> String {
    let mut bytes = [0u8; 18];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[derive(Debug, thiserror::Error)]
#[error("password hashing: {0}")]
pub struct HashError(String);

/// Argon2id with the crate's default (OWASP) parameters, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// False for a wrong password and for a hash that cannot be read.
pub fn verify_password(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// Compares secrets in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The value of cookie `name` in the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, scoped to `path`; `Secure` when the
/// request reached us over HTTPS (through a TLS-terminating proxy).
pub fn set_cookie(name: &str, value: &str, path: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

pub fn is_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

pub fn set_cookie_header(headers: &mut HeaderMap, value: HeaderValue) {
    headers.append(SET_COOKIE, value);
}

/// The cookies of a page session: the session's, scoped to `path`, and the login form's
/// CSRF cookie (double submit), scoped to `login_path`. The console and the MISSOC pages
/// each have theirs.
pub struct SessionCookies {
    pub session: &'static str,
    pub path: &'static str,
    pub login: &'static str,
    pub login_path: &'static str,
}

pub const CONSOLE_COOKIES: SessionCookies = SessionCookies {
    session: SESSION_COOKIE,
    path: "/console",
    login: LOGIN_COOKIE,
    login_path: "/console/login",
};

impl SessionCookies {
    /// Sets the login form's CSRF cookie (valid 15 minutes) on `response`.
    pub fn set_login_csrf(&self, response: &mut Response, csrf: &str, secure: bool) {
        let cookie = set_cookie(self.login, csrf, self.login_path, 900, secure);
        set_cookie_header(response.headers_mut(), cookie);
    }

    /// A redirect to `to` that sets the session cookie `token` and clears the login
    /// form's cookie.
    pub fn logged_in(&self, to: &str, token: &str, secure: bool) -> Response {
        let mut response = Redirect::to(to).into_response();
        let session = set_cookie(self.session, token, self.path, SESSION_HOURS * 3600, secure);
        set_cookie_header(response.headers_mut(), session);
        let login = set_cookie(self.login, "", self.login_path, 0, secure);
        set_cookie_header(response.headers_mut(), login);
        response
    }

    /// A redirect to `to` that clears the session cookie.
    pub fn logged_out(&self, to: &str, secure: bool) -> Response {
        let mut response = Redirect::to(to).into_response();
        let cookie = set_cookie(self.session, "", self.path, 0, secure);
        set_cookie_header(response.headers_mut(), cookie);
        response
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_right_password_and_refuses_others() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password(&hash, "correct horse"));
        assert!(!verify_password(&hash, "correct horsE"));
        assert!(!verify_password("not a hash", "correct horse"));
    }

    #[test]
    fn reads_one_cookie_among_several() {
        let mut h = HeaderMap::new();
        h.append(
            COOKIE,
            HeaderValue::from_static("a=1; sedgate_console=tok; b=2"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("tok"));
        assert_eq!(cookie(&h, "c"), None);
    }

    #[test]
    fn compares_secrets() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
    }
}
