//! Retention: finished messages, events, deliveries and attempts older than `BIOTZ_RETAIN`
//! (or the organization's own setting) are purged in the background, in short batches (see
//! `store::retention`).

pub mod export;

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::watch;

use crate::domain::time::{Millis, now_ms};
use crate::store::{Purged, Store};

pub const DEFAULT_RETAIN: &str = "30d";

/// How often the purge runs; the first run is `FIRST_PURGE_AFTER` after the start.
const PURGE_EVERY: Duration = Duration::from_secs(3600);
const FIRST_PURGE_AFTER: Duration = Duration::from_secs(60);

const MIN_DAYS: u64 = 1;
const MAX_DAYS: u64 = 3650;

/// A retention period: whole days from 1 to 3650, written like `30d` (or `720h`, `2w`).
pub fn parse_retain(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let retain = humantime::parse_duration(text).map_err(|_| {
        format!("'{text}' is not a duration; write a number of days such as 30d (or 2w, 720h)")
    })?;
    let day = 86_400;
    if retain.as_secs() % day != 0 || retain.subsec_nanos() != 0 {
        return Err(format!(
            "'{text}' is not a whole number of days; write one such as 30d"
        ));
    }
    let days = retain.as_secs() / day;
    if !(MIN_DAYS..=MAX_DAYS).contains(&days) {
        return Err(format!(
            "keep data between {MIN_DAYS} and {MAX_DAYS} days; '{text}' is {days} days"
        ));
    }
    Ok(retain)
}

/// `30d` for 30 days.
pub fn format_retain(retain: Duration) -> String {
    format!("{}d", retain.as_secs() / 86_400)
}

/// How long finished data is kept, and where it is exported first.
#[derive(Debug, Clone)]
pub struct RetentionSettings {
    /// `BIOTZ_RETAIN`: for organizations that set no period of their own.
    pub default: Duration,
    /// `BIOTZ_EXPORT_DIR`: where organizations that ask for it get their deliveries exported.
    pub export_dir: Option<PathBuf>,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            default: Duration::from_secs(30 * 86_400),
            export_dir: None,
        }
    }
}

/// One purge of every organization as of `now`, each with its own period or the default,
/// exporting first for the organizations that ask for it. An organization whose export fails
/// is not purged this time (its data is kept, not lost).
pub async fn purge_all(
    store: &Store,
    settings: &RetentionSettings,
    now: Millis,
) -> anyhow::Result<Purged> {
    let mut total = Purged::default();
    for (org, retain_ms, export) in store.retention_by_org().await? {
        let cutoff = now - retain_ms.unwrap_or(settings.default.as_millis() as i64);
        if export {
            let Some(root) = &settings.export_dir else {
                tracing::warn!(org_id = %org, "the organization exports before purging, but BIOTZ_EXPORT_DIR is not set: not purging it");
                continue;
            };
            if let Err(error) = export::export_org(store, &org, cutoff, root).await {
                tracing::error!(org_id = %org, error = format!("{error:#}"), "exporting before the purge failed: not purging the organization");
                continue;
            }
        }
        let purged = store.purge_org(&org, cutoff).await?;
        total.deliveries += purged.deliveries;
        total.events += purged.events;
        total.messages += purged.messages;
    }
    total.message_ids = store.purge_message_ids(now).await?;
    Ok(total)
}

/// The maintenance lease the purge runs under, so one node at a time purges (and exports).
pub const PURGE_LEASE: &str = "purge";

/// Purges every hour until `stopping` turns true, when this node holds the purge lease (on
/// many nodes, one of them purges each hour).
pub async fn run(store: Store, settings: RetentionSettings, mut stopping: watch::Receiver<bool>) {
    let owner = crate::domain::random::token();
    let mut wait = FIRST_PURGE_AFTER;
    loop {
        tokio::select! {
            _ = stopping.wait_for(|stop| *stop) => return,
            () = tokio::time::sleep(wait) => {}
        }
        wait = PURGE_EVERY;
        let now = now_ms();
        let lease_until = now + PURGE_EVERY.as_millis() as i64;
        match store
            .claim_maintenance_lease(PURGE_LEASE, &owner, now, lease_until)
            .await
        {
            Ok(true) => {}
            Ok(false) => continue,
            Err(error) => {
                tracing::warn!(%error, "claiming the purge lease failed; trying again in an hour");
                continue;
            }
        }
        match purge_all(&store, &settings, now).await {
            Ok(purged) if purged != Purged::default() => tracing::info!(
                deliveries = purged.deliveries,
                events = purged.events,
                messages = purged.messages,
                message_ids = purged.message_ids,
                "purged finished data past its retention"
            ),
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, "purging old data failed; trying again in an hour")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_periods_are_whole_days() {
        assert_eq!(parse_retain("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert_eq!(parse_retain("2w"), Ok(Duration::from_secs(14 * 86_400)));
        assert!(
            parse_retain("36h")
                .unwrap_err()
                .contains("whole number of days")
        );
        assert!(
            parse_retain("0d")
                .unwrap_err()
                .contains("between 1 and 3650")
        );
        assert!(
            parse_retain("4000d")
                .unwrap_err()
                .contains("between 1 and 3650")
        );
        assert!(parse_retain("forever").unwrap_err().contains("such as 30d"));
        assert_eq!(format_retain(Duration::from_secs(7 * 86_400)), "7d");
    }
}
