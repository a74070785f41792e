//! The background task that raises duration alarms when their timers are due (see
//! `Store::fire_due_timers`) and device-offline alarms when a device stayed silent too long
//! (`Store::fire_due_offline`). Every node of `serve` runs one; on PostgreSQL they share the
//! work without firing a timer twice.

use std::time::Duration;

use tokio::sync::watch;

use crate::domain::time::now_ms;
use crate::store::{OFFLINE_PER_STEP, Store, TIMERS_PER_STEP};

/// How often the task looks for due timers: an alarm is raised at most this long after its
/// deadline (plus the time the step takes).
pub const TICK: Duration = Duration::from_secs(1);

/// Fires due timers every `TICK` until `stopping` turns true.
pub async fn run(store: Store, mut stopping: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !*stopping.borrow() {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopping.changed() => break,
        }
        loop {
            match store.fire_due_timers(now_ms()).await {
                // A full step: more may be due at once.
                Ok(fired) if fired as i64 >= TIMERS_PER_STEP => continue,
                Ok(_) => break,
                Err(error) => {
                    tracing::warn!(error = %error, "firing alarm timers failed; retrying on the next tick");
                    break;
                }
            }
        }
        loop {
            match store.fire_due_offline(now_ms()).await {
                Ok(fired) if fired as i64 >= OFFLINE_PER_STEP => continue,
                Ok(_) => break,
                Err(error) => {
                    tracing::warn!(error = %error, "raising device-offline alarms failed; retrying on the next tick");
                    break;
                }
            }
        }
    }
}
