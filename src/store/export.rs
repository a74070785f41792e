//! Reading the finished deliveries a purge is about to remove, for the export before it.

use serde::Serialize;
use serde_json::Value;

use super::deliveries::DELIVERY_SELECT;
use super::retention::id_bound;
use super::{Attempt, Delivery, Store, StoreResult, on_db, placeholders};
use crate::domain::time::Millis;
use crate::domain::{DeliveryId, OrgId};

/// One exported delivery: as the API shows it, with its attempts and the exact event body.
#[derive(Debug, Serialize)]
pub struct ExportedDelivery {
    #[serde(flatten)]
    pub delivery: Delivery,
    pub attempts: Vec<Attempt>,
    pub event: Value,
}

#[derive(sqlx::FromRow)]
struct AttemptRow {
    delivery_id: DeliveryId,
    #[sqlx(flatten)]
    attempt: Attempt,
}

impl Store {
    /// Up to `limit` of the deliveries `purge_org` would remove at `cutoff`, after `after` in
    /// id (so creation) order.
    pub async fn deliveries_to_purge(
        &self,
        org: &OrgId,
        cutoff: Millis,
        after: &str,
        limit: usize,
    ) -> StoreResult<Vec<ExportedDelivery>> {
        let bound = id_bound(DeliveryId::PREFIX, cutoff);
        let rows: Vec<(Delivery, Vec<u8>)> = on_db!(self, pool => {
            let deliveries: Vec<Delivery> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{DELIVERY_SELECT} WHERE dl.org_id = $1 AND dl.id > $2 AND dl.id < $3
                 AND dl.status <> 'pending' AND dl.updated_at < $4 ORDER BY dl.id LIMIT $5"
            )))
            .bind(org)
            .bind(after)
            .bind(&bound)
            .bind(cutoff)
            .bind(limit as i64)
            .fetch_all(pool)
            .await?;
            let mut rows = Vec::with_capacity(deliveries.len());
            for delivery in deliveries {
                let body: Vec<u8> = sqlx::query_scalar("SELECT body FROM events WHERE id = $1")
                    .bind(&delivery.event_id)
                    .fetch_one(pool)
                    .await?;
                rows.push((delivery, body));
            }
            rows
        });
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let mut attempts: Vec<AttemptRow> = on_db!(self, pool => {
            let mut query = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT delivery_id, attempt, started_at, duration_ms, signature_t, response_status,
                 response_body, error_kind, error_message, request_headers, response_headers
                 FROM attempts WHERE delivery_id IN ({})
                 ORDER BY delivery_id, attempt",
                placeholders(1, rows.len())
            )));
            for (delivery, _) in &rows {
                query = query.bind(&delivery.id);
            }
            query.fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .map(|(delivery, body)| {
                let (mine, rest): (Vec<AttemptRow>, Vec<AttemptRow>) = attempts
                    .drain(..)
                    .partition(|a| a.delivery_id == delivery.id);
                attempts = rest;
                ExportedDelivery {
                    attempts: mine.into_iter().map(|a| a.attempt).collect(),
                    event: serde_json::from_slice(&body).unwrap_or(Value::Null),
                    delivery,
                }
            })
            .collect())
    }
}
