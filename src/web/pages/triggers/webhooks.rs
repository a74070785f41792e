//! Edit Webhook List, as the guide has it: "search for your webhook by name, add it from the
//! dropdown, and then save". The list being edited travels in the form as hidden `webhook_ids`:
//! Search, Add and Remove post it back and get the page again with the change, and only Save
//! stores it. With JavaScript, typing in the search box fills the dropdown as you type.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use crate::alarms::setup;
use crate::domain::{FieldErrors, OrgId, TriggerId, WebhookId};
use crate::store::{Page, Store, StoreError, Trigger, WebhookRef};
use crate::web::AppState;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{AdminPage, CsrfForm, PathId, SignedIn};
use crate::web::pages::device_types::count;
use crate::web::pages::{Layout, page, redirect_with_flash, render_with};

/// How many matches the dropdown offers; the search narrows them down.
const MATCHES: i64 = 20;

/// A webhook in the list being edited. An id that is no webhook of the organization (deleted
/// meanwhile, or typed by hand) stays visible so it can be removed; Save refuses it.
struct Staged {
    id: String,
    label: String,
    known: bool,
    enabled: bool,
}

#[derive(Template)]
#[template(path = "triggers/webhooks.html")]
struct EditorPage {
    layout: Layout,
    trigger: Trigger,
    device_type_name: String,
    staged: Vec<Staged>,
    query: String,
    matches: Vec<WebhookRef>,
    unsaved: bool,
    errors: FieldErrors,
}

async fn staged(store: &Store, org: &OrgId, ids: &[String]) -> AppResult<Vec<Staged>> {
    let mut list = Vec::with_capacity(ids.len());
    for text in ids {
        let found = match WebhookId::parse(text) {
            None => None,
            Some(id) => match store.webhook(org, &id).await {
                Ok(webhook) => Some(webhook),
                Err(StoreError::NotFound) => None,
                Err(error) => return Err(error.into()),
            },
        };
        list.push(match found {
            Some(webhook) => Staged {
                id: webhook.id.to_string(),
                label: webhook.name,
                known: true,
                enabled: webhook.enabled,
            },
            None => Staged {
                id: text.clone(),
                label: text.clone(),
                known: false,
                enabled: false,
            },
        });
    }
    Ok(list)
}

/// Webhooks whose name contains `query` (any case), leaving out those already in the list.
async fn matches(
    store: &Store,
    org: &OrgId,
    query: &str,
    staged: &[Staged],
) -> AppResult<Vec<WebhookRef>> {
    let page_of = Page::first(MATCHES + staged.len() as i64);
    let found = store.list_webhooks(org, Some(query), &page_of).await?;
    Ok(found
        .data
        .into_iter()
        .filter(|w| !staged.iter().any(|s| s.id == w.id.as_str()))
        .take(MATCHES as usize)
        .map(|w| WebhookRef {
            id: w.id,
            name: w.name,
            enabled: w.enabled,
        })
        .collect())
}

async fn editor(
    state: &AppState,
    user: &SignedIn,
    trigger: Trigger,
    ids: &[String],
    query: String,
    errors: FieldErrors,
) -> AppResult<Response> {
    let device_type = state
        .store
        .device_type(user.org(), &trigger.device_type_id)
        .await?;
    let staged = staged(&state.store, user.org(), ids).await?;
    let matches = matches(&state.store, user.org(), &query, &staged).await?;
    let mut saved: Vec<&str> = trigger.webhooks.iter().map(|w| w.id.as_str()).collect();
    let mut editing: Vec<&str> = staged.iter().map(|s| s.id.as_str()).collect();
    saved.sort_unstable();
    editing.sort_unstable();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(render_with(
        status,
        &EditorPage {
            layout: Layout::new(user, "Edit Webhook List", "alarm-triggers"),
            unsaved: saved != editing,
            device_type_name: device_type.name,
            trigger,
            staged,
            query,
            matches,
            errors,
        },
    ))
}

pub async fn edit(
    State(state): State<AppState>,
    AdminPage(user): AdminPage,
    id: Result<PathId<TriggerId>, AppError>,
) -> Response {
    let result = async {
        let PathId(id) = id?;
        let trigger = state.store.trigger(user.org(), &id).await?;
        let ids: Vec<String> = trigger.webhooks.iter().map(|w| w.id.to_string()).collect();
        editor(
            &state,
            &user,
            trigger,
            &ids,
            String::new(),
            FieldErrors::new(),
        )
        .await
    }
    .await;
    page(&user, result)
}

#[derive(Deserialize)]
pub struct EditorForm {
    #[serde(default)]
    webhook_ids: Vec<String>,
    #[serde(default)]
    q: String,
    #[serde(default)]
    candidate: String,
    /// Which button: `search`, `add`, `remove:<id>` or `save`. Enter in the search box sends
    /// the first button, Search.
    #[serde(default)]
    action: String,
}

pub async fn submit(
    State(state): State<AppState>,
    jar: CookieJar,
    id: Result<PathId<TriggerId>, AppError>,
    CsrfForm { user, form }: CsrfForm<EditorForm>,
) -> Response {
    let result = async {
        let PathId(id) = id?;
        let trigger = state.store.trigger(user.org(), &id).await?;
        let mut ids: Vec<String> = Vec::new();
        for text in form
            .webhook_ids
            .iter()
            .map(|t| t.trim())
            .filter(|t| !t.is_empty())
        {
            if !ids.iter().any(|i| i == text) {
                ids.push(text.to_owned());
            }
        }
        let mut errors = FieldErrors::new();
        match form.action.as_str() {
            "add" => match add(&state.store, user.org(), form.candidate.trim()).await? {
                Ok(webhook) if ids.contains(&webhook) => {}
                Ok(webhook) => ids.push(webhook),
                Err(message) => errors.add("candidate", message),
            },
            "save" => match setup::set_webhooks(&state.store, user.org(), &id, &ids).await {
                Ok(saved) => {
                    let message = format!(
                        "Webhook list saved: alarms of “{}” go to {}.",
                        saved.name,
                        count(saved.webhooks.len() as i64, "webhook", "webhooks")
                    );
                    let to = format!("/alarm-triggers/{id}");
                    return Ok(redirect_with_flash(&state, jar, &to, &message));
                }
                Err(error) => match AppError::from(error) {
                    AppError::Validation(fields) => errors = fields,
                    other => return Err(other),
                },
            },
            action => {
                if let Some(gone) = action.strip_prefix("remove:") {
                    ids.retain(|i| i != gone);
                }
            }
        }
        editor(
            &state,
            &user,
            trigger,
            &ids,
            form.q.trim().to_owned(),
            errors,
        )
        .await
    }
    .await;
    page(&user, result)
}

/// The chosen webhook's id, if it is one of the organization's.
async fn add(store: &Store, org: &OrgId, candidate: &str) -> AppResult<Result<String, String>> {
    if candidate.is_empty() {
        return Ok(Err(
            "Search for a webhook by name, then choose it in the list.".into(),
        ));
    }
    let Some(id) = WebhookId::parse(candidate) else {
        return Ok(Err(
            "Choose a webhook of your organization from the list.".into()
        ));
    };
    match store.webhook(org, &id).await {
        Ok(webhook) => Ok(Ok(webhook.id.to_string())),
        Err(StoreError::NotFound) => Ok(Err(
            "Choose a webhook of your organization from the list.".into(),
        )),
        Err(error) => Err(error.into()),
    }
}
