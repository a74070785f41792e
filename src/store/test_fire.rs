//! Test-firing a trigger: a signed `alarm.raised` event marked `"test": true`, built from the
//! device type's latest message of the trigger's type (or a sample from its schema), with one
//! delivery per webhook on the trigger's list. No alarm changes state; the event belongs to
//! no alarm.

use serde::Serialize;
use serde_json::{Value, json};

use super::alarms::{TriggerWebhook, receiving};
use super::{Store, StoreResult, WritePool, on_db};
use crate::domain::event::ALARM_RAISED;
use crate::domain::sample::sample_of;
use crate::domain::time::{Millis, now_ms, rfc3339};
use crate::domain::{AlarmId, DeliveryId, EventId, OrgId, TriggerId, WebhookId};

/// What a test-fire queued.
#[derive(Debug, Clone, Serialize)]
pub struct TestFired {
    pub event_id: EventId,
    /// `latest_message` or `schema_sample`: where the message in the body came from.
    pub built_from: &'static str,
    pub deliveries: Vec<TestDelivery>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TestDelivery {
    pub id: DeliveryId,
    pub webhook_id: WebhookId,
    pub status: &'static str,
}

#[derive(sqlx::FromRow)]
struct Latest {
    id: String,
    message_type: String,
    payload: String,
    received_at: Millis,
    device_id: String,
    device_name: String,
}

/// The trigger as an event tells it; a no_data trigger says what silence raises it.
fn trigger_json(trigger: &super::Trigger) -> Value {
    let mut value =
        json!({ "id": trigger.id, "name": trigger.name, "condition": trigger.condition });
    if let Some(seconds) = trigger.silent_for_seconds {
        value["kind"] = json!("no_data");
        value["silent_for_seconds"] = json!(seconds);
        value["message_type"] = json!(trigger.message_type);
    }
    value
}

impl Store {
    pub async fn test_fire_trigger(&self, org: &OrgId, id: &TriggerId) -> StoreResult<TestFired> {
        let trigger = self.trigger(org, id).await?;
        let device_type = self.device_type(org, &trigger.device_type_id).await?;
        let sampled = device_type.message_types.iter().find(|m| {
            trigger
                .message_type_id
                .as_ref()
                .is_none_or(|id| &m.id == id)
        });
        let schema = sampled.map(|m| m.schema.clone()).unwrap_or(Value::Null);
        let sample_type = sampled.map(|m| m.name.clone());
        let now = now_ms();
        let event_id = EventId::generate();
        let (fired, pending) = on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let latest: Option<Latest> = sqlx::query_as(
                "SELECT m.id, m.message_type, m.payload, m.received_at, d.id AS device_id, d.name AS device_name
                 FROM messages m JOIN devices d ON d.id = m.device_id
                 WHERE d.org_id = $1 AND d.device_type_id = $2 AND ($3 IS NULL OR m.message_type = $3)
                 ORDER BY m.id DESC LIMIT 1",
            )
            .bind(org)
            .bind(&trigger.device_type_id)
            .bind(&trigger.message_type)
            .fetch_optional(&mut *tx)
            .await?;
            let (built_from, device, message) = match latest {
                Some(m) => (
                    "latest_message",
                    json!({ "id": m.device_id, "name": m.device_name }),
                    json!({
                        "id": m.id,
                        "message_type": m.message_type,
                        "received_at": rfc3339(m.received_at),
                        "payload": serde_json::from_str::<Value>(&m.payload).unwrap_or(Value::Null),
                    }),
                ),
                None => (
                    "schema_sample",
                    json!({ "id": Value::Null, "name": Value::Null }),
                    json!({
                        "id": Value::Null,
                        "message_type": sample_type,
                        "received_at": rfc3339(now),
                        "payload": sample_of(&schema),
                    }),
                ),
            };
            let body = json!({
                "id": event_id,
                "type": ALARM_RAISED,
                "created_at": rfc3339(now),
                "test": true,
                "data": {
                    "alarm": {
                        "id": AlarmId::generate(),
                        "state": "raised",
                        "severity": trigger.severity.as_str(),
                        "raised_at": rfc3339(now),
                        "cleared_at": Value::Null,
                    },
                    "trigger": trigger_json(&trigger),
                    "device_type": { "id": device_type.id, "name": device_type.name },
                    "device": device,
                    "message": message,
                },
            });
            let body = serde_json::to_vec(&body).expect("a JSON value serialises");
            sqlx::query(sqlx::AssertSqlSafe(self.insert_events_sql(1)))
                .bind(&event_id)
                .bind(org)
                .bind(ALARM_RAISED)
                .bind(None::<AlarmId>)
                .bind(body)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            let listed: Vec<TriggerWebhook> = sqlx::query_as(Self::TRIGGER_WEBHOOKS_SQL)
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
            let webhooks = receiving(&listed, ALARM_RAISED);
            let deliveries: Vec<TestDelivery> = webhooks
                .iter()
                .map(|(webhook, enabled)| TestDelivery {
                    id: DeliveryId::generate(),
                    webhook_id: webhook.clone(),
                    status: if *enabled { "pending" } else { "skipped" },
                })
                .collect();
            if !deliveries.is_empty() {
                let mut query = sqlx::query(sqlx::AssertSqlSafe(self.insert_deliveries_sql(deliveries.len())));
                for delivery in &deliveries {
                    let due = (delivery.status == "pending").then_some(now);
                    query = query
                        .bind(&delivery.id)
                        .bind(org)
                        .bind(&event_id)
                        .bind(&delivery.webhook_id)
                        .bind(delivery.status)
                        .bind(due)
                        .bind(None::<String>)
                        .bind(None::<Millis>)
                        .bind(now)
                        .bind(now);
                }
                query.execute(&mut *tx).await?;
            }
            let pending = deliveries.iter().any(|d| d.status == "pending");
            if pending {
                pool.announce_deliveries(&mut tx).await?;
            }
            tx.commit().await?;
            (TestFired { event_id: event_id.clone(), built_from, deliveries }, pending)
        });
        if pending {
            self.wake_dispatcher();
        }
        Ok(fired)
    }
}
