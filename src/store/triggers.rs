//! Alarm triggers and their webhook lists.

use serde::Serialize;
use serde_json::Value;

use super::{Store, StoreError, StoreResult, WritePool, conflict_on, found, on_db};
use crate::domain::alarm::{Comparison, Op, Severity, TriggerKind};
use crate::domain::condition::{Condition, Rule};
use crate::domain::time::{Millis, as_rfc3339, now_ms};
use crate::domain::{DeviceTypeId, MessageTypeId, OrgId, TriggerId, WebhookId};

const TRIGGER_TAKEN: &str =
    "This device type already has an alarm trigger with this name; choose another name.";

#[derive(Debug, Clone, Serialize)]
pub struct Trigger {
    pub id: TriggerId,
    #[serde(skip)]
    pub org_id: OrgId,
    pub device_type_id: DeviceTypeId,
    pub name: String,
    pub kind: TriggerKind,
    #[serde(skip)]
    pub message_type_id: Option<MessageTypeId>,
    /// The message type the condition reads; for `no_data`, the only type that counts (None:
    /// every message counts).
    pub message_type: Option<String>,
    /// None for `no_data`.
    pub condition: Option<Condition>,
    /// When set, a raised alarm clears only when this holds (hysteresis).
    pub clear_condition: Option<Condition>,
    /// How long the condition must hold before the alarm is raised.
    pub for_seconds: i64,
    /// `no_data`: how long a device stays silent before the alarm is raised.
    pub silent_for_seconds: Option<i64>,
    pub severity: Severity,
    pub enabled: bool,
    pub webhooks: Vec<WebhookRef>,
    #[serde(serialize_with = "as_rfc3339::serialize")]
    pub created_at: Millis,
    #[serde(serialize_with = "as_rfc3339::serialize")]
    pub updated_at: Millis,
}

impl Trigger {
    /// What raises the alarm, in a few words: the condition, or the silence it waits for.
    pub fn describe(&self) -> String {
        match (&self.condition, self.silent_for_seconds) {
            (Some(condition), _) => condition.describe(),
            (None, Some(seconds)) => format!("no message for {seconds} s"),
            (None, None) => String::new(),
        }
    }

    /// The message type as shown: for a no_data trigger with none, every message counts.
    pub fn message_type_shown(&self) -> &str {
        self.message_type.as_deref().unwrap_or("any message type")
    }
}

/// A webhook as listed on a trigger.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct WebhookRef {
    pub id: WebhookId,
    pub name: String,
    pub enabled: bool,
}

/// A trigger's webhook, as read for a whole list of triggers at once.
#[derive(sqlx::FromRow)]
struct TriggerLink {
    trigger_id: TriggerId,
    #[sqlx(flatten)]
    webhook: WebhookRef,
}

