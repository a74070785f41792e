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
use crate::domain::FieldErrors;
use crate::retention::{format_retain, parse_retain};
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
    errors: FieldErrors,
}

async fn render_settings(
    state: &AppState,
    user: &SignedIn,
    status: StatusCode,
    retain: Option<String>,
    errors: FieldErrors,
) -> AppResult<Response> {
    let retain = match retain {
        Some(typed) => typed,
        None => state
            .store
            .org_retention(user.org())
            .await?
            .map(|ms| format_retain(std::time::Duration::from_millis(ms.max(0) as u64)))
            .unwrap_or_default(),
    };
    Ok(render_with(
        status,
        &SettingsPage {
            layout: Layout::new(user, "Settings", "settings"),
            retain,
            default_retain: format_retain(state.web.default_retain),
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
}

async fn save(
    State(state): State<AppState>,
    jar: CookieJar,
    CsrfForm { user, form }: CsrfForm<SettingsForm>,
) -> Response {
    let result = async {
        let typed = form.retain.trim();
        let retain = if typed.is_empty() {
            None
        } else {
            match parse_retain(typed) {
                Ok(retain) => Some(retain.as_millis() as i64),
                Err(message) => {
                    let errors = FieldErrors::one("retain", message);
                    let status = StatusCode::UNPROCESSABLE_ENTITY;
                    return render_settings(
                        &state,
                        &user,
                        status,
                        Some(form.retain.clone()),
                        errors,
                    )
                    .await;
                }
            }
        };
        state.store.set_org_retention(user.org(), retain).await?;
        Ok(redirect_with_flash(
            &state,
            jar,
            "/settings",
            "Settings saved.",
        ))
    }
    .await;
    page(&user, result)
}
