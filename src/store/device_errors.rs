//! What transports without an answer (MQTT) need of a device: finding it by the id in a
//! topic, and keeping the last message it sent that could not be ingested.

use super::{Device, Store, StoreResult, on_db};
use crate::domain::time::Millis;
use crate::domain::{DeviceId, OrgId};

/// The longest error text kept for a device.
const ERROR_MAX_CHARS: usize = 1000;

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

    /// Keeps `error` as the device's last ingest error.
    pub async fn record_device_error(
        &self,
        id: &DeviceId,
        error: &str,
        at: Millis,
    ) -> StoreResult<()> {
        let error: String = error.chars().take(ERROR_MAX_CHARS).collect();
        on_db!(self, pool => {
            sqlx::query("UPDATE devices SET last_error = $2, last_error_at = $3 WHERE id = $1")
                .bind(id)
                .bind(&error)
                .bind(at)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// The device's last ingest error and when it happened, if any.
    pub async fn device_last_error(
        &self,
        org: &OrgId,
        id: &DeviceId,
    ) -> StoreResult<Option<(String, Millis)>> {
        let row: Option<(Option<String>, Option<Millis>)> = on_db!(self, pool => {
            sqlx::query_as("SELECT last_error, last_error_at FROM devices WHERE org_id = $1 AND id = $2")
                .bind(org)
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.and_then(|(error, at)| error.zip(at)))
    }
}
