//! Organization → Settings: how long finished data is kept (retention).

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use super::{Layout, page, redirect_with_flash, render_with};
use crate::domain::{FieldErrors, WebhookId};
use crate::retention::{format_retain, parse_retain};
use crate::store::Page;
use crate::web::AppState;
use crate::web::error::AppResult;
use crate::web::extract::{CsrfForm, SignedIn};

pub fn router() -> Router<AppState> {
    Router::new().route("/settings", get(show).post(save))
}

#[derive(Template)]
#[template(path = "settings/show.html")]
struct SettingsPage {
    layout: Layout,
    /// The organization's own period as typed, or empty for the server's.
    retain: String,
    default_retain: String,
    /// Export finished deliveries before they are purged.
    export: bool,
    /// The server has an export directory, so exporting can be chosen.
    can_export: bool,
    /// The webhook told when another is disabled automatically, or empty.
    notify: String,
    /// The organization's webhooks to choose it among: (id, name).
    webhooks: Vec<(String, String)>,
    errors: FieldErrors,
}

/// The form's values, as saved or as typed.
struct Values {
    retain: String,
    export: bool,
    notify: String,
}

async fn render_settings(
    state: &AppState,
    user: &SignedIn,
    status: StatusCode,
    typed: Option<Values>,
    errors: FieldErrors,
) -> AppResult<Response> {
    let values = match typed {
        Some(values) => values,
        None => {
            let (retain_ms, export) = state.store.org_retention(user.org()).await?;
            let notify = state.store.notify_webhook(user.org()).await?;
            Values {
                retain: retain_ms
                    .map(|ms| format_retain(std::time::Duration::from_millis(ms.max(0) as u64)))
                    .unwrap_or_default(),
                export,
                notify: notify.map(|id| id.to_string()).unwrap_or_default(),
            }
        }
    };
    let webhooks = state
        .store
        .list_webhooks(user.org(), None, &Page::first(200))
        .await?
        .data
        .into_iter()
        .map(|w| (w.id.to_string(), w.name))
        .collect();
    Ok(render_with(
        status,
        &SettingsPage {
            layout: Layout::new(user, "Settings", "settings"),
            retain: values.retain,
            default_retain: format_retain(state.web.default_retain),
            export: values.export,
            can_export: state.web.export_dir,
            notify: values.notify,
            webhooks,
            errors,
        },
    ))
}

async fn show(State(state): State<AppState>, user: SignedIn) -> Response {
    let result = render_settings(&state, &user, StatusCode::OK, None, FieldErrors::new()).await;
    page(&user, result)
}

#[derive(Deserialize)]
struct SettingsForm {
    retain: String,
    /// A checkbox: present (`on`) when ticked.
    export: Option<String>,
    /// A webhook id, or empty for none; left out by an older form, it stays as it is.
    notify_webhook_id: Option<String>,
}

async fn save(
    State(state): State<AppState>,
    jar: CookieJar,
    CsrfForm { user, form }: CsrfForm<SettingsForm>,
) -> Response {
    let result = async {
        let mut errors = FieldErrors::new();
        let typed = form.retain.trim();
        let retain = if typed.is_empty() {
            Some(None)
        } else {
            errors
                .check("retain", parse_retain(typed))
                .map(|retain| Some(retain.as_millis() as i64))
        };
        let export = form.export.is_some();
        if export && !state.web.export_dir {
            errors.add(
                "export",
                "This server has no export directory; ask its operator to set BIOTZ_EXPORT_DIR, then tick this again.",
            );
        }
        let notify = match form.notify_webhook_id.as_deref().map(str::trim) {
            None => None,
            Some("") => Some(None),
            Some(text) => match WebhookId::parse(text) {
                Some(id) if state.store.webhook(user.org(), &id).await.is_ok() => Some(Some(id)),
                _ => {
                    errors.add(
                        "notify_webhook_id",
                        "Choose one of your organization's webhooks, or none.",
                    );
                    None
                }
            },
        };
        let Some(retain) = retain.filter(|_| errors.is_empty()) else {
            let typed = Values {
                retain: form.retain.clone(),
                export,
                notify: form.notify_webhook_id.clone().unwrap_or_default(),
            };
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return render_settings(&state, &user, status, Some(typed), errors).await;
        };
        state
            .store
            .set_org_retention(user.org(), retain, export)
            .await?;
        if let Some(notify) = notify {
            state
                .store
                .set_notify_webhook(user.org(), notify.as_ref())
                .await?;
        }
        Ok(redirect_with_flash(&state, jar, "/settings", "Settings saved."))
    }
    .await;
    page(&user, result)
}
