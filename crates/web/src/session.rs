//! Page sessions: a random cookie (only its SHA-256 is stored by the product), a CSRF
//! token bound to the session that every form carries back, and before login a CSRF
//! cookie for the login form (double submit). The console and the MISSOC pages each have
//! their own `SessionCookies`.

use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};

/// How long a page session lasts.
pub const SESSION_HOURS: i64 = 8;

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

fn append_set_cookie(response: &mut Response, value: HeaderValue) {
    response.headers_mut().append(SET_COOKIE, value);
}

/// The cookies of a page session: the session's, scoped to `path`, and the login form's
/// CSRF cookie (double submit), scoped to `login_path`.
pub struct SessionCookies {
    pub session: &'static str,
    pub path: &'static str,
    pub login: &'static str,
    pub login_path: &'static str,
}

impl SessionCookies {
    /// Sets the login form's CSRF cookie (valid 15 minutes) on `response`.
    pub fn set_login_csrf(&self, response: &mut Response, csrf: &str, secure: bool) {
        append_set_cookie(
            response,
            set_cookie(self.login, csrf, self.login_path, 900, secure),
        );
    }

    /// A redirect to `to` that sets the session cookie `token` and clears the login
    /// form's cookie.
    pub fn logged_in(&self, to: &str, token: &str, secure: bool) -> Response {
        let mut response = Redirect::to(to).into_response();
        let session = set_cookie(self.session, token, self.path, SESSION_HOURS * 3600, secure);
        append_set_cookie(&mut response, session);
        let login = set_cookie(self.login, "", self.login_path, 0, secure);
        append_set_cookie(&mut response, login);
        response
    }

    /// A redirect to `to` that clears the session cookie.
    pub fn logged_out(&self, to: &str, secure: bool) -> Response {
        let mut response = Redirect::to(to).into_response();
        append_set_cookie(
            &mut response,
            set_cookie(self.session, "", self.path, 0, secure),
        );
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_one_cookie_among_several() {
        let mut h = HeaderMap::new();
        h.append(
            COOKIE,
            HeaderValue::from_static("a=1; sedgate_console=tok; b=2"),
        );
        assert_eq!(cookie(&h, "sedgate_console"), Some("tok"));
        assert_eq!(cookie(&h, "c"), None);
    }

    #[test]
    fn session_cookies_are_http_only_and_strict() {
        let c = SessionCookies {
            session: "s",
            path: "/p",
            login: "l",
            login_path: "/p/login",
        };
        let r = c.logged_in("/p", "tok", true);
        let set: Vec<_> = r.headers().get_all(SET_COOKIE).iter().collect();
        assert_eq!(
            set[0],
            "s=tok; Path=/p; Max-Age=28800; HttpOnly; SameSite=Strict; Secure"
        );
        assert_eq!(
            set[1],
            "l=; Path=/p/login; Max-Age=0; HttpOnly; SameSite=Strict; Secure"
        );
    }
}
