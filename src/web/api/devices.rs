//! `/api/v1/device-types` and `/api/v1/devices`.

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ListQuery;
use crate::alarms::{devices, setup};
use crate::domain::{DeviceId, DeviceTypeId};
use crate::store::{Device, DeviceType, Message, Page, Paged};
use crate::web::AppState;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{ApiCaller, ApiJson, PathId};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/device-types", post(create_type).get(list_types))
        .route(
            "/device-types/{id}",
            get(read_type).patch(update_type).delete(delete_type),
        )
        .route("/devices", post(create_device).get(list_devices))
        .route(
            "/devices/{id}",
            get(read_device).patch(update_device).delete(delete_device),
        )
        .route("/devices/{id}/token/regenerate", post(regenerate_token))
        .route("/devices/{id}/messages", get(messages))
}

async fn create_type(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiJson(body): ApiJson<setup::DeviceTypeInput>,
) -> AppResult<(StatusCode, Json<DeviceType>)> {
    let created = setup::create_device_type(&state.store, &caller.org, &body).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

async fn list_types(
    State(state): State<AppState>,
    caller: ApiCaller,
    uri: Uri,
) -> AppResult<Json<Paged<DeviceType>>> {
    let page = ListQuery::from_uri(&uri)?.page()?;
    Ok(Json(
        state.store.list_device_types(&caller.org, &page).await?,
    ))
}

async fn read_type(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId<DeviceTypeId>,
) -> AppResult<Json<DeviceType>> {
    Ok(Json(state.store.device_type(&caller.org, &id).await?))
}

async fn update_type(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId<DeviceTypeId>,
    ApiJson(body): ApiJson<setup::DeviceTypeInput>,
) -> AppResult<Json<DeviceType>> {
    let device_type = setup::update_device_type(&state.store, &caller.org, &id, &body).await?;
    state.lookups.forget_device_type(&id);
    Ok(Json(device_type))
}

async fn delete_type(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId<DeviceTypeId>,
) -> AppResult<StatusCode> {
    state.store.delete_device_type(&caller.org, &id).await?;
    state.lookups.forget_device_type(&id);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewDevice {
    name: String,
    device_type_id: String,
}

async fn create_device(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiJson(body): ApiJson<NewDevice>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let (device, token) =
        devices::create_device(&state.store, &caller.org, &body.name, &body.device_type_id).await?;
    let mut body = json!(device);
    body["token"] = token.into();
    Ok((StatusCode::CREATED, Json(body)))
}

#[derive(Deserialize, Default)]
struct DeviceQuery {
    device_type_id: Option<String>,
}

async fn list_devices(
    State(state): State<AppState>,
    caller: ApiCaller,
    uri: Uri,
) -> AppResult<Json<Paged<Device>>> {
    let page = ListQuery::from_uri(&uri)?.page()?;
    let query: DeviceQuery =
        serde_html_form::from_str(uri.query().unwrap_or_default()).unwrap_or_default();
    let device_type = match query
        .device_type_id
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        None => None,
        Some(text) => Some(DeviceTypeId::parse(text).ok_or_else(|| {
            AppError::validation("device_type_id", "Filter by a device type id (dty_…).")
        })?),
    };
    Ok(Json(
        state
            .store
            .list_devices(&caller.org, device_type.as_ref(), &page)
            .await?,
    ))
}

async fn read_device(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId<DeviceId>,
) -> AppResult<Json<Device>> {
    Ok(Json(state.store.device(&caller.org, &id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeviceChanges {
    name: Option<String>,
}

async fn update_device(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId<DeviceId>,
    ApiJson(body): ApiJson<DeviceChanges>,
) -> AppResult<Json<Device>> {
    let device = state.store.device(&caller.org, &id).await?;
    match body.name {
        Some(name) => Ok(Json(
            devices::rename_device(&state.store, &caller.org, &id, &name).await?,
        )),
        None => Ok(Json(device)),
    }
}

async fn delete_device(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId<DeviceId>,
) -> AppResult<StatusCode> {
    state.store.delete_device(&caller.org, &id).await?;
    state.lookups.forget_device(&id);
    Ok(StatusCode::NO_CONTENT)
}

async fn regenerate_token(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId<DeviceId>,
) -> AppResult<Json<Value>> {
    let token = devices::regenerate_token(&state.store, &caller.org, &id).await?;
    state.lookups.forget_device(&id);
    let device = state.store.device(&caller.org, &id).await?;
    let mut body = json!(device);
    body["token"] = token.into();
    Ok(Json(body))
}

async fn messages(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId<DeviceId>,
    uri: Uri,
) -> AppResult<Json<Paged<Value>>> {
    state.store.device(&caller.org, &id).await?;
    let page: Page = ListQuery::from_uri(&uri)?.page()?;
    let messages = state.store.recent_messages(&caller.org, &id, &page).await?;
    Ok(Json(messages.map(|m: Message| {
        let mut value = json!(m);
        value["payload"] = m.payload();
        value
    })))
}
