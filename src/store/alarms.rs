//! The ingest transaction (the outbox) and the alarms and events it writes.
//!
//! One message is one write transaction: the message, the device's last-seen time, each alarm
//! that changes state, its event (the body serialised once) and one delivery per attached
//! webhook. Nothing is sent from here; the dispatcher picks the deliveries up after the commit.

use std::collections::HashMap;

use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;

use super::idempotency::{ClaimKeys, KeyClaim};
use super::offline::push_watches_sql;
use super::timers::{START_TIMER, STOP_TIMER};
use super::triggers::{TRIGGER_SELECT, TriggerRow};
use super::{
    Claimed, Delivery, LeaseOffer, Page, Paged, Store, StoreError, StoreResult, WritePool, on_db,
    placeholders,
};
use crate::domain::alarm::TriggerKind;
use crate::domain::condition::{Rule, TimerStep};
use crate::domain::event::AlarmEvent;
use crate::domain::event_filter::{EventFilter, EventTypes};
use crate::domain::message_key::MessageKey;
use crate::domain::time::{Millis, as_rfc3339, now_ms};
use crate::domain::{
    AlarmId, DeliveryId, DeviceId, DeviceTypeId, EventId, HistoryId, MessageId, MessageTypeId,
    OrgId, TriggerId, WebhookId,
};
use crate::store::{Device, MessageType};

/// A message to store: its device (as authenticated, with the token's hash), its type, and
/// its payload, already checked against the type's schema.
pub struct NewMessage<'a> {
    pub device: &'a Device,
    pub token_hash: &'a str,
    pub message_type: &'a MessageType,
    pub payload: &'a Value,
    /// The device's own id for the message, if it sent one.
    pub key: Option<&'a MessageKey>,
}

/// The enabled triggers a (device type, message type) is checked against, each with its rule:
/// None for a no_data trigger, which a message only clears.
type TriggersByType = HashMap<(DeviceTypeId, MessageTypeId), Vec<(TriggerRow, Option<Rule>)>>;

/// Messages per multi-row INSERT (5 parameters each).
const MESSAGES_PER_INSERT: usize = 500;

/// What one ingested message did.
#[derive(Debug, Clone, Serialize)]
pub struct Ingested {
    pub id: MessageId,
    /// The events the message caused (alarms raised or cleared), in trigger order.
    pub events: Vec<EventId>,
    /// The device sent this message id before: `id` is the original message's, and nothing
    /// was stored or evaluated.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub duplicate: bool,
}

