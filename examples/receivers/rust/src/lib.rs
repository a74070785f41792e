//! The receiver: each request is verified on its raw body bytes before the JSON is parsed,
//! deduplicated on `Biotz-IoT-Event-Id`, answered at once (200, or 400 naming the failed rule)
//! and handled afterwards on a task of its own, so slow work never makes Biotz time out and retry.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use biotz_signature::{HEADER, Tolerance, verify};
use serde_json::{Value, json};

/// The header that names the event: the same on every attempt, so the key to dedupe on.
pub const EVENT_ID_HEADER: &str = "Biotz-IoT-Event-Id";

/// How many event ids are remembered for deduplication.
const SEEN_CAPACITY: usize = 10_000;

/// Larger bodies are refused with 413 before they are read to the end.
const MAX_BODY: usize = 1024 * 1024;

/// A receiver for one webhook secret.
pub struct Receiver {
    secret: String,
    tolerance: Tolerance,
    clock: Box<dyn Fn() -> i64 + Send + Sync>,
    seen: Mutex<RecentIds>,
}

impl Receiver {
    /// A receiver that checks signatures with `secret` against the system clock.
    pub fn new(secret: impl Into<String>) -> Self {
        Self {
            secret: secret.into(),
            tolerance: Tolerance::default(),
            clock: Box::new(unix_now),
            seen: Mutex::new(RecentIds::new(SEEN_CAPACITY)),
        }
    }

    /// Reads the time (unix seconds) from `clock` instead: for tests.
    pub fn with_clock(mut self, clock: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        self.clock = Box::new(clock);
        self
    }

    /// Allows this much distance between the signed timestamp and the clock.
    pub fn with_tolerance(mut self, tolerance: Tolerance) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// `POST /webhook`.
    pub fn router(self) -> Router {
        Router::new()
            .route("/webhook", post(receive))
            .layer(DefaultBodyLimit::max(MAX_BODY))
            .with_state(Arc::new(self))
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            elapsed.as_secs().try_into().unwrap_or(i64::MAX)
        })
}

// `Bytes` is the body exactly as received: the signature covers these bytes, not the JSON they
// parse to.
async fn receive(
    State(receiver): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = header_text(&headers, HEADER);
    let now = (receiver.clock)();
    if let Err(error) = verify(&receiver.secret, &header, &body, now, receiver.tolerance) {
        return refuse(error.code(), &error.to_string());
    }
    // Only now is the body trusted enough to parse.
    let event: Value = match serde_json::from_slice(&body) {
        Ok(event) => event,
        Err(error) => return refuse("invalid_json", &error.to_string()),
    };
    let event_id = header_text(&headers, EVENT_ID_HEADER);
    if event_id.is_empty() {
        return refuse("no_event_id", "no Biotz-IoT-Event-Id header");
    }
    let first_time = receiver
        .seen
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(&event_id);
    if !first_time {
        return Json(json!({"received": true, "duplicate": true})).into_response();
    }
    tokio::spawn(handle_event(event));
    Json(json!({"received": true})).into_response()
}

/// Your work goes here. It runs after the answer was sent.
async fn handle_event(event: Value) {
    println!("event {} {}", event["id"], event["type"]);
}

fn header_text(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .unwrap_or_default()
}

fn refuse(code: &str, message: &str) -> Response {
    let body = json!({"error": {"code": code, "message": message}});
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

/// The ids of the last `capacity` events, oldest forgotten first.
struct RecentIds {
    capacity: usize,
    ids: HashSet<String>,
    order: VecDeque<String>,
}

impl RecentIds {
    fn new(capacity: usize) -> Self {
        Self {
            capacity,
            ids: HashSet::with_capacity(capacity),
            order: VecDeque::with_capacity(capacity),
        }
    }

    /// Records `id`; false if it was already there.
    fn insert(&mut self, id: &str) -> bool {
        if self.ids.contains(id) {
            return false;
        }
        if self.order.len() == self.capacity
            && let Some(oldest) = self.order.pop_front()
        {
            self.ids.remove(&oldest);
        }
        self.ids.insert(id.to_owned());
        self.order.push_back(id.to_owned());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::RecentIds;

    #[test]
    fn remembers_ids_up_to_its_capacity() {
        let mut seen = RecentIds::new(2);
        assert!(seen.insert("evt_1"));
        assert!(!seen.insert("evt_1"));
        assert!(seen.insert("evt_2"));
        assert!(seen.insert("evt_3"));
        assert!(seen.insert("evt_1"), "the oldest id is forgotten first");
        assert!(!seen.insert("evt_3"));
        assert_eq!(seen.order.len(), 2);
        assert_eq!(seen.ids.len(), 2);
    }
}
