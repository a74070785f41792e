//! Deliveries: one per (event, webhook), with the log of their attempts.

use serde::Serialize;

use super::{Store, StoreResult, on_db};
use crate::domain::time::{Millis, as_rfc3339};
use crate::domain::{DeliveryId, EventId, OrgId, WebhookId};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Delivery {
    pub id: DeliveryId,
    pub event_id: EventId,
    pub event_type: String,
    pub webhook_id: WebhookId,
    pub webhook_name: String,
    pub status: String,
    pub attempts: i64,
    #[serde(serialize_with = "as_rfc3339::option::serialize")]
    pub next_attempt_at: Option<Millis>,
    #[serde(serialize_with = "as_rfc3339::option::serialize")]
    pub last_attempt_at: Option<Millis>,
    pub last_response_status: Option<i64>,
    pub last_error: Option<String>,
    #[serde(serialize_with = "as_rfc3339::serialize")]
    pub created_at: Millis,
    #[serde(serialize_with = "as_rfc3339::serialize")]
    pub updated_at: Millis,
}

pub(super) const DELIVERY_SELECT: &str = "SELECT dl.id, dl.event_id, e.type AS event_type, dl.webhook_id, \
     w.name AS webhook_name, dl.status, dl.attempts, dl.next_attempt_at, dl.last_attempt_at, \
     dl.last_response_status, dl.last_error, dl.created_at, dl.updated_at \
     FROM deliveries dl JOIN events e ON e.id = dl.event_id JOIN webhooks w ON w.id = dl.webhook_id";

impl Store {
    pub async fn event_deliveries(
        &self,
        org: &OrgId,
        event: &EventId,
    ) -> StoreResult<Vec<Delivery>> {
        let rows = on_db!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{DELIVERY_SELECT} WHERE dl.org_id = $1 AND dl.event_id = $2 ORDER BY w.name_key"
            )))
            .bind(org)
            .bind(event)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }
}
