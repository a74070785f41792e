//! `biotz serve --demo`: a newcomer sees alarms and signed deliveries flowing within a minute.
//! It seeds an organization with a device type, a few simulated devices that send a message
//! every second, two triggers, and a webhook to a receiver built into the process, which
//! verifies every delivery's signature and logs it. A second webhook, on the "Door open"
//! trigger, points at a path where that receiver always answers 503, so the Overview shows a
//! failing endpoint retrying beside the healthy one. A "Cellar" device type has a device-offline
//! trigger and one sensor that keeps going silent, so an offline alarm is raised by its timer
//! and cleared when the sensor is back.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use serde_json::json;

use crate::alarms::{devices, setup};
use crate::config::ServeSettings;
use crate::domain::webhook::{CallbackUrl, WebhookName};
use crate::domain::{OrgId, WebhookId, random};
use crate::receiver::{LocalTls, serve_https};
use crate::store::{Page, Store};

pub const ORG: &str = "Demo";
pub const EMAIL: &str = "demo@biotz.example";
const DEVICES: [&str; 3] = ["Cold room 1", "Cold room 2", "Freezer 7"];

/// The demo's receiver, started before the server so the dispatcher can trust it.
pub struct DemoReceiver {
    url: String,
    failing_url: String,
    target: Arc<tokio::sync::OnceCell<(Store, OrgId, WebhookId)>>,
}

