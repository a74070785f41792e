//! When to try again: the retry schedule with jitter, and the receiver's `Retry-After`.

use std::time::Duration;

use crate::domain::time::{Millis, duration_ms};
use crate::store::NextStep;

/// The longest a `Retry-After` is honoured for.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// The delay before the next attempt, after `failed` attempts since the delivery was (re)queued,
/// or `None` when the schedule is exhausted. `jitter` in [-1, 1] moves the delay by up to ±10 %;
/// a `Retry-After` from the receiver (capped at one hour) is a lower bound.
pub fn next_delay(
    schedule: &[Duration],
    failed: usize,
    jitter: f64,
    retry_after: Option<Duration>,
) -> Option<Duration> {
    let base = *schedule.get(failed.checked_sub(1)?)?;
    let factor = 1.0 + 0.1 * jitter.clamp(-1.0, 1.0);
    let jittered = base.mul_f64(factor);
    Some(match retry_after {
        Some(wait) => jittered.max(wait.min(MAX_RETRY_AFTER)),
        None => jittered,
    })
}

/// Parses `Retry-After`: delay-seconds, or an HTTP date relative to `now_unix`.
pub fn parse_retry_after(value: &str, now_unix: i64) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let format = time::format_description::well_known::Rfc2822;
    let at = time::OffsetDateTime::parse(value, &format)
        .or_else(|_| time::PrimitiveDateTime::parse(value, HTTP_DATE).map(|t| t.assume_utc()))
        .ok()?;
    Some(Duration::from_secs(
        u64::try_from(at.unix_timestamp() - now_unix).unwrap_or(0),
    ))
}

/// IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`.
const HTTP_DATE: &[time::format_description::FormatItem<'static>] = time::macros::format_description!(
    "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
);

/// What an attempt came to, as far as the schedule cares.
#[derive(Debug, Clone, Copy)]
pub struct Tried {
    pub succeeded: bool,
    /// The receiver answered 410 Gone.
    pub gone: bool,
    /// This attempt's number.
    pub attempt: i64,
    /// The attempt count when the delivery was last (re)queued.
    pub queued_attempts: i64,
    pub retry_after: Option<Duration>,
}

/// What becomes of a delivery after an attempt: done, retried at a time, or failed for good.
pub fn next_step(tried: &Tried, schedule: &[Duration], jitter: f64, now: Millis) -> NextStep {
    if tried.succeeded {
        return NextStep::Succeeded;
    }
    if tried.gone {
        return NextStep::Gone;
    }
    let failed = usize::try_from(tried.attempt - tried.queued_attempts).unwrap_or(0);
    match next_delay(schedule, failed, jitter, tried.retry_after) {
        Some(delay) => NextStep::RetryAt(now + duration_ms(delay)),
        None => NextStep::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_attempt_leads_to_its_next_step() {
        let schedule = [s(5), s(30)];
        let step = |succeeded, gone, attempt, queued_attempts| {
            let tried = Tried {
                succeeded,
                gone,
                attempt,
                queued_attempts,
                retry_after: None,
            };
            next_step(&tried, &schedule, 0.0, 1_000)
        };
        assert_eq!(step(true, false, 1, 0), NextStep::Succeeded);
        assert_eq!(step(false, true, 1, 0), NextStep::Gone);
        assert_eq!(step(false, false, 1, 0), NextStep::RetryAt(6_000));
        assert_eq!(step(false, false, 2, 0), NextStep::RetryAt(31_000));
        assert_eq!(step(false, false, 3, 0), NextStep::Failed);
        assert_eq!(
            step(false, false, 4, 3),
            NextStep::RetryAt(6_000),
            "a resend starts the schedule afresh"
        );
    }

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn follows_the_schedule_then_stops() {
        let schedule = [s(5), s(30), s(120)];
        assert_eq!(next_delay(&schedule, 1, 0.0, None), Some(s(5)));
        assert_eq!(next_delay(&schedule, 2, 0.0, None), Some(s(30)));
        assert_eq!(next_delay(&schedule, 3, 0.0, None), Some(s(120)));
        assert_eq!(next_delay(&schedule, 4, 0.0, None), None);
        assert_eq!(next_delay(&schedule, 0, 0.0, None), None);
        assert_eq!(next_delay(&[], 1, 0.0, None), None);
    }

    #[test]
    fn jitter_is_at_most_ten_percent() {
        let schedule = [s(100)];
        assert_eq!(next_delay(&schedule, 1, 1.0, None), Some(s(110)));
        assert_eq!(next_delay(&schedule, 1, -1.0, None), Some(s(90)));
        assert_eq!(next_delay(&schedule, 1, 7.0, None), Some(s(110)));
    }

    #[test]
    fn retry_after_delays_but_is_capped_at_an_hour() {
        let schedule = [s(5)];
        assert_eq!(next_delay(&schedule, 1, 0.0, Some(s(60))), Some(s(60)));
        assert_eq!(next_delay(&schedule, 1, 0.0, Some(s(1))), Some(s(5)));
        assert_eq!(
            next_delay(&schedule, 1, 0.0, Some(s(86_400))),
            Some(s(3600))
        );
        assert_eq!(
            next_delay(&schedule, 2, 0.0, Some(s(60))),
            None,
            "no retry left, whatever the receiver asks"
        );
    }

    #[test]
    fn parses_seconds_and_http_dates() {
        assert_eq!(parse_retry_after("120", 0), Some(s(120)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_707),
            Some(s(70))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_800),
            Some(s(0))
        );
        assert_eq!(parse_retry_after("soon", 0), None);
    }
}
