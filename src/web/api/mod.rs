//! The JSON API under `/api/v1` (SPEC §8). Handlers extract the caller's organization first;
//! every store call takes it, so another organization's ids answer 404.

mod alarms;
mod deliveries;
mod devices;
mod tokens;
mod triggers;
mod webhooks;

use axum::Router;
use axum::http::Uri;
use serde::Deserialize;

use super::AppState;
use super::error::{AppError, AppResult};
use crate::store::Page;

/// The OpenAPI document of this API, kept beside the routes and checked by the tests.
const OPENAPI: &str = include_str!("openapi.json");

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/openapi.json",
            axum::routing::get(|| async {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    OPENAPI,
                )
            }),
        )
        .merge(webhooks::router())
        .merge(tokens::router())
        .merge(devices::router())
        .merge(triggers::router())
        .merge(alarms::router())
        .merge(deliveries::router())
        .fallback(|| async { AppError::NotFound })
}

/// The query parameters lists take.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    pub limit: Option<String>,
    pub cursor: Option<String>,
    pub name: Option<String>,
    pub status: Option<String>,
    pub state: Option<String>,
    pub webhook_id: Option<String>,
    pub severity: Option<String>,
    pub device_type_id: Option<String>,
    pub device_id: Option<String>,
}

impl ListQuery {
    pub fn from_uri(uri: &Uri) -> AppResult<Self> {
        serde_html_form::from_str(uri.query().unwrap_or_default()).map_err(|error| {
            AppError::BadRequest {
                code: "invalid_query",
                message: format!("The query string could not be read: {error}."),
            }
        })
    }

    /// The `status` filter of a delivery list, checked.
    pub fn delivery_status(&self) -> AppResult<Option<String>> {
        match self.status.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(status)
                if crate::store::STATUS_FILTERS
                    .iter()
                    .any(|(s, _)| *s == status) =>
            {
                Ok(Some(status.to_owned()))
            }
            Some(_) => Err(AppError::validation(
                "status",
                "Filter by pending, retrying, succeeded, failed or skipped.",
            )),
        }
    }

    pub fn page(&self) -> AppResult<Page> {
        Page::parse(self.limit.as_deref(), self.cursor.as_deref())
            .map_err(|(field, message)| AppError::validation(field, message))
    }
}
