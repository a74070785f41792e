//! Purging what is finished and old: messages, events, deliveries (with their attempts) and
//! expired message ids. Every batch is one short transaction of at most `PURGE_BATCH` rows,
//! so ingest and the dispatcher wait for the write lock at most one batch long.
//!
//! Never purged: pending deliveries (and so their events), the events of alarms that are not
//! cleared, and the messages those events carry.

use std::collections::HashSet;

use serde_json::Value;

use super::{Store, StoreResult, WritePool, on_db, placeholders};
use crate::domain::message_key::MESSAGE_KEY_WINDOW_MS;
use crate::domain::time::Millis;
use crate::domain::{DeliveryId, EventId, MessageId, OrgId};

/// Rows per purge transaction.
pub const PURGE_BATCH: usize = 500;

/// What one purge removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub deliveries: u64,
    pub events: u64,
    pub messages: u64,
    pub message_ids: u64,
}

/// The smallest id of a kind created at `at`: ids are a prefix and a ULID, which sorts by time,
/// so `id < bound` selects the rows created before `at` along the primary key.
pub(super) fn id_bound(prefix: &str, at: Millis) -> String {
    let ulid = ulid::Ulid::from_parts(at.max(0) as u64, 0);
    format!("{prefix}_{}", ulid.to_string().to_ascii_lowercase())
}

impl Store {
    /// Each organization, how long it keeps finished data (`None`: the server's default) and
    /// whether it exports deliveries before they are purged.
    pub async fn retention_by_org(&self) -> StoreResult<Vec<(OrgId, Option<i64>, bool)>> {
        Ok(on_db!(self, pool => {
            sqlx::query_as("SELECT id, retain_ms, export_before_purge FROM organizations ORDER BY id")
                .fetch_all(pool)
                .await?
        }))
    }

    /// The organization's own retention period and export choice.
    pub async fn org_retention(&self, org: &OrgId) -> StoreResult<(Option<i64>, bool)> {
        let found: Option<(Option<i64>, bool)> = on_db!(self, pool => {
            sqlx::query_as("SELECT retain_ms, export_before_purge FROM organizations WHERE id = $1")
                .bind(org)
                .fetch_optional(pool)
                .await?
        });
        found.ok_or(super::StoreError::NotFound)
    }

    pub async fn set_org_retention(
        &self,
        org: &OrgId,
        retain_ms: Option<i64>,
        export: bool,
    ) -> StoreResult<()> {
        let changed = on_db!(self, pool => {
            sqlx::query("UPDATE organizations SET retain_ms = $2, export_before_purge = $3 WHERE id = $1")
                .bind(org)
                .bind(retain_ms)
                .bind(export)
                .execute(pool)
                .await?
                .rows_affected()
        });
        super::found(changed)
    }

    /// Purges the organization's finished data from before `cutoff`, batch after batch.
    pub async fn purge_org(&self, org: &OrgId, cutoff: Millis) -> StoreResult<Purged> {
        let mut purged = Purged::default();
        loop {
            let (found, deleted) = self.purge_deliveries(org, cutoff).await?;
            purged.deliveries += deleted;
            if found < PURGE_BATCH {
                break;
            }
            tokio::task::yield_now().await;
        }
        loop {
            let (found, deleted) = self.purge_events(org, cutoff).await?;
            purged.events += deleted;
            if found < PURGE_BATCH {
                break;
            }
            tokio::task::yield_now().await;
        }
        let protected = self.messages_of_open_alarms(org, cutoff).await?;
        let mut after = String::new();
        loop {
            let (found, deleted, last) =
                self.purge_messages(org, cutoff, &protected, &after).await?;
            purged.messages += deleted;
            match last {
                Some(last) if found == PURGE_BATCH => after = last,
                _ => break,
            }
            tokio::task::yield_now().await;
        }
        Ok(purged)
    }

