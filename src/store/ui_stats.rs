//! Figures the web UI draws: each webhook's deliveries per UTC day, by outcome, for the
//! sparklines of the webhooks list.

use super::{Store, StoreResult, on_db, placeholders};
use crate::domain::time::Millis;
use crate::domain::{DeliveryId, OrgId, WebhookId};

pub const DAY_MS: Millis = 86_400_000;

/// The deliveries made on one day, by what became of them so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DayOutcomes {
    pub succeeded: i64,
    pub failed: i64,
    /// Pending (or retrying) and skipped.
    pub other: i64,
}

impl DayOutcomes {
    pub fn total(&self) -> i64 {
        self.succeeded + self.failed + self.other
    }
}

/// The start (UTC midnight) of the first of `days` days that end with the day `now` is in.
pub fn first_day(now: Millis, days: usize) -> Millis {
    now - now.rem_euclid(DAY_MS) - (days as Millis - 1) * DAY_MS
}

impl Store {
    /// For each of `webhooks` (in that order), its deliveries on each of the `days` UTC days
    /// that end today, oldest day first.
    pub async fn daily_delivery_outcomes(
        &self,
        org: &OrgId,
        webhooks: &[WebhookId],
        days: usize,
        now: Millis,
    ) -> StoreResult<Vec<Vec<DayOutcomes>>> {
        let mut outcomes = vec![vec![DayOutcomes::default(); days]; webhooks.len()];
        if webhooks.is_empty() || days == 0 {
            return Ok(outcomes);
        }
        let start = first_day(now, days);
        // Ids sort by creation time (a ULID after the prefix), so this lower bound lets the
        // (webhook_id, id) index find the days without reading older deliveries.
        let first_id = format!(
            "{}_{}",
            DeliveryId::PREFIX,
            ulid::Ulid::from_parts(start.max(0) as u64, 0)
                .to_string()
                .to_ascii_lowercase()
        );
        let list = placeholders(4, webhooks.len());
        let rows: Vec<(WebhookId, i64, String, i64)> = on_db!(self, pool => {
            let mut query = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT webhook_id, (created_at - $2) / {DAY_MS}, status, count(*) FROM deliveries
                 WHERE org_id = $1 AND created_at >= $2 AND id >= $3 AND webhook_id IN ({list})
                 GROUP BY 1, 2, 3"
            )))
            .bind(org)
            .bind(start)
            .bind(&first_id);
            for webhook in webhooks {
                query = query.bind(webhook);
            }
            query.fetch_all(pool).await?
        });
        for (webhook, day, status, count) in rows {
            let (Some(index), Ok(day)) = (
                webhooks.iter().position(|w| *w == webhook),
                usize::try_from(day),
            ) else {
                continue;
            };
            let Some(slot) = outcomes[index].get_mut(day) else {
                continue;
            };
            match status.as_str() {
                "succeeded" => slot.succeeded += count,
                "failed" => slot.failed += count,
                _ => slot.other += count,
            }
        }
        Ok(outcomes)
    }
}

#[cfg(test)]
mod tests {
    use super::{DAY_MS, first_day};

    #[test]
    fn the_first_day_starts_at_utc_midnight() {
        // 2026-11-27T17:20:56Z
        let now = 1_795_800_056_000;
        let midnight = now - now % DAY_MS;
        assert_eq!(first_day(now, 1), midnight);
        assert_eq!(first_day(now, 14), midnight - 13 * DAY_MS);
        assert_eq!(first_day(midnight, 1), midnight);
    }
}
