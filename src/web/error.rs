//! One error type for the web layer. The API renders it as the SPEC's JSON body; pages render it
//! as an HTML page. Internal causes are logged with their chain and never shown to the client.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::alarms::ingest::IngestError;
use crate::alarms::schemas::Violation;
use crate::domain::FieldErrors;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No such row in the caller's organization (or in any: the two are not told apart).
    #[error("not found")]
    NotFound,
    /// The body is not what the route accepts at all (not JSON, bad parameter syntax).
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// Fields that break a rule, each with what to do.
    #[error("{0}")]
    Validation(FieldErrors),
    #[error("{0}")]
    Unauthorized(String),
    #[error("the CSRF token is missing or does not match")]
    Csrf,
    /// The caller is signed in but their role does not allow this.
    #[error("{0}")]
    Forbidden(String),
    #[error("{message}")]
    Conflict {
        field: &'static str,
        message: String,
    },
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    TooManyRequests(String),
    /// A device message that breaks its message type's schema: every violation is listed.
    #[error("the payload does not match the message type's schema")]
    SchemaViolation(Vec<Violation>),
    /// The database is unreachable or locked: try again shortly (`Retry-After`).
    #[error("The database cannot be reached right now; try again in a few seconds.")]
    Unavailable,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Seconds a client is asked to wait when the database is away.
pub const RETRY_AFTER_SECONDS: u32 = 5;

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        Self::Validation(FieldErrors::one(field, message))
    }

    /// What a viewer is told when they try to change something or see a secret.
    pub fn viewer_only() -> Self {
        Self::Forbidden(
            "Your role in this organization is viewer: you can see every page but change \
             nothing and reveal no secret. Ask an admin of your organization to do it, or to \
             make you an admin."
                .into(),
        )
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Csrf => StatusCode::FORBIDDEN,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::SchemaViolation(_) => StatusCode::BAD_REQUEST,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::BadRequest { code, .. } => code,
            Self::Validation(_) => "validation_failed",
            Self::Unauthorized(_) => "unauthorized",
            Self::Csrf => "csrf_failed",
            Self::Forbidden(_) => "forbidden",
            Self::Conflict { .. } => "conflict",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::TooManyRequests(_) => "rate_limited",
            Self::SchemaViolation(_) => "schema_violation",
            Self::Unavailable => "database_unavailable",
            Self::Internal(_) => "internal_error",
        }
    }

    /// The sentence shown to the user: what went wrong and what to do.
    pub fn message(&self) -> String {
        match self {
            Self::NotFound => "Nothing was found at this address in your organization.".into(),
            Self::Validation(_) => "Some fields are not valid; see `fields` for each.".into(),
            Self::SchemaViolation(violations) => format!(
                "The payload does not match the message type's schema ({} violation{}); see `violations`.",
                violations.len(),
                if violations.len() == 1 { "" } else { "s" }
            ),
            Self::Csrf => "This form or request is missing its CSRF token or has an old one; \
                           reload the page and try again."
                .into(),
            Self::Internal(_) => "Something went wrong on our side; it has been logged. \
                                  Try again, and contact your administrator if it persists."
                .into(),
            other => other.to_string(),
        }
    }

    /// The message with every field error or schema violation spelled out, on one line: what
    /// is kept of a device's rejected message.
    pub fn detail(&self) -> String {
        match self {
            Self::Validation(fields) => format!("Some fields are not valid: {fields}."),
            Self::SchemaViolation(violations) => {
                let listed: Vec<String> = violations
                    .iter()
                    .map(|v| {
                        let at = if v.pointer.is_empty() {
                            "(the payload)"
                        } else {
                            &v.pointer
                        };
                        format!("{at}: {} ({})", v.message, v.rule)
                    })
                    .collect();
                format!(
                    "The payload does not match the message type's schema: {}.",
                    listed.join("; ")
                )
            }
            other => other.message(),
        }
    }

    /// Field → message, for validation errors and conflicts.
    pub fn fields(&self) -> FieldErrors {
        match self {
            Self::Validation(fields) => fields.clone(),
            Self::Conflict { field, message } => FieldErrors::one(field, message.clone()),
            _ => FieldErrors::new(),
        }
    }

    /// Logs server-side causes; client errors are the client's business.
    pub fn log(&self) {
        if let Self::Internal(error) = self {
            tracing::error!(error = format!("{error:#}"), "request failed");
        }
    }
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            error if error.is_unavailable() => {
                tracing::warn!(%error, "the database is unavailable");
                Self::Unavailable
            }
            StoreError::NotFound => Self::NotFound,
            StoreError::Conflict { field, message } => Self::Conflict { field, message },
            other => Self::Internal(other.into()),
        }
    }
}

impl From<crate::error::Error> for AppError {
    fn from(error: crate::error::Error) -> Self {
        match error {
            crate::error::Error::Invalid(fields) => Self::Validation(fields),
            crate::error::Error::Store(error) => error.into(),
        }
    }
}

impl From<IngestError> for AppError {
    fn from(error: IngestError) -> Self {
        match error {
            IngestError::UnknownMessageType { name, known } => Self::validation(
                "message_type",
                if known.is_empty() {
                    format!(
                        "This device's type has no message types; add one under Setup → Device Types (got {name})."
                    )
                } else {
                    format!(
                        "This device's type has no message type {name}; it has: {}.",
                        known.join(", ")
                    )
                },
            ),
            IngestError::Violations(violations) => Self::SchemaViolation(violations),
            IngestError::InvalidMessageId(message) => Self::validation("id", message),
            IngestError::TokenRevoked => Self::Unauthorized(
                "This ingest token is no longer valid: the device was deleted or its token regenerated.".into(),
            ),
            IngestError::Store(error) => error.into(),
        }
    }
}

impl From<FieldErrors> for AppError {
    fn from(errors: FieldErrors) -> Self {
        Self::Validation(errors)
    }
}

/// The JSON API's error body: `{"error": {"code", "message", "fields"}}`.
impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.log();
        let fields: serde_json::Map<String, serde_json::Value> = self
            .fields()
            .iter()
            .map(|(field, message)| (field.to_owned(), message.into()))
            .collect();
        let mut error = json!({ "code": self.code(), "message": self.message() });
        if !fields.is_empty() {
            error["fields"] = fields.into();
        }
        if let Self::SchemaViolation(violations) = &self {
            error["violations"] = json!(violations);
        }
        let mut response = (self.status(), axum::Json(json!({ "error": error }))).into_response();
        if matches!(self, Self::Unavailable) {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, RETRY_AFTER_SECONDS.into());
        }
        response
    }
}
