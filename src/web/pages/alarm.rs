//! One alarm's page: its facts, *Acknowledge* (with an optional note) while it is raised, and
//! its history: every transition with its time and cause.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use super::filters;
use super::{Layout, page, redirect_with_flash, render, render_with};
use crate::alarms::lifecycle;
use crate::domain::AlarmId;
use crate::store::{Actor, Alarm, HistoryEntry};
use crate::web::AppState;
use crate::web::error::AppError;
use crate::web::extract::{CsrfForm, PathId, SignedIn};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/alarms/{id}", get(show))
        .route("/alarms/{id}/acknowledge", post(acknowledge))
}

#[derive(Template)]
#[template(path = "alarms/show.html")]
struct AlarmPage {
    layout: Layout,
    alarm: Alarm,
    history: Vec<HistoryEntry>,
    note: String,
    note_error: Option<String>,
}

impl AlarmPage {
    /// How a transition came about, in words.
    fn cause(&self, entry: &HistoryEntry) -> String {
        match entry.cause.as_str() {
            "user" => format!(
                "by {}",
                entry.user_email.as_deref().unwrap_or("a deleted user")
            ),
            "api_token" => "through an API token".to_owned(),
            "timer" if entry.state == "raised" => {
                "by the timer: no message came in time".to_owned()
            }
            "timer" => "by the timer".to_owned(),
            "offline_timer" => "by the offline timer: the device sent nothing in time".to_owned(),
            _ => "by a message".to_owned(),
        }
    }
}

async fn load(
    state: &AppState,
    user: &SignedIn,
    id: &AlarmId,
) -> Result<(Alarm, Vec<HistoryEntry>), AppError> {
    let alarm = state.store.alarm(user.org(), id).await?;
    let history = state.store.alarm_history(user.org(), id).await?;
    Ok((alarm, history))
}

async fn show(
    State(state): State<AppState>,
    user: SignedIn,
    id: Result<PathId<AlarmId>, AppError>,
) -> Response {
    let result = async {
        let PathId(id) = id?;
        let (alarm, history) = load(&state, &user, &id).await?;
        Ok(render(&AlarmPage {
            layout: Layout::new(&user, format!("Alarm: {}", alarm.trigger_name), "alarms"),
            alarm,
            history,
            note: String::new(),
            note_error: None,
        }))
    }
    .await;
    page(&user, result)
}

#[derive(Deserialize)]
struct AcknowledgeForm {
    #[serde(default)]
    note: String,
    /// `list` when pressed in the Alarms list, which the answer goes back to.
    #[serde(default)]
    from: String,
}

async fn acknowledge(
    State(state): State<AppState>,
    jar: CookieJar,
    id: Result<PathId<AlarmId>, AppError>,
    CsrfForm { user, form }: CsrfForm<AcknowledgeForm>,
) -> Response {
    let result = async {
        let PathId(id) = id?;
        let actor = Actor::User {
            id: user.session.user_id.clone(),
            email: user.session.email.clone(),
        };
        let back = if form.from == "list" {
            "/alarms".to_owned()
        } else {
            format!("/alarms/{id}")
        };
        match lifecycle::acknowledge(&state.store, user.org(), &id, &actor, Some(&form.note)).await
        {
            Ok(_) => Ok(redirect_with_flash(
                &state,
                jar,
                &back,
                "Alarm acknowledged; the trigger's webhooks are told.",
            )),
            Err(error) => match AppError::from(error) {
                AppError::Conflict { message, .. } => {
                    Ok(redirect_with_flash(&state, jar, &back, &message))
                }
                invalid @ AppError::Validation(_) => {
                    let (alarm, history) = load(&state, &user, &id).await?;
                    let note_error = invalid.fields().get("note").map(str::to_owned);
                    Ok(render_with(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        &AlarmPage {
                            layout: Layout::new(
                                &user,
                                format!("Alarm: {}", alarm.trigger_name),
                                "alarms",
                            ),
                            alarm,
                            history,
                            note: form.note,
                            note_error,
                        },
                    ))
                }
                other => Err(other),
            },
        }
    }
    .await;
    page(&user, result)
}
