//! The HTTP surface: the JSON API under `/api/v1`, the web UI, health checks and static assets.

pub mod api;
mod assets;
mod availability;
mod drain;
pub mod error;
pub mod extract;
pub mod health;
mod nul;
pub mod pages;
pub mod rate_limit;
pub mod session;
mod signed;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{DefaultPredicate, Predicate, SizeAbove};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

pub use rate_limit::SignInLimiter;

use crate::alarms::cache::Lookups;
use crate::alarms::ingest::IngestWriter;
use crate::alarms::schemas::SchemaCache;
use crate::dispatch::metrics::Metrics;
use crate::store::Store;

/// The largest request body the API reads.
pub const API_BODY_LIMIT: usize = 256 * 1024;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub web: Arc<WebSettings>,
    pub schemas: Arc<SchemaCache>,
    pub ingest: IngestWriter,
    pub lookups: Arc<Lookups>,
    pub metrics: Arc<Metrics>,
    /// The MQTT broker connection, when MQTT ingest is on.
    pub mqtt: Option<Arc<crate::ingest_mqtt::MqttStatus>>,
}

pub struct WebSettings {
    /// Mark cookies `Secure`: the UI is served over HTTPS (directly or behind a proxy).
    pub secure_cookies: bool,
    /// The address users reach the UI at, for links printed outside a request (the setup link).
    pub public_url: String,
    /// `BIOTZ_RETAIN`: how long finished data is kept where an organization sets nothing.
    pub default_retain: std::time::Duration,
    /// Whether `BIOTZ_EXPORT_DIR` is set, so organizations may export before purging.
    pub export_dir: bool,
    /// Failed sign-ins per client address and per account, shared through the database.
    pub sign_in_limiter: SignInLimiter,
    /// Signs the double-submit CSRF and flash cookies.
    pub cookie_key: session::CookieKey,
}

pub fn router(state: AppState) -> Router {
    let health = health::Health {
        store: state.store.clone(),
        metrics: state.metrics.clone(),
        mqtt: state.mqtt.clone(),
    };
    let mut router = Router::new()
        .merge(health::router(health))
        .merge(assets::router())
        .nest("/api/v1", api::router())
        .merge(pages::router())
        .fallback(pages::not_found)
        .layer(middleware::from_fn(availability::answer_in_time))
        .layer(middleware::from_fn(nul::refuse_in_query))
        .layer(middleware::from_fn(clear_shown_flash))
        // Nothing but static assets (which say how long they keep) is cached: pages can show
        // secrets.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));
    for (name, value) in SECURITY_HEADERS {
        router = router.layer(SetResponseHeaderLayer::overriding(
            name.clone(),
            HeaderValue::from_static(value),
        ));
    }
    router
        // Pages, lists and assets, not the small answers of ingest and actions, nor the live
        // pages' event streams (the default predicate leaves those alone).
        .layer(
            CompressionLayer::new()
                .compress_when(DefaultPredicate::new().and(SizeAbove::new(COMPRESS_ABOVE))),
        )
        .layer(DefaultBodyLimit::max(API_BODY_LIMIT))
        .layer(middleware::from_fn(drain::drain_unread_body))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Responses smaller than this are sent as they are: compressing them costs more than it saves.
const COMPRESS_ABOVE: u16 = 1024;

/// On every response: no sniffing, no framing, no inline script, no referrer beyond the site.
const SECURITY_HEADERS: [(HeaderName, &str); 4] = [
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::REFERRER_POLICY, "same-origin"),
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
         frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    ),
];

/// Clears a flash message once a page has shown it.
async fn clear_shown_flash(request: Request, next: Next) -> Response {
    let had_flash = request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains(session::FLASH_COOKIE));
    let mut response = next.run(request).await;
    let is_page = response.status() == StatusCode::OK
        && response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if had_flash
        && is_page
        && let Ok(value) = HeaderValue::from_str(&session::clear_flash_header())
    {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}
