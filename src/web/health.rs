//! `/healthz`: the process answers. `/readyz`: and its database is reachable and migrated, and
//! its MQTT broker connected when MQTT ingest is on. `/metrics`: the process's counters, which
//! live in memory and are answered even while the database is away, and the queue figures the
//! database gives within `QUEUE_WITHIN` (left out, with `biotz_database_up 0`, when it does not).
//! `biotz serve` merges these routes into its router; `biotz worker --listen` serves them alone.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::dispatch::metrics::{Metrics, QueueFigures};
use crate::domain::time::now_ms;
use crate::ingest_mqtt::MqttStatus;
use crate::store::Store;

/// What the health routes read.
#[derive(Clone)]
pub struct Health {
    pub store: Store,
    pub metrics: Arc<Metrics>,
    /// The MQTT broker connection, when MQTT ingest is on.
    pub mqtt: Option<Arc<MqttStatus>>,
}

pub fn router<S: Clone + Send + Sync + 'static>(health: Health) -> Router<S> {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .with_state(health)
}

/// How long `/metrics` waits for the queue figures: well within the time a scraper and
/// `web::availability` wait for the whole answer.
const QUEUE_WITHIN: Duration = Duration::from_millis(800);

/// Prometheus text: this process's delivery counters and latency histogram, and the queue as
/// the database sees it when it answers in time.
async fn metrics(State(health): State<Health>) -> Response {
    let queue = match tokio::time::timeout(QUEUE_WITHIN, health.store.queue_stats()).await {
        Ok(Ok((pending, oldest))) => Some(QueueFigures {
            pending,
            oldest_pending_age_secs: oldest
                .map_or(0.0, |created| (now_ms() - created).max(0) as f64 / 1000.0),
        }),
        Ok(Err(error)) => {
            tracing::warn!(%error, "/metrics: the queue figures are left out");
            None
        }
        Err(_) => {
            tracing::warn!("/metrics: the database did not give the queue figures in time");
            None
        }
    };
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        health.metrics.render(queue)
            + &health.mqtt.as_ref().map(|m| m.render()).unwrap_or_default(),
    )
        .into_response()
}

/// Answers within `READY_WITHIN` even when the database does not.
async fn ready(State(health): State<Health>) -> (StatusCode, String) {
    if health
        .mqtt
        .as_ref()
        .is_some_and(|mqtt| !mqtt.is_connected())
    {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the MQTT broker (BIOTZ_MQTT_URL) is unreachable; reconnecting\n".into(),
        );
    }
    let kind = health.store.database_kind();
    match tokio::time::timeout(READY_WITHIN, health.store.is_ready()).await {
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

const READY_WITHIN: Duration = Duration::from_millis(1500);
