//! Webhooks, their encrypted signing secrets and their encrypted custom headers.

use serde::Serialize;

use super::{Page, Paged, Store, StoreError, StoreResult, WritePool, conflict_on, found, on_db};
use crate::domain::custom_header::{CustomHeader, HeaderNames};
use crate::domain::event_filter::{EventFilter, EventTypes};
use crate::domain::time::{Millis, as_rfc3339, now_ms};
use crate::domain::webhook::{
    CallbackUrl, SECRET_NOT_STANDARD, Signing, WebhookName, WebhookSecret,
};
use crate::domain::{OrgId, SecretId, WebhookId};

const NAME_TAKEN: &str = "A webhook with this name already exists; choose another name.";

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Webhook {
    pub id: WebhookId,
    #[serde(skip)]
    pub org_id: OrgId,
    pub name: String,
    pub url: String,
    pub enabled: bool,
    #[sqlx(try_from = "String")]
    pub signing: Signing,
    /// The custom headers' names; read back with their values masked.
    #[sqlx(try_from = "String")]
    #[serde(rename = "headers")]
    pub header_names: HeaderNames,
    /// The alarm event types it receives; empty for all.
    #[sqlx(try_from = "String")]
    pub event_types: EventTypes,
    /// The lowest severity of alarm it receives; `None` for all.
    pub min_severity: Option<String>,
    pub disabled_reason: Option<String>,
    #[serde(serialize_with = "as_rfc3339::option::serialize")]
    pub disabled_at: Option<Millis>,
    #[serde(serialize_with = "as_rfc3339::option::serialize")]
    pub failing_since: Option<Millis>,
    #[serde(serialize_with = "as_rfc3339::serialize")]
    pub created_at: Millis,
    #[serde(serialize_with = "as_rfc3339::serialize")]
    pub updated_at: Millis,
}

const WEBHOOK_COLUMNS: &str = "id, org_id, name, url, enabled, signing, header_names, event_types, \
                               min_severity, disabled_reason, disabled_at, failing_since, \
                               created_at, updated_at";

/// The associated data the webhook's sealed headers are bound to.
fn headers_aad(id: &WebhookId) -> String {
    format!("headers:{id}")
}

/// A signing secret with its lifetime: the current one has no expiry.
#[derive(Debug, Clone)]
pub struct SecretInfo {
    pub id: SecretId,
    pub secret: WebhookSecret,
    pub created_at: Millis,
    pub expires_at: Option<Millis>,
}

/// What a PATCH may change; `None` leaves a field as it is.
#[derive(Debug, Default, Clone)]
pub struct WebhookChanges {
    pub name: Option<WebhookName>,
    pub url: Option<CallbackUrl>,
    pub enabled: Option<bool>,
    pub signing: Option<Signing>,
    /// The whole new list of custom headers, values in the clear (sealed here).
    pub headers: Option<Vec<CustomHeader>>,
    pub filter: Option<EventFilter>,
}

/// How a new webhook is signed and what it sends besides.
#[derive(Debug, Clone)]
pub struct WebhookOptions {
    pub signing: Signing,
    pub headers: Vec<CustomHeader>,
    pub filter: EventFilter,
}

impl Default for WebhookOptions {
    fn default() -> Self {
        Self {
            signing: Signing::Biotz,
            headers: Vec::new(),
            filter: EventFilter::default(),
        }
    }
}

impl Webhook {
    /// Which events it receives.
    pub fn filter(&self) -> EventFilter {
        EventFilter::stored(self.event_types.clone(), self.min_severity.as_deref())
    }
}

/// A webhook disabled automatically, as the notice on every page shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FailureNotice {
    pub id: WebhookId,
    pub name: String,
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<Millis>,
}

/// Why a webhook was disabled, as shown to its users.
pub const DISABLED_BY_USER: &str = "Disabled by a user.";

