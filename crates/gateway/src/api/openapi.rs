//! The OpenAPI document, generated from the route annotations.

use axum::routing::get;
use axum::{Json, Router};
use utoipa::OpenApi;

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
        super::render::review
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

/// `/openapi.json`: `document` with the paths of mounted products merged in.
pub fn router(document: utoipa::openapi::OpenApi) -> Router {
    let document = std::sync::Arc::new(document);
    Router::new().route(
        "/openapi.json",
        get(move || async move { Json(document.as_ref().clone()) }),
    )
}
