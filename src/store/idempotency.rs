//! Message ids a device sends so that a resent message is not stored or evaluated twice.
//!
//! A message id is claimed inside the ingest transaction with an insert on the
//! `(device_id, message_key)` primary key, never a read-then-write: when two nodes race with the
//! same id, PostgreSQL makes the second insert wait for the first transaction and then find its
//! row; SQLite has one writer. An id older than the window is taken over by the new message.

use super::WriteTx;
use crate::domain::message_key::{MESSAGE_KEY_WINDOW_MS, MessageKey};
use crate::domain::time::Millis;
use crate::domain::{DeviceId, MessageId};

/// One keyed message of a batch: where it is in the batch, its device, its id, and the id the
/// batch gave it.
pub(super) struct KeyClaim<'a> {
    pub index: usize,
    pub device: &'a DeviceId,
    pub key: &'a MessageKey,
    pub message_id: &'a MessageId,
}

/// Claims message ids within a write transaction.
pub(super) trait ClaimKeys {
    /// For each claim whose id the device already used within the window (earlier in this
    /// batch, or in a committed message), its batch index and the original message's id.
    async fn claim_keys(
        &mut self,
        claims: Vec<KeyClaim<'_>>,
        now: Millis,
    ) -> sqlx::Result<Vec<(usize, MessageId)>>;
}

macro_rules! claim_keys_on {
    ($db:ty) => {
        impl ClaimKeys for WriteTx<$db> {
            async fn claim_keys(
                &mut self,
                mut claims: Vec<KeyClaim<'_>>,
                now: Millis,
            ) -> sqlx::Result<Vec<(usize, MessageId)>> {
                // One order for every transaction, so two batches never wait on each other's ids.
                claims.sort_by(|a, b| (a.device, a.key, a.index).cmp(&(b.device, b.key, b.index)));
                let mut duplicates = Vec::new();
                for claim in claims {
                    let claimed: Option<MessageId> = sqlx::query_scalar(
                        "INSERT INTO message_keys (device_id, message_key, message_id, created_at)
                         VALUES ($1, $2, $3, $4)
                         ON CONFLICT (device_id, message_key) DO UPDATE
                             SET message_id = excluded.message_id, created_at = excluded.created_at
                             WHERE message_keys.created_at <= $5
                         RETURNING message_id",
                    )
                    .bind(claim.device)
                    .bind(claim.key.as_str())
                    .bind(claim.message_id)
                    .bind(now)
                    .bind(now - MESSAGE_KEY_WINDOW_MS)
                    .fetch_optional(&mut **self)
                    .await?;
                    if claimed.is_some() {
                        continue;
                    }
                    let original: MessageId = sqlx::query_scalar(
                        "SELECT message_id FROM message_keys WHERE device_id = $1 AND message_key = $2",
                    )
                    .bind(claim.device)
                    .bind(claim.key.as_str())
                    .fetch_one(&mut **self)
                    .await?;
                    duplicates.push((claim.index, original));
                }
                Ok(duplicates)
            }
        }
    };
}

claim_keys_on!(sqlx::Sqlite);
claim_keys_on!(sqlx::Postgres);
