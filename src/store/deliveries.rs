//! Deliveries: one per (event, webhook), with the log of their attempts.

use serde::Serialize;

use super::{Page, Paged, Store, StoreError, StoreResult, WritePool, on_db};
use crate::domain::event::{WEBHOOK_TEST, test_event_body};
use crate::domain::time::{Millis, as_rfc3339, now_ms};
use crate::domain::{DeliveryId, DeviceId, EventId, OrgId, WebhookId};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Delivery {
    pub id: DeliveryId,
    pub event_id: EventId,
    pub event_type: String,
    pub webhook_id: WebhookId,
    pub webhook_name: String,
    pub status: String,
    pub attempts: i64,
    #[serde(serialize_with = "as_rfc3339::option::serialize")]
    pub next_attempt_at: Option<Millis>,
    #[serde(serialize_with = "as_rfc3339::option::serialize")]
    pub last_attempt_at: Option<Millis>,
    pub last_response_status: Option<i64>,
    pub last_error: Option<String>,
    #[serde(serialize_with = "as_rfc3339::serialize")]
    pub created_at: Millis,
    #[serde(serialize_with = "as_rfc3339::serialize")]
    pub updated_at: Millis,
    /// When a dispatcher's claim on it ends, while one holds it (its attempt is in flight).
    #[serde(skip)]
    pub lease_expires_at: Option<Millis>,
    /// The device whose alarm made the event (none for a test event).
    #[serde(skip)]
    pub device_id: Option<DeviceId>,
    #[serde(skip)]
    pub device_name: Option<String>,
}

pub(super) const DELIVERY_SELECT: &str = "SELECT dl.id, dl.event_id, e.type AS event_type, dl.webhook_id, \
     w.name AS webhook_name, dl.status, dl.attempts, dl.next_attempt_at, dl.last_attempt_at, \
     dl.last_response_status, dl.last_error, dl.created_at, dl.updated_at, \
     CASE WHEN dl.lease_owner IS NULL THEN NULL ELSE dl.lease_expires_at END AS lease_expires_at, \
     dv.id AS device_id, dv.name AS device_name \
     FROM deliveries dl JOIN events e ON e.id = dl.event_id JOIN webhooks w ON w.id = dl.webhook_id \
     LEFT JOIN alarms al ON al.id = e.alarm_id LEFT JOIN devices dv ON dv.id = al.device_id";

impl Store {
    pub async fn event_deliveries(
        &self,
        org: &OrgId,
        event: &EventId,
    ) -> StoreResult<Vec<Delivery>> {
        let rows = on_db!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{DELIVERY_SELECT} WHERE dl.org_id = $1 AND dl.event_id = $2 ORDER BY w.name_key"
            )))
            .bind(org)
            .bind(event)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }
}

/// One attempt as the log shows it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Attempt {
    pub attempt: i64,
    #[serde(serialize_with = "as_rfc3339::serialize")]
    pub started_at: Millis,
    pub duration_ms: i64,
    /// The `t` the attempt was signed with.
    pub signature_t: i64,
    pub response_status: Option<i64>,
    #[serde(skip)]
    pub response_body: Option<Vec<u8>>,
    pub error_kind: Option<String>,
    pub error_message: Option<String>,
    /// The headers sent and received, `name: value` a line (none for attempts made before they
    /// were kept).
    pub request_headers: Option<String>,
    pub response_headers: Option<String>,
}

impl Attempt {
    /// The response body's first bytes as text (invalid UTF-8 replaced).
    pub fn response_text(&self) -> Option<String> {
        self.response_body
            .as_ref()
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }

