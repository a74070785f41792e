//! Activity → Deliveries: the delivery log with filters, one delivery with its attempts and
//! what a receiver needs to debug a signature mismatch, and Resend.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::filters;
use super::webhooks::parse_form_instant;
use super::{Layout, Pager, page, redirect_with_flash, render};
use crate::domain::webhook::Signing;
use crate::domain::{DeliveryId, WebhookId};
use crate::store::{Attempt, Delivery, DeliveryFilter, Page, STATUS_FILTERS, StoreError};
use crate::web::AppState;
use crate::web::error::AppError;
use crate::web::extract::{CsrfForm, NoFields, PathId, SignedIn, urlencode};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/deliveries", get(list))
        .route("/deliveries/{id}", get(show))
        .route("/deliveries/{id}/body", get(body))
        .route("/deliveries/{id}/resend", post(resend))
}

#[derive(Template)]
#[template(path = "deliveries/list.html")]
struct ListPage {
    layout: Layout,
    deliveries: Vec<Delivery>,
    pager: Pager,
    statuses: &'static [(&'static str, &'static str)],
    event_types: &'static [&'static str],
    query: ListQuery,
    /// The names the webhook field suggests as one types.
    webhook_names: Vec<String>,
    filtered: bool,
}

/// The event types a delivery can carry.
const EVENT_TYPES: [&str; 4] = [
    "alarm.raised",
    "alarm.cleared",
    "alarm.acknowledged",
    "webhook.test",
];

/// The search form, as typed. Every field is optional; times are UTC.
#[derive(Deserialize, Default)]
struct ListQuery {
    #[serde(default)]
    status: String,
    /// A webhook's id, from its page's "All deliveries" link.
    #[serde(default)]
    webhook: String,
    /// Part of a webhook's name.
    #[serde(default)]
    webhook_name: String,
    #[serde(default)]
    event_type: String,
    /// Part of a device's name.
    #[serde(default)]
    device: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    /// A delivery or event id.
    #[serde(default)]
    id: String,
    cursor: Option<String>,
}

impl ListQuery {
    /// The store's filter, or the field that could not be read.
    fn filter(&self) -> Result<DeliveryFilter, AppError> {
        let text = |value: &str| Some(value.trim().to_owned()).filter(|v| !v.is_empty());
        let time = |field: &'static str, value: &str| match text(value) {
            None => Ok(None),
            Some(value) => parse_form_instant(&value).map(Some).ok_or_else(|| {
                AppError::validation(field, "Enter a time as 2026-12-04T10:30 (UTC).")
            }),
        };
        Ok(DeliveryFilter {
            webhook: WebhookId::parse(self.webhook.trim()),
            status: STATUS_FILTERS
                .iter()
                .any(|(value, _)| *value == self.status)
                .then(|| self.status.clone()),
            webhook_name: text(&self.webhook_name),
            event_type: EVENT_TYPES
                .contains(&self.event_type.as_str())
                .then(|| self.event_type.clone()),
            device_name: text(&self.device),
            since: time("from", &self.from)?,
            until: time("to", &self.to)?,
            id: text(&self.id),
        })
    }

    /// The list's address with these filters and no cursor.
    fn base(&self) -> String {
        let fields = [
            ("status", &self.status),
            ("webhook", &self.webhook),
            ("webhook_name", &self.webhook_name),
            ("event_type", &self.event_type),
            ("device", &self.device),
            ("from", &self.from),
            ("to", &self.to),
            ("id", &self.id),
        ];
        let query: Vec<String> = fields
            .iter()
            .filter(|(_, value)| !value.is_empty())
            .map(|(name, value)| format!("{name}={}", urlencode(value)))
            .collect();
        if query.is_empty() {
            "/deliveries".to_owned()
        } else {
            format!("/deliveries?{}", query.join("&"))
        }
    }
}

async fn list(
    State(state): State<AppState>,
    user: SignedIn,
    Query(mut query): Query<ListQuery>,
) -> Response {
    let result = async {
        let filter = query.filter()?;
        let page_of = Page::parse(None, query.cursor.as_deref())
            .map_err(|(f, m)| AppError::validation(f, m))?;
        let deliveries = state
            .store
            .list_deliveries(user.org(), &filter, &page_of)
            .await?;
        let webhooks = state
            .store
            .list_webhooks(user.org(), None, &Page::first(200))
            .await?;
        // A webhook chosen by id (from its page) shows by name in the search field.
        if let Some(id) = &filter.webhook
            && query.webhook_name.is_empty()
            && let Some(chosen) = webhooks.data.iter().find(|w| &w.id == id)
        {
            query.webhook_name = chosen.name.clone();
        }
        Ok(render(&ListPage {
            layout: Layout::new(&user, "Deliveries", "deliveries"),
            pager: Pager::new(
                &query.base(),
                "deliveries",
                query.cursor.as_deref(),
                deliveries.next_cursor.as_deref(),
            ),
            deliveries: deliveries.data,
            statuses: &STATUS_FILTERS,
            event_types: &EVENT_TYPES,
            webhook_names: webhooks.data.into_iter().map(|w| w.name).collect(),
            filtered: query.base() != "/deliveries",
            query,
        }))
    }
    .await;
    page(&user, result)
}

