//! What a device's refused messages need: finding the device by the id in an MQTT topic, keeping
//! its recent rejected messages (over HTTP and MQTT) for its page, and the alarms its accepted
//! messages moved.

use super::{Device, Store, StoreResult, WritePool, on_db};
use crate::domain::time::Millis;
use crate::domain::{AlarmId, DeviceId, MessageId, OrgId, RejectedId};

/// The longest error text kept for a device.
const ERROR_MAX_CHARS: usize = 1000;

/// The longest start of a rejected payload that is kept.
const PAYLOAD_MAX_CHARS: usize = 2000;

/// How many rejected messages are kept per device.
pub const REJECTED_KEPT: i64 = 20;

/// A message a device sent that was refused.
pub struct Rejection<'a> {
    pub device: &'a DeviceId,
    /// `http` or `mqtt`.
    pub transport: &'static str,
    /// The status answered over HTTP; MQTT answers none.
    pub status: Option<u16>,
    /// What was wrong, with every violation.
    pub reason: &'a str,
    /// What was sent (only its start is kept).
    pub payload: &'a [u8],
    pub at: Millis,
}

/// A rejected message as kept.
#[derive(Debug, sqlx::FromRow, serde::Serialize)]
pub struct RejectedMessage {
    pub id: RejectedId,
    pub transport: String,
    pub status: Option<i64>,
    pub reason: String,
    pub payload: String,
    pub received_at: Millis,
}

/// An alarm transition that a message caused.
#[derive(Debug, sqlx::FromRow)]
pub struct CausedTransition {
    pub message_id: MessageId,
    pub alarm_id: AlarmId,
    /// `raised` or `cleared`.
    pub state: String,
    pub trigger_name: String,
}

/// The start of a payload as text: invalid UTF-8 shown replaced, NUL characters dropped (neither
/// database keeps them in text), cut at a character boundary.
fn excerpt(payload: &[u8]) -> String {
    let text = String::from_utf8_lossy(payload);
    let mut kept: String = text
        .chars()
        .filter(|c| *c != '\0')
        .take(PAYLOAD_MAX_CHARS)
        .collect();
    if text.chars().count() > PAYLOAD_MAX_CHARS {
        kept.push('…');
    }
    kept
}

impl Store {
    /// The device with this id in any organization, with its token's hash: the broker has
    /// authenticated the publisher as this device (see the README's trust model).
    pub async fn device_by_id(&self, id: &DeviceId) -> StoreResult<Option<(Device, String)>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            device: Device,
            token_hash: String,
        }
        let row: Option<Row> = on_db!(self, pool => {
            sqlx::query_as(
                "SELECT d.id, d.org_id, d.device_type_id, t.name AS device_type_name, d.name, \
                 d.token_hint, d.last_seen_at, d.created_at, d.token_hash \
                 FROM devices d JOIN device_types t ON t.id = d.device_type_id WHERE d.id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(|row| (row.device, row.token_hash)))
    }

    /// Keeps a message the device sent that was refused, among its recent rejected messages
    /// (the latest [`REJECTED_KEPT`]).
    pub async fn record_rejected(&self, rejected: &Rejection<'_>) -> StoreResult<()> {
        let reason: String = rejected.reason.chars().take(ERROR_MAX_CHARS).collect();
        let payload = excerpt(rejected.payload);
        on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO rejected_messages (id, org_id, device_id, transport, status, reason, payload, received_at)
                 SELECT $1, org_id, id, $3, $4, $5, $6, $7 FROM devices WHERE id = $2",
            )
            .bind(RejectedId::generate())
            .bind(rejected.device)
            .bind(rejected.transport)
            .bind(rejected.status.map(i64::from))
            .bind(&reason)
            .bind(&payload)
            .bind(rejected.at)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "DELETE FROM rejected_messages WHERE device_id = $1 AND id NOT IN
                 (SELECT id FROM rejected_messages WHERE device_id = $1 ORDER BY id DESC LIMIT $2)",
            )
            .bind(rejected.device)
            .bind(REJECTED_KEPT)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// The device's recent rejected messages, newest first.
    pub async fn rejected_messages(
        &self,
        org: &OrgId,
        device: &DeviceId,
    ) -> StoreResult<Vec<RejectedMessage>> {
        Ok(on_db!(self, pool => {
            sqlx::query_as(
                "SELECT id, transport, status, reason, payload, received_at FROM rejected_messages
                 WHERE org_id = $1 AND device_id = $2 ORDER BY id DESC LIMIT $3",
            )
            .bind(org)
            .bind(device)
            .bind(REJECTED_KEPT)
            .fetch_all(pool)
            .await?
        }))
    }

    /// The alarm transitions that these messages caused (raised or cleared an alarm), by message.
    pub async fn transitions_of_messages(
        &self,
        org: &OrgId,
        messages: &[MessageId],
    ) -> StoreResult<Vec<CausedTransition>> {
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (2..messages.len() + 2).map(|n| format!("${n}")).collect();
        let sql = format!(
            "SELECT h.message_id, h.alarm_id, h.state, t.name AS trigger_name
             FROM alarm_history h JOIN alarms a ON a.id = h.alarm_id
             JOIN alarm_triggers t ON t.id = a.trigger_id
             WHERE h.org_id = $1 AND h.message_id IN ({}) ORDER BY h.id",
            placeholders.join(", ")
        );
        Ok(on_db!(self, pool => {
            let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(org);
            for message in messages {
                query = query.bind(message);
            }
            query.fetch_all(pool).await?
        }))
    }
}
