//! The HTML page of a rendered SED: one compiled template, every value HTML-escaped.

use askama::Template;

use super::{RenderError, Rendered};

#[derive(Template)]
#[template(path = "render/sed.html")]
struct SedPage<'a> {
    r: &'a Rendered,
}

pub fn to_html(rendered: &Rendered) -> Result<String, RenderError> {
    Ok(SedPage { r: rendered }.render()?)
}