/// Starts the receiver and lets the dispatcher reach and trust it.
pub async fn prepare(settings: &mut ServeSettings) -> anyhow::Result<DemoReceiver> {
    let tls = LocalTls::generate(&[])?;
    let target: Arc<tokio::sync::OnceCell<(Store, OrgId, WebhookId)>> = Arc::default();
    let router = Router::new().fallback(receive).with_state(target.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let (address, _handle) = serve_https(listener, &tls, router).await?;
    let mut trusted = settings.dispatch.extra_ca_certs.take().unwrap_or_default();
    trusted.extend_from_slice(tls.ca_pem.as_bytes());
    settings.dispatch.extra_ca_certs = Some(trusted);
    settings
        .dispatch
        .allow_private_targets
        .push(ipnet::IpNet::from(address.ip()));
    Ok(DemoReceiver {
        url: format!("https://{address}/biotz-demo"),
        failing_url: format!("https://{address}{FAILING_PATH}"),
        target,
    })
}

/// The path of the demo receiver that always answers 503.
const FAILING_PATH: &str = "/biotz-demo-down";

async fn receive(
    State(target): State<Arc<tokio::sync::OnceCell<(Store, OrgId, WebhookId)>>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    if uri.path() == FAILING_PATH {
        tracing::info!("the demo's failing receiver answered 503, as it always does");
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let Some((store, org, webhook)) = target.get() else {
        return StatusCode::SERVICE_UNAVAILABLE;
    };
    let secrets = store
        .webhook_secrets(org, webhook)
        .await
        .unwrap_or_default();
    let header = headers
        .get(biotz_signature::HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let now = crate::domain::time::now_ms() / 1000;
    let valid = secrets.iter().any(|s| {
        biotz_signature::verify(
            s.secret.expose(),
            header,
            &body,
            now,
            biotz_signature::Tolerance::default(),
        )
        .is_ok()
    });
    let event: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    tracing::info!(
        event = event["type"].as_str().unwrap_or("?"),
        device = event["data"]["device"]["name"].as_str().unwrap_or("-"),
        trigger = event["data"]["trigger"]["name"].as_str().unwrap_or("-"),
        signature = if valid { "valid" } else { "INVALID" },
        "demo receiver got a delivery"
    );
    if valid {
        StatusCode::OK
    } else {
        StatusCode::UNAUTHORIZED
    }
}

impl DemoReceiver {
    /// Seeds the demo organization (or refreshes it), points its webhook at the receiver, and
    /// starts the simulated devices. Returns the demo user's password, new on every start.
    pub async fn start(self, store: &Store, app_url: String) -> anyhow::Result<String> {
        let password = random::token()[..16].to_owned();
        let hash = crate::accounts::hash_password_blocking(password.clone()).await?;
        let org = match store.organization_by_name(ORG).await? {
            Some(org) => {
                store.set_password(EMAIL, &hash).await?;
                org.id
            }
            None => {
                let new = crate::store::NewUser {
                    org_name: ORG,
                    email: EMAIL,
                    password_hash: &hash,
                    role: crate::domain::Role::Admin,
                };
                store
                    .create_user(&new)
                    .await
                    .context("creating the demo user")?
                    .0
                    .id
            }
        };
        let healthy = demo_webhook(store, &org, "Demo receiver", &self.url).await?;
        let failing = demo_webhook(store, &org, "Demo receiver (down)", &self.failing_url).await?;
        let tokens = seed_devices(store, &org, &healthy, &failing).await?;
        let cellar = seed_cellar(store, &org, &healthy).await?;
        let _ = self.target.set((store.clone(), org, healthy));
        for (i, token) in tokens.into_iter().enumerate() {
            tokio::spawn(simulate(format!("{app_url}/api/v1/ingest"), token, i));
        }
        tokio::spawn(simulate_flaky(format!("{app_url}/api/v1/ingest"), cellar));
        Ok(password)
    }
}

/// The demo's webhook of this name, made or pointed at `url` and enabled again.
async fn demo_webhook(
    store: &Store,
    org: &OrgId,
    name: &str,
    url: &str,
) -> anyhow::Result<WebhookId> {
    let url = CallbackUrl::parse(url).map_err(anyhow::Error::msg)?;
    let existing = store
        .list_webhooks(org, Some(name), &Page::first(10))
        .await?;
    let name = WebhookName::parse(name).map_err(anyhow::Error::msg)?;
    match existing.data.into_iter().find(|w| w.name == name.as_str()) {
        Some(webhook) => {
            let changes = crate::store::WebhookChanges {
                url: Some(url),
                enabled: Some(true),
                ..Default::default()
            };
            Ok(store.update_webhook(org, &webhook.id, &changes).await?.id)
        }
        None => Ok(store.create_webhook(org, &name, &url).await?.0.id),
    }
}

/// The "Cold room" device type with its triggers and devices; returns fresh ingest tokens.
async fn seed_devices(
    store: &Store,
    org: &OrgId,
    webhook: &WebhookId,
    failing: &WebhookId,
) -> anyhow::Result<Vec<String>> {
    let failed = |e: crate::error::Error| anyhow::anyhow!("seeding the demo: {e}");
    let existing = store.list_device_types(org, &Page::first(50)).await?;
    let device_type = match existing.data.into_iter().find(|t| t.name == "Cold room") {
        Some(device_type) => device_type,
        None => {
            let input: setup::DeviceTypeInput = serde_json::from_value(json!({
                "name": "Cold room",
                "description": "Simulated by biotz serve --demo",
                "message_types": [{ "name": "telemetry", "schema": {
                    "type": "object",
                    "properties": {
                        "temperature": { "type": "number", "description": "°C" },
                        "door_open": { "type": "boolean" }
                    },
                    "required": ["temperature", "door_open"],
                    "additionalProperties": false
                } }]
            }))?;
            let device_type = setup::create_device_type(store, org, &input)
                .await
                .map_err(failed)?;
            // Too warm clears only below 3 °C (hysteresis); Door open is raised by its timer
            // once the door has stayed open for 2 seconds, and also goes to the receiver that
            // is down.
            for (name, condition, clear, for_seconds, severity, webhooks) in [
                (
                    "Too warm",
                    json!({ "field": "/temperature", "op": ">", "value": 4 }),
                    json!({ "field": "/temperature", "op": "<", "value": 3 }),
                    0,
                    "critical",
                    vec![webhook.to_string()],
                ),
                (
                    "Door open",
                    json!({ "field": "/door_open", "op": "==", "value": true }),
                    serde_json::Value::Null,
                    2,
                    "warning",
                    vec![webhook.to_string(), failing.to_string()],
                ),
            ] {
                let trigger: setup::TriggerInput = serde_json::from_value(json!({
                    "name": name, "message_type": "telemetry", "condition": condition, "severity": severity,
                    "clear_condition": clear, "for_seconds": for_seconds,
                    "webhook_ids": webhooks,
                }))?;
                setup::create_trigger(store, org, &device_type.id, &trigger)
                    .await
                    .map_err(failed)?;
            }
            device_type
        }
    };
    let listed = store
        .list_devices(org, Some(&device_type.id), &Page::first(50))
        .await?;
    let mut tokens = Vec::new();
    for name in DEVICES {
        let token = match listed.data.iter().find(|d| d.name == name) {
            Some(device) => devices::regenerate_token(store, org, &device.id)
                .await
                .map_err(failed)?,
            None => {
                devices::create_device(store, org, name, device_type.id.as_str())
                    .await
                    .map_err(failed)?
                    .1
            }
        };
        tokens.push(token);
    }
    Ok(tokens)
}

/// How long the cellar sensor sends, then stays silent, in each cycle (seconds); its trigger
/// raises after `CELLAR_SILENT_FOR` of silence, and the next message clears it.
const CELLAR_SENDS: u64 = 5;
const CELLAR_SILENT: u64 = 25;
const CELLAR_SILENT_FOR: i64 = 10;

/// The "Cellar" device type with its "Cellar device offline" trigger and one sensor; returns
/// the sensor's fresh ingest token.
async fn seed_cellar(store: &Store, org: &OrgId, webhook: &WebhookId) -> anyhow::Result<String> {
    let failed = |e: crate::error::Error| anyhow::anyhow!("seeding the demo: {e}");
    let existing = store.list_device_types(org, &Page::first(50)).await?;
    let device_type = match existing.data.into_iter().find(|t| t.name == "Cellar") {
        Some(device_type) => device_type,
        None => {
            let input: setup::DeviceTypeInput = serde_json::from_value(json!({
                "name": "Cellar",
                "description": "A sensor that keeps dropping off the network (biotz serve --demo)",
                "message_types": [{ "name": "telemetry", "schema": {
                    "type": "object",
                    "properties": { "humidity": { "type": "number", "description": "%" } },
                    "required": ["humidity"]
                } }]
            }))?;
            let device_type = setup::create_device_type(store, org, &input)
                .await
                .map_err(failed)?;
            let trigger: setup::TriggerInput = serde_json::from_value(json!({
                "name": "Cellar device offline", "kind": "no_data",
                "silent_for_seconds": CELLAR_SILENT_FOR, "severity": "warning",
                "webhook_ids": [webhook.to_string()],
            }))?;
            setup::create_trigger(store, org, &device_type.id, &trigger)
                .await
                .map_err(failed)?;
            device_type
        }
    };
    let listed = store
        .list_devices(org, Some(&device_type.id), &Page::first(10))
        .await?;
    let name = "Cellar sensor";
    Ok(match listed.data.iter().find(|d| d.name == name) {
        Some(device) => devices::regenerate_token(store, org, &device.id)
            .await
            .map_err(failed)?,
        None => {
            devices::create_device(store, org, name, device_type.id.as_str())
                .await
                .map_err(failed)?
                .1
        }
    })
}

/// The cellar sensor: a message a second for `CELLAR_SENDS` seconds, then silence.
async fn simulate_flaky(url: String, token: String) {
    let client = reqwest::Client::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut step: u64 = 0;
    loop {
        tick.tick().await;
        step += 1;
        if step % (CELLAR_SENDS + CELLAR_SILENT) >= CELLAR_SENDS {
            continue;
        }
        let message = json!({
            "message_type": "telemetry",
            "payload": { "humidity": 70 + step % 7 }
        });
        if let Err(error) = client
            .post(&url)
            .bearer_auth(&token)
            .json(&message)
            .send()
            .await
        {
            tracing::warn!(%error, "the simulated cellar sensor could not send");
        }
    }
}

/// One device: a message a second, its temperature a slow wave that crosses the 4 °C threshold
/// every half minute or so, and its door opening now and then.
async fn simulate(url: String, token: String, index: usize) {
    let client = reqwest::Client::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut step = index * 11;
    loop {
        tick.tick().await;
        step += 1;
        let phase = step as f64 / 5.0;
        let temperature = 3.0 + 2.5 * phase.sin() + 0.3 * (phase * 3.7).cos();
        let door_open = step % 45 < 4;
        let message = json!({
            "message_type": "telemetry",
            "payload": { "temperature": (temperature * 10.0).round() / 10.0, "door_open": door_open }
        });
        if let Err(error) = client
            .post(&url)
            .bearer_auth(&token)
            .json(&message)
            .send()
            .await
        {
            tracing::warn!(%error, "a simulated device could not send");
        }
    }
}
