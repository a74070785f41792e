//! Reading what a refused request still sends. A client that writes its whole body before reading
//! (Python's `urllib`, many device SDKs) would see a reset connection instead of our answer (a 413,
//! a 401) if the server closed while the body was arriving. So after the handler has answered,
//! the rest of the body is read and discarded, up to a bound, before the answer is sent.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt;

/// The most read and discarded after an answer; a client sending more sees the connection close.
pub const DRAIN_LIMIT: usize = 16 * 1024 * 1024;
/// The longest spent reading it: a client that trickles is not waited for.
const DRAIN_TIME: Duration = Duration::from_secs(10);

/// The request body, reachable again once the handler is done with it.
struct Shared(Arc<Mutex<Body>>);

impl http_body::Body for Shared {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let mut body = self.0.lock().unwrap_or_else(|e| e.into_inner());
        Pin::new(&mut *body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).size_hint()
    }
}

pub async fn drain_unread_body(request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let shared = Arc::new(Mutex::new(body));
    let request = Request::from_parts(parts, Body::new(Shared(shared.clone())));
    let response = next.run(request).await;
    let rest = std::mem::replace(
        &mut *shared.lock().unwrap_or_else(|e| e.into_inner()),
        Body::empty(),
    );
    if !http_body::Body::is_end_stream(&rest) {
        let _ = tokio::time::timeout(DRAIN_TIME, discard(rest)).await;
    }
    response
}

async fn discard(mut body: Body) {
    let mut read = 0;
    while read <= DRAIN_LIMIT {
        match body.frame().await {
            Some(Ok(frame)) => read += frame.data_ref().map_or(0, Bytes::len),
            _ => return,
        }
    }
}
