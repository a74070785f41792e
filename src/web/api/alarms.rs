//! `/api/v1/ingest` (device tokens), `/api/v1/alarms` and `/api/v1/events/{id}`.

use axum::extract::{DefaultBodyLimit, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, Uri, header};
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
    headers: HeaderMap,
    ApiJson(mut body): ApiJson<IngestInput>,
) -> AppResult<(StatusCode, Json<Ingested>)> {
    body.id = message_id(&headers, body.id)?;
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
    let status = if ingested.duplicate {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(ingested)))
}

/// The message id from `Idempotency-Key` or the body's `id`; both may be sent if they agree.
fn message_id(headers: &HeaderMap, in_body: Option<String>) -> AppResult<Option<String>> {
    let Some(header) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(in_body);
    };
    let header = header.to_str().map_err(|_| {
        AppError::validation(
            "id",
            "The Idempotency-Key header is not readable text; use printable ASCII characters.",
        )
    })?;
    match in_body {
        Some(id) if id != header => Err(AppError::validation(
            "id",
            "The body's id and the Idempotency-Key header differ; send one of them, or the same value in both.",
        )),
        _ => Ok(Some(header.to_owned())),
    }
}

const IDEMPOTENCY_KEY: &str = "idempotency-key";

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
