//! Back-office REST API: messages, inbox, institutions, cases, catalogue. Each feature
//! file owns its routes and DTOs and exposes `router()`.

pub mod auth;
pub mod cases;
pub mod catalogue;
pub mod error;
pub mod inbox;
pub mod institutions;
pub mod messages;
pub mod openapi;
pub mod render;

use axum::Router;

use crate::app::AppState;

/// All back-office routes under /api/v1.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(institutions::router())
        .merge(inbox::router())
        .merge(messages::router())
        .merge(cases::router())
        .merge(catalogue::router())
        .merge(render::router())
}
