//! Device types with their message types, devices and their messages.

use serde::Serialize;
use serde_json::Value;

use super::offline::WATCH_NEW_DEVICE;
use super::{Page, Paged, Store, StoreError, StoreResult, WritePool, conflict_on, found, on_db};
use crate::domain::time::{Millis, as_rfc3339, now_ms};
use crate::domain::{DeviceId, DeviceTypeId, MessageId, MessageTypeId, OrgId};

const DEVICE_TYPE_TAKEN: &str = "A device type with this name already exists; choose another name.";
const DEVICE_TAKEN: &str = "A device with this name already exists; choose another name.";

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct DeviceType {
    pub id: DeviceTypeId,
    #[serde(skip)]
    pub org_id: OrgId,
    pub name: String,
    pub description: String,
    #[serde(serialize_with = "as_rfc3339::serialize")]
    pub created_at: Millis,
    #[serde(serialize_with = "as_rfc3339::serialize")]
    pub updated_at: Millis,
    #[sqlx(skip)]
    pub message_types: Vec<MessageType>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MessageType {
    pub id: MessageTypeId,
    #[serde(skip)]
    pub device_type_id: DeviceTypeId,
    pub name: String,
    pub schema: Value,
    #[serde(skip)]
    pub updated_at: Millis,
}

#[derive(sqlx::FromRow)]
struct MessageTypeRow {
    id: MessageTypeId,
    device_type_id: DeviceTypeId,
    name: String,
    schema: String,
    updated_at: Millis,
}

impl From<MessageTypeRow> for MessageType {
    fn from(row: MessageTypeRow) -> Self {
        Self {
            id: row.id,
            device_type_id: row.device_type_id,
            name: row.name,
            // Stored only after it parsed; a row edited by hand into nonsense reads as `{}`.
            schema: serde_json::from_str(&row.schema)
                .unwrap_or_else(|_| Value::Object(Default::default())),
            updated_at: row.updated_at,
        }
    }
}

/// A checked message type to store.
#[derive(Debug, Clone)]
pub struct NewMessageType {
    pub name: String,
    pub schema: Value,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Device {
    pub id: DeviceId,
    #[serde(skip)]
    pub org_id: OrgId,
    pub device_type_id: DeviceTypeId,
    pub device_type_name: String,
    pub name: String,
    /// The ingest token's first characters, to tell tokens apart.
    pub token_hint: String,
    #[serde(serialize_with = "as_rfc3339::option::serialize")]
    pub last_seen_at: Option<Millis>,
    #[serde(serialize_with = "as_rfc3339::serialize")]
    pub created_at: Millis,
}

const DEVICE_SELECT: &str = "SELECT d.id, d.org_id, d.device_type_id, t.name AS device_type_name, d.name, \
                             d.token_hint, d.last_seen_at, d.created_at \
                             FROM devices d JOIN device_types t ON t.id = d.device_type_id";

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Message {
    pub id: MessageId,
    pub message_type: String,
    #[serde(skip)]
    pub payload_text: String,
    #[serde(serialize_with = "as_rfc3339::serialize")]
    pub received_at: Millis,
}

impl Message {
    pub fn payload(&self) -> Value {
        serde_json::from_str(&self.payload_text).unwrap_or(Value::Null)
    }
}

/// A trigger that uses a message type, for the message "is used by alarm trigger …".
#[derive(Debug, Clone)]
pub struct MessageTypeUse {
    pub message_type: String,
    pub trigger_name: String,
}

impl Store {
    pub async fn create_device_type(
        &self,
        org: &OrgId,
        name: &str,
        description: &str,
        message_types: &[NewMessageType],
    ) -> StoreResult<DeviceType> {
        let now = now_ms();
        let id = DeviceTypeId::generate();
        on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO device_types (id, org_id, name, name_key, description, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $6)",
            )
            .bind(&id)
            .bind(org)
            .bind(name)
            .bind(name.to_lowercase())
            .bind(description)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(conflict_on("name", DEVICE_TYPE_TAKEN))?;
            for message_type in message_types {
                sqlx::query(
                    "INSERT INTO message_types (id, org_id, device_type_id, name, schema, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $6)",
                )
                .bind(MessageTypeId::generate())
                .bind(org)
                .bind(&id)
                .bind(&message_type.name)
                .bind(message_type.schema.to_string())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        self.device_type(org, &id).await
    }

    pub async fn list_device_types(
        &self,
        org: &OrgId,
        page: &Page,
    ) -> StoreResult<Paged<DeviceType>> {
        let rows: Vec<DeviceType> = on_db!(self, pool => {
            sqlx::query_as(
                "SELECT id, org_id, name, description, created_at, updated_at FROM device_types
                 WHERE org_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
            )
            .bind(org)
            .bind(page.before())
            .bind(page.fetch_limit())
            .fetch_all(pool)
            .await?
        });
        let mut paged = page.finish(rows, |t| t.id.as_str());
        let (Some(newest), Some(oldest)) = (paged.data.first(), paged.data.last()) else {
            return Ok(paged);
        };
        let message_types: Vec<MessageTypeRow> = on_db!(self, pool => {
            sqlx::query_as(
                "SELECT id, device_type_id, name, schema, updated_at FROM message_types
                 WHERE org_id = $1 AND device_type_id <= $2 AND device_type_id >= $3 ORDER BY name",
            )
            .bind(org)
            .bind(&newest.id)
            .bind(&oldest.id)
            .fetch_all(pool)
            .await?
        });
        for row in message_types {
            if let Some(device_type) = paged.data.iter_mut().find(|t| t.id == row.device_type_id) {
                device_type.message_types.push(row.into());
            }
        }
        Ok(paged)
    }

    pub async fn device_type(&self, org: &OrgId, id: &DeviceTypeId) -> StoreResult<DeviceType> {
        let (found, message_types): (Option<DeviceType>, Vec<MessageTypeRow>) = on_db!(self, pool => {
            let found = sqlx::query_as(
                "SELECT id, org_id, name, description, created_at, updated_at FROM device_types
                 WHERE org_id = $1 AND id = $2",
            )
            .bind(org)
            .bind(id)
            .fetch_optional(pool)
            .await?;
            let message_types = sqlx::query_as(
                "SELECT id, device_type_id, name, schema, updated_at FROM message_types
                 WHERE org_id = $1 AND device_type_id = $2 ORDER BY name",
            )
            .bind(org)
            .bind(id)
            .fetch_all(pool)
            .await?;
            (found, message_types)
        });
        let mut device_type = found.ok_or(StoreError::NotFound)?;
        device_type.message_types = message_types.into_iter().map(Into::into).collect();
        Ok(device_type)
    }

    /// The triggers that use each of the device type's message types.
    pub async fn message_type_uses(
        &self,
        org: &OrgId,
        id: &DeviceTypeId,
    ) -> StoreResult<Vec<MessageTypeUse>> {
        let rows: Vec<(String, String)> = on_db!(self, pool => {
            sqlx::query_as(
                "SELECT m.name, t.name FROM alarm_triggers t JOIN message_types m ON m.id = t.message_type_id
                 WHERE t.org_id = $1 AND t.device_type_id = $2 ORDER BY m.name, t.name",
            )
            .bind(org)
            .bind(id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(message_type, trigger_name)| MessageTypeUse {
                message_type,
                trigger_name,
            })
            .collect())
    }

    /// Changes the name and description, and when `message_types` is given, makes the device
    /// type's message types exactly those: same-named ones keep their id (and their triggers),
    /// new ones are added, the others are removed. The caller has checked that no trigger uses
    /// a removed one.
    pub async fn update_device_type(
        &self,
        org: &OrgId,
        id: &DeviceTypeId,
        name: Option<&str>,
        description: Option<&str>,
        message_types: Option<&[NewMessageType]>,
    ) -> StoreResult<DeviceType> {
        let now = now_ms();
        let existing = self.device_type(org, id).await?;
        on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let updated = sqlx::query(
                "UPDATE device_types SET name = COALESCE($3, name), name_key = COALESCE($4, name_key),
                 description = COALESCE($5, description), updated_at = $6 WHERE org_id = $1 AND id = $2",
            )
            .bind(org)
            .bind(id)
            .bind(name)
            .bind(name.map(str::to_lowercase))
            .bind(description)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(conflict_on("name", DEVICE_TYPE_TAKEN))?
            .rows_affected();
            found(updated)?;
            if let Some(wanted) = message_types {
                for old in &existing.message_types {
                    if !wanted.iter().any(|m| m.name == old.name) {
                        sqlx::query("DELETE FROM message_types WHERE org_id = $1 AND id = $2")
                            .bind(org)
                            .bind(&old.id)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                for new in wanted {
                    match existing.message_types.iter().find(|m| m.name == new.name) {
                        Some(old) if old.schema == new.schema => {}
                        Some(old) => {
                            sqlx::query("UPDATE message_types SET schema = $3, updated_at = $4 WHERE org_id = $1 AND id = $2")
                                .bind(org)
                                .bind(&old.id)
                                .bind(new.schema.to_string())
                                .bind(now)
                                .execute(&mut *tx)
                                .await?;
                        }
                        None => {
                            sqlx::query(
                                "INSERT INTO message_types (id, org_id, device_type_id, name, schema, created_at, updated_at)
                                 VALUES ($1, $2, $3, $4, $5, $6, $6)",
                            )
                            .bind(MessageTypeId::generate())
                            .bind(org)
                            .bind(id)
                            .bind(&new.name)
                            .bind(new.schema.to_string())
                            .bind(now)
                            .execute(&mut *tx)
                            .await?;
                        }
                    }
                }
            }
            tx.commit().await?;
        });
        self.device_type(org, id).await
    }

    /// Deletes the device type with its devices, their messages and alarms, and its triggers.
    /// Events already sent stay in the delivery log.
    pub async fn delete_device_type(&self, org: &OrgId, id: &DeviceTypeId) -> StoreResult<()> {
        let deleted = on_db!(self, pool => {
            sqlx::query("DELETE FROM device_types WHERE org_id = $1 AND id = $2")
                .bind(org)
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        found(deleted)
    }

    /// How many devices and triggers a device type has, for the delete confirmation.
    pub async fn device_type_usage(
        &self,
        org: &OrgId,
        id: &DeviceTypeId,
    ) -> StoreResult<(i64, i64)> {
        let counts = on_db!(self, pool => {
            sqlx::query_as(
                "SELECT (SELECT count(*) FROM devices WHERE org_id = $1 AND device_type_id = $2),
                        (SELECT count(*) FROM alarm_triggers WHERE org_id = $1 AND device_type_id = $2)",
            )
            .bind(org)
            .bind(id)
            .fetch_one(pool)
            .await?
        });
        Ok(counts)
    }

    pub async fn create_device(
        &self,
        org: &OrgId,
        device_type: &DeviceTypeId,
        name: &str,
        token_hash: &str,
        token_hint: &str,
    ) -> StoreResult<Device> {
        let id = DeviceId::generate();
        let now = now_ms();
        let inserted = on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let inserted = sqlx::query(
                "INSERT INTO devices (id, org_id, device_type_id, name, name_key, token_hash, token_hint, created_at)
                 SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE EXISTS
                   (SELECT 1 FROM device_types WHERE org_id = $2 AND id = $3)",
            )
            .bind(&id)
            .bind(org)
            .bind(device_type)
            .bind(name)
            .bind(name.to_lowercase())
            .bind(token_hash)
            .bind(token_hint)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(conflict_on("name", DEVICE_TAKEN))?
            .rows_affected();
            // The type's offline triggers watch it from now (its creation).
            sqlx::query(WATCH_NEW_DEVICE)
                .bind(&id)
                .bind(org)
                .bind(device_type)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            inserted
        });
        if inserted == 0 {
            // The device type is not in this organization: the caller words the answer.
            return Err(StoreError::NotFound);
        }
        self.device(org, &id).await
    }

    pub async fn list_devices(
        &self,
        org: &OrgId,
        device_type: Option<&DeviceTypeId>,
        page: &Page,
    ) -> StoreResult<Paged<Device>> {
        let rows: Vec<Device> = on_db!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{DEVICE_SELECT} WHERE d.org_id = $1 AND ($2 IS NULL OR d.device_type_id = $2) AND d.id < $3
                 ORDER BY d.id DESC LIMIT $4"
            )))
            .bind(org)
            .bind(device_type)
            .bind(page.before())
            .bind(page.fetch_limit())
            .fetch_all(pool)
            .await?
        });
        Ok(page.finish(rows, |d| d.id.as_str()))
    }

    pub async fn device(&self, org: &OrgId, id: &DeviceId) -> StoreResult<Device> {
        let found: Option<Device> = on_db!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("{DEVICE_SELECT} WHERE d.org_id = $1 AND d.id = $2")))
                .bind(org)
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        found.ok_or(StoreError::NotFound)
    }

    /// The device an ingest token belongs to.
    pub async fn device_for_token(&self, token_hash: &str) -> StoreResult<Option<Device>> {
        let found = on_db!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("{DEVICE_SELECT} WHERE d.token_hash = $1")))
                .bind(token_hash)
                .fetch_optional(pool)
                .await?
        });
        Ok(found)
    }

    pub async fn rename_device(
        &self,
        org: &OrgId,
        id: &DeviceId,
        name: &str,
    ) -> StoreResult<Device> {
        let updated = on_db!(self, pool => {
            sqlx::query("UPDATE devices SET name = $3, name_key = $4 WHERE org_id = $1 AND id = $2")
                .bind(org)
                .bind(id)
                .bind(name)
                .bind(name.to_lowercase())
                .execute(pool)
                .await
                .map_err(conflict_on("name", DEVICE_TAKEN))?
                .rows_affected()
        });
        found(updated)?;
        self.device(org, id).await
    }

    pub async fn replace_device_token(
        &self,
        org: &OrgId,
        id: &DeviceId,
        token_hash: &str,
        token_hint: &str,
    ) -> StoreResult<()> {
        let updated = on_db!(self, pool => {
            sqlx::query("UPDATE devices SET token_hash = $3, token_hint = $4 WHERE org_id = $1 AND id = $2")
                .bind(org)
                .bind(id)
                .bind(token_hash)
                .bind(token_hint)
                .execute(pool)
                .await?
                .rows_affected()
        });
        found(updated)
    }

    pub async fn delete_device(&self, org: &OrgId, id: &DeviceId) -> StoreResult<()> {
        let deleted = on_db!(self, pool => {
            sqlx::query("DELETE FROM devices WHERE org_id = $1 AND id = $2")
                .bind(org)
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        found(deleted)
    }

    /// The device's newest messages, newest first.
    pub async fn recent_messages(
        &self,
        org: &OrgId,
        id: &DeviceId,
        page: &Page,
    ) -> StoreResult<Paged<Message>> {
        let rows: Vec<Message> = on_db!(self, pool => {
            sqlx::query_as(
                "SELECT id, message_type, payload AS payload_text, received_at FROM messages
                 WHERE org_id = $1 AND device_id = $2 AND id < $3 ORDER BY id DESC LIMIT $4",
            )
            .bind(org)
            .bind(id)
            .bind(page.before())
            .bind(page.fetch_limit())
            .fetch_all(pool)
            .await?
        });
        Ok(page.finish(rows, |m| m.id.as_str()))
    }
}

impl Store {
    /// The device type's message type with this exact name.
    pub async fn message_type_by_name(
        &self,
        org: &OrgId,
        device_type: &DeviceTypeId,
        name: &str,
    ) -> StoreResult<Option<MessageType>> {
        let row: Option<MessageTypeRow> = on_db!(self, pool => {
            sqlx::query_as(
                "SELECT id, device_type_id, name, schema, updated_at FROM message_types
                 WHERE org_id = $1 AND device_type_id = $2 AND name = $3",
            )
            .bind(org)
            .bind(device_type)
            .bind(name)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(Into::into))
    }
}
