//! The Overview page's figures: what is wrong now and how the last hour went, each a small
//! query over one organization's rows.

use super::{Store, StoreResult, on_db};
use crate::domain::time::Millis;
use crate::domain::{AlarmId, DeliveryId, DeviceId, OrgId, TriggerId, WebhookId};

/// An alarm that is raised now.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RaisedAlarm {
    pub id: AlarmId,
    pub device_id: DeviceId,
    pub device_name: String,
    pub trigger_id: TriggerId,
    pub trigger_name: String,
    pub severity: String,
    pub raised_at: Millis,
}

/// A webhook that is failing or disabled.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TroubledWebhook {
    pub id: WebhookId,
    pub name: String,
    pub enabled: bool,
    pub failing_since: Option<Millis>,
    pub disabled_reason: Option<String>,
    /// Its deliveries waiting for a retry.
    pub retrying: i64,
}

/// The pending delivery waiting longest.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OldestPending {
    pub id: DeliveryId,
    pub webhook_name: String,
    pub created_at: Millis,
}

/// Deliveries created in a window, by where they are now.
#[derive(Debug, Clone, Default)]
pub struct Outcomes {
    pub succeeded: i64,
    pub failed: i64,
    pub retrying: i64,
    pub pending: i64,
    pub skipped: i64,
}

impl Outcomes {
    pub fn total(&self) -> i64 {
        self.succeeded + self.failed + self.retrying + self.pending + self.skipped
    }
}

impl Store {
    /// The raised alarms, most recent first, at most `limit`, and how many there are.
    pub async fn raised_alarms(
        &self,
        org: &OrgId,
        limit: i64,
    ) -> StoreResult<(Vec<RaisedAlarm>, i64)> {
        let (rows, count) = on_db!(self, pool => {
            let rows: Vec<RaisedAlarm> = sqlx::query_as(
                "SELECT a.id, a.device_id, d.name AS device_name, a.trigger_id, t.name AS trigger_name,
                        t.severity, a.raised_at
                 FROM alarms a JOIN devices d ON d.id = a.device_id
                      JOIN alarm_triggers t ON t.id = a.trigger_id
                 WHERE a.org_id = $1 AND a.state = 'raised'
                 ORDER BY a.raised_at DESC LIMIT $2",
            )
            .bind(org)
            .bind(limit)
            .fetch_all(pool)
            .await?;
            let (count,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM alarms WHERE org_id = $1 AND state = 'raised'",
            )
            .bind(org)
            .fetch_one(pool)
            .await?;
            (rows, count)
        });
        Ok((rows, count))
    }

    /// Deliveries created since `since`, by outcome.
    pub async fn delivery_outcomes(&self, org: &OrgId, since: Millis) -> StoreResult<Outcomes> {
        let rows: Vec<(String, i64, i64)> = on_db!(self, pool => {
            sqlx::query_as(
                // BIGINT on both: PostgreSQL's CASE of literals is a 4-byte integer.
                "SELECT status, CAST(CASE WHEN attempts > 0 THEN 1 ELSE 0 END AS BIGINT) AS tried, COUNT(*)
                 FROM deliveries WHERE org_id = $1 AND created_at >= $2
                 GROUP BY status, CASE WHEN attempts > 0 THEN 1 ELSE 0 END",
            )
            .bind(org)
            .bind(since)
            .fetch_all(pool)
            .await?
        });
        let mut outcomes = Outcomes::default();
        for (status, tried, count) in rows {
            match (status.as_str(), tried) {
                ("succeeded", _) => outcomes.succeeded += count,
                ("failed", _) => outcomes.failed += count,
                ("skipped", _) => outcomes.skipped += count,
                (_, 0) => outcomes.pending += count,
                _ => outcomes.retrying += count,
            }
        }
        Ok(outcomes)
    }

    /// Webhooks failing now or disabled, with how many deliveries wait for each.
    pub async fn troubled_webhooks(&self, org: &OrgId) -> StoreResult<Vec<TroubledWebhook>> {
        let rows = on_db!(self, pool => {
            sqlx::query_as(
                "SELECT w.id, w.name, w.enabled, w.failing_since, w.disabled_reason,
                        (SELECT COUNT(*) FROM deliveries dl
                          WHERE dl.webhook_id = w.id AND dl.status = 'pending' AND dl.attempts > 0) AS retrying
                 FROM webhooks w
                 WHERE w.org_id = $1 AND (w.failing_since IS NOT NULL OR NOT w.enabled)
                 ORDER BY w.enabled DESC, w.failing_since, w.name_key LIMIT 20",
            )
            .bind(org)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// The pending delivery created longest ago.
    pub async fn oldest_pending(&self, org: &OrgId) -> StoreResult<Option<OldestPending>> {
        let row = on_db!(self, pool => {
            sqlx::query_as(
                "SELECT dl.id, w.name AS webhook_name, dl.created_at
                 FROM deliveries dl JOIN webhooks w ON w.id = dl.webhook_id
                 WHERE dl.org_id = $1 AND dl.status = 'pending'
                 ORDER BY dl.created_at LIMIT 1",
            )
            .bind(org)
            .fetch_optional(pool)
            .await?
        });
        Ok(row)
    }

    /// Device messages accepted since `since`.
    pub async fn messages_since(&self, org: &OrgId, since: Millis) -> StoreResult<i64> {
        let (count,): (i64,) = on_db!(self, pool => {
            sqlx::query_as("SELECT COUNT(*) FROM messages WHERE org_id = $1 AND received_at >= $2")
                .bind(org)
                .bind(since)
                .fetch_one(pool)
                .await?
        });
        Ok(count)
    }
}
