//! The error page of the HTML pages (console and MISSOC): the console's look, with the
//! product's name and a link home in its header.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

#[derive(Template)]
#[template(path = "common/error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    detail: &'a str,
    /// The header's name and link home.
    brand: &'a str,
    home: (&'a str, &'a str),
}

/// An error page with `brand` and a link `home` (label, href) in its header.
pub fn error_page(
    status: StatusCode,
    title: &str,
    detail: &str,
    brand: &str,
    home: (&str, &str),
) -> Response {
    let page = ErrorPage {
        title,
        detail,
        brand,
        home,
    };
    match page.render() {
        Ok(body) => (status, Html(body)).into_response(),
        Err(_) => (status, title.to_owned()).into_response(),
    }
}
