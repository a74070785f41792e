//! New Device, and the page that shows a device's ingest token: once, when the device is
//! created or its token regenerated, with a ready `curl` line. The token is stored only as a
//! hash. Each POST redirects (so a reload never posts again) to the token page, which takes the
//! token from a one-time store (`shown_once`): a second look finds it gone.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::alarms::devices;
use crate::domain::{DeviceId, FieldErrors};
use crate::store::{Device, DeviceType, ShownOnce};
use crate::web::AppState;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{AdminPage, CsrfForm, NoFields, PathId, SignedIn};
use crate::web::pages::device_types::{Choice, all_device_types};
use crate::web::pages::tokens::API_TOKEN;
use crate::web::pages::{Layout, page, render, render_with};

#[derive(Template)]
#[template(path = "devices/new.html")]
struct NewPage {
    layout: Layout,
    name: String,
    device_types: Vec<Choice>,
    errors: FieldErrors,
}

async fn new_page(
    state: &AppState,
    user: &SignedIn,
    status: StatusCode,
    name: String,
    device_type: &str,
    errors: FieldErrors,
) -> AppResult<Response> {
    let types = all_device_types(&state.store, user).await?;
    let device_types = types
        .iter()
        .map(|t| Choice {
            value: t.id.to_string(),
            label: t.name.clone(),
            selected: t.id.as_str() == device_type,
        })
        .collect();
    Ok(render_with(
        status,
        &NewPage {
            layout: Layout::new(user, "New Device", "devices"),
            name,
            device_types,
            errors,
        },
    ))
}

#[derive(Deserialize)]
pub struct NewQuery {
    device_type_id: Option<String>,
}

pub async fn new(
    State(state): State<AppState>,
    AdminPage(user): AdminPage,
    Query(query): Query<NewQuery>,
) -> Response {
    let chosen = query.device_type_id.unwrap_or_default();
    let result = new_page(
        &state,
        &user,
        StatusCode::OK,
        String::new(),
        &chosen,
        FieldErrors::new(),
    )
    .await;
    page(&user, result)
}

#[derive(Template)]
#[template(path = "devices/token.html")]
struct TokenPage {
    layout: Layout,
    device: Device,
    created: bool,
    token: String,
    curl: String,
}

impl TokenPage {
    fn build(
        state: &AppState,
        user: &SignedIn,
        device: Device,
        device_type: &DeviceType,
        token: String,
        created: bool,
    ) -> Self {
        let title = if created {
            "Device created"
        } else {
            "New ingest token"
        };
        Self {
            layout: Layout::new(user, title, "devices"),
            curl: curl_line(&state.web.public_url, &token, device_type),
            device,
            created,
            token,
        }
    }
}

#[derive(Deserialize)]
pub struct NewDeviceForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    device_type_id: String,
}

pub async fn create(
    State(state): State<AppState>,
    CsrfForm { user, form }: CsrfForm<NewDeviceForm>,
) -> Response {
    let result = async {
        match devices::create_device(&state.store, user.org(), &form.name, &form.device_type_id)
            .await
        {
            Ok((device, token)) => show_once(&state, &user, device.id, token, true).await,
            Err(error) => match AppError::from(error) {
                invalid @ (AppError::Validation(_) | AppError::Conflict { .. }) => {
                    new_page(
                        &state,
                        &user,
                        StatusCode::UNPROCESSABLE_ENTITY,
                        form.name.clone(),
                        &form.device_type_id,
                        invalid.fields(),
                    )
                    .await
                }
                other => Err(other),
            },
        }
    }
    .await;
    page(&user, result)
}

pub async fn regenerate(
    State(state): State<AppState>,
    id: Result<PathId<DeviceId>, AppError>,
    CsrfForm { user, .. }: CsrfForm<NoFields>,
) -> Response {
    let result = async {
        let PathId(id) = id?;
        let token = devices::regenerate_token(&state.store, user.org(), &id).await?;
        state.lookups.forget_device(&id);
        show_once(&state, &user, id, token, false).await
    }
    .await;
    page(&user, result)
}

/// Keeps the new token for the page after the redirect, and redirects there.
async fn show_once(
    state: &AppState,
    user: &SignedIn,
    device_id: DeviceId,
    token: String,
    created: bool,
) -> AppResult<Response> {
    let once = state
        .store
        .keep_to_show_once(
            user.org(),
            &user.session.user_id,
            &ShownOnce {
                subject: device_id.to_string(),
                kind: if created { CREATED } else { REGENERATED }.to_owned(),
                token,
            },
        )
        .await?;
    Ok(Redirect::to(&format!("/devices/{device_id}/token?once={once}")).into_response())
}

