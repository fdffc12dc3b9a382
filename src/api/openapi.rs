//! The OpenAPI document, generated from the route annotations.

use axum::routing::get;
use axum::{Json, Router};
use utoipa::OpenApi;

use super::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "sedgate back-office API", description = "Submit SEDs, follow their delivery, collect received SEDs."),
    paths(
        super::institutions::search,
        super::institutions::show,
        super::inbox::list,
        super::inbox::show,
        super::inbox::ack,
        super::inbox::part,
        super::messages::submit,
        super::messages::show,
        super::cases::show,
        super::catalogue::show,
        super::render::message,
        super::render::inbox_item,
        super::render::review,
        crate::missoc::api::list_editions,
        crate::missoc::api::show_edition,
        crate::missoc::api::open_edition,
        crate::missoc::api::transition,
        crate::missoc::api::publish,
        crate::missoc::api::review,
        crate::missoc::api::export_edition,
        crate::missoc::api::import_edition,
        crate::missoc::api::get_entry,
        crate::missoc::api::put_entry,
        crate::missoc::api::delete_entry,
        crate::missoc::api::change_set,
        crate::missoc::api::compare,
        crate::missoc::api::diff,
        crate::missoc::api::glossary,
        crate::missoc::api::institutions,
        crate::missoc::web::api_compare_csv,
        crate::missoc::web::api_compare_xlsx,
        crate::missoc::web::api_publication
    ),
    components(schemas(super::error::Problem, super::error::Finding)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

pub fn router() -> Router<AppState> {
    Router::new().route("/openapi.json", get(|| async { Json(document()) }))
}
