//! `/api/v1/ingest` (device tokens), `/api/v1/alarms` and `/api/v1/events/{id}`.

use axum::extract::{DefaultBodyLimit, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, Uri, header};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::ListQuery;
use crate::alarms::ingest::{self, INGEST_BODY_LIMIT, IngestInput};
use crate::domain::EventId;
use crate::store::{Alarm, Device, Ingested, Paged, token_hash};
use crate::web::AppState;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{ApiCaller, ApiJson, PathId};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/ingest",
            post(ingest).layer(DefaultBodyLimit::max(INGEST_BODY_LIMIT)),
        )
        .route("/alarms", get(alarms))
        .route("/events/{id}", get(event))
}

/// The device an ingest request comes from, by its `Authorization: Bearer <ingest token>`,
/// with the token's hash (the write checks the device still has it).
pub struct DeviceCaller(pub Device, pub String);

impl FromRequestParts<AppState> for DeviceCaller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| {
                AppError::Unauthorized(
                    "Send the device's ingest token as `Authorization: Bearer <token>`.".into(),
                )
            })?;
        let hash = token_hash(token);
        let device = state.lookups.device(&state.store, &hash).await?.ok_or_else(|| {
            AppError::Unauthorized(
                "This ingest token is not valid: it was regenerated, the device was deleted, or it is mistyped. \
                 Find the device under Setup → Devices and regenerate its token."
                    .into(),
            )
        })?;
        Ok(Self(device, hash))
    }
}

async fn ingest(
    State(state): State<AppState>,
    DeviceCaller(device, hash): DeviceCaller,
    ApiJson(body): ApiJson<IngestInput>,
) -> AppResult<(StatusCode, Json<Ingested>)> {
    let ingested = ingest::ingest(
        &state.store,
        &state.schemas,
        &state.lookups,
        &state.ingest,
        device,
        hash,
        body,
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(ingested)))
}

async fn alarms(
    State(state): State<AppState>,
    caller: ApiCaller,
    uri: Uri,
) -> AppResult<Json<Paged<Alarm>>> {
    let query = ListQuery::from_uri(&uri)?;
    let page = query.page()?;
    let state_filter = match query
        .status
        .as_deref()
        .or(query.state.as_deref())
        .map(str::trim)
    {
        None | Some("") => None,
        Some(s @ ("raised" | "cleared")) => Some(s.to_owned()),
        Some(_) => {
            return Err(AppError::validation(
                "state",
                "Filter by raised or cleared.",
            ));
        }
    };
    Ok(Json(
        state
            .store
            .list_alarms(&caller.org, state_filter.as_deref(), &page)
            .await?,
    ))
}

async fn event(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId<EventId>,
) -> AppResult<Json<Value>> {
    let event = state.store.event(&caller.org, &id).await?;
    let mut body = json!(event);
    body["body"] = event.body_json();
    Ok(Json(body))
}
