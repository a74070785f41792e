//! Many rows at once, for load tests and the benchmark: synthetic `webhook.test` events queued
//! to the given webhooks, and fleets of devices, written in large multi-row inserts.

use super::{Store, StoreResult, WritePool, on_db, placeholders, token_hash};
use crate::domain::event::{WEBHOOK_TEST, test_event_body};
use crate::domain::time::{Millis, now_ms};
use crate::domain::{DeliveryId, DeviceId, DeviceTypeId, EventId, OrgId, WebhookId, random};

/// Rows per INSERT statement (SQLite allows 32766 parameters; at most 8 per row here).
const ROWS_PER_INSERT: usize = 500;

impl Store {
    /// Queues `count` test events, spread over `webhooks` in turn, each due at `due` and padded
    /// to about `body_bytes` bytes.
    pub async fn enqueue_synthetic(
        &self,
        org: &OrgId,
        webhooks: &[(WebhookId, String)],
        count: usize,
        body_bytes: usize,
        due: Millis,
    ) -> StoreResult<()> {
        let now = now_ms();
        let mut start = 0;
        while start < count {
            let end = (start + ROWS_PER_INSERT).min(count);
            let rows: Vec<(EventId, DeliveryId, &WebhookId, Vec<u8>)> = (start..end)
                .map(|i| {
                    let (webhook, name) = &webhooks[i % webhooks.len()];
                    let event = EventId::generate();
                    let mut body = test_event_body(&event, now, webhook.as_str(), name);
                    pad_json(&mut body, body_bytes);
                    (event, DeliveryId::generate(), webhook, body)
                })
                .collect();
            let events_sql = self.insert_events_sql(rows.len());
            let deliveries_sql = self.insert_deliveries_sql(rows.len());
            on_db!(self, pool => {
                let mut tx = pool.begin_write().await?;
                let mut query = sqlx::query(sqlx::AssertSqlSafe(events_sql.clone()));
                for (event, _, _, body) in &rows {
                    query = query.bind(event).bind(org).bind(WEBHOOK_TEST).bind(None::<String>).bind(body).bind(now);
                }
                query.execute(&mut *tx).await?;
                let mut query = sqlx::query(sqlx::AssertSqlSafe(deliveries_sql.clone()));
                for (event, delivery, webhook, _) in &rows {
                    query = query.bind(delivery).bind(org).bind(event).bind(*webhook).bind("pending").bind(due).bind(None::<&str>).bind(None::<Millis>).bind(now).bind(now);
                }
                query.execute(&mut *tx).await?;
                pool.announce_deliveries(&mut tx).await?;
                tx.commit().await?;
            });
            start = end;
        }
        self.wake_dispatcher();
        Ok(())
    }

    /// Creates `count` devices of a type, named `{prefix} {i}`, with ingest tokens nobody
    /// keeps (they never send), and their offline watches like any new device's. Returns their
    /// ids in order.
    pub async fn create_devices_synthetic(
        &self,
        org: &OrgId,
        device_type: &DeviceTypeId,
        prefix: &str,
        count: usize,
    ) -> StoreResult<Vec<DeviceId>> {
        let now = now_ms();
        let mut made = Vec::with_capacity(count);
        let mut start = 0;
        while start < count {
            let end = (start + ROWS_PER_INSERT).min(count);
            let rows: Vec<(DeviceId, String)> = (start..end)
                .map(|i| (DeviceId::generate(), format!("{prefix} {i}")))
                .collect();
            let insert = format!(
                "INSERT INTO devices (id, org_id, device_type_id, name, name_key, token_hash, token_hint, created_at) VALUES {}",
                self.params().rows(rows.len(), 8)
            );
            let watch = format!(
                "INSERT INTO offline_watches (device_id, trigger_id, org_id, message_type_id, silent_ms, due_at)
                 SELECT d.id, t.id, t.org_id, t.message_type_id, t.silent_for_seconds * 1000,
                        d.created_at + t.silent_for_seconds * 1000
                 FROM devices d JOIN alarm_triggers t ON t.device_type_id = d.device_type_id
                 WHERE t.kind = 'no_data' AND t.enabled AND d.id IN ({})",
                placeholders(1, rows.len())
            );
            on_db!(self, pool => {
                let mut tx = pool.begin_write().await?;
                let mut query = sqlx::query(sqlx::AssertSqlSafe(insert));
                for (id, name) in &rows {
                    query = query.bind(id).bind(org).bind(device_type).bind(name).bind(name.to_lowercase())
                        .bind(token_hash(&random::token())).bind("bdt_…").bind(now);
                }
                query.execute(&mut *tx).await?;
                let mut query = sqlx::query(sqlx::AssertSqlSafe(watch));
                for (id, _) in &rows {
                    query = query.bind(id);
                }
                query.execute(&mut *tx).await?;
                tx.commit().await?;
            });
            made.extend(rows.into_iter().map(|(id, _)| id));
            start = end;
        }
        Ok(made)
    }

    /// How many deliveries are pending (due, waiting for a retry, or in flight), read from the
    /// index of pending deliveries.
    pub async fn pending_count(&self) -> StoreResult<i64> {
        let count = on_db!(self, pool => {
            sqlx::query_scalar("SELECT count(*) FROM deliveries WHERE status = 'pending' AND next_attempt_at IS NOT NULL")
                .fetch_one(pool)
                .await?
        });
        Ok(count)
    }

    /// How many deliveries have each status.
    pub async fn delivery_status_counts(&self) -> StoreResult<Vec<(String, i64)>> {
        let rows = on_db!(self, pool => {
            sqlx::query_as("SELECT status, count(*) FROM deliveries GROUP BY status ORDER BY status")
                .fetch_all(pool)
                .await?
        });
        Ok(rows)
    }
}

/// Grows a JSON object body to about `target` bytes with a `padding` field.
fn pad_json(body: &mut Vec<u8>, target: usize) {
    let missing = target.saturating_sub(body.len() + 14);
    if missing > 0 && body.last() == Some(&b'}') {
        body.pop();
        body.extend_from_slice(b",\"padding\":\"");
        body.extend(std::iter::repeat_n(b'x', missing));
        body.extend_from_slice(b"\"}");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn padding_keeps_the_body_json_and_near_the_size() {
        let mut body = br#"{"id":"evt_1"}"#.to_vec();
        super::pad_json(&mut body, 1024);
        let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(parsed["id"], "evt_1");
        assert!((1000..=1030).contains(&body.len()), "{}", body.len());
    }
}