impl Ingested {
    fn duplicate(original: MessageId) -> Self {
        Self {
            id: original,
            events: Vec::new(),
            duplicate: true,
        }
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Alarm {
    pub id: AlarmId,
    pub state: String,
    pub severity: String,
    pub device_id: DeviceId,
    pub device_name: String,
    pub device_type_id: DeviceTypeId,
    pub trigger_id: TriggerId,
    pub trigger_name: String,
    #[serde(serialize_with = "as_rfc3339::serialize")]
    pub raised_at: Millis,
    #[serde(serialize_with = "as_rfc3339::option::serialize")]
    pub cleared_at: Option<Millis>,
    #[serde(serialize_with = "as_rfc3339::option::serialize")]
    pub acknowledged_at: Option<Millis>,
    /// The email of the user who acknowledged it (none for an API token).
    pub acknowledged_by: Option<String>,
    pub acknowledge_note: Option<String>,
    #[serde(serialize_with = "as_rfc3339::serialize")]
    pub updated_at: Millis,
    /// The event of the alarm's latest state change.
    pub latest_event_id: Option<EventId>,
}

const ALARM_SELECT: &str = "SELECT a.id, a.state, t.severity, a.device_id, d.name AS device_name, d.device_type_id, \
     a.trigger_id, t.name AS trigger_name, a.raised_at, a.cleared_at, a.acknowledged_at, \
     a.acknowledged_email AS acknowledged_by, a.acknowledge_note, a.updated_at, \
     (SELECT max(e.id) FROM events e WHERE e.alarm_id = a.id) AS latest_event_id \
     FROM alarms a JOIN devices d ON d.id = a.device_id JOIN alarm_triggers t ON t.id = a.trigger_id";

#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub id: EventId,
    #[serde(rename = "type")]
    pub event_type: String,
    pub alarm_id: Option<AlarmId>,
    #[serde(serialize_with = "as_rfc3339::serialize")]
    pub created_at: Millis,
    /// The exact bytes every delivery sends.
    #[serde(skip)]
    pub body: Vec<u8>,
    pub deliveries: Vec<Delivery>,
}

impl Event {
    pub fn body_json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: EventId,
    event_type: String,
    alarm_id: Option<AlarmId>,
    created_at: Millis,
    body: Vec<u8>,
}

/// What a list of alarms is narrowed to; `None` is any.
#[derive(Debug, Clone, Default)]
pub struct AlarmFilter {
    /// `raised`, `acknowledged` or `cleared`.
    pub state: Option<String>,
    pub severity: Option<String>,
    pub device_type: Option<DeviceTypeId>,
    pub device: Option<DeviceId>,
}

/// An alarm's state change found while ingesting.
struct Transition {
    alarm_id: AlarmId,
    raised: bool,
    raised_at: Millis,
    cleared_at: Option<Millis>,
}

impl Store {
    /// Stores messages that passed their schema and applies each device type's enabled
    /// triggers for the message's type, all in ONE transaction, in the order given (a group
    /// commit: concurrent requests share the cost of a transaction). A message whose device was
    /// deleted, or whose token was replaced, since it was authenticated gets `None`.
    ///
    /// The statements are per batch, not per message, except where an alarm changes state: the
    /// alarms' states are read once, each message is evaluated against them in order, and only
    /// a change is written — conditionally, so a change made meanwhile by another node is never
    /// made twice.
    ///
    /// With a `lease` offer from this process's dispatcher, each delivery it has a slot for is
    /// written already leased to it and returned with its body, to be sent without a claim; the
    /// rest are written due, for any dispatcher to claim.
    pub async fn ingest_batch(
        &self,
        messages: &[NewMessage<'_>],
        mut lease: Option<&mut dyn LeaseOffer>,
    ) -> StoreResult<(Vec<Option<Ingested>>, Vec<(Claimed, Bytes)>)> {
        let now = now_ms();
        // Deliveries left for a claim, and those leased to this process.
        let mut unleased = 0usize;
        let mut leased = Vec::new();
        let mut devices: Vec<&DeviceId> = Vec::new();
        for message in messages {
            if !devices.contains(&&message.device.id) {
                devices.push(&message.device.id);
            }
        }
        // The devices as `$1, …` (when they are the only parameters) and `$2, …` (after one).
        let (device_list, devices_after_one) = (
            placeholders(1, devices.len()),
            placeholders(2, devices.len()),
        );
        let results = on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let mut query =
                sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT id, token_hash FROM devices WHERE id IN ({device_list})")));
            for device in &devices {
                query = query.bind(*device);
            }
            let tokens: Vec<(DeviceId, String)> = query.fetch_all(&mut *tx).await?;
            // Each accepted message's id; None for a device that lost its token meanwhile.
            let mut ids: Vec<Option<MessageId>> = messages
                .iter()
                .map(|m| {
                    tokens
                        .iter()
                        .any(|(id, hash)| *id == m.device.id && hash == m.token_hash)
                        .then(MessageId::generate)
                })
                .collect();
            let claims = messages.iter().zip(&ids).enumerate().filter_map(|(index, (m, id))| {
                Some(KeyClaim { index, device: &m.device.id, key: m.key?, message_id: id.as_ref()? })
            }).collect();
            let mut originals: HashMap<usize, MessageId> = tx.claim_keys(claims, now).await?.into_iter().collect();
            for index in originals.keys() {
                ids[*index] = None;
            }
            let accepted: Vec<(&NewMessage<'_>, &MessageId)> =
                messages.iter().zip(&ids).filter_map(|(m, id)| id.as_ref().map(|id| (m, id))).collect();
            for chunk in accepted.chunks(MESSAGES_PER_INSERT) {
                let rows = self.params().rows(chunk.len(), 6);
                let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO messages (id, org_id, device_id, message_type, payload, received_at) VALUES {rows}"
                )));
                for (message, id) in chunk {
                    query = query
                        .bind(*id)
                        .bind(&message.device.org_id)
                        .bind(&message.device.id)
                        .bind(&message.message_type.name)
                        .bind(message.payload.to_string())
                        .bind(now);
                }
                query.execute(&mut *tx).await?;
            }

