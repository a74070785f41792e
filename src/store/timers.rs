//! Duration timers: a trigger with `for_seconds` raises its alarm when the condition has held
//! that long, even when no message comes at the deadline.
//!
//! Ingest starts a timer when the condition becomes true and stops it when a message breaks it
//! (in its own transaction). `fire_due_timers` claims the due ones by `due_at` (an index range),
//! on PostgreSQL `FOR UPDATE SKIP LOCKED` so that nodes sharing the database never claim the
//! same timer, and raises each alarm with its event, deliveries and history in one transaction,
//! deleting the timer: a timer fires once, and one that was due while no node ran fires at the
//! next start.

use serde_json::{Value, json};

use super::alarms::{TriggerWebhook, receiving};
use super::triggers::{TRIGGER_SELECT, TriggerRow};
use super::{Db, Store, StoreResult, WritePool, on_db};
use crate::domain::event::ALARM_RAISED;
use crate::domain::time::{Millis, rfc3339};
use crate::domain::{
    AlarmId, DeliveryId, DeviceId, EventId, HistoryId, MessageId, OrgId, TriggerId,
};

/// Starts a trigger's timer for a device unless it runs: device, trigger, org, message,
/// started_at, due_at.
pub(super) const START_TIMER: &str =
    "INSERT INTO alarm_timers (device_id, trigger_id, org_id, message_id, started_at, due_at)
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (device_id, trigger_id) DO NOTHING";

/// Stops it: device, trigger.
pub(super) const STOP_TIMER: &str =
    "DELETE FROM alarm_timers WHERE device_id = $1 AND trigger_id = $2";

/// How many due timers one step fires at most.
pub const TIMERS_PER_STEP: i64 = 200;

#[derive(sqlx::FromRow)]
struct DueTimer {
    device_id: DeviceId,
    trigger_id: TriggerId,
    org_id: OrgId,
    message_id: MessageId,
}

#[derive(sqlx::FromRow)]
struct DeviceFacts {
    name: String,
    device_type_id: String,
    device_type_name: String,
}

