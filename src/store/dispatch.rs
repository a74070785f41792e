//! What the dispatcher needs from the store: claim due deliveries under a lease, load what to
//! send, record attempts in batches, and give leases back.
//!
//! A claim sets `next_attempt_at` to the end of the lease. A delivery whose dispatcher dies is
//! therefore simply due again when the lease runs out, and the same "due" query reclaims it.
//! Results are written only while the lease is still held (`lease_owner` matches).

use bytes::Bytes;

use super::{Db, Store, StoreResult, WritePool, on_db, placeholders};
use crate::domain::event::{WEBHOOK_DISABLED, disabled_event_body};
use crate::domain::time::{Millis, now_ms};
use crate::domain::{DeliveryId, EventId, OrgId, WebhookId};

/// A delivery leased for sending.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Claimed {
    pub id: DeliveryId,
    pub org_id: OrgId,
    pub event_id: EventId,
    pub webhook_id: WebhookId,
    /// Attempts made so far.
    pub attempts: i64,
    /// `attempts` when it was last (re)queued: the retry schedule counts from there.
    pub queued_attempts: i64,
}

/// A claimed delivery with the body its event stored.
#[derive(sqlx::FromRow)]
struct ClaimedRow {
    #[sqlx(flatten)]
    delivery: Claimed,
    body: Vec<u8>,
}

/// A local dispatcher's offer to take deliveries straight from the transaction that writes
/// them: each delivery it has a free slot for (`take` reserves it) is written already leased
/// to `owner` for `lease_ms`.
pub trait LeaseOffer: Send {
    fn owner(&self) -> &str;
    fn lease_ms(&self) -> Millis;
    fn take(&mut self, webhook: &WebhookId) -> bool;
}

/// How a claim is bounded.
#[derive(Debug, Clone, Copy)]
pub struct ClaimLimits {
    /// At most this many deliveries.
    pub total: i64,
    /// At most this many for one webhook.
    pub per_webhook: i64,
    pub lease_ms: Millis,
}

/// What became of a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    Succeeded,
    RetryAt(Millis),
    /// The schedule is exhausted.
    Failed,
    /// The receiver answered 410 Gone: the delivery stops and the webhook is disabled.
    Gone,
}

/// One attempt to write to the log, with its consequence.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub delivery: Claimed,
    pub attempt: i64,
    pub started_at: Millis,
    pub duration_ms: Millis,
    pub signature_t: i64,
    pub response_status: Option<i64>,
    pub response_body: Option<Vec<u8>>,
    pub error_kind: Option<&'static str>,
    pub error_message: Option<String>,
    /// The headers sent and received, `name: value` a line.
    pub request_headers: Option<String>,
    pub response_headers: Option<String>,
    pub next: NextStep,
}

/// Rows per multi-row statement when recording (13 parameters a row; SQLite allows 32766).
const ROWS_PER_STATEMENT: usize = 256;

/// What a batch of attempts says about one webhook.
#[derive(Default)]
struct WebhookOutcome {
    /// An attempt succeeded: the failure streak before it is over.
    succeeded: bool,
    /// When the first failure after the last success (or of the batch) happened.
    failing_since: Option<Millis>,
    /// When it answered 410 Gone, if it did.
    gone_at: Option<Millis>,
}

