//! An alarm's history (every transition, with its cause) and acknowledging an alarm, which
//! writes its state change, its `alarm.acknowledged` event, one delivery per attached webhook
//! and its history row in one transaction, like ingest does.

use serde::Serialize;
use serde_json::{Value, json};

use super::alarms::{TriggerWebhook, receiving};
use super::{Store, StoreError, StoreResult, WritePool, on_db};
use crate::domain::event::ALARM_ACKNOWLEDGED;
use crate::domain::time::{Millis, as_rfc3339, now_ms, rfc3339};
use crate::domain::{AlarmId, DeliveryId, EventId, HistoryId, MessageId, OrgId, UserId};

/// Who made a change through the API or the UI.
#[derive(Debug, Clone)]
pub enum Actor {
    User { id: UserId, email: String },
    ApiToken,
}

/// One transition of an alarm.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct HistoryEntry {
    pub state: String,
    #[serde(serialize_with = "as_rfc3339::serialize")]
    pub at: Millis,
    /// `message`, `user`, `api_token`, `timer` (a duration) or `offline_timer` (a no_data
    /// trigger's silence).
    pub cause: String,
    pub message_id: Option<MessageId>,
    pub user_id: Option<UserId>,
    pub user_email: Option<String>,
    pub note: Option<String>,
    pub event_id: Option<EventId>,
}

/// The longest acknowledgement note.
pub const MAX_NOTE_CHARS: usize = 500;

#[derive(sqlx::FromRow)]
struct AckedRow {
    state: String,
    severity: String,
    raised_at: Millis,
    cleared_at: Option<Millis>,
    trigger_id: String,
    trigger_name: String,
    device_type_id: String,
    device_type_name: String,
    device_id: String,
    device_name: String,
}

