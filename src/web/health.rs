//! `/healthz`: the process answers. `/readyz`: and its database is reachable and migrated, and
//! its MQTT broker connected when MQTT ingest is on.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;
use crate::domain::time::now_ms;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
}

/// Prometheus text: this process's delivery counters and latency histogram, and the queue as
/// the database sees it.
async fn metrics(State(state): State<AppState>) -> Response {
    match state.store.queue_stats().await {
        Ok((pending, oldest)) => {
            let age = oldest.map_or(0.0, |created| (now_ms() - created).max(0) as f64 / 1000.0);
            (
                [(
                    header::CONTENT_TYPE,
                    "text/plain; version=0.0.4; charset=utf-8",
                )],
                state.metrics.render(pending, age)
                    + &state.mqtt.as_ref().map(|m| m.render()).unwrap_or_default(),
            )
                .into_response()
        }
        Err(error) => {
            tracing::error!(%error, "reading the queue for /metrics failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the database is unreachable\n",
            )
                .into_response()
        }
    }
}

/// Answers within `READY_WITHIN` even when the database does not.
async fn ready(State(state): State<AppState>) -> (StatusCode, String) {
    if state.mqtt.as_ref().is_some_and(|mqtt| !mqtt.is_connected()) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the MQTT broker (BIOTZ_MQTT_URL) is unreachable; reconnecting\n".into(),
        );
    }
    let kind = state.store.database_kind();
    match tokio::time::timeout(READY_WITHIN, state.store.is_ready()).await {
        Ok(true) => (StatusCode::OK, "ready\n".into()),
        Ok(false) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: the {kind} database is unreachable or not migrated\n"),
        ),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "not ready: the {kind} database did not answer within {} ms\n",
                READY_WITHIN.as_millis()
            ),
        ),
    }
}

const READY_WITHIN: std::time::Duration = std::time::Duration::from_millis(1500);