    /// What went wrong, as a sentence for the person reading the log; `None` when the answer's
    /// HTTP status already says it. The client's own text stays in `error_message`.
    pub fn problem(&self) -> Option<String> {
        let cause = self.error_message.as_deref().map(innermost_cause);
        let cause = cause.as_deref().unwrap_or("no detail");
        let sentence = match self.error_kind.as_deref()? {
            "http_status" => return None,
            "timeout" => "No complete answer within the delivery timeout.".to_owned(),
            "connect" => format!("Could not connect to the receiver ({cause})."),
            "tls" => format!(
                "The TLS handshake failed ({cause}): the receiver's certificate must be valid \
                 for its host and trusted (a private CA goes in BIOTZ_EXTRA_CA_CERTS)."
            ),
            "dns" => format!("The callback URL's host did not resolve ({cause})."),
            "blocked_address" | "redirect" => {
                let mut text = self.error_message.clone().unwrap_or_default();
                if let Some(first) = text.get_mut(..1) {
                    first.make_ascii_uppercase();
                }
                format!("{text}.")
            }
            other => format!("The attempt failed: {other}."),
        };
        Some(sentence)
    }
}

/// The last link of a cause chain such as `client error (Connect): tcp connect error:
/// Connection refused (os error 111)`: `Connection refused`.
fn innermost_cause(chain: &str) -> String {
    let last = chain.rsplit(": ").next().unwrap_or(chain).trim();
    let last = match last.find(" (os error") {
        Some(at) => &last[..at],
        None => last,
    };
    last.to_owned()
}

#[cfg(test)]
mod tests {
    use super::innermost_cause;

    #[test]
    fn the_innermost_cause_is_the_last_link_without_the_os_code() {
        assert_eq!(
            innermost_cause(
                "client error (Connect): tcp connect error: Connection refused (os error 111)"
            ),
            "Connection refused"
        );
        assert_eq!(
            innermost_cause("deadline has elapsed"),
            "deadline has elapsed"
        );
    }
}

impl Delivery {
    /// Whether a dispatcher is sending it now: claimed, and the claim has not run out. While
    /// claimed, `next_attempt_at` is the end of the lease, not a retry time.
    pub fn in_flight(&self) -> bool {
        self.status == "pending" && self.lease_expires_at.is_some_and(|end| end > now_ms())
    }

    /// When the next attempt is due, if one is scheduled and not already under way.
    pub fn next_retry_at(&self) -> Option<Millis> {
        (self.status == "pending" && !self.in_flight())
            .then_some(self.next_attempt_at)
            .flatten()
    }

    /// The one word the UI uses for where the delivery is, and the badge's class: the same
    /// words as the status filter (`STATUS_FILTERS`).
    pub fn state_word(&self) -> (&'static str, &'static str) {
        match self.status.as_str() {
            "succeeded" => ("Succeeded", "ok"),
            "failed" => ("Failed", "danger"),
            "skipped" => ("Skipped", ""),
            _ if self.in_flight() => ("Sending…", "info"),
            _ if self.attempts > 0 => ("Retrying", "warn"),
            _ => ("Pending", ""),
        }
    }
}

/// Which deliveries a list shows.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub webhook: Option<WebhookId>,
    /// One of `DELIVERY_STATUSES` or `retrying`.
    pub status: Option<String>,
    /// Part of the webhook's name, any case.
    pub webhook_name: Option<String>,
    pub event_type: Option<String>,
    /// Part of the device's name, any case.
    pub device_name: Option<String>,
    /// Created at or after / before these times.
    pub since: Option<Millis>,
    pub until: Option<Millis>,
    /// A delivery or event id, exactly.
    pub id: Option<String>,
}

