//! Bounds on what one back-office client can make the gateway do: the size of a request
//! body, the time a request may take, and how many requests a token may make per second.
//!
//! The rate limit is keyed by the authenticated client (never by anything a stranger can
//! vary), so the keyed state is bounded by the number of API clients. It uses `governor`'s
//! GCRA: tower's `RateLimit` is one limit per service and makes callers wait instead of
//! answering 429.

use std::num::NonZeroU32;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::error::ApiError;
use super::AppState;
use crate::config::ApiConfig;

/// Requests per second per API client id.
pub struct ClientRateLimit {
    limiter: DefaultKeyedRateLimiter<String>,
}

impl ClientRateLimit {
    /// `None` when the configured rate is 0 (no limit).
    pub fn from_config(api: &ApiConfig) -> Option<Self> {
        let rate = NonZeroU32::new(api.rate_limit_per_second)?;
        let burst = NonZeroU32::new(api.rate_limit_burst).unwrap_or(rate);
        Some(Self {
            limiter: RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)),
        })
    }

    /// One request of `client_id`: refused with 429 and Retry-After when over the limit.
    pub fn check(&self, client_id: &str) -> Result<(), ApiError> {
        match self.limiter.check_key(&client_id.to_owned()) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                Err(ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    format!(
                        "this API token made too many requests; retry in {} ms",
                        wait.as_millis()
                    ),
                )
                .with_retry_after(wait.as_secs().max(1)))
            }
        }
    }
}

/// Caps the request body at `api.max_request_bytes` (413 request_too_large, up front when
/// Content-Length says so, else when the stream passes it) and the whole request at
/// `api.request_timeout` (408 request_timeout), body reading included: a client sending a
/// byte a second cannot hold a handler forever.
pub async fn bound_request(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let cap = state.config.api.max_request_bytes;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > cap) {
        return too_large(cap).into_response();
    }
    let (parts, body) = request.into_parts();
    let limit = usize::try_from(cap).unwrap_or(usize::MAX);
    let request = Request::from_parts(parts, Body::new(http_body_util::Limited::new(body, limit)));
    let timeout: Duration = state.config.api.request_timeout;
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_elapsed) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!("the request did not complete within {timeout:?}; nothing was stored"),
        )
        .into_response(),
    }
}

fn too_large(cap: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "request_too_large",
        format!("the request body is larger than the limit of {cap} bytes"),
    )
}
