//! MISSOC authentication: `Authorization: Bearer <token>` of a MISSOC user (created with
//! `sedgate missoc user add`; only the token's SHA-256 is stored). Answers 401 problems
//! like the back-office API; what a role may do is decided by `workflow`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use sedgate_base::secret::hash_token;
use sedgate_web::{bearer_token, ApiError};

use crate::MissocState;

pub use super::workflow::MissocUser;

impl FromRequestParts<MissocState> for MissocUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &MissocState) -> Result<Self, ApiError> {
        let token = bearer_token(parts)?;
        let user = state
            .store
            .missoc_user_by_token_hash(&hash_token(token))
            .await?
            .ok_or_else(|| {
                ApiError::unauthorized("invalid_token", "the MISSOC token is not known")
            })?;
        if let Some(limit) = &state.rate_limit {
            limit.check(&format!("missoc:{}", user.id))?;
        }
        Ok(user)
    }
}
