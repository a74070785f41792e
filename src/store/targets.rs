//! Where and how each webhook's deliveries are sent, kept in memory.
//!
//! The dispatcher needs a webhook's URL, state and decrypted secrets for every attempt; reading
//! and decrypting them per claim was a large share of each delivery's cost. They are kept here
//! and dropped when they change: at once in this process (the `Store` functions that change a
//! webhook or its secrets call `target_changed`), through `NOTIFY` on other PostgreSQL nodes, and
//! in any case after `TARGET_TTL`, so a change made anywhere reaches the next attempt within a
//! second even if a notification is lost.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Store, StoreResult, on_db, placeholders};
use crate::domain::WebhookId;
use crate::domain::custom_header::CustomHeader;
use crate::domain::time::{Millis, now_ms};
use crate::domain::webhook::Signing;

/// How long a loaded target is used without asking the database again.
pub const TARGET_TTL: Duration = Duration::from_secs(1);

/// The PostgreSQL channel on which nodes announce that a webhook's target changed (the payload
/// is its id).
pub const TARGETS_CHANNEL: &str = "biotz_webhooks";

/// Where and how to send a webhook's deliveries.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: String,
    pub enabled: bool,
    pub signing: Signing,
    /// Custom headers sent with every attempt, values in the clear (never logged).
    pub headers: Vec<CustomHeader>,
    /// The current secret first, then older ones inside their overlap, each with the end of
    /// its overlap.
    secrets: Vec<(String, Option<Millis>)>,
}

impl Target {
    /// The secrets that sign at `now`: the current one first.
    pub fn secrets_at(&self, now: Millis) -> Vec<String> {
        self.secrets
            .iter()
            .filter(|(_, expires_at)| expires_at.is_none_or(|end| end > now))
            .map(|(secret, _)| secret.clone())
            .collect()
    }
}

#[derive(Default)]
pub(crate) struct TargetCache {
    entries: Mutex<HashMap<WebhookId, (Arc<Target>, Instant)>>,
}

impl TargetCache {
    fn fresh(&self, id: &WebhookId, now: Instant) -> Option<Arc<Target>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(id)
            .filter(|(_, loaded)| now.duration_since(*loaded) < TARGET_TTL)
            .map(|(target, _)| target.clone())
    }

    pub fn forget(&self, id: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|key, _| key.as_str() != id);
    }

    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

impl Store {
    /// The webhooks' targets, from memory where fresh. A webhook that no longer exists is
    /// missing from the answer.
    pub async fn targets(
        &self,
        webhooks: &[WebhookId],
    ) -> StoreResult<HashMap<WebhookId, Arc<Target>>> {
        let now = Instant::now();
        let mut found = HashMap::with_capacity(webhooks.len());
        let mut missing = Vec::new();
        for id in webhooks {
            match self.targets.fresh(id, now) {
                Some(target) => {
                    found.insert(id.clone(), target);
                }
                None if !missing.contains(id) => missing.push(id.clone()),
                None => {}
            }
        }
        if missing.is_empty() {
            return Ok(found);
        }
        let loaded = self.load_targets(&missing).await?;
        let mut entries = self
            .targets
            .entries
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if entries.len() > 100_000 {
            entries.retain(|_, (_, at)| now.duration_since(*at) < TARGET_TTL);
        }
        for (id, target) in loaded {
            let target = Arc::new(target);
            entries.insert(id.clone(), (target.clone(), now));
            found.insert(id, target);
        }
        Ok(found)
    }

    /// Drops the webhook's target here and tells the other nodes to drop theirs.
    pub(crate) async fn target_changed(&self, webhook: &WebhookId) {
        self.targets.forget(webhook.as_str());
        if let super::Db::Postgres(pool) = &self.db {
            let sent = sqlx::query("SELECT pg_notify($1, $2)")
                .bind(TARGETS_CHANNEL)
                .bind(webhook)
                .execute(pool)
                .await;
            if let Err(error) = sent {
                // The other nodes reload it within `TARGET_TTL` anyway.
                tracing::warn!(%error, "announcing a webhook change failed");
            }
        }
    }

    async fn load_targets(
        &self,
        webhooks: &[WebhookId],
    ) -> StoreResult<HashMap<WebhookId, Target>> {
        let now = now_ms();
        type TargetRow = (WebhookId, String, bool, String, Option<Vec<u8>>);
        type SealedSecret = (WebhookId, String, Vec<u8>, Option<Millis>);
        let (rows, secrets): (Vec<TargetRow>, Vec<SealedSecret>) = on_db!(self, pool => {
            let sql = format!("SELECT id, url, enabled, signing, headers_sealed FROM webhooks WHERE id IN ({})", placeholders(1, webhooks.len()));
            let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
            for id in webhooks {
                query = query.bind(id);
            }
            let rows = query.fetch_all(pool).await?;
            let sql = format!(
                "SELECT webhook_id, id, sealed, expires_at FROM webhook_secrets
                 WHERE (expires_at IS NULL OR expires_at > $1) AND webhook_id IN ({})
                 ORDER BY expires_at IS NOT NULL, created_at DESC",
                placeholders(2, webhooks.len())
            );
            let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(now);
            for id in webhooks {
                query = query.bind(id);
            }
            (rows, query.fetch_all(pool).await?)
        });
        let mut targets = HashMap::with_capacity(rows.len());
        for (id, url, enabled, signing, headers_sealed) in rows {
            let target = Target {
                url,
                enabled,
                // The column's CHECK keeps it to the two names.
                signing: Signing::parse(&signing).unwrap_or(Signing::Biotz),
                headers: self.open_headers(&id, headers_sealed.as_deref())?,
                secrets: Vec::new(),
            };
            targets.insert(id, target);
        }
        for (webhook, secret_id, sealed, expires_at) in secrets {
            let plain = self.key.open(&sealed, &secret_id)?;
            let text = String::from_utf8(plain).map_err(|_| crate::crypto::OpenError)?;
            if let Some(target) = targets.get_mut(&webhook) {
                target.secrets.push((text, expires_at));
            }
        }
        Ok(targets)
    }
}
