//! Setup → Devices: the list (filtered by device type), the device's page with its recent
//! messages, rename and delete. New Device and the token pages live in `token.rs`.

mod token;

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use super::device_types::{Choice, CursorQuery, all_device_types, parse_cursor};
use super::filters;
use super::{Layout, Pager, page, redirect_with_flash, render, render_with};
use crate::alarms::devices;
use crate::domain::time::Millis;
use crate::domain::{DeviceId, DeviceTypeId, FieldErrors, MessageId};
use crate::store::{CausedTransition, Device, RejectedMessage};
use crate::web::AppState;
use crate::web::error::AppError;
use crate::web::extract::{AdminPage, CsrfForm, NoFields, PathId, SignedIn, urlencode};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/devices", get(list).post(token::create))
        .route("/devices/new", get(token::new))
        .route("/devices/{id}", get(show))
        .route("/devices/{id}/token", get(token::show))
        .route("/devices/{id}/token/regenerate", post(token::regenerate))
        .route("/devices/{id}/edit", get(edit).post(rename))
        .route("/devices/{id}/delete", get(confirm_delete).post(delete))
}

#[derive(Template)]
#[template(path = "devices/list.html")]
struct ListPage {
    layout: Layout,
    device_types: Vec<Choice>,
    filter_name: Option<String>,
    devices: Vec<Device>,
    pager: Pager,
}

#[derive(Deserialize)]
struct ListQuery {
    device_type_id: Option<String>,
    cursor: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    user: SignedIn,
    Query(query): Query<ListQuery>,
) -> Response {
    let result = async {
        let page_of = parse_cursor(query.cursor.as_deref())?;
        let filter = match query.device_type_id.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(DeviceTypeId::parse(text).ok_or_else(|| {
                AppError::validation("device_type_id", "Choose a device type from the list.")
            })?),
        };
        let types = all_device_types(&state.store, &user).await?;
        let listed = state
            .store
            .list_devices(user.org(), filter.as_ref(), &page_of)
            .await?;
        let filter_name = filter.as_ref().map(|id| {
            types
                .iter()
                .find(|t| &t.id == id)
                .map_or_else(|| id.to_string(), |t| t.name.clone())
        });
        Ok(render(&ListPage {
            layout: Layout::new(&user, "Devices", "devices"),
            device_types: types
                .iter()
                .map(|t| Choice {
                    value: t.id.to_string(),
                    label: t.name.clone(),
                    selected: filter.as_ref() == Some(&t.id),
                })
                .collect(),
            filter_name,
            pager: Pager::new(
                &match &filter {
                    Some(id) => format!("/devices?device_type_id={}", urlencode(id.as_str())),
                    None => "/devices".to_owned(),
                },
                "devices",
                query.cursor.as_deref(),
                listed.next_cursor.as_deref(),
            ),
            devices: listed.data,
        }))
    }
    .await;
    page(&user, result)
}

/// A stored message as shown: its payload pretty-printed.
struct MessageView {
    message_type: String,
    received_at: Millis,
    payload: String,
    /// The alarm transitions the message caused.
    caused: Vec<CausedTransition>,
}

#[derive(Template)]
#[template(path = "devices/show.html")]
struct ShowPage {
    layout: Layout,
    device: Device,
    /// The recent messages that were refused, newest first.
    rejected: Vec<RejectedMessage>,
    messages: Vec<MessageView>,
    pager: Pager,
}

