//! Values shown once after a redirect (`shown_once`): the POST keeps the value, the page it
//! redirects to takes it, and taking deletes it.

use super::{Store, StoreResult, WritePool, on_db};
use crate::domain::random;
use crate::domain::time::{Millis, now_ms};
use crate::domain::{OrgId, UserId};

/// How long a kept value waits for its page: the redirect follows at once.
const KEEP_MS: Millis = 10 * 60 * 1000;

/// A token to show once, with what it belongs to (a device or API token id) and which page
/// shows it (such as `device_created`, `device_token`, `api_token`).
pub struct ShownOnce {
    pub subject: String,
    pub kind: String,
    pub token: String,
}

impl Store {
    /// Keeps the token for `user`'s next page; returns the key that page takes it with.
    pub async fn keep_to_show_once(
        &self,
        org: &OrgId,
        user: &UserId,
        value: &ShownOnce,
    ) -> StoreResult<String> {
        let id = random::token();
        let sealed = self.key.seal(value.token.as_bytes(), &id);
        let now = now_ms();
        on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query("DELETE FROM shown_once WHERE expires_at <= $1")
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO shown_once (id, org_id, user_id, subject, kind, sealed, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&id)
            .bind(org)
            .bind(user)
            .bind(&value.subject)
            .bind(&value.kind)
            .bind(&sealed)
            .bind(now + KEEP_MS)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(id)
    }

    /// Takes the value kept under `id` for this user, deleting it: `None` once it was taken,
    /// when it expired, or when it belongs to someone else.
    pub async fn take_shown_once(
        &self,
        org: &OrgId,
        user: &UserId,
        id: &str,
    ) -> StoreResult<Option<ShownOnce>> {
        let row: Option<(String, String, Vec<u8>)> = on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let row = sqlx::query_as(
                "DELETE FROM shown_once
                 WHERE id = $1 AND org_id = $2 AND user_id = $3 AND expires_at > $4
                 RETURNING subject, kind, sealed",
            )
            .bind(id)
            .bind(org)
            .bind(user)
            .bind(now_ms())
            .fetch_optional(&mut *tx)
            .await?;
            tx.commit().await?;
            row
        });
        let Some((subject, kind, sealed)) = row else {
            return Ok(None);
        };
        let plain = self.key.open(&sealed, id)?;
        Ok(Some(ShownOnce {
            subject,
            kind,
            token: String::from_utf8_lossy(&plain).into_owned(),
        }))
    }
}