impl Store {
    /// One step of the timer task: fires the timers due at `now` (at most `TIMERS_PER_STEP`)
    /// and answers how many alarms it raised. Tests call it with a `now` of their choosing.
    pub async fn fire_due_timers(&self, now: Millis) -> StoreResult<usize> {
        let claim = match self.db {
            Db::Sqlite(_) => {
                "SELECT device_id, trigger_id, org_id, message_id FROM alarm_timers
                 WHERE due_at <= $1 ORDER BY due_at LIMIT $2"
            }
            Db::Postgres(_) => {
                "SELECT device_id, trigger_id, org_id, message_id FROM alarm_timers
                 WHERE due_at <= $1 ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED"
            }
        };
        let (raised, pending) = on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let due: Vec<DueTimer> = sqlx::query_as(claim)
                .bind(now)
                .bind(TIMERS_PER_STEP)
                .fetch_all(&mut *tx)
                .await?;
            let (mut raised, mut pending) = (0, false);
            for timer in &due {
                sqlx::query(STOP_TIMER)
                    .bind(&timer.device_id)
                    .bind(&timer.trigger_id)
                    .execute(&mut *tx)
                    .await?;
                let trigger: Option<TriggerRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "{TRIGGER_SELECT} WHERE t.id = $1 AND t.enabled AND t.for_seconds > 0"
                )))
                .bind(&timer.trigger_id)
                .fetch_optional(&mut *tx)
                .await?;
                let device: Option<DeviceFacts> = sqlx::query_as(
                    "SELECT d.name, d.device_type_id, dt.name AS device_type_name FROM devices d
                     JOIN device_types dt ON dt.id = d.device_type_id WHERE d.id = $1",
                )
                .bind(&timer.device_id)
                .fetch_optional(&mut *tx)
                .await?;
                // A trigger disabled or made immediate meanwhile raises nothing.
                let (Some(trigger), Some(device)) = (trigger, device) else { continue };
                let alarm_id: Option<AlarmId> = sqlx::query_scalar(
                    "INSERT INTO alarms (id, org_id, device_id, trigger_id, state, raised_at, cleared_at, updated_at)
                     VALUES ($1, $2, $3, $4, 'raised', $5, NULL, $5)
                     ON CONFLICT (device_id, trigger_id) DO UPDATE SET state = 'raised',
                         raised_at = excluded.raised_at, cleared_at = NULL, updated_at = excluded.updated_at,
                         acknowledged_at = NULL, acknowledged_by = NULL, acknowledged_email = NULL,
                         acknowledge_note = NULL
                     WHERE alarms.state = 'cleared'
                     RETURNING id",
                )
                .bind(AlarmId::generate())
                .bind(&timer.org_id)
                .bind(&timer.device_id)
                .bind(&timer.trigger_id)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(alarm_id) = alarm_id else { continue };
                let message: Option<(String, String, Millis)> = sqlx::query_as(
                    "SELECT message_type, payload, received_at FROM messages WHERE id = $1",
                )
                .bind(&timer.message_id)
                .fetch_optional(&mut *tx)
                .await?;
                let event_id = EventId::generate();
                let body = json!({
                    "id": event_id,
                    "type": ALARM_RAISED,
                    "created_at": rfc3339(now),
                    "data": {
                        "alarm": {
                            "id": alarm_id,
                            "state": "raised",
                            "severity": trigger.severity,
                            "raised_at": rfc3339(now),
                            "cleared_at": Value::Null,
                        },
                        "trigger": {
                            "id": trigger.id,
                            "name": trigger.name,
                            "condition": trigger.condition(),
                            "for_seconds": trigger.for_seconds,
                        },
                        "device_type": { "id": device.device_type_id, "name": device.device_type_name },
                        "device": { "id": timer.device_id, "name": device.name },
                        "message": message.map(|(message_type, payload, received_at)| json!({
                            "id": timer.message_id,
                            "message_type": message_type,
                            "received_at": rfc3339(received_at),
                            "payload": serde_json::from_str::<Value>(&payload).unwrap_or(Value::Null),
                        })),
                    },
                });
                let body = serde_json::to_vec(&body).expect("a JSON value serialises");
                sqlx::query(sqlx::AssertSqlSafe(self.insert_events_sql(1)))
                    .bind(&event_id)
                    .bind(&timer.org_id)
                    .bind(ALARM_RAISED)
                    .bind(&alarm_id)
                    .bind(body)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                let listed: Vec<TriggerWebhook> = sqlx::query_as(Self::TRIGGER_WEBHOOKS_SQL)
                    .bind(&timer.trigger_id)
                    .fetch_all(&mut *tx)
                    .await?;
                let webhooks = receiving(&listed, ALARM_RAISED);
                if !webhooks.is_empty() {
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(self.insert_deliveries_sql(webhooks.len())));
                    for (webhook, enabled) in &webhooks {
                        let (status, due) = if *enabled { ("pending", Some(now)) } else { ("skipped", None) };
                        pending |= *enabled;
                        query = query
                            .bind(DeliveryId::generate())
                            .bind(&timer.org_id)
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
                    .bind(&timer.org_id)
                    .bind(&alarm_id)
                    .bind("raised")
                    .bind(now)
                    .bind("timer")
                    .bind(&timer.message_id)
                    .bind(None::<String>)
                    .bind(None::<String>)
                    .bind(None::<String>)
                    .bind(&event_id)
                    .execute(&mut *tx)
                    .await?;
                raised += 1;
            }
            if pending {
                pool.announce_deliveries(&mut tx).await?;
            }
            tx.commit().await?;
            (raised, pending)
        });
        if pending {
            self.wake_dispatcher();
        }
        Ok(raised)
    }

    /// Drops a trigger's running timers, when its condition or duration changed.
    pub async fn stop_trigger_timers(&self, org: &OrgId, trigger: &TriggerId) -> StoreResult<()> {
        on_db!(self, pool => {
            sqlx::query("DELETE FROM alarm_timers WHERE org_id = $1 AND trigger_id = $2")
                .bind(org)
                .bind(trigger)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}
