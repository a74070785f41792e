//! `/api/v1/ingest` (device tokens), `/api/v1/alarms` and `/api/v1/events/{id}`.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::ListQuery;
use serde::Deserialize;

use crate::alarms::ingest::{self, INGEST_BODY_LIMIT, IngestInput};
use crate::alarms::lifecycle::{self, FilterInput};
use crate::domain::time::now_ms;
use crate::domain::{AlarmId, DeviceId, EventId};
use crate::store::{Alarm, Device, Ingested, Paged, Rejection, token_hash};
use crate::web::AppState;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{ApiCaller, ApiJson, PathId, json_bytes, parse_json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/ingest",
            post(ingest).layer(DefaultBodyLimit::max(INGEST_BODY_LIMIT)),
        )
        .route("/alarms", get(alarms))
        .route("/alarms/{id}", get(alarm))
        .route("/alarms/{id}/acknowledge", post(acknowledge))
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
    request: Request,
) -> AppResult<(StatusCode, Json<Ingested>)> {
    let id = device.id.clone();
    let headers = request.headers().clone();
    let body = json_bytes(request, &state).await;
    let payload = body.as_ref().map(Bytes::clone).unwrap_or_default();
    let result = async {
        let mut body: IngestInput = parse_json(&body?)?;
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
        Ok::<_, AppError>(ingested)
    }
    .await;
    match result {
        Ok(ingested) => {
            let status = if ingested.duplicate {
                StatusCode::OK
            } else {
                StatusCode::ACCEPTED
            };
            Ok((status, Json(ingested)))
        }
        Err(error) => {
            keep_rejected(&state, &id, &error, &payload).await;
            Err(error)
        }
    }
}

/// Keeps a message the device sent that was refused for what it is (not for a server-side
/// cause), for the device's page.
async fn keep_rejected(state: &AppState, device: &DeviceId, error: &AppError, payload: &[u8]) {
    let status = error.status();
    let refused_for_content = [
        StatusCode::BAD_REQUEST,
        StatusCode::PAYLOAD_TOO_LARGE,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        StatusCode::UNPROCESSABLE_ENTITY,
    ]
    .contains(&status);
    if !refused_for_content {
        return;
    }
    let rejection = Rejection {
        device,
        transport: "http",
        status: Some(status.as_u16()),
        reason: &error.detail(),
        payload,
        at: now_ms(),
    };
    if let Err(error) = state.store.record_rejected(&rejection).await {
        tracing::warn!(%error, "keeping a device's rejected message failed");
    }
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
    let filter = lifecycle::parse_filter(&FilterInput {
        state: query.status.as_deref().or(query.state.as_deref()),
        severity: query.severity.as_deref(),
        device_type_id: query.device_type_id.as_deref(),
        device_id: query.device_id.as_deref(),
    })
    .map_err(AppError::Validation)?;
    Ok(Json(
        state.store.list_alarms(&caller.org, &filter, &page).await?,
    ))
}

/// One alarm with its history, oldest transition first.
async fn alarm(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId<AlarmId>,
) -> AppResult<Json<Value>> {
    let alarm = state.store.alarm(&caller.org, &id).await?;
    let history = state.store.alarm_history(&caller.org, &id).await?;
    let mut body = json!(alarm);
    body["history"] = json!(history);
    Ok(Json(body))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AcknowledgeInput {
    note: Option<String>,
}

async fn acknowledge(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId<AlarmId>,
    ApiJson(input): ApiJson<AcknowledgeInput>,
) -> AppResult<Json<Value>> {
    let event = lifecycle::acknowledge(
        &state.store,
        &caller.org,
        &id,
        &caller.actor,
        input.note.as_deref(),
    )
    .await?;
    let mut answer = json!(state.store.alarm(&caller.org, &id).await?);
    answer["event_id"] = json!(event);
    Ok(Json(answer))
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
