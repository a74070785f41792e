//! Fresh databases and a tenant with webhooks, devices and a trigger, for each scenario.

use std::time::Duration;

use biotz::alarms::{devices, setup};
use biotz::config::{DatabaseSettings, DispatchSettings, ServeSettings, default_lease};
use biotz::crypto::MasterKey;
use biotz::domain::webhook::{CallbackUrl, WebhookName};
use biotz::domain::{OrgId, WebhookId};
use biotz::receiver::LocalTls;
use biotz::store::{DatabaseUrl, NewUser, Store, StoreOptions};
use serde_json::json;

#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    Postgres { admin_url: String },
}

impl Backend {
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres { .. } => "postgres",
        }
    }
}

/// A database made for one scenario and removed after it.
pub struct Database {
    pub url: String,
    postgres: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

impl Database {
    pub async fn create(backend: &Backend) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        match backend {
            Backend::Sqlite => Ok(Self {
                url: format!("sqlite://{}", dir.path().join("bench.db").display()),
                postgres: None,
                _dir: dir,
            }),
            Backend::Postgres { admin_url } => {
                let name = format!("biotz_bench_{}", std::process::id())
                    + &biotz::domain::random::token()[..8]
                        .to_lowercase()
                        .replace('-', "_");
                let admin = sqlx::PgPool::connect(admin_url).await?;
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&admin)
                    .await?;
                admin.close().await;
                let mut url = url::Url::parse(admin_url)?;
                url.set_path(&name);
                Ok(Self {
                    url: url.to_string(),
                    postgres: Some((admin_url.clone(), name)),
                    _dir: dir,
                })
            }
        }
    }

    pub fn settings(&self, key: &MasterKey) -> DatabaseSettings {
        DatabaseSettings {
            url: DatabaseUrl::parse(&self.url).expect("a database URL"),
            master_key: key.clone(),
        }
    }

    pub async fn open(&self, key: &MasterKey) -> anyhow::Result<Store> {
        let mut options = StoreOptions::new(DatabaseUrl::parse(&self.url).expect("a database URL"));
        options.max_connections = 32;
        let store = Store::connect(&options, key.clone()).await?;
        store.migrate().await?;
        Ok(store)
    }

    pub async fn drop(self) {
        if let Some((admin_url, name)) = &self.postgres
            && let Ok(admin) = sqlx::PgPool::connect(admin_url).await
        {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&admin)
            .await;
            admin.close().await;
        }
    }
}

pub fn dispatch_settings(tls: &LocalTls, timeout: Duration) -> DispatchSettings {
    DispatchSettings {
        retry_schedule: vec![Duration::from_secs(1); 3],
        delivery_timeout: timeout,
        allow_private_targets: vec!["127.0.0.0/8".parse().expect("a CIDR")],
        extra_ca_certs: Some(tls.ca_pem.clone().into_bytes()),
        disable_after: Duration::from_secs(3 * 86_400),
        lease: default_lease(timeout),
    }
}

pub fn serve_settings(database: DatabaseSettings, dispatch: DispatchSettings) -> ServeSettings {
    ServeSettings {
        database,
        dispatch,
        listen: "127.0.0.1:0".parse().expect("an address"),
        public_url: "http://127.0.0.1".into(),
        dispatcher: true,
        mqtt: None,
        retention: Default::default(),
        trusted_proxies: Vec::new(),
    }
}

pub async fn tenant(store: &Store) -> anyhow::Result<OrgId> {
    let (org, _, _) = store
        .create_user(&NewUser {
            org_name: "Bench",
            email: "bench@example.com",
            password_hash: "-",
            role: biotz::domain::Role::Admin,
        })
        .await?;
    Ok(org.id)
}

pub async fn webhooks(
    store: &Store,
    org: &OrgId,
    prefix: &str,
    url: &str,
    count: usize,
) -> anyhow::Result<Vec<(WebhookId, String)>> {
    let mut made = Vec::new();
    for i in 0..count {
        let name = format!("{prefix} {i}");
        let (webhook, _) = store
            .create_webhook(
                org,
                &WebhookName::parse(&name).map_err(anyhow::Error::msg)?,
                &CallbackUrl::parse(url).map_err(anyhow::Error::msg)?,
            )
            .await?;
        made.push((webhook.id, name));
    }
    Ok(made)
}

/// A device type whose `temperature > 0` trigger goes to `webhooks`, and `count` devices.
/// Returns their ingest tokens.
pub async fn devices_with_trigger(
    store: &Store,
    org: &OrgId,
    webhooks: &[WebhookId],
    count: usize,
) -> anyhow::Result<Vec<String>> {
    let input: setup::DeviceTypeInput = serde_json::from_value(json!({
        "name": "Sensor",
        "message_types": [{ "name": "telemetry", "schema": {
            "type": "object", "properties": { "temperature": { "type": "number" } }, "required": ["temperature"]
        } }]
    }))?;
    let device_type = setup::create_device_type(store, org, &input)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let trigger: setup::TriggerInput = serde_json::from_value(json!({
        "name": "Hot",
        "message_type": "telemetry",
        "condition": { "field": "/temperature", "op": ">", "value": 0 },
        "severity": "critical",
        "webhook_ids": webhooks.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
    }))?;
    setup::create_trigger(store, org, &device_type.id, &trigger)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut tokens = Vec::new();
    for i in 0..count {
        let (_, token) =
            devices::create_device(store, org, &format!("Sensor {i}"), device_type.id.as_str())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        tokens.push(token);
    }
    Ok(tokens)
}

/// Adds a no_data trigger (an hour of silence) to the Sensor type of `devices_with_trigger`, so
/// each message also pushes its device's offline deadline.
pub async fn offline_trigger(store: &Store) -> anyhow::Result<()> {
    let org = store
        .organization_by_name("Bench")
        .await?
        .ok_or_else(|| anyhow::anyhow!("no Bench organization"))?
        .id;
    let types = store
        .list_device_types(&org, &biotz::store::Page::first(10))
        .await?;
    let sensor = types
        .data
        .into_iter()
        .find(|t| t.name == "Sensor")
        .ok_or_else(|| anyhow::anyhow!("no Sensor device type"))?;
    let trigger: setup::TriggerInput = serde_json::from_value(json!({
        "name": "Offline", "kind": "no_data", "silent_for_seconds": 3600,
    }))?;
    setup::create_trigger(store, &org, &sensor.id, &trigger)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}
