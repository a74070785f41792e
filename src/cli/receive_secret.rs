//! Where `biotz receive` gets the webhook's secret: a flag, a file read on every request, or the
//! biotz API (`--webhook whk_… --api-token …`), fetched at start and again whenever a request's
//! signature matches none, so that a regenerated secret is picked up without a restart.

use std::path::PathBuf;

use anyhow::Context;
use tokio::sync::Mutex;

use crate::domain::WebhookId;

pub enum SecretSource {
    Given(String),
    File(PathBuf),
    Fetched(Fetched),
    None,
}

impl SecretSource {
    /// The secret now: `None` while there is none yet (no flag, or the file missing or empty).
    pub async fn current(&self) -> Option<String> {
        match self {
            SecretSource::Given(secret) => Some(secret.clone()),
            SecretSource::File(path) => std::fs::read_to_string(path)
                .ok()
                .map(|text| text.trim().to_owned())
                .filter(|text| !text.is_empty()),
            SecretSource::Fetched(fetched) => fetched.cached.lock().await.clone(),
            SecretSource::None => None,
        }
    }

    /// After a signature matched no secret: a different secret to try, when the source can
    /// give a fresher one (the API's, after a regeneration). Fetch failures are printed.
    pub async fn refreshed(&self, used: &str) -> Option<String> {
        let SecretSource::Fetched(fetched) = self else {
            return None;
        };
        let mut cached = fetched.cached.lock().await;
        // Another request may have fetched it while this one waited for the lock.
        if let Some(secret) = cached.as_deref()
            && secret != used
        {
            return Some(secret.to_owned());
        }
        match fetched.fetch().await {
            Ok(secret) if secret != used => {
                println!(
                    "fetched the secret of {} again: it had changed",
                    fetched.webhook
                );
                *cached = Some(secret.clone());
                Some(secret)
            }
            Ok(_) => None,
            Err(error) => {
                println!(
                    "could not fetch the secret of {} again: {error:#}",
                    fetched.webhook
                );
                None
            }
        }
    }
}

/// The secret of one webhook, read through `GET /api/v1/webhooks/{id}/secret`.
pub struct Fetched {
    client: reqwest::Client,
    url: String,
    token: String,
    pub webhook: WebhookId,
    cached: Mutex<Option<String>>,
}

impl Fetched {
    /// Checks the arguments and fetches the secret once, so that a wrong id, token or server
    /// is reported at start.
    pub async fn start(webhook: &str, token: &str, server: &str) -> anyhow::Result<Self> {
        let webhook = WebhookId::parse(webhook.trim()).with_context(|| {
            format!("--webhook: {webhook:?} is not a webhook id; copy the whk_… id from the webhook's page")
        })?;
        let token = token.trim();
        if token.is_empty() {
            anyhow::bail!(
                "--api-token: give an API token of the webhook's organization (Developer Tools → API Tokens)"
            );
        }
        let server = server.trim().trim_end_matches('/');
        let parsed = url::Url::parse(server)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host());
        if parsed.is_none() {
            anyhow::bail!(
                "--server: {server:?} is not an http:// or https:// address of biotz, such as http://127.0.0.1:8080"
            );
        }
        let fetched = Self {
            client: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()?,
            url: format!("{server}/api/v1/webhooks/{webhook}/secret"),
            token: token.to_owned(),
            webhook,
            cached: Mutex::new(None),
        };
        let secret = fetched.fetch().await?;
        *fetched.cached.lock().await = Some(secret);
        Ok(fetched)
    }

    async fn fetch(&self) -> anyhow::Result<String> {
        let response = self
            .client
            .get(&self.url)
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("reaching {}", self.url))?;
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        let message = body["error"]["message"].as_str().unwrap_or_default();
        match status.as_u16() {
            200 => body["secret"]
                .as_str()
                .map(str::to_owned)
                .with_context(|| format!("{} answered without a secret", self.url)),
            401 => anyhow::bail!("--api-token: biotz refused the token: {message}"),
            403 => anyhow::bail!("--api-token: this token may not reveal secrets: {message}"),
            404 => anyhow::bail!(
                "--webhook: no webhook {} in the token's organization (check the id, and that the token belongs to the same organization)",
                self.webhook
            ),
            _ => anyhow::bail!("{} answered {status}: {message}", self.url),
        }
    }
}