#[derive(Template)]
#[template(path = "deliveries/show.html")]
struct ShowPage {
    layout: Layout,
    delivery: Delivery,
    attempts: Vec<Attempt>,
    body_sha256: String,
    body_length: usize,
    body_pretty: String,
    last_t: Option<i64>,
    /// `biotz verify` with the header the last attempt should carry, for the body file.
    verify_command: String,
    rotated: bool,
    /// The name the body downloads as, which the commands beside it use.
    body_file: String,
    /// Whether any attempt got an HTTP answer: only then can a signature have been checked.
    reached: bool,
}

async fn show(
    State(state): State<AppState>,
    user: SignedIn,
    id: Result<PathId<DeliveryId>, AppError>,
) -> Response {
    let result = async {
        let PathId(id) = id?;
        let delivery = state.store.delivery(user.org(), &id).await?;
        let attempts = state.store.attempts(user.org(), &id).await?;
        let event = state.store.event(user.org(), &delivery.event_id).await?;
        let secrets = state
            .store
            .webhook_secrets(user.org(), &delivery.webhook_id)
            .await?;
        let last = attempts.last();
        let last_t = last.map(|a| a.signature_t);
        let signing = state
            .store
            .webhook(user.org(), &delivery.webhook_id)
            .await?
            .signing;
        let file = body_file(&delivery);
        let verify_command = last_t.map_or_else(String::new, |t| {
            let current: Vec<&str> = secrets.iter().map(|s| s.secret.expose()).collect();
            match signing {
                Signing::Biotz => {
                    let header = biotz_signature::sign_header(&current, t, &event.body);
                    format!("biotz verify --header '{header}' --at {t} {file}")
                }
                Signing::Standard => {
                    let id = delivery.event_id.as_str();
                    let header = biotz_signature::standard::sign_header(&current, id, t, &event.body)
                        .unwrap_or_default();
                    format!(
                        "biotz verify --scheme standard --id {id} --timestamp {t} --header '{header}' --at {t} {file}"
                    )
                }
            }
        });
        let rotated = last.is_some_and(|a| secrets.iter().any(|s| s.created_at > a.started_at));
        Ok(render(&ShowPage {
            layout: Layout::new(&user, format!("Delivery {id}"), "deliveries"),
            body_sha256: hex::encode(Sha256::digest(&event.body)),
            body_length: event.body.len(),
            body_pretty: serde_json::to_string_pretty(&event.body_json()).unwrap_or_default(),
            last_t,
            verify_command,
            rotated,
            body_file: file,
            reached: attempts.iter().any(|a| a.response_status.is_some()),
            delivery,
            attempts,
        }))
    }
    .await;
    page(&user, result)
}

/// The exact bytes every attempt sent, to save and compare.
async fn body(
    State(state): State<AppState>,
    user: SignedIn,
    id: Result<PathId<DeliveryId>, AppError>,
) -> Response {
    let result = async {
        let PathId(id) = id?;
        let delivery = state.store.delivery(user.org(), &id).await?;
        let event = state.store.event(user.org(), &delivery.event_id).await?;
        Ok((
            [
                (header::CONTENT_TYPE, "application/json".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{}\"", body_file(&delivery)),
                ),
            ],
            event.body,
        )
            .into_response())
    }
    .await;
    page(&user, result)
}

/// The download's file name: the event's id, so bodies saved from several deliveries do not
/// overwrite each other.
fn body_file(delivery: &Delivery) -> String {
    format!("{}.json", delivery.event_id)
}

async fn resend(
    State(state): State<AppState>,
    jar: CookieJar,
    id: Result<PathId<DeliveryId>, AppError>,
    CsrfForm { user, .. }: CsrfForm<NoFields>,
) -> Response {
    let result = async {
        let PathId(id) = id?;
        let message = match state.store.resend(user.org(), &id).await {
            Ok(_) => "Queued to be sent again now.".to_owned(),
            Err(StoreError::Conflict { message, .. }) => message,
            Err(error) => return Err(error.into()),
        };
        Ok(redirect_with_flash(
            &state,
            jar,
            &format!("/deliveries/{id}"),
            &message,
        ))
    }
    .await;
    page(&user, result)
}
