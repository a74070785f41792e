//! Activity → Alarms: the raised (and acknowledged) alarms, then the recently cleared, or the
//! alarms a filter picks; and the event's page with the exact body receivers get and its
//! deliveries. One alarm's page is in `alarm.rs`.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use super::alarm_filters::Filters;
use super::filters;
use super::{Layout, Pager, page, render};
use crate::alarms::lifecycle::{self, FilterInput};
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
    filters: Filters,
    raised: Vec<Alarm>,
    cleared: Vec<Alarm>,
}

#[derive(Deserialize)]
struct AlarmsQuery {
    state: Option<String>,
    severity: Option<String>,
    device_type_id: Option<String>,
    device_id: Option<String>,
    cursor: Option<String>,
}

/// Alarms narrowed by the filters, newest first, a page at a time.
#[derive(Template)]
#[template(path = "alarms/all.html")]
struct AllPage {
    layout: Layout,
    filters: Filters,
    rows: Vec<Alarm>,
    pager: Pager,
}

async fn overview(
    State(state): State<AppState>,
    user: SignedIn,
    Query(query): Query<AlarmsQuery>,
) -> Response {
    let result = async {
        let input = FilterInput {
            state: query.state.as_deref(),
            severity: query.severity.as_deref(),
            device_type_id: query.device_type_id.as_deref(),
            device_id: query.device_id.as_deref(),
        };
        let filter = lifecycle::parse_filter(&input).map_err(AppError::Validation)?;
        let filters = Filters::build(&state, &user, &filter).await?;
        if filters.none_set {
            let (raised, cleared) = state.store.alarms_overview(user.org(), SHOWN).await?;
            return Ok(render(&OverviewPage {
                layout: Layout::new(&user, "Alarms", "alarms"),
                filters,
                raised,
                cleared,
            }));
        }
        let page_of = Page::parse(None, query.cursor.as_deref())
            .map_err(|(field, message)| AppError::validation(field, message))?;
        let alarms = state
            .store
            .list_alarms(user.org(), &filter, &page_of)
            .await?;
        let title = match filter.state.as_deref() {
            Some("raised") => "Raised alarms",
            Some("acknowledged") => "Acknowledged alarms",
            Some("cleared") => "Cleared alarms",
            _ => "Alarms",
        };
        Ok(render(&AllPage {
            layout: Layout::new(&user, title, "alarms"),
            pager: Pager::new(
                &format!("/alarms?{}", filters.query),
                "alarms",
                query.cursor.as_deref(),
                alarms.next_cursor.as_deref(),
            ),
            filters,
            rows: alarms.data,
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
    /// The trigger's webhooks whose filter refused this event, with why.
    filtered_out: Vec<(String, String)>,
}

async fn event(
    State(state): State<AppState>,
    user: SignedIn,
    id: Result<PathId<EventId>, AppError>,
) -> Response {
    let result = async {
        let PathId(id) = id?;
        let event = state.store.event(user.org(), &id).await?;
        let filtered_out = state.store.filtered_out(user.org(), &id).await?;
        // The body is stored compact, exactly as sent; indented here only for reading.
        let body = serde_json::to_string_pretty(&event.body_json()).unwrap_or_default();
        Ok(render(&EventPage {
            layout: Layout::new(&user, format!("Event {}", event.event_type), "alarms"),
            event,
            body,
            filtered_out,
        }))
    }
    .await;
    page(&user, result)
}