    /// Takes the lease on the chore `name` for `owner` until `until`, unless another owner
    /// holds an unexpired one; whether `owner` holds it now.
    pub async fn claim_maintenance_lease(
        &self,
        name: &str,
        owner: &str,
        now: Millis,
        until: Millis,
    ) -> StoreResult<bool> {
        let held: Option<String> = on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let held = sqlx::query_scalar(
                "INSERT INTO maintenance_leases (name, owner, expires_at) VALUES ($1, $2, $3)
                 ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
                 WHERE maintenance_leases.expires_at <= $4 OR maintenance_leases.owner = excluded.owner
                 RETURNING owner",
            )
            .bind(name)
            .bind(owner)
            .bind(until)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            tx.commit().await?;
            held
        });
        Ok(held.is_some())
    }

    /// Message ids older than their window; they decide nothing any more.
    pub async fn purge_message_ids(&self, now: Millis) -> StoreResult<u64> {
        let mut total = 0;
        loop {
            let deleted = on_db!(self, pool => {
                let mut tx = pool.begin_write().await?;
                let deleted = sqlx::query(
                    "DELETE FROM message_keys WHERE (device_id, message_key) IN
                     (SELECT device_id, message_key FROM message_keys WHERE created_at <= $1 LIMIT $2)",
                )
                .bind(now - MESSAGE_KEY_WINDOW_MS)
                .bind(PURGE_BATCH as i64)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                tx.commit().await?;
                deleted
            });
            total += deleted;
            if deleted < PURGE_BATCH as u64 {
                return Ok(total);
            }
            tokio::task::yield_now().await;
        }
    }

    /// One batch of finished deliveries last changed before `cutoff` (their attempts go with
    /// them, by the foreign key); how many were found and how many deleted.
    async fn purge_deliveries(&self, org: &OrgId, cutoff: Millis) -> StoreResult<(usize, u64)> {
        let bound = id_bound(DeliveryId::PREFIX, cutoff);
        Ok(on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let ids: Vec<DeliveryId> = sqlx::query_scalar(
                "SELECT id FROM deliveries WHERE org_id = $1 AND id < $2 AND status <> 'pending'
                 AND updated_at < $3 ORDER BY id LIMIT $4",
            )
            .bind(org)
            .bind(&bound)
            .bind(cutoff)
            .bind(PURGE_BATCH as i64)
            .fetch_all(&mut *tx)
            .await?;
            let mut deleted = 0;
            if !ids.is_empty() {
                // Checked again: a delivery resent meanwhile (on another node) is pending.
                let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DELETE FROM deliveries WHERE status <> 'pending' AND id IN ({})",
                    placeholders(1, ids.len())
                )));
                for id in &ids {
                    query = query.bind(id);
                }
                deleted = query.execute(&mut *tx).await?.rows_affected();
            }
            tx.commit().await?;
            (ids.len(), deleted)
        }))
    }

    /// One batch of events from before `cutoff` that have no delivery left and no alarm that
    /// is still raised or acknowledged.
    async fn purge_events(&self, org: &OrgId, cutoff: Millis) -> StoreResult<(usize, u64)> {
        const UNUSED: &str = "NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id)
             AND NOT EXISTS (SELECT 1 FROM alarms a WHERE a.id = e.alarm_id AND a.state <> 'cleared')";
        let bound = id_bound(EventId::PREFIX, cutoff);
        Ok(on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let ids: Vec<EventId> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT e.id FROM events e WHERE e.org_id = $1 AND e.id < $2 AND e.created_at < $3
                 AND {UNUSED} ORDER BY e.id LIMIT $4"
            )))
            .bind(org)
            .bind(&bound)
            .bind(cutoff)
            .bind(PURGE_BATCH as i64)
            .fetch_all(&mut *tx)
            .await?;
            let mut deleted = 0;
            if !ids.is_empty() {
                let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DELETE FROM events AS e WHERE e.id IN ({}) AND {UNUSED}",
                    placeholders(1, ids.len())
                )));
                for id in &ids {
                    query = query.bind(id);
                }
                deleted = query.execute(&mut *tx).await?.rows_affected();
            }
            tx.commit().await?;
            (ids.len(), deleted)
        }))
    }

    /// The messages that the events of not-cleared alarms carry (from before `cutoff`: later
    /// ones are not purged anyway).
    async fn messages_of_open_alarms(
        &self,
        org: &OrgId,
        cutoff: Millis,
    ) -> StoreResult<HashSet<String>> {
        let bodies: Vec<Vec<u8>> = on_db!(self, pool => {
            sqlx::query_scalar(
                "SELECT e.body FROM events e JOIN alarms a ON a.id = e.alarm_id
                 WHERE a.org_id = $1 AND a.state <> 'cleared' AND e.created_at < $2",
            )
            .bind(org)
            .bind(cutoff)
            .fetch_all(pool)
            .await?
        });
        Ok(bodies
            .iter()
            .filter_map(|body| {
                let event: Value = serde_json::from_slice(body).ok()?;
                event["data"]["message"]["id"].as_str().map(str::to_owned)
            })
            .collect())
    }

    /// One batch of messages received before `cutoff`, after `after` in id order, except the
    /// protected ones; how many were looked at, deleted, and the last id looked at.
    async fn purge_messages(
        &self,
        org: &OrgId,
        cutoff: Millis,
        protected: &HashSet<String>,
        after: &str,
    ) -> StoreResult<(usize, u64, Option<String>)> {
        let bound = id_bound(MessageId::PREFIX, cutoff);
        Ok(on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let ids: Vec<MessageId> = sqlx::query_scalar(
                "SELECT id FROM messages WHERE org_id = $1 AND id > $2 AND id < $3 AND received_at < $4
                 ORDER BY id LIMIT $5",
            )
            .bind(org)
            .bind(after)
            .bind(&bound)
            .bind(cutoff)
            .bind(PURGE_BATCH as i64)
            .fetch_all(&mut *tx)
            .await?;
            let doomed: Vec<&MessageId> = ids.iter().filter(|id| !protected.contains(id.as_str())).collect();
            let mut deleted = 0;
            if !doomed.is_empty() {
                let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DELETE FROM messages WHERE id IN ({})",
                    placeholders(1, doomed.len())
                )));
                for id in &doomed {
                    query = query.bind(*id);
                }
                deleted = query.execute(&mut *tx).await?.rows_affected();
            }
            tx.commit().await?;
            (ids.len(), deleted, ids.last().map(|id| id.as_str().to_owned()))
        }))
    }
}
