//! No answer waits on an absent database: a request that has not been answered within
//! `ANSWER_WITHIN` (the database is unreachable or locked; nothing else here is that slow)
//! answers 503 `database_unavailable` with `Retry-After`, as a JSON error under `/api/` and a
//! page elsewhere. The work is dropped: its transaction, if any, rolls back. Sign-in and setup
//! hash a password first, so they get `HASHING_WITHIN`; assets and `/healthz` are left alone.

use std::time::Duration;

use axum::extract::Request;
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::{AppError, RETRY_AFTER_SECONDS};

pub const ANSWER_WITHIN: Duration = Duration::from_millis(1800);
pub const HASHING_WITHIN: Duration = Duration::from_secs(5);

/// How long a request may take, if it is bounded at all.
fn bound(method: &Method, path: &str) -> Option<Duration> {
    if path.starts_with("/static/") || path == "/healthz" {
        None
    } else if method == Method::POST && (path == "/login" || path.starts_with("/setup/")) {
        Some(HASHING_WITHIN)
    } else {
        Some(ANSWER_WITHIN)
    }
}

pub async fn answer_in_time(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let Some(bound) = bound(request.method(), &path) else {
        return next.run(request).await;
    };
    match tokio::time::timeout(bound, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(path, "no answer in time; the database is taken to be away");
            let mut response = if path.starts_with("/api/") {
                AppError::Unavailable.into_response()
            } else {
                super::pages::error_page(None, AppError::Unavailable)
            };
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, RETRY_AFTER_SECONDS.into());
            response
        }
    }
}
