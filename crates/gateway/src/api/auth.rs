//! Back-office authentication: `Authorization: Bearer <token>`. Only the SHA-256 of a
//! token is stored; a token is bound to the institutions it may act for.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::Utc;
use sedgate_base::secret::hash_token;
use sedgate_web::bearer_token;

use super::error::ApiError;
use crate::app::AppState;
use sedgate_base::domain::InstitutionId;

/// The authenticated client of a request.
#[derive(Debug, Clone)]
pub struct AuthClient {
    pub id: String,
    pub name: String,
    pub institutions: Vec<InstitutionId>,
}

impl AuthClient {
    pub fn may_act_for(&self, id: &InstitutionId) -> bool {
        self.institutions.contains(id)
    }

    /// 403 unless the client may act for `id`.
    pub fn require(&self, id: &InstitutionId) -> Result<(), ApiError> {
        if self.may_act_for(id) {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "institution_not_permitted",
                format!("this API token may not act for institution {id}"),
            ))
        }
    }
}

impl FromRequestParts<AppState> for AuthClient {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(parts)?;
        let client = state
            .store
            .api_client_by_token_hash(&hash_token(token))
            .await?
            .ok_or_else(|| ApiError::unauthorized("invalid_token", "the API token is not known"))?;
        if client.revoked {
            return Err(ApiError::unauthorized(
                "revoked_token",
                "the API token has been revoked",
            ));
        }
        if client.expires_at.is_some_and(|at| at <= Utc::now()) {
            return Err(ApiError::unauthorized(
                "expired_token",
                "the API token has expired",
            ));
        }
        if let Some(limit) = &state.rate_limit {
            limit.check(&client.id)?;
        }
        Ok(AuthClient {
            id: client.id,
            name: client.name,
            institutions: client.institutions,
        })
    }
}
