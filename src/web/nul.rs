//! NUL characters are refused wherever text enters: JSON bodies, forms and query strings
//! (see `domain::text`). Each answer is a 422 naming the field.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::AppError;
use crate::domain::text::{NUL_MESSAGE, has_nul, nul_path};

fn refused(field: &str) -> AppError {
    AppError::validation(field, NUL_MESSAGE)
}

/// A JSON body with a NUL in a string or key. In JSON text a NUL can only be the escape
/// `\u0000`, so bodies without one are passed over without parsing.
pub fn check_json(bytes: &[u8]) -> Result<(), AppError> {
    if !bytes.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000")) {
        return Ok(());
    }
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(value) => nul_path(&value).map_or(Ok(()), |path| Err(refused(&path))),
        // Not JSON: the parser that follows says why.
        Err(_) => Ok(()),
    }
}

/// An urlencoded form or query string with a NUL in a name or value.
pub fn check_urlencoded(bytes: &[u8]) -> Result<(), AppError> {
    match url::form_urlencoded::parse(bytes).find(|(k, v)| has_nul(k) || has_nul(v)) {
        Some((key, _)) => Err(refused(&key.replace('\0', "\\u0000"))),
        None => Ok(()),
    }
}

/// Refuses a request whose query string holds a NUL, before any handler reads it.
pub async fn refuse_in_query(request: Request, next: Next) -> Response {
    let query = request.uri().query().unwrap_or_default();
    let suspicious = query.contains("%00") || query.contains('\0');
    if let (true, Err(error)) = (suspicious, check_urlencoded(query.as_bytes())) {
        return if request.uri().path().starts_with("/api/") {
            error.into_response()
        } else {
            super::pages::error_page(None, error)
        };
    }
    next.run(request).await
}
