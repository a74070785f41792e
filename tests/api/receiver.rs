//! A real HTTPS receiver on 127.0.0.1 whose answers a test scripts. Its certificate comes from a
//! CA made once per test process; every `TestApp` trusts that CA through the extra CA setting.

use std::collections::VecDeque;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use biotz::receiver::{LocalTls, serve_https};
use tokio::sync::Notify;

/// The CA every test receiver's certificate is signed by.
pub static TLS: LazyLock<LocalTls> = LazyLock::new(|| LocalTls::generate(&[]).expect("a test CA"));

/// How the receiver answers one request.
#[derive(Debug, Clone)]
pub enum Reply {
    Status(u16),
    /// A status with extra headers (`Retry-After`, `Location`…).
    With(u16, Vec<(&'static str, String)>),
    /// Answer 200 only after this long.
    Hang(Duration),
    /// Answer 200 once the test adds a permit (`Semaphore::add_permits`), so a test can look at
    /// a delivery while its attempt is in flight.
    Held(Arc<tokio::sync::Semaphore>),
}

/// A request as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no {name} header"))
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

#[derive(Default)]
struct Inner {
    received: Mutex<Vec<Received>>,
    script: Mutex<VecDeque<Reply>>,
    fallback: Mutex<Option<Reply>>,
    arrived: Notify,
}

pub struct Receiver {
    /// `https://127.0.0.1:<port>/hook`
    pub url: String,
    inner: Arc<Inner>,
    handle: axum_server::Handle<std::net::SocketAddr>,
}

async fn receive(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    inner.received.lock().unwrap().push(Received {
        headers,
        body,
        at: Instant::now(),
    });
    inner.arrived.notify_waiters();
    let reply = inner
        .script
        .lock()
        .unwrap()
        .pop_front()
        .or_else(|| inner.fallback.lock().unwrap().clone())
        .unwrap_or(Reply::Status(200));
    match reply {
        Reply::Status(code) => (StatusCode::from_u16(code).unwrap(), "ok").into_response(),
        Reply::With(code, headers) => {
            let mut response = (StatusCode::from_u16(code).unwrap(), "see headers").into_response();
            for (name, value) in headers {
                response.headers_mut().insert(name, value.parse().unwrap());
            }
            response
        }
        Reply::Hang(duration) => {
            tokio::time::sleep(duration).await;
            (StatusCode::OK, "late").into_response()
        }
        Reply::Held(gate) => {
            let _ = gate.acquire().await;
            (StatusCode::OK, "released").into_response()
        }
    }
}

impl Receiver {
    pub async fn start() -> Self {
        Self::start_with(&TLS).await
    }

    /// A receiver whose certificate no `TestApp` trusts.
    pub async fn start_untrusted() -> Self {
        Self::start_with(&LocalTls::generate(&[]).unwrap()).await
    }

    async fn start_with(tls: &LocalTls) -> Self {
        let inner = Arc::new(Inner::default());
        let router = Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(inner.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let (address, handle) = serve_https(listener, tls, router).await.unwrap();
        Self {
            url: format!("https://127.0.0.1:{}/hook", address.port()),
            inner,
            handle,
        }
    }

    /// The next requests are answered with these replies, in order.
    pub fn reply_next(&self, replies: impl IntoIterator<Item = Reply>) {
        self.inner.script.lock().unwrap().extend(replies);
    }

    /// Requests past the script are answered with this (200 by default).
    pub fn reply_always(&self, reply: Reply) {
        *self.inner.fallback.lock().unwrap() = Some(reply);
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.received.lock().unwrap().clone()
    }

    /// Waits until `count` requests have arrived, failing the test after `deadline`.
    pub async fn wait_for(&self, count: usize, deadline: Duration) -> Vec<Received> {
        let start = Instant::now();
        loop {
            let arrived = self.inner.arrived.notified();
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            let left = deadline.checked_sub(start.elapsed()).unwrap_or_else(|| {
                panic!(
                    "timed out after {deadline:?}: {} of {count} requests arrived",
                    received.len()
                )
            });
            let _ = tokio::time::timeout(left.min(Duration::from_millis(200)), arrived).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.handle.shutdown();
    }
}