impl Store {
    /// Claims due deliveries for `owner`, oldest due first, skipping `busy` webhooks.
    pub async fn claim_due(
        &self,
        owner: &str,
        limits: ClaimLimits,
        busy: &[WebhookId],
    ) -> StoreResult<Vec<(Claimed, Bytes)>> {
        let now = now_ms();
        let exclude = if busy.is_empty() {
            String::new()
        } else {
            format!("AND webhook_id NOT IN ({})", placeholders(7, busy.len()))
        };
        // The body comes with the claim, so sending needs no other query.
        let returning = "id, org_id, event_id, webhook_id, attempts, queued_attempts, \
                         (SELECT body FROM events WHERE events.id = deliveries.event_id) AS body";
        macro_rules! bind_claim {
            ($sql:expr, $executor:expr) => {{
                let mut query = sqlx::query_as::<_, ClaimedRow>(sqlx::AssertSqlSafe($sql))
                    .bind(owner)
                    .bind(now + limits.lease_ms)
                    .bind(now)
                    .bind(limits.total * 4)
                    .bind(limits.per_webhook)
                    .bind(limits.total);
                for webhook in busy {
                    query = query.bind(webhook);
                }
                query.fetch_all($executor).await?
            }};
        }
        let claimed = match &self.db {
            // One UPDATE … RETURNING, atomic under SQLite's write lock (taken in turn with this
            // process's other writers).
            Db::Sqlite(pool) => {
                let mut tx = super::sqlite::begin_write(pool).await?;
                let claimed = bind_claim!(
                format!(
                    "UPDATE deliveries SET lease_owner = $1, lease_expires_at = $2, next_attempt_at = $2
                     WHERE id IN (
                       SELECT id FROM (
                         SELECT id, row_number() OVER (PARTITION BY webhook_id ORDER BY next_attempt_at, id) AS nth
                         FROM (SELECT id, webhook_id, next_attempt_at FROM deliveries
                               WHERE status = 'pending' AND next_attempt_at <= $3 {exclude}
                               ORDER BY next_attempt_at LIMIT $4) AS due
                       ) AS ranked WHERE nth <= $5 LIMIT $6)
                     RETURNING {returning}"
                ),
                &mut *tx
            );
                tx.commit().await?;
                claimed
            }
            // Many nodes claim at once: each skips the rows another is claiming. The due rows
            // are read in order from the `deliveries_due` index: when the table has just grown
            // by a burst its statistics are stale, and the planner would otherwise bitmap-scan
            // and sort every due row to lock the first few (40 ms with 100k due).
            Db::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::raw_sql("SET LOCAL enable_bitmapscan = off")
                    .execute(&mut *tx)
                    .await?;
                let claimed = bind_claim!(
                format!(
                    "WITH due AS (
                       SELECT id, webhook_id, next_attempt_at FROM deliveries
                       WHERE status = 'pending' AND next_attempt_at <= $3 {exclude}
                       ORDER BY next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED
                     ), ranked AS (
                       SELECT id FROM (
                         SELECT id, row_number() OVER (PARTITION BY webhook_id ORDER BY next_attempt_at, id) AS nth FROM due
                       ) AS r WHERE nth <= $5 LIMIT $6
                     )
                     UPDATE deliveries d SET lease_owner = $1, lease_expires_at = $2, next_attempt_at = $2
                     FROM ranked WHERE d.id = ranked.id
                     RETURNING d.id, d.org_id, d.event_id, d.webhook_id, d.attempts, d.queued_attempts,
                               (SELECT body FROM events e WHERE e.id = d.event_id) AS body"
                ),
                &mut *tx
            );
                tx.commit().await?;
                claimed
            }
        };
        Ok(claimed
            .into_iter()
            .map(|row| (row.delivery, Bytes::from(row.body)))
            .collect())
    }

    /// When the next pending delivery is due, if any is.
    pub async fn next_due(&self) -> StoreResult<Option<Millis>> {
        let next = on_db!(self, pool => {
            sqlx::query_scalar("SELECT min(next_attempt_at) FROM deliveries WHERE status = 'pending'")
                .fetch_one(pool)
                .await?
        });
        Ok(next)
    }

    /// Writes a batch of attempts and their consequences in one transaction: the attempt log,
    /// each delivery's new state (only while `owner` still holds its lease), and each webhook's
    /// failure state (failing since…, disabled after `disable_after_ms` of failures or a 410).
    /// Each of the three is a few multi-row statements per batch, not one per attempt.
    pub async fn record_attempts(
        &self,
        owner: &str,
        records: &[AttemptRecord],
        disable_after_ms: Millis,
    ) -> StoreResult<()> {
        if records.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        let failing_reason = format!(
            "Disabled automatically: its deliveries kept failing with no success for more than {}.",
            humantime::format_duration(std::time::Duration::from_millis(
                disable_after_ms.max(0) as u64
            ))
        );
        // Per webhook, in batch order: its first failure time, whether any attempt succeeded
        // after the last failure, and a 410's time.
        let mut webhooks: Vec<(&WebhookId, WebhookOutcome)> = Vec::new();
        for record in records {
            let outcome = match webhooks
                .iter_mut()
                .find(|(id, _)| **id == record.delivery.webhook_id)
            {
                Some((_, outcome)) => outcome,
                None => {
                    webhooks.push((&record.delivery.webhook_id, WebhookOutcome::default()));
                    &mut webhooks.last_mut().expect("just pushed").1
                }
            };
            match record.next {
                NextStep::Succeeded => {
                    outcome.succeeded = true;
                    outcome.failing_since = None;
                }
                NextStep::RetryAt(_) | NextStep::Failed => {
                    outcome.failing_since.get_or_insert(record.started_at);
                }
                NextStep::Gone => outcome.gone_at = Some(record.started_at),
            }
        }
        let mut disabled_now: Vec<WebhookId> = Vec::new();
        let mut notified = false;
        on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            for chunk in records.chunks(ROWS_PER_STATEMENT) {
                let rows = self.params().rows(chunk.len(), 13);
                let sql = format!(
                    "INSERT INTO attempts (id, org_id, delivery_id, attempt, started_at, duration_ms, signature_t,
                                           response_status, response_body, error_kind, error_message,
                                           request_headers, response_headers)
                     VALUES {rows} ON CONFLICT (delivery_id, attempt) DO NOTHING"
                );
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                for record in chunk {
                    query = query
                        .bind(crate::domain::AttemptId::generate())
                        .bind(&record.delivery.org_id)
                        .bind(&record.delivery.id)
                        .bind(record.attempt)
                        .bind(record.started_at)
                        .bind(record.duration_ms)
                        .bind(record.signature_t)
                        .bind(record.response_status)
                        .bind(&record.response_body)
                        .bind(record.error_kind)
                        .bind(&record.error_message)
                        .bind(&record.request_headers)
                        .bind(&record.response_headers);
                }
                query.execute(&mut *tx).await?;

                // Placeholders in the order they appear: `updated_at`, the rows, the owner.
                let mut params = self.params();
                let updated_at = params.next();
                let rows = params.rows(chunk.len(), 7);
                let lease_owner = params.next();
                // VALUES columns are column1, column2, … in both SQLite and PostgreSQL.
                let sql = format!(
                    "UPDATE deliveries SET status = v.column2, attempts = v.column3, next_attempt_at = v.column4,
                            lease_owner = NULL, lease_expires_at = NULL, last_attempt_at = v.column5,
                            last_response_status = v.column6, last_error = v.column7, updated_at = {updated_at}
                     FROM (VALUES {rows}) AS v
                     WHERE deliveries.id = v.column1 AND deliveries.lease_owner = {lease_owner}"
                );
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now);
                for record in chunk {
                    let (status, next_at) = match record.next {
                        NextStep::Succeeded => ("succeeded", None),
                        NextStep::RetryAt(at) => ("pending", Some(at)),
                        NextStep::Failed | NextStep::Gone => ("failed", None),
                    };
                    query = query
                        .bind(&record.delivery.id)
                        .bind(status)
                        .bind(record.attempt)
                        .bind(next_at)
                        .bind(record.started_at)
                        .bind(record.response_status)
                        .bind(&record.error_message);
                }
                query.bind(owner).execute(&mut *tx).await?;
            }
            // Webhooks whose attempts all succeeded end any failure streak, in one statement.
            let recovered: Vec<&WebhookId> = webhooks
                .iter()
                .filter(|(_, o)| o.succeeded && o.failing_since.is_none() && o.gone_at.is_none())
                .map(|(id, _)| *id)
                .collect();
            if !recovered.is_empty() {
                let sql = format!(
                    "UPDATE webhooks SET failing_since = NULL WHERE failing_since IS NOT NULL AND id IN ({})",
                    placeholders(1, recovered.len())
                );
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                for id in &recovered {
                    query = query.bind(*id);
                }
                query.execute(&mut *tx).await?;
            }
            for (webhook, outcome) in &webhooks {
                let disabled_reason = if let Some(at) = outcome.gone_at {
                    Some(format!(
                        "Disabled automatically: the receiver answered 410 Gone on {}.",
                        crate::domain::time::rfc3339(at)
                    ))
                } else if let Some(failed_at) = outcome.failing_since {
                    // After a success in this batch the streak starts at this batch's failure;
                    // otherwise it goes on from whenever it began.
                    let overdue: bool = sqlx::query_scalar(
                        "UPDATE webhooks SET failing_since = CASE WHEN $4 THEN $2 ELSE COALESCE(failing_since, $2) END
                         WHERE id = $1
                         RETURNING enabled AND failing_since <= $3",
                    )
                    .bind(*webhook)
                    .bind(failed_at)
                    .bind(now - disable_after_ms)
                    .bind(outcome.succeeded)
                    .fetch_optional(&mut *tx)
                    .await?
                    .unwrap_or(false);
                    overdue.then(|| failing_reason.clone())
                } else {
                    None
                };
                if let Some(reason) = disabled_reason {
                    let disabled = sqlx::query(
                        "UPDATE webhooks SET enabled = FALSE, disabled_reason = $2, disabled_at = $3, updated_at = $3,
                                notice_dismissed_at = NULL
                         WHERE id = $1 AND enabled",
                    )
                    .bind(*webhook)
                    .bind(&reason)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if disabled > 0 {
                        disabled_now.push((*webhook).clone());
                        // What was waiting for it is kept as skipped, ready to replay.
                        sqlx::query(
                            "UPDATE deliveries SET status = 'skipped', next_attempt_at = NULL, updated_at = $2
                             WHERE webhook_id = $1 AND status = 'pending' AND lease_owner IS NULL",
                        )
                        .bind(*webhook)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                        // The organization's notify webhook, when it has another, hears of it.
                        let notify: Option<(OrgId, String, Option<WebhookId>)> = sqlx::query_as(
                            "SELECT w.org_id, w.name, n.id FROM webhooks w JOIN organizations o ON o.id = w.org_id
                             LEFT JOIN webhooks n ON n.id = o.notify_webhook_id AND n.enabled AND n.id <> w.id
                             WHERE w.id = $1",
                        )
                        .bind(*webhook)
                        .fetch_optional(&mut *tx)
                        .await?;
                        if let Some((org, name, Some(target))) = notify {
                            let event = EventId::generate();
                            let body = disabled_event_body(&event, now, webhook.as_str(), &name, &reason);
                            sqlx::query(sqlx::AssertSqlSafe(self.insert_events_sql(1)))
                                .bind(&event)
                                .bind(&org)
                                .bind(WEBHOOK_DISABLED)
                                .bind(None::<String>)
                                .bind(&body)
                                .bind(now)
                                .execute(&mut *tx)
                                .await?;
                            sqlx::query(sqlx::AssertSqlSafe(self.insert_deliveries_sql(1)))
                                .bind(DeliveryId::generate())
                                .bind(&org)
                                .bind(&event)
                                .bind(&target)
                                .bind("pending")
                                .bind(Some(now))
                                .bind(None::<String>)
                                .bind(None::<Millis>)
                                .bind(now)
                                .bind(now)
                                .execute(&mut *tx)
                                .await?;
                            notified = true;
                        }
                    }
                }
            }
            if notified {
                pool.announce_deliveries(&mut tx).await?;
            }
            tx.commit().await?;
        });
        if notified {
            self.wake_dispatcher();
        }
        for webhook in &disabled_now {
            self.target_changed(webhook).await;
        }
        Ok(())
    }

    /// Marks claimed deliveries of webhooks disabled since their event as skipped.
    pub async fn skip_claimed(&self, owner: &str, deliveries: &[DeliveryId]) -> StoreResult<()> {
        self.update_claimed(
            owner,
            deliveries,
            "status = 'skipped', next_attempt_at = NULL",
        )
        .await
    }

    /// Gives leases back: the deliveries are due again at once, for any dispatcher.
    pub async fn release_claimed(&self, owner: &str, deliveries: &[DeliveryId]) -> StoreResult<()> {
        self.update_claimed(owner, deliveries, "next_attempt_at = $2")
            .await
    }

    async fn update_claimed(
        &self,
        owner: &str,
        deliveries: &[DeliveryId],
        set: &str,
    ) -> StoreResult<()> {
        if deliveries.is_empty() {
            return Ok(());
        }
        let list = placeholders(3, deliveries.len());
        let sql = format!(
            "UPDATE deliveries SET {set}, lease_owner = NULL, lease_expires_at = NULL, updated_at = $2
             WHERE lease_owner = $1 AND id IN ({list})"
        );
        on_db!(self, pool => {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(owner).bind(now_ms());
            for id in deliveries {
                query = query.bind(id);
            }
            query.execute(pool).await?;
        });
        Ok(())
    }

    /// Pending deliveries and how long the oldest has waited, for `/metrics`.
    pub async fn queue_stats(&self) -> StoreResult<(i64, Option<Millis>)> {
        let stats = on_db!(self, pool => {
            sqlx::query_as("SELECT count(*), min(created_at) FROM deliveries WHERE status = 'pending'")
                .fetch_one(pool)
                .await?
        });
        Ok(stats)
    }
}
