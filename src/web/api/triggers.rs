//! Alarm triggers: `/api/v1/device-types/{id}/alarm-triggers`, `/api/v1/alarm-triggers/{id}`
//! and its webhook list.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use crate::alarms::setup;
use crate::domain::{DeviceTypeId, TriggerId};
use crate::store::{TestFired, Trigger};
use crate::web::AppState;
use crate::web::error::AppResult;
use crate::web::extract::{ApiCaller, ApiJson, PathId};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/device-types/{id}/alarm-triggers", get(list).post(create))
        .route(
            "/alarm-triggers/{id}",
            get(read).patch(update).delete(remove),
        )
        .route(
            "/alarm-triggers/{id}/webhooks",
            get(read_webhooks).put(set_webhooks),
        )
        .route("/alarm-triggers/{id}/test", post(test_fire))
}

async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(device_type): PathId<DeviceTypeId>,
    ApiJson(body): ApiJson<setup::TriggerInput>,
) -> AppResult<(StatusCode, Json<Trigger>)> {
    let trigger = setup::create_trigger(&state.store, &caller.org, &device_type, &body).await?;
    Ok((StatusCode::CREATED, Json(trigger)))
}

#[derive(serde::Serialize)]
struct List {
    data: Vec<Trigger>,
}

async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(device_type): PathId<DeviceTypeId>,
) -> AppResult<Json<List>> {
    state.store.device_type(&caller.org, &device_type).await?;
    Ok(Json(List {
        data: state.store.list_triggers(&caller.org, &device_type).await?,
    }))
}

async fn read(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId<TriggerId>,
) -> AppResult<Json<Trigger>> {
    Ok(Json(state.store.trigger(&caller.org, &id).await?))
}

async fn update(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId<TriggerId>,
    ApiJson(body): ApiJson<setup::TriggerInput>,
) -> AppResult<Json<Trigger>> {
    Ok(Json(
        setup::update_trigger(&state.store, &caller.org, &id, &body).await?,
    ))
}

async fn remove(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId<TriggerId>,
) -> AppResult<StatusCode> {
    state.store.delete_trigger(&caller.org, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn read_webhooks(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId<TriggerId>,
) -> AppResult<Json<Trigger>> {
    Ok(Json(state.store.trigger(&caller.org, &id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookList {
    webhook_ids: Vec<String>,
}

async fn set_webhooks(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId<TriggerId>,
    ApiJson(body): ApiJson<WebhookList>,
) -> AppResult<Json<Trigger>> {
    Ok(Json(
        setup::set_webhooks(&state.store, &caller.org, &id, &body.webhook_ids).await?,
    ))
}

/// A signed `alarm.raised` marked `"test": true` to every webhook on the list; no alarm changes.
async fn test_fire(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId<TriggerId>,
) -> AppResult<(StatusCode, Json<TestFired>)> {
    let fired = state.store.test_fire_trigger(&caller.org, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(fired)))
}