async fn show(
    State(state): State<AppState>,
    user: SignedIn,
    id: Result<PathId<DeviceId>, AppError>,
    Query(query): Query<CursorQuery>,
) -> Response {
    let result = async {
        let PathId(id) = id?;
        let page_of = parse_cursor(query.cursor.as_deref())?;
        let device = state.store.device(user.org(), &id).await?;
        let messages = state
            .store
            .recent_messages(user.org(), &id, &page_of)
            .await?;
        let rejected = state.store.rejected_messages(user.org(), &id).await?;
        let ids: Vec<MessageId> = messages.data.iter().map(|m| m.id.clone()).collect();
        let mut caused = state
            .store
            .transitions_of_messages(user.org(), &ids)
            .await?;
        Ok(render(&ShowPage {
            rejected,
            layout: Layout::new(&user, device.name.clone(), "devices"),
            pager: Pager::new(
                &format!("/devices/{id}"),
                "messages",
                query.cursor.as_deref(),
                messages.next_cursor.as_deref(),
            ),
            device,
            messages: messages
                .data
                .iter()
                .map(|m| MessageView {
                    message_type: m.message_type.clone(),
                    received_at: m.received_at,
                    payload: serde_json::to_string_pretty(&m.payload()).unwrap_or_default(),
                    caused: caused.extract_if(.., |t| t.message_id == m.id).collect(),
                })
                .collect(),
        }))
    }
    .await;
    page(&user, result)
}

#[derive(Template)]
#[template(path = "devices/edit.html")]
struct EditPage {
    layout: Layout,
    device: Device,
    name: String,
    errors: FieldErrors,
}

async fn edit(
    State(state): State<AppState>,
    AdminPage(user): AdminPage,
    id: Result<PathId<DeviceId>, AppError>,
) -> Response {
    let result = async {
        let PathId(id) = id?;
        let device = state.store.device(user.org(), &id).await?;
        Ok(render(&EditPage {
            layout: Layout::new(&user, "Rename device", "devices"),
            name: device.name.clone(),
            device,
            errors: FieldErrors::new(),
        }))
    }
    .await;
    page(&user, result)
}

#[derive(Deserialize)]
struct RenameForm {
    #[serde(default)]
    name: String,
}

async fn rename(
    State(state): State<AppState>,
    jar: CookieJar,
    id: Result<PathId<DeviceId>, AppError>,
    CsrfForm { user, form }: CsrfForm<RenameForm>,
) -> Response {
    let result = async {
        let PathId(id) = id?;
        let device = state.store.device(user.org(), &id).await?;
        match devices::rename_device(&state.store, user.org(), &id, &form.name).await {
            Ok(_) => Ok(redirect_with_flash(
                &state,
                jar,
                &format!("/devices/{id}"),
                "Device renamed.",
            )),
            Err(error) => match AppError::from(error) {
                invalid @ (AppError::Validation(_) | AppError::Conflict { .. }) => Ok(render_with(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &EditPage {
                        layout: Layout::new(&user, "Rename device", "devices"),
                        device,
                        name: form.name.clone(),
                        errors: invalid.fields(),
                    },
                )),
                other => Err(other),
            },
        }
    }
    .await;
    page(&user, result)
}

#[derive(Template)]
#[template(path = "devices/delete.html")]
struct DeletePage {
    layout: Layout,
    device: Device,
}

async fn confirm_delete(
    State(state): State<AppState>,
    AdminPage(user): AdminPage,
    id: Result<PathId<DeviceId>, AppError>,
) -> Response {
    let result = async {
        let PathId(id) = id?;
        let device = state.store.device(user.org(), &id).await?;
        Ok(render(&DeletePage {
            layout: Layout::new(&user, "Delete device", "devices"),
            device,
        }))
    }
    .await;
    page(&user, result)
}

async fn delete(
    State(state): State<AppState>,
    jar: CookieJar,
    id: Result<PathId<DeviceId>, AppError>,
    CsrfForm { user, .. }: CsrfForm<NoFields>,
) -> Response {
    let result = async {
        let PathId(id) = id?;
        let device = state.store.device(user.org(), &id).await?;
        state.store.delete_device(user.org(), &id).await?;
        state.lookups.forget_device(&id);
        Ok(redirect_with_flash(
            &state,
            jar,
            "/devices",
            &format!("Device “{}” deleted.", device.name),
        ))
    }
    .await;
    page(&user, result)
}
