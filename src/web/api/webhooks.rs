//! `/api/v1/webhooks`: create, list and search, read, change, delete, and the secret.

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ListQuery;
use crate::domain::custom_header::{HeaderInput, check_headers};
use crate::domain::event_filter::EventFilter;
use crate::domain::time::{parse_instant, rfc3339};
use crate::domain::webhook::{self, CallbackUrl, Signing, WebhookName, parse_overlap_secs};
use crate::domain::{FieldErrors, WebhookId};
use crate::store::{Delivery, DeliveryFilter, Paged, Webhook, WebhookChanges, WebhookOptions};
use crate::web::AppState;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{ApiCaller, ApiJson, PathId};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/webhooks", post(create).get(list))
        .route("/webhooks/{id}", get(read).patch(update).delete(remove))
        .route("/webhooks/{id}/secret", get(secret))
        .route("/webhooks/{id}/secret/regenerate", post(regenerate))
        .route("/webhooks/{id}/test", post(send_test))
        .route("/webhooks/{id}/replay", post(replay))
        .route("/webhooks/{id}/deliveries", get(deliveries))
}

async fn send_test(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId<WebhookId>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let (event, delivery) = state.store.create_test_event(&caller.org, &id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "event_id": event, "delivery_id": delivery })),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Replay {
    since: Option<Value>,
}

async fn replay(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId<WebhookId>,
    ApiJson(body): ApiJson<Replay>,
) -> AppResult<(StatusCode, Json<Value>)> {
    state.store.webhook(&caller.org, &id).await?;
    let since = match &body.since {
        Some(Value::String(text)) => parse_instant(text),
        Some(Value::Number(n)) => n.as_i64().and_then(|s| s.checked_mul(1000)),
        _ => None,
    }
    .ok_or_else(|| {
        AppError::validation(
            "since",
            "Give the time to replay from, as RFC 3339 (2026-11-27T00:00:00Z) or unix seconds.",
        )
    })?;
    let replayed = state.store.replay(&caller.org, &id, since).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "replayed": replayed }))))
}

async fn deliveries(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId<WebhookId>,
    uri: Uri,
) -> AppResult<Json<Paged<Delivery>>> {
    state.store.webhook(&caller.org, &id).await?;
    let query = ListQuery::from_uri(&uri)?;
    let filter = DeliveryFilter {
        webhook: Some(id),
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewWebhook {
    name: String,
    url: String,
    signing: Option<String>,
    headers: Option<Vec<HeaderInput>>,
    event_types: Option<Vec<String>>,
    min_severity: Option<String>,
}

async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiJson(body): ApiJson<NewWebhook>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let checked = webhook::check_fields(&body.name, &body.url, body.signing.as_deref());
    let headers = check_headers(body.headers.as_deref().unwrap_or_default(), &[]);
    let filter = EventFilter::parse(
        body.event_types.as_deref().unwrap_or_default(),
        body.min_severity.as_deref(),
    );
    let ((name, url, signing), headers, filter) = match (checked, headers, filter) {
        (Ok(fields), Ok(headers), Ok(filter)) => (fields, headers, filter),
        (fields, headers, filter) => {
            let mut errors = fields.err().unwrap_or_default();
            errors.extend(headers.err().unwrap_or_default());
            errors.extend(filter.err().unwrap_or_default());
            return Err(AppError::Validation(errors));
        }
    };
    let options = WebhookOptions {
        signing,
        headers,
        filter,
    };
    let (webhook, secret) = state
        .store
        .create_webhook_with(&caller.org, &name, &url, &options)
        .await?;
    let mut body = json!(webhook);
    body["secret"] = secret.expose().into();
    Ok((StatusCode::CREATED, Json(body)))
}

async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    uri: Uri,
) -> AppResult<Json<Paged<Webhook>>> {
    let query = ListQuery::from_uri(&uri)?;
    let page = query.page()?;
    let webhooks = state
        .store
        .list_webhooks(&caller.org, query.name.as_deref(), &page)
        .await?;
    Ok(Json(webhooks))
}