            let mut triggers: TriggersByType = HashMap::new();
            for (message, _) in &accepted {
                let key = (message.device.device_type_id.clone(), message.message_type.id.clone());
                if let std::collections::hash_map::Entry::Vacant(entry) = triggers.entry(key) {
                    let rows: Vec<TriggerRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                        "{TRIGGER_SELECT} WHERE t.org_id = $1 AND t.device_type_id = $2
                         AND (t.message_type_id = $3 OR (t.kind = 'no_data' AND t.message_type_id IS NULL))
                         AND t.enabled ORDER BY t.id"
                    )))
                    .bind(&message.device.org_id)
                    .bind(&message.device.device_type_id)
                    .bind(&message.message_type.id)
                    .fetch_all(&mut *tx)
                    .await?;
                    entry.insert(rows.into_iter().map(|row| {
                        let rule = (row.kind() == TriggerKind::Threshold).then(|| row.rule());
                        (row, rule)
                    }).collect());
                }
            }
            // The offline watches these messages count for move on, before the alarms are read:
            // on PostgreSQL the rows stay locked until commit, so a poller skips them, and one
            // it fired first is seen raised here and cleared.
            let counted: Vec<String> = {
                let mut pairs: Vec<String> = Vec::new();
                for (message, _) in &accepted {
                    let key = (message.device.device_type_id.clone(), message.message_type.id.clone());
                    if triggers[&key].iter().any(|(_, rule)| rule.is_none()) {
                        let pair = format!("{}/{}", message.device.id, message.message_type.id);
                        if !pairs.contains(&pair) {
                            pairs.push(pair);
                        }
                    }
                }
                pairs
            };
            if !counted.is_empty() {
                let mut query = sqlx::query(sqlx::AssertSqlSafe(push_watches_sql(devices.len(), counted.len()))).bind(now);
                for device in &devices {
                    query = query.bind(*device);
                }
                for pair in &counted {
                    query = query.bind(pair);
                }
                query.execute(&mut *tx).await?;
            }
            // Whether each (device, trigger) alarm is raised now; missing means never raised.
            let mut raised: HashMap<(DeviceId, TriggerId), bool> = HashMap::new();
            if triggers.values().any(|t| !t.is_empty()) {
                let mut query = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT device_id, trigger_id, state <> 'cleared' FROM alarms WHERE device_id IN ({device_list})"
                )));
                for device in &devices {
                    query = query.bind(*device);
                }
                let states: Vec<(DeviceId, TriggerId, bool)> = query.fetch_all(&mut *tx).await?;
                raised.extend(states.into_iter().map(|(device, trigger, up)| ((device, trigger), up)));
            }

            let mut webhooks: HashMap<TriggerId, Vec<TriggerWebhook>> = HashMap::new();
            // The batch's events and deliveries, written after the loop in multi-row statements.
            let mut new_events = Vec::new();
            let mut new_deliveries = Vec::new();
            let mut new_history = Vec::new();
            let mut timer_steps = Vec::new();
            let mut results = Vec::with_capacity(messages.len());
            for (index, (message, id)) in messages.iter().zip(&ids).enumerate() {
                let Some(message_id) = id else {
                    results.push(originals.remove(&index).map(Ingested::duplicate));
                    continue;
                };
                let (device, message_type, payload) = (message.device, message.message_type, message.payload);
                let key = (device.device_type_id.clone(), message_type.id.clone());
                let mut events = Vec::new();
                for (trigger, rule) in &triggers[&key] {
                    let state = raised.entry((device.id.clone(), trigger.id.clone())).or_insert(false);
                    let (change, timer) = match rule {
                        Some(rule) => rule.step(*state, payload),
                        // A no_data trigger's alarm clears on the device's next message.
                        None => ((*state).then_some(false), TimerStep::Keep),
                    };
                    if timer != TimerStep::Keep {
                        let for_seconds = rule.as_ref().map_or(0, |rule| rule.for_seconds);
                        timer_steps.push((&device.org_id, &device.id, &trigger.id, timer, message_id, for_seconds));
                    }
                    let Some(hot) = change else { continue };
                    *state = hot;
                    let transition = if hot {
                        let id: Option<AlarmId> = sqlx::query_scalar(
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
                        .bind(&device.org_id)
                        .bind(&device.id)
                        .bind(&trigger.id)
                        .bind(now)
                        .fetch_optional(&mut *tx)
                        .await?;
                        id.map(|alarm_id| Transition { alarm_id, raised: true, raised_at: now, cleared_at: None })
                    } else {
                        let row: Option<(AlarmId, Millis)> = sqlx::query_as(
                            "UPDATE alarms SET state = 'cleared', cleared_at = $3, updated_at = $3
                             WHERE device_id = $1 AND trigger_id = $2 AND state IN ('raised', 'acknowledged')
                             RETURNING id, raised_at",
                        )
                        .bind(&device.id)
                        .bind(&trigger.id)
                        .bind(now)
                        .fetch_optional(&mut *tx)
                        .await?;
                        row.map(|(alarm_id, raised_at)| Transition { alarm_id, raised: false, raised_at, cleared_at: Some(now) })
                    };
                    // None: another node made this change first; it wrote the event.
                    let Some(transition) = transition else { continue };
                    let event_id = EventId::generate();
                    let event = AlarmEvent {
                        event_id: &event_id,
                        created_at: now,
                        alarm_id: &transition.alarm_id,
                        raised: transition.raised,
                        severity: &trigger.severity,
                        raised_at: transition.raised_at,
                        cleared_at: transition.cleared_at,
                        trigger_id: &trigger.id,
                        trigger_name: &trigger.name,
                        condition: rule.as_ref().map_or(Value::Null, |rule| serde_json::to_value(&rule.condition).unwrap_or(Value::Null)),
                        silent_for_seconds: trigger.silent_for_seconds,
                        device_type_id: &device.device_type_id,
                        device_type_name: &device.device_type_name,
                        device_id: &device.id,
                        device_name: &device.name,
                        message_id,
                        message_type: &message_type.name,
                        received_at: now,
                        payload,
                    };
                    let body = Bytes::from(event.body());
                    new_events.push((event_id.clone(), &device.org_id, event.event_type(), transition.alarm_id.clone(), body.clone()));
                    let state = if transition.raised { "raised" } else { "cleared" };
                    new_history.push((&device.org_id, transition.alarm_id.clone(), state, message_id, event_id.clone()));
                    if !webhooks.contains_key(&trigger.id) {
                        let list: Vec<TriggerWebhook> = sqlx::query_as(Self::TRIGGER_WEBHOOKS_SQL)
                            .bind(&trigger.id)
                            .fetch_all(&mut *tx)
                            .await?;
                        webhooks.insert(trigger.id.clone(), list);
                    }
                    for (webhook, enabled) in &receiving(&webhooks[&trigger.id], event.event_type()) {
                        let id = DeliveryId::generate();
                        // A disabled webhook's delivery is kept as skipped, so it can be replayed.
                        let (status, due, owner, lease_end) = if !*enabled {
                            ("skipped", None, None, None)
                        } else if let Some(offer) = lease.as_deref_mut() && offer.take(webhook) {
                            let end = now + offer.lease_ms();
                            leased.push((
                                Claimed {
                                    id: id.clone(),
                                    org_id: device.org_id.clone(),
                                    event_id: event_id.clone(),
                                    webhook_id: webhook.clone(),
                                    attempts: 0,
                                    queued_attempts: 0,
                                },
                                body.clone(),
                            ));
                            ("pending", Some(end), Some(offer.owner().to_owned()), Some(end))
                        } else {
                            unleased += 1;
                            ("pending", Some(now), None, None)
                        };
                        new_deliveries.push((id, &device.org_id, event_id.clone(), webhook.clone(), status, due, owner, lease_end));
                    }
                    events.push(event_id);
                }
                results.push(Some(Ingested { id: message_id.clone(), events, duplicate: false }));
            }
            for chunk in new_events.chunks(MESSAGES_PER_INSERT) {
                let mut query = sqlx::query(sqlx::AssertSqlSafe(self.insert_events_sql(chunk.len())));
                for (event_id, org_id, event_type, alarm_id, body) in chunk {
                    query = query.bind(event_id).bind(*org_id).bind(*event_type).bind(alarm_id).bind(body.as_ref()).bind(now);
                }
                query.execute(&mut *tx).await?;
            }
            for (org_id, device_id, trigger_id, step, message_id, for_seconds) in timer_steps {
                let query = if step == TimerStep::Start {
                    sqlx::query(START_TIMER).bind(device_id).bind(trigger_id).bind(org_id).bind(message_id)
                        .bind(now).bind(now + for_seconds * 1000)
                } else {
                    sqlx::query(STOP_TIMER).bind(device_id).bind(trigger_id)
                };
                query.execute(&mut *tx).await?;
            }
            for chunk in new_history.chunks(MESSAGES_PER_INSERT) {
                let mut query = sqlx::query(sqlx::AssertSqlSafe(self.insert_history_sql(chunk.len())));
                for (org_id, alarm_id, state, message_id, event_id) in chunk {
                    query = query.bind(HistoryId::generate()).bind(*org_id).bind(alarm_id).bind(*state).bind(now)
                        .bind("message").bind(*message_id).bind(None::<String>).bind(None::<String>)
                        .bind(None::<String>).bind(event_id);
                }
                query.execute(&mut *tx).await?;
            }
            for chunk in new_deliveries.chunks(MESSAGES_PER_INSERT) {
                let mut query = sqlx::query(sqlx::AssertSqlSafe(self.insert_deliveries_sql(chunk.len())));
                for (id, org_id, event_id, webhook, status, due, owner, lease_end) in chunk {
                    query = query
                        .bind(id)
                        .bind(*org_id)
                        .bind(event_id)
                        .bind(webhook)
                        .bind(*status)
                        .bind(*due)
                        .bind(owner.as_deref())
                        .bind(*lease_end)
                        .bind(now)
                        .bind(now);
                }
                query.execute(&mut *tx).await?;
            }
            let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE devices SET last_seen_at = $1 WHERE id IN ({devices_after_one})"
            )))
            .bind(now);
            for device in &devices {
                query = query.bind(*device);
            }
            query.execute(&mut *tx).await?;
            // Other nodes hear only of deliveries left for a claim: NOTIFY serialises commits.
            if unleased > 0 {
                pool.announce_deliveries(&mut tx).await?;
            }
            tx.commit().await?;
            results
        });
        if unleased > 0 {
            self.wake_dispatcher();
        }
        Ok((results, leased))
    }

    /// A multi-row insert of `rows` events, bound in this order per row: id, org_id, type,
    /// alarm_id, body, created_at.
    pub(super) fn insert_events_sql(&self, rows: usize) -> String {
        format!(
            "INSERT INTO events (id, org_id, type, alarm_id, body, created_at) VALUES {}",
            self.params().rows(rows, 6)
        )
    }

    /// The webhooks of the trigger ($1) with what an event must be to reach each: read with
    /// `TriggerWebhook` and narrowed per event by `receiving`.
    pub(super) const TRIGGER_WEBHOOKS_SQL: &str =
        "SELECT w.id, w.enabled, w.event_types, w.min_severity, t.severity
         FROM trigger_webhooks tw JOIN webhooks w ON w.id = tw.webhook_id
         JOIN alarm_triggers t ON t.id = tw.trigger_id
         WHERE tw.trigger_id = $1 ORDER BY w.id";

    /// A multi-row insert of `rows` deliveries, bound in this order per row: id, org_id,
    /// event_id, webhook_id, status, next_attempt_at, lease_owner, lease_expires_at, created_at,
    /// updated_at.
    pub(super) fn insert_deliveries_sql(&self, rows: usize) -> String {
        format!(
            "INSERT INTO deliveries (id, org_id, event_id, webhook_id, status, next_attempt_at,
                                     lease_owner, lease_expires_at, created_at, updated_at)
             VALUES {}",
            self.params().rows(rows, 10)
        )
    }

    /// Alarms newest first, narrowed by the filters that are set.
    pub async fn list_alarms(
        &self,
        org: &OrgId,
        filter: &AlarmFilter,
        page: &Page,
    ) -> StoreResult<Paged<Alarm>> {
        let rows: Vec<Alarm> = on_db!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{ALARM_SELECT} WHERE a.org_id = $1 AND ($2 IS NULL OR a.state = $2) AND a.id < $3
                 AND ($5 IS NULL OR t.severity = $5) AND ($6 IS NULL OR d.device_type_id = $6)
                 AND ($7 IS NULL OR a.device_id = $7)
                 ORDER BY a.id DESC LIMIT $4"
            )))
            .bind(org)
            .bind(filter.state.as_deref())
            .bind(page.before())
            .bind(page.fetch_limit())
            .bind(filter.severity.as_deref())
            .bind(filter.device_type.as_ref())
            .bind(filter.device.as_ref())
            .fetch_all(pool)
            .await?
        });
        Ok(page.finish(rows, |a| a.id.as_str()))
    }

    pub async fn alarm(&self, org: &OrgId, id: &AlarmId) -> StoreResult<Alarm> {
        let row: Option<Alarm> = on_db!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("{ALARM_SELECT} WHERE a.org_id = $1 AND a.id = $2")))
                .bind(org)
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        row.ok_or(StoreError::NotFound)
    }

    /// For the Alarms page: the raised ones by when they were raised, then the recently cleared.
    pub async fn alarms_overview(
        &self,
        org: &OrgId,
        limit: i64,
    ) -> StoreResult<(Vec<Alarm>, Vec<Alarm>)> {
        let (raised, cleared) = on_db!(self, pool => {
            let raised = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{ALARM_SELECT} WHERE a.org_id = $1 AND a.state IN ('raised', 'acknowledged')
                 ORDER BY a.raised_at DESC LIMIT $2"
            )))
            .bind(org)
            .bind(limit)
            .fetch_all(pool)
            .await?;
            let cleared = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{ALARM_SELECT} WHERE a.org_id = $1 AND a.state = 'cleared' ORDER BY a.updated_at DESC LIMIT $2"
            )))
            .bind(org)
            .bind(limit)
            .fetch_all(pool)
            .await?;
            (raised, cleared)
        });
        Ok((raised, cleared))
    }

    /// The webhooks of the event's trigger that got no delivery of it because their filter
    /// refuses it, each with the reason (as their filter reads now), by name.
    pub async fn filtered_out(
        &self,
        org: &OrgId,
        event: &EventId,
    ) -> StoreResult<Vec<(String, String)>> {
        let rows: Vec<(String, String, String, Option<String>, String)> = on_db!(self, pool => {
            sqlx::query_as(
                "SELECT w.name, e.type, w.event_types, w.min_severity, t.severity
                 FROM events e JOIN alarms a ON a.id = e.alarm_id
                 JOIN alarm_triggers t ON t.id = a.trigger_id
                 JOIN trigger_webhooks tw ON tw.trigger_id = t.id
                 JOIN webhooks w ON w.id = tw.webhook_id
                 WHERE e.org_id = $1 AND e.id = $2
                 AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.webhook_id = w.id)
                 ORDER BY w.name_key",
            )
            .bind(org)
            .bind(event)
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .filter_map(|(name, event_type, types, min_severity, severity)| {
                EventFilter::stored(EventTypes::from(types), min_severity.as_deref())
                    .refuses(&event_type, Some(&severity))
                    .map(|reason| (name, reason))
            })
            .collect())
    }

    pub async fn event(&self, org: &OrgId, id: &EventId) -> StoreResult<Event> {
        let row: Option<EventRow> = on_db!(self, pool => {
            sqlx::query_as("SELECT id, type AS event_type, alarm_id, created_at, body FROM events WHERE org_id = $1 AND id = $2")
                .bind(org)
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        let EventRow {
            id,
            event_type,
            alarm_id,
            created_at,
            body,
        } = row.ok_or(StoreError::NotFound)?;
        let deliveries = self.event_deliveries(org, &id).await?;
        Ok(Event {
            id,
            event_type,
            alarm_id,
            created_at,
            body,
            deliveries,
        })
    }
}

/// A trigger's webhook with its filter, as `Store::TRIGGER_WEBHOOKS_SQL` reads it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct TriggerWebhook {
    id: WebhookId,
    enabled: bool,
    #[sqlx(try_from = "String")]
    event_types: EventTypes,
    min_severity: Option<String>,
    /// The trigger's severity, which its alarm events carry.
    severity: String,
}

/// The webhooks that receive an event of this type, with whether each is enabled: those whose
/// filter refuses it get no delivery.
pub(super) fn receiving(webhooks: &[TriggerWebhook], event_type: &str) -> Vec<(WebhookId, bool)> {
    webhooks
        .iter()
        .filter(|w| {
            EventFilter::stored(w.event_types.clone(), w.min_severity.as_deref())
                .refuses(event_type, Some(&w.severity))
                .is_none()
        })
        .map(|w| (w.id.clone(), w.enabled))
        .collect()
}
