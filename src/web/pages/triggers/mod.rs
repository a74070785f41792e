//! Setup → Alarm Triggers, in the guide's order: choose a device type, see its triggers, create
//! or edit one (`form.rs`), then Edit Webhook List (`webhooks.rs`).

mod fields;
mod form;
mod webhooks;

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use axum_extra::extract::CookieJar;

use super::device_types::{CursorQuery, count, parse_cursor};
use super::filters;
use super::{Layout, Pager, page, redirect_with_flash, render};
use crate::domain::{DeviceTypeId, TriggerId};
use crate::store::{DeviceType, Trigger};
use crate::web::AppState;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{AdminPage, CsrfForm, NoFields, PathId, SignedIn};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/alarm-triggers", get(choose))
        .route(
            "/device-types/{id}/alarm-triggers",
            get(for_type).post(form::create),
        )
        .route("/device-types/{id}/alarm-triggers/new", get(form::new))
        .route("/alarm-triggers/{id}", get(show))
        .route(
            "/alarm-triggers/{id}/edit",
            get(form::edit).post(form::update),
        )
        .route(
            "/alarm-triggers/{id}/webhooks",
            get(webhooks::edit).post(webhooks::submit),
        )
        .route(
            "/alarm-triggers/{id}/delete",
            get(confirm_delete).post(delete),
        )
        .route("/alarm-triggers/{id}/test", axum::routing::post(test_fire))
}

/// A device type to choose, with how many triggers it has.
struct TypeRow {
    device_type: DeviceType,
    triggers: String,
}

#[derive(Template)]
#[template(path = "triggers/choose.html")]
struct ChoosePage {
    layout: Layout,
    rows: Vec<TypeRow>,
    pager: Pager,
}

async fn choose(
    State(state): State<AppState>,
    user: SignedIn,
    Query(query): Query<CursorQuery>,
) -> Response {
    let result = async {
        let page_of = parse_cursor(query.cursor.as_deref())?;
        let listed = state.store.list_device_types(user.org(), &page_of).await?;
        let counts = state.store.trigger_counts(user.org()).await?;
        let rows = listed
            .data
            .into_iter()
            .map(|device_type| TypeRow {
                triggers: count(
                    counts.get(&device_type.id).copied().unwrap_or(0),
                    "alarm trigger",
                    "alarm triggers",
                ),
                device_type,
            })
            .collect();
        Ok(render(&ChoosePage {
            layout: Layout::new(&user, "Alarm Triggers", "alarm-triggers"),
            rows,
            pager: Pager::new(
                "/alarm-triggers",
                "device types",
                query.cursor.as_deref(),
                listed.next_cursor.as_deref(),
            ),
        }))
    }
    .await;
    page(&user, result)
}

#[derive(Template)]
#[template(path = "triggers/list.html")]
struct ListPage {
    layout: Layout,
    device_type: DeviceType,
    triggers: Vec<Trigger>,
}

async fn for_type(
    State(state): State<AppState>,
    user: SignedIn,
    id: Result<PathId<DeviceTypeId>, AppError>,
) -> Response {
    let result = async {
        let PathId(id) = id?;
        let device_type = state.store.device_type(user.org(), &id).await?;
        let triggers = state.store.list_triggers(user.org(), &id).await?;
        Ok(render(&ListPage {
            layout: Layout::new(
                &user,
                format!("Alarm Triggers: {}", device_type.name),
                "alarm-triggers",
            ),
            device_type,
            triggers,
        }))
    }
    .await;
    page(&user, result)
}

#[derive(Template)]
#[template(path = "triggers/show.html")]
struct ShowPage {
    layout: Layout,
    trigger: Trigger,
    device_type: DeviceType,
}

async fn show(
    State(state): State<AppState>,
    user: SignedIn,
    id: Result<PathId<TriggerId>, AppError>,
) -> Response {
    let result = async {
        let PathId(id) = id?;
        let (trigger, device_type) = trigger_and_type(&state, &user, &id).await?;
        Ok(render(&ShowPage {
            layout: Layout::new(&user, trigger.name.clone(), "alarm-triggers"),
            trigger,
            device_type,
        }))
    }
    .await;
    page(&user, result)
}

#[derive(Template)]
#[template(path = "triggers/delete.html")]
struct DeletePage {
    layout: Layout,
    trigger: Trigger,
    device_type: DeviceType,
}

async fn confirm_delete(
    State(state): State<AppState>,
    AdminPage(user): AdminPage,
    id: Result<PathId<TriggerId>, AppError>,
) -> Response {
    let result = async {
        let PathId(id) = id?;
        let (trigger, device_type) = trigger_and_type(&state, &user, &id).await?;
        Ok(render(&DeletePage {
            layout: Layout::new(&user, "Delete alarm trigger", "alarm-triggers"),
            trigger,
            device_type,
        }))
    }
    .await;
    page(&user, result)
}

async fn delete(
    State(state): State<AppState>,
    jar: CookieJar,
    id: Result<PathId<TriggerId>, AppError>,
    CsrfForm { user, .. }: CsrfForm<NoFields>,
) -> Response {
    let result = async {
        let PathId(id) = id?;
        let trigger = state.store.trigger(user.org(), &id).await?;
        state.store.delete_trigger(user.org(), &id).await?;
        Ok(redirect_with_flash(
            &state,
            jar,
            &format!("/device-types/{}/alarm-triggers", trigger.device_type_id),
            &format!("Alarm trigger “{}” deleted.", trigger.name),
        ))
    }
    .await;
    page(&user, result)
}

/// *Test-fire*: queues a test `alarm.raised` to the trigger's webhooks and shows the event with
/// its deliveries.
async fn test_fire(
    State(state): State<AppState>,
    jar: CookieJar,
    id: Result<PathId<TriggerId>, AppError>,
    CsrfForm { user, .. }: CsrfForm<NoFields>,
) -> Response {
    let result = async {
        let PathId(id) = id?;
        let fired = state.store.test_fire_trigger(user.org(), &id).await?;
        let message = match fired.deliveries.len() {
            0 => "Test event made; the trigger has no webhooks, so it went nowhere.".to_owned(),
            1 => "Test event queued to 1 webhook; no alarm changed.".to_owned(),
            n => format!("Test event queued to {n} webhooks; no alarm changed."),
        };
        Ok(redirect_with_flash(
            &state,
            jar,
            &format!("/events/{}", fired.event_id),
            &message,
        ))
    }
    .await;
    page(&user, result)
}

/// The organization's trigger and the device type it is set on.
async fn trigger_and_type(
    state: &AppState,
    user: &SignedIn,
    id: &TriggerId,
) -> AppResult<(Trigger, DeviceType)> {
    let trigger = state.store.trigger(user.org(), id).await?;
    let device_type = state
        .store
        .device_type(user.org(), &trigger.device_type_id)
        .await?;
    Ok((trigger, device_type))
}