const CREATED: &str = "device_created";
const REGENERATED: &str = "device_token";

#[derive(Deserialize)]
pub struct TokenQuery {
    once: Option<String>,
}

#[derive(Template)]
#[template(path = "devices/token_gone.html")]
struct GonePage {
    layout: Layout,
    device: Device,
}

/// The token kept by the POST, shown this once; afterwards the page says it is gone and offers
/// to regenerate it.
pub async fn show(
    State(state): State<AppState>,
    user: SignedIn,
    id: Result<PathId<DeviceId>, AppError>,
    Query(query): Query<TokenQuery>,
) -> Response {
    let result = async {
        let PathId(id) = id?;
        let device = state.store.device(user.org(), &id).await?;
        let kept = match query.once.as_deref() {
            Some(once) => {
                state
                    .store
                    .take_shown_once(user.org(), &user.session.user_id, once)
                    .await?
            }
            None => None,
        }
        .filter(|kept| kept.subject == id.as_str() && kept.kind != API_TOKEN);
        let Some(kept) = kept else {
            return Ok(render_with(
                StatusCode::GONE,
                &GonePage {
                    layout: Layout::new(&user, "Ingest token shown once", "devices"),
                    device,
                },
            ));
        };
        let device_type = state
            .store
            .device_type(user.org(), &device.device_type_id)
            .await?;
        Ok(render(&TokenPage::build(
            &state,
            &user,
            device,
            &device_type,
            kept.token,
            kept.kind == CREATED,
        )))
    }
    .await;
    page(&user, result)
}

/// A `curl` command that sends one message of the device type's first message type, with a
/// payload sketched from its schema.
fn curl_line(public_url: &str, token: &str, device_type: &DeviceType) -> String {
    let (message_type, payload) = device_type.message_types.first().map_or_else(
        || ("MESSAGE_TYPE".to_owned(), Value::Object(Map::new())),
        |m| (m.name.clone(), example(&m.schema, 0)),
    );
    let body = serde_json::json!({ "message_type": message_type, "payload": payload });
    format!(
        "curl -X POST {}/api/v1/ingest \\\n  -H {} \\\n  -H 'Content-Type: application/json' \\\n  -d {}",
        public_url.trim_end_matches('/'),
        shell_quote(&format!("Authorization: Bearer {token}")),
        shell_quote(&body.to_string()),
    )
}

/// A value of the shape a schema describes: its `const`, first `enum` value or `default` where
/// it gives one, otherwise a zero of its type. Deeply nested schemas are cut short.
fn example(schema: &Value, depth: usize) -> Value {
    for key in ["const", "default"] {
        if let Some(value) = schema.get(key) {
            return value.clone();
        }
    }
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    let kind = match schema.get("type") {
        Some(Value::String(kind)) => kind.as_str(),
        Some(Value::Array(kinds)) => kinds.iter().find_map(Value::as_str).unwrap_or("null"),
        _ if schema.get("properties").is_some() => "object",
        _ => "null",
    };
    match kind {
        "object" if depth < 6 => Value::Object(
            schema
                .get("properties")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(name, sub)| (name.clone(), example(sub, depth + 1)))
                .collect(),
        ),
        "object" => Value::Object(Map::new()),
        "array" => Value::Array(Vec::new()),
        "number" | "integer" => Value::from(0),
        "string" => Value::from(""),
        "boolean" => Value::Bool(false),
        _ => Value::Null,
    }
}

/// Single-quotes text for a POSIX shell.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn examples_follow_the_schema() {
        let schema = json!({
            "type": "object",
            "properties": {
                "temperature": { "type": "number" },
                "status": { "enum": ["ok", "fault"] },
                "door_open": { "type": "boolean" },
                "battery": { "properties": { "level": { "type": "integer", "default": 90 } } }
            }
        });
        assert_eq!(
            example(&schema, 0),
            json!({ "temperature": 0, "status": "ok", "door_open": false, "battery": { "level": 90 } })
        );
        assert_eq!(example(&json!({}), 0), Value::Null);
    }

    #[test]
    fn shell_quoting_survives_quotes() {
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
