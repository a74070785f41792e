//! Device-offline triggers (`kind = 'no_data'`): an alarm raised by a device's silence.
//!
//! Each (device, enabled no_data trigger of its type) has a row in `offline_watches` with the
//! time its alarm is due. Ingest pushes a device's rows forward with one statement per batch
//! (`push_watches_sql`, along the primary key); `fire_due_offline` reads only the rows that are
//! due, through the partial index `offline_watches_due`, so a quiet fleet of any size costs one
//! empty index range per tick. It claims them with `FOR UPDATE SKIP LOCKED` on PostgreSQL (the
//! row lock is the lease: nodes sharing the database never claim the same row), raises each
//! alarm with its event, deliveries and history in one transaction, and sets the row's
//! `due_at` to NULL, so it fires once until the next message pushes it again. Rows are in the
//! database, so a device silent across a restart is raised at the next start.
//!
//! A device counts from the later of its creation and its trigger's creation (or last change
//! of what it watches): the rows are written when either is created, due `silent_for_seconds`
//! after.

use serde_json::{Value, json};

use super::alarms::{TriggerWebhook, receiving};
use super::{Db, Store, StoreResult, WritePool, on_db};
use crate::domain::event::ALARM_RAISED;
use crate::domain::time::{Millis, now_ms, rfc3339};
use crate::domain::{
    AlarmId, DeliveryId, DeviceId, DeviceTypeId, EventId, HistoryId, OrgId, TriggerId,
};

/// How many due rows one step fires at most.
pub const OFFLINE_PER_STEP: i64 = 200;

/// The rows a new device of a type gets: device, org, device type, now.
pub(super) const WATCH_NEW_DEVICE: &str = "INSERT INTO offline_watches (device_id, trigger_id, org_id, message_type_id, silent_ms, due_at)
     SELECT $1, t.id, $2, t.message_type_id, t.silent_for_seconds * 1000, $4 + t.silent_for_seconds * 1000
     FROM alarm_triggers t
     WHERE t.org_id = $2 AND t.device_type_id = $3 AND t.kind = 'no_data' AND t.enabled";

/// Pushes the due time of every watch that `pairs` messages count for: bound `now`, then the
/// batch's devices, then for each (device, message type id) the text `device/type`.
pub(super) fn push_watches_sql(devices: usize, pairs: usize) -> String {
    let list = |from: usize, n: usize| {
        (from..from + n)
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "UPDATE offline_watches SET due_at = $1 + silent_ms
         WHERE device_id IN ({}) AND (message_type_id IS NULL OR device_id || '/' || message_type_id IN ({}))",
        list(2, devices),
        list(2 + devices, pairs)
    )
}

#[derive(sqlx::FromRow)]
struct DueWatch {
    device_id: DeviceId,
    trigger_id: TriggerId,
    org_id: OrgId,
}

#[derive(sqlx::FromRow)]
struct OfflineFacts {
    trigger_name: String,
    severity: String,
    silent_for_seconds: i64,
    message_type: Option<String>,
    device_name: String,
    device_type_id: DeviceTypeId,
    device_type_name: String,
}

