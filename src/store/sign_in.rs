//! Failed sign-ins per key, shared by every node (see `web::rate_limit`).

use super::{Store, StoreResult, on_db};
use crate::domain::time::{Millis, now_ms};

impl Store {
    /// Counts a failure for each key: a row whose window has ended starts a new one of `window`.
    pub async fn record_sign_in_failure(&self, keys: &[String], window: Millis) -> StoreResult<()> {
        let now = now_ms();
        on_db!(self, pool => {
            for key in keys {
                sqlx::query(
                    "INSERT INTO sign_in_failures (key, failures, window_ends_at) VALUES ($1, 1, $2)
                     ON CONFLICT (key) DO UPDATE SET
                       failures = CASE WHEN sign_in_failures.window_ends_at <= $3 THEN 1
                                       ELSE sign_in_failures.failures + 1 END,
                       window_ends_at = CASE WHEN sign_in_failures.window_ends_at <= $3 THEN $2
                                             ELSE sign_in_failures.window_ends_at END",
                )
                .bind(key)
                .bind(now + window)
                .bind(now)
                .execute(pool)
                .await?;
            }
            // Forget ended windows now and then, so the table stays small.
            sqlx::query("DELETE FROM sign_in_failures WHERE window_ends_at <= $1")
                .bind(now - window)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// For each key still in its window: the failures and when the window ends.
    pub async fn sign_in_failures(&self, keys: &[String]) -> StoreResult<Vec<(i64, Millis)>> {
        let now = now_ms();
        let mut found = Vec::new();
        for key in keys {
            let row: Option<(i64, Millis)> = on_db!(self, pool => {
                sqlx::query_as(
                    "SELECT failures, window_ends_at FROM sign_in_failures
                     WHERE key = $1 AND window_ends_at > $2",
                )
                .bind(key)
                .bind(now)
                .fetch_optional(pool)
                .await?
            });
            found.extend(row);
        }
        Ok(found)
    }

    pub async fn clear_sign_in_failures(&self, key: &str) -> StoreResult<()> {
        on_db!(self, pool => {
            sqlx::query("DELETE FROM sign_in_failures WHERE key = $1")
                .bind(key)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}
