//! The API's errors are `sedgate_web`'s problem+json `ApiError` (which also maps the
//! store's errors).

pub use sedgate_web::problem::{ApiError, ApiJson, Finding, Problem};
