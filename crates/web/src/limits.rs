//! Bounds on one request: the size of its body and the time it may take, body reading
//! included, so a client sending a byte a second cannot hold a handler forever.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::problem::ApiError;

/// The bounds a router is served under (`axum::middleware::from_fn_with_state(bounds,
/// bound_request)`).
#[derive(Debug, Clone, Copy)]
pub struct RequestBounds {
    pub max_body_bytes: u64,
    pub timeout: Duration,
}

/// Caps the request body at `max_body_bytes` (413 request_too_large, up front when
/// Content-Length says so, else when the stream passes it) and the whole request at
/// `timeout` (408 request_timeout).
pub async fn bound_request(
    State(bounds): State<RequestBounds>,
    request: Request,
    next: Next,
) -> Response {
    let cap = bounds.max_body_bytes;
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
    let timeout = bounds.timeout;
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

/// Requests per second per authenticated token. Keyed by the token's client id (never by
/// anything a stranger can vary), so its state is bounded by the number of clients. It
/// uses `governor`'s GCRA: tower's `RateLimit` is one limit per service and makes callers
/// wait instead of answering 429.
pub struct TokenRateLimit {
    limiter: governor::DefaultKeyedRateLimiter<String>,
}

impl TokenRateLimit {
    /// `None` when `per_second` is 0 (no limit); a `burst` of 0 means `per_second`.
    pub fn new(per_second: u32, burst: u32) -> Option<Self> {
        let rate = std::num::NonZeroU32::new(per_second)?;
        let burst = std::num::NonZeroU32::new(burst).unwrap_or(rate);
        Some(Self {
            limiter: governor::RateLimiter::keyed(
                governor::Quota::per_second(rate).allow_burst(burst),
            ),
        })
    }

    /// One request of `client_id`: refused with 429 and Retry-After when over the limit.
    pub fn check(&self, client_id: &str) -> Result<(), ApiError> {
        use governor::clock::{Clock, DefaultClock};
        match self.limiter.check_key(&client_id.to_owned()) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                Err(ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    format!(
                        "this token made too many requests; retry in {} ms",
                        wait.as_millis()
                    ),
                )
                .with_retry_after(wait.as_secs().max(1)))
            }
        }
    }
}