/// A `LIKE` pattern (with `ESCAPE '\'`) for names containing `part`, any case: the names'
/// `name_key` columns are lower-cased the same way.
pub(super) fn contains_pattern(part: &str) -> String {
    let mut pattern = String::from("%");
    for c in part.trim().to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

pub const DELIVERY_STATUSES: [&str; 4] = ["pending", "succeeded", "failed", "skipped"];

/// The status filter's values and the words the UI shows for them: `pending` is every delivery
/// not finished yet (retrying ones included), `retrying` those with a failed attempt.
pub const STATUS_FILTERS: [(&str, &str); 5] = [
    ("pending", "Pending or retrying"),
    ("retrying", "Retrying"),
    ("succeeded", "Succeeded"),
    ("failed", "Failed"),
    ("skipped", "Skipped"),
];

/// A status filter's stored status and whether it asks for a failed attempt (`retrying`).
fn status_condition(filter: &DeliveryFilter) -> (Option<&str>, bool) {
    match filter.status.as_deref() {
        Some("retrying") => (Some("pending"), true),
        other => (other, false),
    }
}

impl Store {
    /// Deliveries newest first.
    pub async fn list_deliveries(
        &self,
        org: &OrgId,
        filter: &DeliveryFilter,
        page: &Page,
    ) -> StoreResult<Paged<Delivery>> {
        let (status, retrying) = status_condition(filter);
        let rows: Vec<Delivery> = on_db!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{DELIVERY_SELECT} WHERE dl.org_id = $1 AND ($2 IS NULL OR dl.webhook_id = $2)
                 AND ($3 IS NULL OR dl.status = $3) AND ($6 = 0 OR dl.attempts > 0)
                 AND ($7 IS NULL OR w.name_key LIKE $7 ESCAPE '\\')
                 AND ($8 IS NULL OR e.type = $8)
                 AND ($9 IS NULL OR dv.name_key LIKE $9 ESCAPE '\\')
                 AND ($10 IS NULL OR dl.created_at >= $10) AND ($11 IS NULL OR dl.created_at < $11)
                 AND ($12 IS NULL OR dl.id = $12 OR dl.event_id = $12)
                 AND dl.id < $4 ORDER BY dl.id DESC LIMIT $5"
            )))
            .bind(org)
            .bind(&filter.webhook)
            .bind(status)
            .bind(page.before())
            .bind(page.fetch_limit())
            .bind(i64::from(retrying))
            .bind(filter.webhook_name.as_deref().map(contains_pattern))
            .bind(&filter.event_type)
            .bind(filter.device_name.as_deref().map(contains_pattern))
            .bind(filter.since)
            .bind(filter.until)
            .bind(filter.id.as_deref().map(str::trim))
            .fetch_all(pool)
            .await?
        });
        Ok(page.finish(rows, |d| d.id.as_str()))
    }

    pub async fn delivery(&self, org: &OrgId, id: &DeliveryId) -> StoreResult<Delivery> {
        let found: Option<Delivery> = on_db!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("{DELIVERY_SELECT} WHERE dl.org_id = $1 AND dl.id = $2")))
                .bind(org)
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        found.ok_or(StoreError::NotFound)
    }

    /// The delivery's attempts, first to last.
    pub async fn attempts(&self, org: &OrgId, delivery: &DeliveryId) -> StoreResult<Vec<Attempt>> {
        let rows = on_db!(self, pool => {
            sqlx::query_as(
                "SELECT attempt, started_at, duration_ms, signature_t, response_status, response_body, error_kind,
                        error_message, request_headers, response_headers
                 FROM attempts WHERE org_id = $1 AND delivery_id = $2 ORDER BY attempt",
            )
            .bind(org)
            .bind(delivery)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// Queues the delivery to be sent again now, with the retry schedule started afresh. Refused
    /// (`Conflict`) while a dispatcher is sending it or while its webhook is disabled.
    pub async fn resend(&self, org: &OrgId, id: &DeliveryId) -> StoreResult<Delivery> {
        let delivery = self.delivery(org, id).await?;
        let webhook = self.webhook(org, &delivery.webhook_id).await?;
        if !webhook.enabled {
            return Err(StoreError::Conflict {
                field: "webhook",
                message: "The webhook is disabled; enable it first, then resend.".into(),
            });
        }
        let now = now_ms();
        let updated = on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let updated = sqlx::query(
                "UPDATE deliveries SET status = 'pending', next_attempt_at = $3, queued_attempts = attempts,
                        updated_at = $3
                 WHERE org_id = $1 AND id = $2 AND (lease_owner IS NULL OR lease_expires_at < $3)",
            )
            .bind(org)
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if updated > 0 {
                pool.announce_deliveries(&mut tx).await?;
            }
            tx.commit().await?;
            updated
        });
        if updated == 0 {
            return Err(StoreError::Conflict {
                field: "delivery",
                message: "This delivery is being sent right now; wait for the attempt to finish."
                    .into(),
            });
        }
        self.wake_dispatcher();
        self.delivery(org, id).await
    }

    /// Queues again the webhook's failed and skipped deliveries created since `since`; returns
    /// how many.
    pub async fn replay(
        &self,
        org: &OrgId,
        webhook: &WebhookId,
        since: Millis,
    ) -> StoreResult<u64> {
        let found = self.webhook(org, webhook).await?;
        if !found.enabled {
            return Err(StoreError::Conflict {
                field: "webhook",
                message: "The webhook is disabled; enable it first, then replay.".into(),
            });
        }
        let now = now_ms();
        let replayed = on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let replayed = sqlx::query(
                "UPDATE deliveries SET status = 'pending', next_attempt_at = $4, queued_attempts = attempts,
                        updated_at = $4
                 WHERE org_id = $1 AND webhook_id = $2 AND status IN ('failed', 'skipped') AND created_at >= $3",
            )
            .bind(org)
            .bind(webhook)
            .bind(since)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if replayed > 0 {
                pool.announce_deliveries(&mut tx).await?;
            }
            tx.commit().await?;
            replayed
        });
        if replayed > 0 {
            self.wake_dispatcher();
        }
        Ok(replayed)
    }

    /// How many of the webhook's deliveries are skipped (kept while it was disabled).
    pub async fn skipped_count(
        &self,
        org: &OrgId,
        webhook: &WebhookId,
    ) -> StoreResult<(i64, Option<Millis>)> {
        let counts = on_db!(self, pool => {
            sqlx::query_as(
                "SELECT count(*), min(created_at) FROM deliveries WHERE org_id = $1 AND webhook_id = $2 AND status = 'skipped'",
            )
            .bind(org)
            .bind(webhook)
            .fetch_one(pool)
            .await?
        });
        Ok(counts)
    }

    /// Queues a `webhook.test` event to this webhook alone.
    pub async fn create_test_event(
        &self,
        org: &OrgId,
        webhook: &WebhookId,
    ) -> StoreResult<(EventId, DeliveryId)> {
        let found = self.webhook(org, webhook).await?;
        if !found.enabled {
            return Err(StoreError::Conflict {
                field: "webhook",
                message: "The webhook is disabled; enable it first, then send a test event.".into(),
            });
        }
        let now = now_ms();
        let event = EventId::generate();
        let delivery = DeliveryId::generate();
        let body = test_event_body(&event, now, found.id.as_str(), &found.name);
        on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query("INSERT INTO events (id, org_id, type, alarm_id, body, created_at) VALUES ($1, $2, $3, NULL, $4, $5)")
                .bind(&event)
                .bind(org)
                .bind(WEBHOOK_TEST)
                .bind(&body)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO deliveries (id, org_id, event_id, webhook_id, status, next_attempt_at, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, 'pending', $5, $5, $5)",
            )
            .bind(&delivery)
            .bind(org)
            .bind(&event)
            .bind(webhook)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            pool.announce_deliveries(&mut tx).await?;
            tx.commit().await?;
        });
        self.wake_dispatcher();
        Ok((event, delivery))
    }

    /// Attempts per day of the last `days` days for a webhook: (day start, succeeded, failed).
    pub async fn webhook_daily_outcomes(
        &self,
        org: &OrgId,
        webhook: &WebhookId,
        days: i64,
    ) -> StoreResult<Vec<(Millis, i64, i64)>> {
        const DAY: Millis = 86_400_000;
        let since = (now_ms() / DAY - days + 1) * DAY;
        let rows: Vec<(Millis, i64, i64)> = on_db!(self, pool => {
            sqlx::query_as(
                "SELECT (a.started_at / 86400000) * 86400000 AS day,
                        sum(CASE WHEN a.error_kind IS NULL THEN 1 ELSE 0 END),
                        sum(CASE WHEN a.error_kind IS NULL THEN 0 ELSE 1 END)
                 FROM attempts a JOIN deliveries d ON d.id = a.delivery_id
                 WHERE a.org_id = $1 AND d.webhook_id = $2 AND a.started_at >= $3
                 GROUP BY day ORDER BY day",
            )
            .bind(org)
            .bind(webhook)
            .bind(since)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }
}
