//! Setup → Device Types: the list, the device type's page with its message types and schemas,
//! and delete with a confirmation that says what goes with it. The form lives in `form.rs`.
//! Also the few helpers the other Setup pages share (device type choices, counts, cursors).

mod form;
mod rows;

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use super::filters;
use super::{Layout, Pager, page, redirect_with_flash, render};
use crate::domain::DeviceTypeId;
use crate::store::{DeviceType, Page, Store};
use crate::web::AppState;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{AdminPage, CsrfForm, NoFields, PathId, SignedIn};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/device-types", get(list).post(form::create))
        .route("/device-types/new", get(form::new))
        .route("/device-types/{id}", get(show))
        .route(
            "/device-types/{id}/edit",
            get(form::edit).post(form::update),
        )
        .route(
            "/device-types/{id}/delete",
            get(confirm_delete).post(delete),
        )
}

/// How many device types a `<select>` offers: the largest page the store gives out.
const SELECT_LIMIT: i64 = 200;

/// The organization's device types, newest first, for the `<select>`s of other forms.
pub async fn all_device_types(store: &Store, user: &SignedIn) -> AppResult<Vec<DeviceType>> {
    let page_of = Page::first(SELECT_LIMIT);
    Ok(store.list_device_types(user.org(), &page_of).await?.data)
}

/// An `<option>` of a `<select>`.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

impl Choice {
    /// Options from (value, label) pairs, with `selected` marked.
    pub fn list(options: &[(&str, &str)], selected: &str) -> Vec<Self> {
        options
            .iter()
            .map(|(value, label)| Self {
                value: (*value).to_owned(),
                label: (*label).to_owned(),
                selected: *value == selected,
            })
            .collect()
    }
}

/// "1 device", "3 alarm triggers".
pub fn count(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[derive(Deserialize)]
pub struct CursorQuery {
    pub cursor: Option<String>,
}

pub fn parse_cursor(cursor: Option<&str>) -> AppResult<Page> {
    Page::parse(None, cursor).map_err(|(field, message)| AppError::validation(field, message))
}

#[derive(Template)]
#[template(path = "device_types/list.html")]
struct ListPage {
    layout: Layout,
    device_types: Vec<DeviceType>,
    pager: Pager,
}

async fn list(
    State(state): State<AppState>,
    user: SignedIn,
    Query(query): Query<CursorQuery>,
) -> Response {
    let result = async {
        let page_of = parse_cursor(query.cursor.as_deref())?;
        let listed = state.store.list_device_types(user.org(), &page_of).await?;
        Ok(render(&ListPage {
            layout: Layout::new(&user, "Device Types", "device-types"),
            pager: Pager::new(
                "/device-types",
                "device types",
                query.cursor.as_deref(),
                listed.next_cursor.as_deref(),
            ),
            device_types: listed.data,
        }))
    }
    .await;
    page(&user, result)
}

/// A message type as shown: its schema pretty-printed.
struct SchemaView {
    name: String,
    schema: String,
}

#[derive(Template)]
#[template(path = "device_types/show.html")]
struct ShowPage {
    layout: Layout,
    device_type: DeviceType,
    message_types: Vec<SchemaView>,
    devices: String,
    triggers: String,
}

async fn show(
    State(state): State<AppState>,
    user: SignedIn,
    id: Result<PathId<DeviceTypeId>, AppError>,
) -> Response {
    let result = async {
        let PathId(id) = id?;
        let device_type = state.store.device_type(user.org(), &id).await?;
        let (devices, triggers) = state.store.device_type_usage(user.org(), &id).await?;
        let message_types = device_type
            .message_types
            .iter()
            .map(|m| SchemaView {
                name: m.name.clone(),
                schema: serde_json::to_string_pretty(&m.schema).unwrap_or_default(),
            })
            .collect();
        Ok(render(&ShowPage {
            layout: Layout::new(&user, device_type.name.clone(), "device-types"),
            message_types,
            devices: count(devices, "device", "devices"),
            triggers: count(triggers, "alarm trigger", "alarm triggers"),
            device_type,
        }))
    }
    .await;
    page(&user, result)
}

#[derive(Template)]
#[template(path = "device_types/delete.html")]
struct DeletePage {
    layout: Layout,
    device_type: DeviceType,
    devices: String,
    triggers: String,
}

async fn confirm_delete(
    State(state): State<AppState>,
    AdminPage(user): AdminPage,
    id: Result<PathId<DeviceTypeId>, AppError>,
) -> Response {
    let result = async {
        let PathId(id) = id?;
        let device_type = state.store.device_type(user.org(), &id).await?;
        let (devices, triggers) = state.store.device_type_usage(user.org(), &id).await?;
        Ok(render(&DeletePage {
            layout: Layout::new(&user, "Delete device type", "device-types"),
            device_type,
            devices: count(devices, "device", "devices"),
            triggers: count(triggers, "alarm trigger", "alarm triggers"),
        }))
    }
    .await;
    page(&user, result)
}

async fn delete(
    State(state): State<AppState>,
    jar: CookieJar,
    id: Result<PathId<DeviceTypeId>, AppError>,
    CsrfForm { user, .. }: CsrfForm<NoFields>,
) -> Response {
    let result = async {
        let PathId(id) = id?;
        let device_type = state.store.device_type(user.org(), &id).await?;
        state.store.delete_device_type(user.org(), &id).await?;
        state.lookups.forget_device_type(&id);
        Ok(redirect_with_flash(
            &state,
            jar,
            "/device-types",
            &format!("Device type “{}” deleted.", device_type.name),
        ))
    }
    .await;
    page(&user, result)
}
