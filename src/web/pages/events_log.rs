//! Activity → Events: every event (type, device, trigger, time) with its deliveries' outcomes,
//! filtered by type, device and trigger, newest first.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use super::filters;
use super::{Layout, Pager, page, render};
use crate::store::{EventFilter, EventLogRow, Page};
use crate::web::AppState;
use crate::web::error::AppError;
use crate::web::extract::{SignedIn, urlencode};

pub fn router() -> Router<AppState> {
    Router::new().route("/events", get(list))
}

const EVENT_TYPES: [&str; 4] = [
    "alarm.raised",
    "alarm.cleared",
    "alarm.acknowledged",
    "webhook.test",
];

#[derive(Deserialize, Default)]
struct LogQuery {
    #[serde(default)]
    event_type: String,
    #[serde(default)]
    device: String,
    #[serde(default)]
    trigger: String,
    cursor: Option<String>,
}

#[derive(Template)]
#[template(path = "events/list.html")]
struct LogPage {
    layout: Layout,
    events: Vec<EventLogRow>,
    pager: Pager,
    event_types: &'static [&'static str],
    query: LogQuery,
    filtered: bool,
}

async fn list(
    State(state): State<AppState>,
    user: SignedIn,
    Query(query): Query<LogQuery>,
) -> Response {
    let result = async {
        let text = |value: &str| Some(value.trim().to_owned()).filter(|v| !v.is_empty());
        let filter = EventFilter {
            event_type: EVENT_TYPES
                .contains(&query.event_type.as_str())
                .then(|| query.event_type.clone()),
            device_name: text(&query.device),
            trigger_name: text(&query.trigger),
        };
        let page_of = Page::parse(None, query.cursor.as_deref())
            .map_err(|(f, m)| AppError::validation(f, m))?;
        let events = state
            .store
            .list_events(user.org(), &filter, &page_of)
            .await?;
        let base = format!(
            "/events?event_type={}&device={}&trigger={}",
            urlencode(&query.event_type),
            urlencode(&query.device),
            urlencode(&query.trigger)
        );
        Ok(render(&LogPage {
            layout: Layout::new(&user, "Events", "events"),
            pager: Pager::new(
                &base,
                "events",
                query.cursor.as_deref(),
                events.next_cursor.as_deref(),
            ),
            events: events.data,
            event_types: &EVENT_TYPES,
            filtered: !(query.event_type.is_empty()
                && query.device.is_empty()
                && query.trigger.is_empty()),
            query,
        }))
    }
    .await;
    page(&user, result)
}