async fn read(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId<WebhookId>,
) -> AppResult<Json<Webhook>> {
    Ok(Json(state.store.webhook(&caller.org, &id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Changes {
    name: Option<String>,
    url: Option<String>,
    enabled: Option<bool>,
    signing: Option<String>,
    /// The whole new list; a header without `value` keeps its saved value.
    headers: Option<Vec<HeaderInput>>,
    event_types: Option<Vec<String>>,
    /// A severity name, or null (or "") for every severity.
    #[serde(default, deserialize_with = "present")]
    min_severity: Option<Option<String>>,
}

/// A field that may be sent as null: `Some(None)` then, `None` when left out.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

async fn update(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId<WebhookId>,
    ApiJson(body): ApiJson<Changes>,
) -> AppResult<Json<Webhook>> {
    // 404 before 422: a foreign id must not learn which of its fields would be valid.
    let current = state.store.webhook(&caller.org, &id).await?;
    let mut errors = FieldErrors::new();
    let changes = WebhookChanges {
        name: body
            .name
            .and_then(|n| errors.check("name", WebhookName::parse(&n))),
        url: body
            .url
            .and_then(|u| errors.check("url", CallbackUrl::parse(&u))),
        enabled: body.enabled,
        signing: body
            .signing
            .and_then(|s| errors.check("signing", Signing::parse(&s))),
        headers: None,
        filter: None,
    };
    let mut changes = changes;
    if body.event_types.is_some() || body.min_severity.is_some() {
        let saved = current.filter();
        let types = body.event_types.unwrap_or(saved.event_types.0);
        let severity = match body.min_severity {
            Some(given) => given,
            None => saved.min_severity.map(|s| s.as_str().to_owned()),
        };
        match EventFilter::parse(&types, severity.as_deref()) {
            Ok(filter) => changes.filter = Some(filter),
            Err(filter_errors) => errors.extend(filter_errors),
        }
    }
    if let Some(inputs) = &body.headers {
        let saved = state.store.webhook_headers(&caller.org, &id).await?;
        match check_headers(inputs, &saved) {
            Ok(headers) => changes.headers = Some(headers),
            Err(header_errors) => errors.extend(header_errors),
        }
    }
    let changes = errors.finish(|| changes)?;
    Ok(Json(
        state
            .store
            .update_webhook(&caller.org, &id, &changes)
            .await?,
    ))
}

async fn remove(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId<WebhookId>,
) -> AppResult<StatusCode> {
    state.store.delete_webhook(&caller.org, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn secret(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId<WebhookId>,
) -> AppResult<Json<Value>> {
    caller.require_admin()?;
    let secrets = state.store.webhook_secrets(&caller.org, &id).await?;
    Ok(Json(secrets_body(&secrets)))
}

/// `{"secret": current, "created_at", "previous": [{"created_at", "expires_at"}]}`: older
/// secrets still inside their overlap are listed, never revealed.
fn secrets_body(secrets: &[crate::store::SecretInfo]) -> Value {
    let current = secrets.iter().find(|s| s.expires_at.is_none());
    let previous: Vec<Value> = secrets
        .iter()
        .filter_map(|s| {
            s.expires_at.map(|expires| {
                json!({ "created_at": rfc3339(s.created_at), "expires_at": rfc3339(expires) })
            })
        })
        .collect();
    json!({
        "secret": current.map(|s| s.secret.expose()),
        "created_at": current.map(|s| rfc3339(s.created_at)),
        "previous": previous,
    })
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Regenerate {
    #[serde(default)]
    keep_previous_for_seconds: Option<i64>,
}

async fn regenerate(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId<WebhookId>,
    ApiJson(body): ApiJson<Regenerate>,
) -> AppResult<Json<Value>> {
    state.store.webhook(&caller.org, &id).await?;
    let overlap = parse_overlap_secs(body.keep_previous_for_seconds.unwrap_or(0))
        .map_err(|m| AppError::validation("keep_previous_for_seconds", m))?;
    state
        .store
        .regenerate_secret(&caller.org, &id, overlap)
        .await?;
    let secrets = state.store.webhook_secrets(&caller.org, &id).await?;
    Ok(Json(secrets_body(&secrets)))
}