#[derive(sqlx::FromRow)]
pub(super) struct TriggerRow {
    pub id: TriggerId,
    pub org_id: OrgId,
    pub device_type_id: DeviceTypeId,
    pub name: String,
    pub kind: String,
    pub message_type_id: Option<MessageTypeId>,
    pub message_type: Option<String>,
    pub field: String,
    pub op: String,
    pub value: String,
    pub condition_json: Option<String>,
    pub clear_condition: Option<String>,
    pub for_seconds: i64,
    pub silent_for_seconds: Option<i64>,
    pub severity: String,
    pub enabled: bool,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl TriggerRow {
    pub(super) fn condition(&self) -> Condition {
        let stored = self
            .condition_json
            .as_deref()
            .and_then(|text| serde_json::from_str(text).ok())
            .and_then(|value| Condition::from_stored(&value));
        stored.unwrap_or_else(|| {
            Condition::Compare(Comparison {
                field: self.field.clone(),
                op: Op::parse(&self.op).unwrap_or(Op::Eq),
                value: serde_json::from_str(&self.value).unwrap_or(Value::Null),
            })
        })
    }

    pub(super) fn rule(&self) -> Rule {
        Rule {
            condition: self.condition(),
            clear_condition: self.clear_condition(),
            for_seconds: self.for_seconds,
        }
    }

    pub(super) fn kind(&self) -> TriggerKind {
        TriggerKind::parse(&self.kind).unwrap_or(TriggerKind::Threshold)
    }

    pub(super) fn clear_condition(&self) -> Option<Condition> {
        let value = serde_json::from_str(self.clear_condition.as_deref()?).ok()?;
        Condition::from_stored(&value)
    }

    fn into_trigger(self, webhooks: Vec<WebhookRef>) -> Trigger {
        let kind = self.kind();
        Trigger {
            kind,
            condition: (kind == TriggerKind::Threshold).then(|| self.condition()),
            silent_for_seconds: self.silent_for_seconds,
            clear_condition: self.clear_condition(),
            for_seconds: self.for_seconds,
            severity: Severity::parse(&self.severity).unwrap_or(Severity::Warning),
            id: self.id,
            org_id: self.org_id,
            device_type_id: self.device_type_id,
            name: self.name,
            message_type_id: self.message_type_id,
            message_type: self.message_type,
            enabled: self.enabled,
            webhooks,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

pub(super) const TRIGGER_SELECT: &str = "SELECT t.id, t.org_id, t.device_type_id, t.name, t.message_type_id, \
     m.name AS message_type, t.field, t.op, t.value, t.condition AS condition_json, t.clear_condition, \
     t.for_seconds, t.kind, t.silent_for_seconds, t.severity, t.enabled, t.created_at, t.updated_at \
     FROM alarm_triggers t LEFT JOIN message_types m ON m.id = t.message_type_id";

/// A checked trigger to store.
#[derive(Debug, Clone)]
pub struct TriggerFields {
    pub name: String,
    pub kind: TriggerKind,
    pub message_type_id: Option<MessageTypeId>,
    /// None for `no_data`.
    pub condition: Option<Condition>,
    pub clear_condition: Option<Condition>,
    pub for_seconds: i64,
    pub silent_for_seconds: Option<i64>,
    pub severity: Severity,
    pub enabled: bool,
}

impl TriggerFields {
    /// The first comparison's field, op and value, for the columns rows before whole conditions
    /// were stored use (NOT NULL: empty for `no_data`).
    fn first(&self) -> (String, &'static str, String) {
        match &self.condition {
            Some(condition) => {
                let first: &Comparison = condition.comparisons()[0];
                (
                    first.field.clone(),
                    first.op.as_str(),
                    first.value.to_string(),
                )
            }
            None => (String::new(), "", "null".to_owned()),
        }
    }

    fn condition_json(&self) -> Option<String> {
        self.condition
            .as_ref()
            .map(|c| serde_json::to_string(c).unwrap_or_default())
    }

    fn clear_json(&self) -> Option<String> {
        self.clear_condition
            .as_ref()
            .map(|c| serde_json::to_string(c).unwrap_or_default())
    }
}

impl Store {
    pub async fn create_trigger(
        &self,
        org: &OrgId,
        device_type: &DeviceTypeId,
        fields: &TriggerFields,
    ) -> StoreResult<Trigger> {
        let id = TriggerId::generate();
        let now = now_ms();
        let first = fields.first();
        let inserted = on_db!(self, pool => {
            sqlx::query(
                "INSERT INTO alarm_triggers (id, org_id, device_type_id, message_type_id, name, name_key, field, op,
                                             value, severity, enabled, created_at, updated_at, condition,
                                             clear_condition, for_seconds, kind, silent_for_seconds)
                 SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13, $14, $15, $16, $17
                 WHERE EXISTS (SELECT 1 FROM device_types WHERE org_id = $2 AND id = $3)
                   AND ($4 IS NULL OR EXISTS
                     (SELECT 1 FROM message_types WHERE org_id = $2 AND device_type_id = $3 AND id = $4))",
            )
            .bind(&id)
            .bind(org)
            .bind(device_type)
            .bind(&fields.message_type_id)
            .bind(&fields.name)
            .bind(fields.name.to_lowercase())
            .bind(first.0)
            .bind(first.1)
            .bind(first.2)
            .bind(fields.severity.as_str())
            .bind(fields.enabled)
            .bind(now)
            .bind(fields.condition_json())
            .bind(fields.clear_json())
            .bind(fields.for_seconds)
            .bind(fields.kind.as_str())
            .bind(fields.silent_for_seconds)
            .execute(pool)
            .await
            .map_err(conflict_on("name", TRIGGER_TAKEN))?
            .rows_affected()
        });
        found(inserted)?;
        self.trigger(org, &id).await
    }

    pub async fn update_trigger(
        &self,
        org: &OrgId,
        id: &TriggerId,
        fields: &TriggerFields,
    ) -> StoreResult<Trigger> {
        let first = fields.first();
        let updated = on_db!(self, pool => {
            sqlx::query(
                "UPDATE alarm_triggers SET message_type_id = $3, name = $4, name_key = $5, field = $6, op = $7,
                        value = $8, severity = $9, enabled = $10, updated_at = $11, condition = $12,
                        clear_condition = $13, for_seconds = $14, silent_for_seconds = $15
                 WHERE org_id = $1 AND id = $2 AND ($3 IS NULL OR EXISTS
                   (SELECT 1 FROM message_types m WHERE m.org_id = $1 AND m.id = $3
                      AND m.device_type_id = alarm_triggers.device_type_id))",
            )
            .bind(org)
            .bind(id)
            .bind(&fields.message_type_id)
            .bind(&fields.name)
            .bind(fields.name.to_lowercase())
            .bind(first.0)
            .bind(first.1)
            .bind(first.2)
            .bind(fields.severity.as_str())
            .bind(fields.enabled)
            .bind(now_ms())
            .bind(fields.condition_json())
            .bind(fields.clear_json())
            .bind(fields.for_seconds)
            .bind(fields.silent_for_seconds)
            .execute(pool)
            .await
            .map_err(conflict_on("name", TRIGGER_TAKEN))?
            .rows_affected()
        });
        found(updated)?;
        self.trigger(org, id).await
    }

    pub async fn trigger(&self, org: &OrgId, id: &TriggerId) -> StoreResult<Trigger> {
        let row: Option<TriggerRow> = on_db!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("{TRIGGER_SELECT} WHERE t.org_id = $1 AND t.id = $2")))
                .bind(org)
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        let row = row.ok_or(StoreError::NotFound)?;
        let webhooks = self.trigger_webhooks(org, id).await?;
        Ok(row.into_trigger(webhooks))
    }

    /// The device type's triggers, by name.
    pub async fn list_triggers(
        &self,
        org: &OrgId,
        device_type: &DeviceTypeId,
    ) -> StoreResult<Vec<Trigger>> {
        let (rows, links): (Vec<TriggerRow>, Vec<TriggerLink>) = on_db!(self, pool => {
            let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{TRIGGER_SELECT} WHERE t.org_id = $1 AND t.device_type_id = $2 ORDER BY t.name_key"
            )))
            .bind(org)
            .bind(device_type)
            .fetch_all(pool)
            .await?;
            let links = sqlx::query_as(
                "SELECT tw.trigger_id, w.id, w.name, w.enabled FROM trigger_webhooks tw
                 JOIN webhooks w ON w.id = tw.webhook_id JOIN alarm_triggers t ON t.id = tw.trigger_id
                 WHERE tw.org_id = $1 AND t.device_type_id = $2 ORDER BY w.name_key",
            )
            .bind(org)
            .bind(device_type)
            .fetch_all(pool)
            .await?;
            (rows, links)
        });
        Ok(rows
            .into_iter()
            .map(|row| {
                let webhooks = links
                    .iter()
                    .filter(|link| link.trigger_id == row.id)
                    .map(|link| link.webhook.clone())
                    .collect();
                row.into_trigger(webhooks)
            })
            .collect())
    }

    /// How many triggers each of the organization's device types has.
    pub async fn trigger_counts(
        &self,
        org: &OrgId,
    ) -> StoreResult<std::collections::HashMap<DeviceTypeId, i64>> {
        let rows: Vec<(DeviceTypeId, i64)> = on_db!(self, pool => {
            sqlx::query_as("SELECT device_type_id, count(*) FROM alarm_triggers WHERE org_id = $1 GROUP BY device_type_id")
                .bind(org)
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().collect())
    }

    pub async fn trigger_webhooks(
        &self,
        org: &OrgId,
        id: &TriggerId,
    ) -> StoreResult<Vec<WebhookRef>> {
        let webhooks = on_db!(self, pool => {
            sqlx::query_as(
                "SELECT w.id, w.name, w.enabled FROM trigger_webhooks tw JOIN webhooks w ON w.id = tw.webhook_id
                 WHERE tw.org_id = $1 AND tw.trigger_id = $2 ORDER BY w.name_key",
            )
            .bind(org)
            .bind(id)
            .fetch_all(pool)
            .await?
        });
        Ok(webhooks)
    }

    /// Makes the trigger's webhook list exactly `webhooks`. Every id must be a webhook of the
    /// same organization: the ids that are not are returned and nothing changes.
    pub async fn set_trigger_webhooks(
        &self,
        org: &OrgId,
        id: &TriggerId,
        webhooks: &[WebhookId],
    ) -> StoreResult<Result<Vec<WebhookRef>, Vec<WebhookId>>> {
        on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let exists: i64 = sqlx::query_scalar("SELECT count(*) FROM alarm_triggers WHERE org_id = $1 AND id = $2")
                .bind(org)
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
            if exists == 0 {
                return Err(StoreError::NotFound);
            }
            let mut unknown = Vec::new();
            for webhook in webhooks {
                let found: i64 = sqlx::query_scalar("SELECT count(*) FROM webhooks WHERE org_id = $1 AND id = $2")
                    .bind(org)
                    .bind(webhook)
                    .fetch_one(&mut *tx)
                    .await?;
                if found == 0 {
                    unknown.push(webhook.clone());
                }
            }
            if !unknown.is_empty() {
                return Ok(Err(unknown));
            }
            sqlx::query("DELETE FROM trigger_webhooks WHERE org_id = $1 AND trigger_id = $2")
                .bind(org)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            for webhook in webhooks {
                sqlx::query(
                    "INSERT INTO trigger_webhooks (org_id, trigger_id, webhook_id) VALUES ($1, $2, $3)
                     ON CONFLICT DO NOTHING",
                )
                .bind(org)
                .bind(id)
                .bind(webhook)
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query("UPDATE alarm_triggers SET updated_at = $3 WHERE org_id = $1 AND id = $2")
                .bind(org)
                .bind(id)
                .bind(now_ms())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<(), StoreError>(())
        })?;
        Ok(Ok(self.trigger_webhooks(org, id).await?))
    }

    pub async fn delete_trigger(&self, org: &OrgId, id: &TriggerId) -> StoreResult<()> {
        let deleted = on_db!(self, pool => {
            sqlx::query("DELETE FROM alarm_triggers WHERE org_id = $1 AND id = $2")
                .bind(org)
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        found(deleted)
    }
}