impl Store {
    /// Rewrites a trigger's watches: none unless it is an enabled no_data trigger, else one per
    /// device of its type, due `silent_for_seconds` from now.
    pub async fn sync_offline_watches(&self, org: &OrgId, trigger: &TriggerId) -> StoreResult<()> {
        on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query("DELETE FROM offline_watches WHERE org_id = $1 AND trigger_id = $2")
                .bind(org)
                .bind(trigger)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO offline_watches (device_id, trigger_id, org_id, message_type_id, silent_ms, due_at)
                 SELECT d.id, t.id, t.org_id, t.message_type_id, t.silent_for_seconds * 1000,
                        $3 + t.silent_for_seconds * 1000
                 FROM alarm_triggers t JOIN devices d ON d.device_type_id = t.device_type_id
                 WHERE t.org_id = $1 AND t.id = $2 AND t.kind = 'no_data' AND t.enabled",
            )
            .bind(org)
            .bind(trigger)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// One step of the timer task for offline triggers: raises the alarms due at `now` (at most
    /// `OFFLINE_PER_STEP`) and answers how many it raised. Tests call it with a `now` of their
    /// choosing.
    pub async fn fire_due_offline(&self, now: Millis) -> StoreResult<usize> {
        let claim = match self.db {
            Db::Sqlite(_) => {
                "SELECT device_id, trigger_id, org_id FROM offline_watches
                 WHERE due_at <= $1 ORDER BY due_at LIMIT $2"
            }
            Db::Postgres(_) => {
                "SELECT device_id, trigger_id, org_id FROM offline_watches
                 WHERE due_at <= $1 ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED"
            }
        };
        let (raised, pending) = on_db!(self, pool => {
            // At rest nothing is due: one read of the index's first entry (written to match the
            // partial index exactly, so no planner estimate can turn it into a scan), and no
            // write transaction, which on SQLite would take the writer lock every tick.
            let next: Option<i64> = sqlx::query_scalar(
                "SELECT due_at FROM offline_watches WHERE due_at IS NOT NULL ORDER BY due_at LIMIT 1",
            )
            .fetch_optional(pool)
            .await?;
            if next.is_none_or(|due| due > now) {
                return Ok(0);
            }
            let mut tx = pool.begin_write().await?;
            let due: Vec<DueWatch> = sqlx::query_as(claim)
                .bind(now)
                .bind(OFFLINE_PER_STEP)
                .fetch_all(&mut *tx)
                .await?;
            let (mut raised, mut pending) = (0, false);
            for watch in &due {
                sqlx::query("UPDATE offline_watches SET due_at = NULL WHERE device_id = $1 AND trigger_id = $2")
                    .bind(&watch.device_id)
                    .bind(&watch.trigger_id)
                    .execute(&mut *tx)
                    .await?;
                let facts: Option<OfflineFacts> = sqlx::query_as(
                    "SELECT t.name AS trigger_name, t.severity, t.silent_for_seconds, m.name AS message_type,
                            d.name AS device_name, d.device_type_id, dt.name AS device_type_name
                     FROM alarm_triggers t LEFT JOIN message_types m ON m.id = t.message_type_id
                     JOIN devices d ON d.id = $2 AND d.device_type_id = t.device_type_id
                     JOIN device_types dt ON dt.id = d.device_type_id
                     WHERE t.id = $1 AND t.enabled AND t.kind = 'no_data'",
                )
                .bind(&watch.trigger_id)
                .bind(&watch.device_id)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(facts) = facts else { continue };
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
                .bind(&watch.org_id)
                .bind(&watch.device_id)
                .bind(&watch.trigger_id)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                // Already raised (a change of the trigger re-armed its watches): nothing new.
                let Some(alarm_id) = alarm_id else { continue };
                let event_id = EventId::generate();
                let body = json!({
                    "id": event_id,
                    "type": ALARM_RAISED,
                    "created_at": rfc3339(now),
                    "data": {
                        "alarm": {
                            "id": alarm_id,
                            "state": "raised",
                            "severity": facts.severity,
                            "raised_at": rfc3339(now),
                            "cleared_at": Value::Null,
                        },
                        "trigger": {
                            "id": watch.trigger_id,
                            "name": facts.trigger_name,
                            "kind": "no_data",
                            "condition": Value::Null,
                            "silent_for_seconds": facts.silent_for_seconds,
                            "message_type": facts.message_type,
                        },
                        "device_type": { "id": facts.device_type_id, "name": facts.device_type_name },
                        "device": { "id": watch.device_id, "name": facts.device_name },
                        "message": Value::Null,
                    },
                });
                let body = serde_json::to_vec(&body).expect("a JSON value serialises");
                sqlx::query(sqlx::AssertSqlSafe(self.insert_events_sql(1)))
                    .bind(&event_id)
                    .bind(&watch.org_id)
                    .bind(ALARM_RAISED)
                    .bind(&alarm_id)
                    .bind(body)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                let listed: Vec<TriggerWebhook> = sqlx::query_as(Self::TRIGGER_WEBHOOKS_SQL)
                    .bind(&watch.trigger_id)
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
                            .bind(&watch.org_id)
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
                    .bind(&watch.org_id)
                    .bind(&alarm_id)
                    .bind("raised")
                    .bind(now)
                    .bind("offline_timer")
                    .bind(None::<String>)
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
}
