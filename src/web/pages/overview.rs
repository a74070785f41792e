//! Overview, the page after sign-in: raised alarms now, the last hour's deliveries by outcome,
//! failing webhooks, the oldest pending delivery and the ingest rate, each linking to its list.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::{Redirect, Response};
use axum::routing::get;

use super::filters;
use super::{Layout, page, render};
use crate::domain::time::{Millis, now_ms};
use crate::store::{OldestPending, Outcomes, RaisedAlarm, TroubledWebhook};
use crate::web::AppState;
use crate::web::extract::SignedIn;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/overview") }))
        .route("/overview", get(overview))
}

const HOUR_MS: Millis = 3_600_000;
/// The ingest rate is the average over this window.
const RATE_WINDOW_MS: Millis = 5 * 60_000;

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    layout: Layout,
    alarms: Vec<RaisedAlarm>,
    alarm_count: i64,
    outcomes: Outcomes,
    webhooks: Vec<TroubledWebhook>,
    oldest: Option<OldestPending>,
    per_minute: String,
}

async fn overview(State(state): State<AppState>, user: SignedIn) -> Response {
    let result = async {
        let now = now_ms();
        let org = user.org();
        let (alarms, alarm_count) = state.store.raised_alarms(org, 10).await?;
        let outcomes = state.store.delivery_outcomes(org, now - HOUR_MS).await?;
        let webhooks = state.store.troubled_webhooks(org).await?;
        let oldest = state.store.oldest_pending(org).await?;
        let messages = state
            .store
            .messages_since(org, now - RATE_WINDOW_MS)
            .await?;
        Ok(render(&OverviewPage {
            layout: Layout::new(&user, "Overview", "overview"),
            alarms,
            alarm_count,
            outcomes,
            webhooks,
            oldest,
            per_minute: per_minute(messages, RATE_WINDOW_MS),
        }))
    }
    .await;
    page(&user, result)
}

/// `count` messages over `window` as a rate per minute, to one decimal below 10.
fn per_minute(count: i64, window: Millis) -> String {
    let rate = count as f64 * 60_000.0 / window as f64;
    if rate < 10.0 {
        format!("{rate:.1}")
    } else {
        format!("{rate:.0}")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn rates_read_per_minute() {
        assert_eq!(super::per_minute(0, 300_000), "0.0");
        assert_eq!(super::per_minute(3, 300_000), "0.6");
        assert_eq!(super::per_minute(600, 300_000), "120");
    }
}
