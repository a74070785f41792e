//! `/api/v1/deliveries`: the delivery log, one delivery with its attempts, and resend.

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::ListQuery;
use crate::domain::{DeliveryId, WebhookId};
use crate::store::{Delivery, DeliveryFilter, Paged};
use crate::web::AppState;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{ApiCaller, PathId};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/deliveries", get(list))
        .route("/deliveries/{id}", get(read))
        .route("/deliveries/{id}/resend", post(resend))
}

async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    uri: Uri,
) -> AppResult<Json<Paged<Delivery>>> {
    let query = ListQuery::from_uri(&uri)?;
    let webhook = match query
        .webhook_id
        .as_deref()
        .map(str::trim)
        .filter(|w| !w.is_empty())
    {
        None => None,
        Some(text) => Some(WebhookId::parse(text).ok_or_else(|| {
            AppError::validation("webhook_id", "Filter by a webhook id (whk_…).")
        })?),
    };
    let filter = DeliveryFilter {
        webhook,
        status: query.delivery_status()?,
        ..DeliveryFilter::default()
    };
    Ok(Json(
        state
            .store
            .list_deliveries(&caller.org, &filter, &query.page()?)
            .await?,
    ))
}

/// The delivery, its attempts, and the request body with its SHA-256 (to compare with what a
/// receiver got when a signature does not match).
async fn read(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId<DeliveryId>,
) -> AppResult<Json<Value>> {
    let delivery = state.store.delivery(&caller.org, &id).await?;
    let attempts = state.store.attempts(&caller.org, &id).await?;
    let event = state.store.event(&caller.org, &delivery.event_id).await?;
    let mut body = json!(delivery);
    body["attempts"] = attempts
        .iter()
        .map(|attempt| {
            let mut value = json!(attempt);
            value["response_body"] = attempt.response_text().into();
            value
        })
        .collect();
    body["request_body"] = event.body_json();
    body["request_body_sha256"] = hex::encode(Sha256::digest(&event.body)).into();
    Ok(Json(body))
}

async fn resend(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId<DeliveryId>,
) -> AppResult<(StatusCode, Json<Delivery>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(state.store.resend(&caller.org, &id).await?),
    ))
}
