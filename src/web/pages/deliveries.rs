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
use super::{Layout, Pager, page, redirect_with_flash, render};
use crate::domain::{DeliveryId, WebhookId};
use crate::store::{Attempt, Delivery, DeliveryFilter, Page, STATUS_FILTERS, StoreError, Webhook};
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
    status: String,
    webhooks: Vec<Webhook>,
    selected_webhook: String,
}

#[derive(Deserialize)]
struct ListQuery {
    status: Option<String>,
    webhook: Option<String>,
    cursor: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    user: SignedIn,
    Query(query): Query<ListQuery>,
) -> Response {
    let result = async {
        let status = query.status.unwrap_or_default();
        let selected_webhook = query.webhook.unwrap_or_default();
        let filter = DeliveryFilter {
            webhook: WebhookId::parse(selected_webhook.trim()),
            status: STATUS_FILTERS
                .iter()
                .any(|(value, _)| *value == status)
                .then(|| status.clone()),
        };
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
        Ok(render(&ListPage {
            layout: Layout::new(&user, "Deliveries", "deliveries"),
            pager: Pager::new(
                &format!(
                    "/deliveries?status={}&webhook={}",
                    urlencode(&status),
                    urlencode(&selected_webhook)
                ),
                "deliveries",
                query.cursor.as_deref(),
                deliveries.next_cursor.as_deref(),
            ),
            deliveries: deliveries.data,
            statuses: &STATUS_FILTERS,
            status,
            webhooks: webhooks.data,
            selected_webhook,
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
    expected_header: String,
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
        let expected_header = last_t.map_or_else(String::new, |t| {
            let current: Vec<&str> = secrets.iter().map(|s| s.secret.expose()).collect();
            biotz_signature::sign_header(&current, t, &event.body)
        });
        let rotated = last.is_some_and(|a| secrets.iter().any(|s| s.created_at > a.started_at));
        Ok(render(&ShowPage {
            layout: Layout::new(&user, format!("Delivery {id}"), "deliveries"),
            body_sha256: hex::encode(Sha256::digest(&event.body)),
            body_length: event.body.len(),
            body_pretty: serde_json::to_string_pretty(&event.body_json()).unwrap_or_default(),
            last_t,
            expected_header,
            rotated,
            body_file: body_file(&delivery),
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