/// `%part%` for `LIKE … ESCAPE '\'`, matching `part` literally.
fn contains_pattern(part: &str) -> String {
    let mut pattern = String::from("%");
    for c in part.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

impl Store {
    /// Creates a webhook signed the default way, with a freshly generated secret.
    pub async fn create_webhook(
        &self,
        org: &OrgId,
        name: &WebhookName,
        url: &CallbackUrl,
    ) -> StoreResult<(Webhook, WebhookSecret)> {
        self.create_webhook_with(org, name, url, &WebhookOptions::default())
            .await
    }

    /// Creates a webhook with a freshly generated secret (which every scheme accepts).
    pub async fn create_webhook_with(
        &self,
        org: &OrgId,
        name: &WebhookName,
        url: &CallbackUrl,
        options: &WebhookOptions,
    ) -> StoreResult<(Webhook, WebhookSecret)> {
        let now = now_ms();
        let signing = options.signing;
        let webhook = Webhook {
            id: WebhookId::generate(),
            org_id: org.clone(),
            name: name.as_str().to_owned(),
            url: url.as_str().to_owned(),
            enabled: true,
            signing,
            header_names: HeaderNames::of(&options.headers),
            event_types: options.filter.event_types.clone(),
            min_severity: options.filter.min_severity.map(|s| s.as_str().to_owned()),
            disabled_reason: None,
            disabled_at: None,
            failing_since: None,
            created_at: now,
            updated_at: now,
        };
        let secret = WebhookSecret::generate();
        let secret_id = SecretId::generate();
        let sealed = self
            .key
            .seal(secret.expose().as_bytes(), secret_id.as_str());
        let headers_sealed = self.seal_headers(&webhook.id, &options.headers);
        on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO webhooks (id, org_id, name, name_key, url, enabled, signing, header_names, headers_sealed,
                                       event_types, min_severity, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, TRUE, $7, $8, $9, $10, $11, $6, $6)",
            )
            .bind(&webhook.id)
            .bind(org)
            .bind(&webhook.name)
            .bind(name.key())
            .bind(&webhook.url)
            .bind(now)
            .bind(signing.as_str())
            .bind(webhook.header_names.stored())
            .bind(&headers_sealed)
            .bind(webhook.event_types.stored())
            .bind(webhook.min_severity.as_deref())
            .execute(&mut *tx)
            .await
            .map_err(conflict_on("name", NAME_TAKEN))?;
            sqlx::query(
                "INSERT INTO webhook_secrets (id, org_id, webhook_id, sealed, created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&secret_id)
            .bind(org)
            .bind(&webhook.id)
            .bind(&sealed)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok((webhook, secret))
    }

    /// The organization's webhooks, newest first, optionally those whose name contains `search`
    /// (ignoring case).
    pub async fn list_webhooks(
        &self,
        org: &OrgId,
        search: Option<&str>,
        page: &Page,
    ) -> StoreResult<Paged<Webhook>> {
        let pattern = contains_pattern(search.map(str::trim).unwrap_or_default());
        let rows: Vec<Webhook> = on_db!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {WEBHOOK_COLUMNS} FROM webhooks
                 WHERE org_id = $1 AND name_key LIKE $2 ESCAPE '\\' AND id < $3
                 ORDER BY id DESC LIMIT $4"
            )))
            .bind(org)
            .bind(&pattern)
            .bind(page.before())
            .bind(page.fetch_limit())
            .fetch_all(pool)
            .await?
        });
        Ok(page.finish(rows, |w| w.id.as_str()))
    }

    pub async fn webhook(&self, org: &OrgId, id: &WebhookId) -> StoreResult<Webhook> {
        let found: Option<Webhook> = on_db!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE org_id = $1 AND id = $2"
            )))
            .bind(org)
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        found.ok_or(StoreError::NotFound)
    }

    pub async fn update_webhook(
        &self,
        org: &OrgId,
        id: &WebhookId,
        changes: &WebhookChanges,
    ) -> StoreResult<Webhook> {
        let now = now_ms();
        if let Some(signing) = changes.signing {
            let secrets = self.webhook_secrets(org, id).await?;
            let current = secrets.iter().find(|s| s.expires_at.is_none());
            if current.is_some_and(|s| !signing.accepts_secret(&s.secret)) {
                return Err(StoreError::Conflict {
                    field: "signing",
                    message: SECRET_NOT_STANDARD.into(),
                });
            }
        }
        let name_key = changes.name.as_ref().map(WebhookName::key);
        let headers = changes.headers.as_ref().map(|headers| {
            (
                HeaderNames::of(headers).stored(),
                self.seal_headers(id, headers),
            )
        });
        let (header_names, headers_sealed) = headers.clone().unzip();
        // Enabling clears why it was disabled and the failure streak; disabling records that a
        // user did it. Leaving `enabled` out leaves all three as they are.
        // Disabling also parks what was waiting to be retried as skipped, as an automatic disable
        // does, so no delivery of a disabled webhook says it is retrying; a replay sends them.
        let updated = on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let updated = sqlx::query(
                "UPDATE webhooks SET
                    name = COALESCE($3, name),
                    name_key = COALESCE($4, name_key),
                    url = COALESCE($5, url),
                    disabled_reason = CASE WHEN $6 IS NULL OR $6 = enabled THEN disabled_reason
                                           WHEN $6 THEN NULL ELSE $7 END,
                    disabled_at = CASE WHEN $6 IS NULL OR $6 = enabled THEN disabled_at
                                       WHEN $6 THEN NULL ELSE $8 END,
                    failing_since = CASE WHEN $6 IS NULL OR $6 = enabled OR NOT $6 THEN failing_since
                                         ELSE NULL END,
                    enabled = COALESCE($6, enabled),
                    signing = COALESCE($9, signing),
                    header_names = CASE WHEN $10 THEN $11 ELSE header_names END,
                    headers_sealed = CASE WHEN $10 THEN $12 ELSE headers_sealed END,
                    event_types = CASE WHEN $13 THEN $14 ELSE event_types END,
                    min_severity = CASE WHEN $13 THEN $15 ELSE min_severity END,
                    updated_at = $8
                 WHERE org_id = $1 AND id = $2",
            )
            .bind(org)
            .bind(id)
            .bind(changes.name.as_ref().map(WebhookName::as_str))
            .bind(name_key)
            .bind(changes.url.as_ref().map(CallbackUrl::as_str))
            .bind(changes.enabled)
            .bind(DISABLED_BY_USER)
            .bind(now)
            .bind(changes.signing.map(Signing::as_str))
            .bind(headers.is_some())
            .bind(header_names)
            .bind(headers_sealed.flatten())
            .bind(changes.filter.is_some())
            .bind(changes.filter.as_ref().map(|f| f.event_types.stored()))
            .bind(changes.filter.as_ref().and_then(|f| f.min_severity).map(|s| s.as_str()))
            .execute(&mut *tx)
            .await
            .map_err(conflict_on("name", NAME_TAKEN))?
            .rows_affected();
            if updated > 0 && changes.enabled == Some(false) {
                sqlx::query(
                    "UPDATE deliveries SET status = 'skipped', next_attempt_at = NULL, updated_at = $3
                     WHERE org_id = $1 AND webhook_id = $2 AND status = 'pending' AND lease_owner IS NULL",
                )
                .bind(org)
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            updated
        });
        found(updated)?;
        self.target_changed(id).await;
        self.webhook(org, id).await
    }

    /// The webhook's custom headers with their values, for the form that keeps a value the
    /// user leaves untouched.
    pub async fn webhook_headers(
        &self,
        org: &OrgId,
        id: &WebhookId,
    ) -> StoreResult<Vec<CustomHeader>> {
        let sealed: Option<Option<Vec<u8>>> = on_db!(self, pool => {
            sqlx::query_scalar("SELECT headers_sealed FROM webhooks WHERE org_id = $1 AND id = $2")
                .bind(org)
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        self.open_headers(id, sealed.ok_or(StoreError::NotFound)?.as_deref())
    }

    /// The headers sealed as JSON, or `None` when there are none.
    fn seal_headers(&self, id: &WebhookId, headers: &[CustomHeader]) -> Option<Vec<u8>> {
        if headers.is_empty() {
            return None;
        }
        let json = serde_json::to_vec(headers).expect("headers serialise");
        Some(self.key.seal(&json, &headers_aad(id)))
    }

    pub(super) fn open_headers(
        &self,
        id: &WebhookId,
        sealed: Option<&[u8]>,
    ) -> StoreResult<Vec<CustomHeader>> {
        let Some(sealed) = sealed else {
            return Ok(Vec::new());
        };
        let plain = self.key.open(sealed, &headers_aad(id))?;
        serde_json::from_slice(&plain).map_err(|_| crate::crypto::OpenError.into())
    }

    /// The organization's webhooks disabled automatically whose notice nobody dismissed, newest
    /// first: shown on every page until someone acts.
    pub async fn failure_notices(&self, org: &OrgId) -> StoreResult<Vec<FailureNotice>> {
        let notices = on_db!(self, pool => {
            sqlx::query_as(
                "SELECT id, name, disabled_reason, disabled_at FROM webhooks
                 WHERE org_id = $1 AND NOT enabled AND disabled_reason IS NOT NULL
                 AND disabled_reason <> $2 AND notice_dismissed_at IS NULL
                 ORDER BY disabled_at DESC, id DESC LIMIT 5",
            )
            .bind(org)
            .bind(DISABLED_BY_USER)
            .fetch_all(pool)
            .await?
        });
        Ok(notices)
    }

    /// Hides a disabled webhook's notice (until it is disabled again).
    pub async fn dismiss_notice(&self, org: &OrgId, id: &WebhookId) -> StoreResult<()> {
        let updated = on_db!(self, pool => {
            sqlx::query("UPDATE webhooks SET notice_dismissed_at = $3 WHERE org_id = $1 AND id = $2")
                .bind(org)
                .bind(id)
                .bind(now_ms())
                .execute(pool)
                .await?
                .rows_affected()
        });
        found(updated)
    }

    /// The webhook that hears when another of the organization's is disabled automatically.
    pub async fn notify_webhook(&self, org: &OrgId) -> StoreResult<Option<WebhookId>> {
        let id = on_db!(self, pool => {
            sqlx::query_scalar("SELECT notify_webhook_id FROM organizations WHERE id = $1")
                .bind(org)
                .fetch_one(pool)
                .await?
        });
        Ok(id)
    }

    /// Sets (or, with `None`, clears) the notify webhook; `NotFound` for a webhook of another
    /// organization.
    pub async fn set_notify_webhook(
        &self,
        org: &OrgId,
        webhook: Option<&WebhookId>,
    ) -> StoreResult<()> {
        if let Some(webhook) = webhook {
            self.webhook(org, webhook).await?;
        }
        on_db!(self, pool => {
            sqlx::query("UPDATE organizations SET notify_webhook_id = $2 WHERE id = $1")
                .bind(org)
                .bind(webhook)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    pub async fn delete_webhook(&self, org: &OrgId, id: &WebhookId) -> StoreResult<()> {
        let deleted = on_db!(self, pool => {
            sqlx::query("DELETE FROM webhooks WHERE org_id = $1 AND id = $2")
                .bind(org)
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        found(deleted)?;
        self.target_changed(id).await;
        Ok(())
    }

    /// The secrets that sign now: the current one first, then older ones still inside their
    /// rotation overlap, newest first.
    pub async fn webhook_secrets(
        &self,
        org: &OrgId,
        id: &WebhookId,
    ) -> StoreResult<Vec<SecretInfo>> {
        self.webhook(org, id).await?;
        let rows: Vec<(SecretId, Vec<u8>, Millis, Option<Millis>)> = on_db!(self, pool => {
            sqlx::query_as(
                "SELECT id, sealed, created_at, expires_at FROM webhook_secrets
                 WHERE org_id = $1 AND webhook_id = $2 AND (expires_at IS NULL OR expires_at > $3)
                 ORDER BY expires_at IS NOT NULL, created_at DESC",
            )
            .bind(org)
            .bind(id)
            .bind(now_ms())
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(|(id, sealed, created_at, expires_at)| {
                let plain = self.key.open(&sealed, id.as_str())?;
                let text = String::from_utf8(plain).map_err(|_| crate::crypto::OpenError)?;
                Ok(SecretInfo {
                    id,
                    secret: WebhookSecret::from_stored(text),
                    created_at,
                    expires_at,
                })
            })
            .collect()
    }

    /// Replaces the current secret at once. With an overlap, the previous one keeps signing
    /// (as a second `v1`) until the overlap ends; with none it stops now.
    pub async fn regenerate_secret(
        &self,
        org: &OrgId,
        id: &WebhookId,
        overlap_secs: i64,
    ) -> StoreResult<WebhookSecret> {
        let now = now_ms();
        let secret = WebhookSecret::generate();
        let secret_id = SecretId::generate();
        let sealed = self
            .key
            .seal(secret.expose().as_bytes(), secret_id.as_str());
        on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let touched = sqlx::query("UPDATE webhooks SET updated_at = $3 WHERE org_id = $1 AND id = $2")
                .bind(org)
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            found(touched)?;
            sqlx::query("UPDATE webhook_secrets SET expires_at = $3 WHERE org_id = $1 AND webhook_id = $2 AND expires_at IS NULL")
                .bind(org)
                .bind(id)
                .bind(now + overlap_secs * 1000)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM webhook_secrets WHERE org_id = $1 AND webhook_id = $2 AND expires_at <= $3")
                .bind(org)
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO webhook_secrets (id, org_id, webhook_id, sealed, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(&secret_id)
                .bind(org)
                .bind(id)
                .bind(&sealed)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        self.target_changed(id).await;
        Ok(secret)
    }
}

#[cfg(test)]
mod tests {
    use super::contains_pattern;

    #[test]
    fn search_patterns_match_literally() {
        assert_eq!(contains_pattern("Ops"), "%ops%");
        assert_eq!(contains_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
        assert_eq!(contains_pattern(""), "%%");
    }
}
