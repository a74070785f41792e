//! Activity → Alarms: the raised alarms, then the recently cleared, each linking to its latest
//! event; and the event's page with the exact body receivers get and its deliveries.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use super::filters;
use super::{Layout, Pager, page, render};
use crate::domain::EventId;
use crate::store::{Alarm, Event, Page};
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

#[derive(Deserialize)]
struct AlarmsQuery {
    state: Option<String>,
    cursor: Option<String>,
}

/// Every alarm in one state, newest first, a page at a time: where the overview's sections end.
#[derive(Template)]
#[template(path = "alarms/all.html")]
struct AllPage {
    layout: Layout,
    state: &'static str,
    rows: Vec<Alarm>,
    pager: Pager,
}

async fn overview(
    State(state): State<AppState>,
    user: SignedIn,
    Query(query): Query<AlarmsQuery>,
) -> Response {
    let result = async {
        let listed = match query.state.as_deref().map(str::trim) {
            None | Some("") => None,
            Some("raised") => Some("raised"),
            Some("cleared") => Some("cleared"),
            Some(_) => {
                return Err(AppError::validation(
                    "state",
                    "Show raised or cleared alarms.",
                ));
            }
        };
        let Some(listed) = listed else {
            let (raised, cleared) = state.store.alarms_overview(user.org(), SHOWN).await?;
            return Ok(render(&OverviewPage {
                layout: Layout::new(&user, "Alarms", "alarms"),
                raised,
                cleared,
            }));
        };
        let page_of = Page::parse(None, query.cursor.as_deref())
            .map_err(|(field, message)| AppError::validation(field, message))?;
        let alarms = state
            .store
            .list_alarms(user.org(), Some(listed), &page_of)
            .await?;
        let title = if listed == "raised" {
            "Raised alarms"
        } else {
            "Cleared alarms"
        };
        Ok(render(&AllPage {
            layout: Layout::new(&user, title, "alarms"),
            state: listed,
            rows: alarms.data,
            pager: Pager::new(
                &format!("/alarms?state={listed}"),
                "alarms",
                query.cursor.as_deref(),
                alarms.next_cursor.as_deref(),
            ),
        }))
    }
    .await;
    page(&user, result)
}

impl OverviewPage {
    /// Whether a section may have more alarms than it shows.
    fn full(&self, rows: &[Alarm]) -> bool {
        rows.len() as i64 >= SHOWN
    }
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