impl Store {
    /// A multi-row insert of `rows` history entries, bound in this order per row: id, org_id,
    /// alarm_id, state, at, cause, message_id, user_id, user_email, note, event_id.
    pub(super) fn insert_history_sql(&self, rows: usize) -> String {
        format!(
            "INSERT INTO alarm_history (id, org_id, alarm_id, state, at, cause, message_id, user_id, user_email,
                                        note, event_id) VALUES {}",
            self.params().rows(rows, 11)
        )
    }

    /// The alarm's transitions, oldest first.
    pub async fn alarm_history(
        &self,
        org: &OrgId,
        alarm: &AlarmId,
    ) -> StoreResult<Vec<HistoryEntry>> {
        Ok(on_db!(self, pool => {
            sqlx::query_as(
                "SELECT state, at, cause, message_id, user_id, user_email, note, event_id FROM alarm_history
                 WHERE org_id = $1 AND alarm_id = $2 ORDER BY id",
            )
            .bind(org)
            .bind(alarm)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Acknowledges a raised alarm. `Conflict` when it is not raised (already acknowledged, or
    /// cleared); `NotFound` for an id of no alarm of the organization.
    pub async fn acknowledge_alarm(
        &self,
        org: &OrgId,
        id: &AlarmId,
        by: &Actor,
        note: Option<&str>,
    ) -> StoreResult<EventId> {
        let now = now_ms();
        let (user_id, email, cause) = match by {
            Actor::User { id, email } => (Some(id), Some(email.as_str()), "user"),
            Actor::ApiToken => (None, None, "api_token"),
        };
        let event_id = EventId::generate();
        let pending = on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let changed = sqlx::query(
                "UPDATE alarms SET state = 'acknowledged', acknowledged_at = $3, acknowledged_by = $4,
                        acknowledged_email = $5, acknowledge_note = $6, updated_at = $3
                 WHERE org_id = $1 AND id = $2 AND state = 'raised'",
            )
            .bind(org)
            .bind(id)
            .bind(now)
            .bind(user_id)
            .bind(email)
            .bind(note)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            let row: Option<AckedRow> = sqlx::query_as(
                "SELECT a.state, t.severity, a.raised_at, a.cleared_at, t.id AS trigger_id, t.name AS trigger_name,
                        dt.id AS device_type_id, dt.name AS device_type_name, d.id AS device_id, d.name AS device_name
                 FROM alarms a JOIN alarm_triggers t ON t.id = a.trigger_id JOIN devices d ON d.id = a.device_id
                 JOIN device_types dt ON dt.id = d.device_type_id
                 WHERE a.org_id = $1 AND a.id = $2",
            )
            .bind(org)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            let row = row.ok_or(StoreError::NotFound)?;
            if changed == 0 {
                return Err(StoreError::Conflict {
                    field: "state",
                    message: format!(
                        "This alarm is {}, so there is nothing to acknowledge; only a raised alarm can be.",
                        row.state
                    ),
                });
            }
            // The message that raised it, as the alarm's other events carry it.
            let raised_by: Option<(String, String, String, Millis)> = sqlx::query_as(
                "SELECT m.id, m.message_type, m.payload, m.received_at FROM alarm_history h
                 JOIN messages m ON m.id = h.message_id
                 WHERE h.alarm_id = $1 AND h.state = 'raised' ORDER BY h.id DESC LIMIT 1",
            )
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            let message = raised_by.map(|(id, message_type, payload, received_at)| json!({
                "id": id,
                "message_type": message_type,
                "received_at": rfc3339(received_at),
                "payload": serde_json::from_str::<Value>(&payload).unwrap_or(Value::Null),
            }));
            let body = json!({
                "id": event_id,
                "type": ALARM_ACKNOWLEDGED,
                "created_at": rfc3339(now),
                "data": {
                    "alarm": {
                        "id": id,
                        "state": "acknowledged",
                        "severity": row.severity,
                        "raised_at": rfc3339(row.raised_at),
                        "cleared_at": row.cleared_at.map(rfc3339),
                    },
                    "trigger": { "id": row.trigger_id, "name": row.trigger_name },
                    "device_type": { "id": row.device_type_id, "name": row.device_type_name },
                    "device": { "id": row.device_id, "name": row.device_name },
                    "message": message,
                    "acknowledged_by": user_id.map(|user| json!({ "id": user, "email": email })),
                    "acknowledged_at": rfc3339(now),
                    "note": note,
                },
            });
            let body = serde_json::to_vec(&body).expect("a JSON value serialises");
            sqlx::query(sqlx::AssertSqlSafe(self.insert_events_sql(1)))
                .bind(&event_id)
                .bind(org)
                .bind(ALARM_ACKNOWLEDGED)
                .bind(id)
                .bind(body)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            let listed: Vec<TriggerWebhook> = sqlx::query_as(Self::TRIGGER_WEBHOOKS_SQL)
                .bind(&row.trigger_id)
                .fetch_all(&mut *tx)
                .await?;
            let webhooks = receiving(&listed, ALARM_ACKNOWLEDGED);
            if !webhooks.is_empty() {
                let mut query = sqlx::query(sqlx::AssertSqlSafe(self.insert_deliveries_sql(webhooks.len())));
                for (webhook, enabled) in &webhooks {
                    let (status, due) = if *enabled { ("pending", Some(now)) } else { ("skipped", None) };
                    query = query
                        .bind(DeliveryId::generate())
                        .bind(org)
                        .bind(&event_id)
                        .bind(webhook)
                        .bind(status)
                        .bind(due)
                        .bind(None::<String>)
                        .bind(None::<Millis>)
                        .bind(now)
                        .bind(now);
                }
                query.execute(&mut *tx).await?;
            }
            sqlx::query(sqlx::AssertSqlSafe(self.insert_history_sql(1)))
                .bind(HistoryId::generate())
                .bind(org)
                .bind(id)
                .bind("acknowledged")
                .bind(now)
                .bind(cause)
                .bind(None::<MessageId>)
                .bind(user_id)
                .bind(email)
                .bind(note)
                .bind(&event_id)
                .execute(&mut *tx)
                .await?;
            let pending = webhooks.iter().any(|(_, enabled)| *enabled);
            if pending {
                pool.announce_deliveries(&mut tx).await?;
            }
            tx.commit().await?;
            pending
        });
        if pending {
            self.wake_dispatcher();
        }
        Ok(event_id)
    }
}
