//! The loopback HTTPS receiver the benchmark delivers to: answers at once (or hangs, for the
//! isolation scenario), counts requests, and notes when each event arrived.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use biotz::receiver::{LocalTls, serve_https};
use tokio::sync::Notify;

#[derive(Default)]
pub struct Sink {
    count: AtomicU64,
    record: AtomicBool,
    arrivals: std::sync::Mutex<HashMap<String, Instant>>,
    changed: Notify,
    hang: Option<Duration>,
}

impl Sink {
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Starts noting each event's arrival time (from now on).
    pub fn record_arrivals(&self, on: bool) {
        self.record.store(on, Ordering::Relaxed);
        if !on {
            self.arrivals.lock().unwrap().clear();
        }
    }

    pub fn arrivals(&self) -> HashMap<String, Instant> {
        self.arrivals.lock().unwrap().clone()
    }

    /// Waits until `count` requests have arrived, or `deadline` passes; returns whether they did.
    pub async fn wait_for(&self, count: u64, deadline: Duration) -> bool {
        let end = Instant::now() + deadline;
        loop {
            let changed = self.changed.notified();
            if self.count() >= count {
                return true;
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let _ = tokio::time::timeout(left.min(Duration::from_millis(100)), changed).await;
        }
    }
}

/// Reads the whole body, as a real receiver does: answering before the request is read makes
/// an HTTP/2 server reset the stream under the sender.
async fn receive(
    State(sink): State<Arc<Sink>>,
    headers: HeaderMap,
    _body: axum::body::Bytes,
) -> StatusCode {
    if let Some(hang) = sink.hang {
        tokio::time::sleep(hang).await;
    }
    if sink.record.load(Ordering::Relaxed)
        && let Some(event) = headers
            .get("biotz-iot-event-id")
            .and_then(|v| v.to_str().ok())
    {
        sink.arrivals
            .lock()
            .unwrap()
            .insert(event.to_owned(), Instant::now());
    }
    sink.count.fetch_add(1, Ordering::Relaxed);
    sink.changed.notify_waiters();
    StatusCode::OK
}

/// Starts a receiver; `hang` makes it wait that long before answering.
pub async fn start(tls: &LocalTls, hang: Option<Duration>) -> anyhow::Result<(String, Arc<Sink>)> {
    let sink = Arc::new(Sink {
        hang,
        ..Sink::default()
    });
    let router = Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(sink.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let (address, _handle) = serve_https(listener, tls, router).await?;
    Ok((format!("https://127.0.0.1:{}/hook", address.port()), sink))
}
