//! Activity → Alarms: the raised alarms, then the recently cleared, each linking to its latest
//! event; and the event's page with the exact body receivers get and its deliveries.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;

use super::filters;
use super::{Layout, page, render};
use crate::domain::EventId;
use crate::store::{Alarm, Event};
use crate::web::AppState;
use crate::web::error::AppError;
use crate::web::extract::{PathId, SignedIn};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/alarms", get(overview))
        .route("/events/{id}", get(event))
}

/// How many alarms each section of the page shows.
const SHOWN: i64 = 50;

#[derive(Template)]
#[template(path = "alarms/list.html")]
struct OverviewPage {
    layout: Layout,
    raised: Vec<Alarm>,
    cleared: Vec<Alarm>,
}

async fn overview(State(state): State<AppState>, user: SignedIn) -> Response {
    let result = async {
        let (raised, cleared) = state.store.alarms_overview(user.org(), SHOWN).await?;
        Ok(render(&OverviewPage {
            layout: Layout::new(&user, "Alarms", "alarms"),
            raised,
            cleared,
        }))
    }
    .await;
    page(&user, result)
}

#[derive(Template)]
#[template(path = "alarms/event.html")]
struct EventPage {
    layout: Layout,
    event: Event,
    body: String,
}

async fn event(
    State(state): State<AppState>,
    user: SignedIn,
    id: Result<PathId<EventId>, AppError>,
) -> Response {
    let result = async {
        let PathId(id) = id?;
        let event = state.store.event(user.org(), &id).await?;
        // The body is stored compact, exactly as sent; indented here only for reading.
        let body = serde_json::to_string_pretty(&event.body_json()).unwrap_or_default();
        Ok(render(&EventPage {
            layout: Layout::new(&user, format!("Event {}", event.event_type), "alarms"),
            event,
            body,
        }))
    }
    .await;
    page(&user, result)
}
