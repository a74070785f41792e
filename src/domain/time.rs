//! Time as stored: unix milliseconds in an `i64`, the same column type in SQLite and PostgreSQL.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Milliseconds since the unix epoch.
pub type Millis = i64;

pub fn now_ms() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as Millis)
}

pub fn duration_ms(duration: Duration) -> Millis {
    Millis::try_from(duration.as_millis()).unwrap_or(Millis::MAX)
}

/// RFC 3339 in UTC with milliseconds, as in the event envelope: `2026-11-27T17:20:56.123Z`.
pub fn rfc3339(ms: Millis) -> String {
    let Ok(at) = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) else {
        return ms.to_string();
    };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    )
}

/// Parses an RFC 3339 date-time (any offset) or whole unix seconds.
pub fn parse_instant(text: &str) -> Option<Millis> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<i64>().ok()?.checked_mul(1000);
    }
    let at = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    Millis::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_with_milliseconds() {
        assert_eq!(rfc3339(1_795_800_056_123), "2026-11-27T17:20:56.123Z");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn parses_rfc3339_and_unix_seconds() {
        assert_eq!(
            parse_instant("2026-11-27T17:20:56.123Z"),
            Some(1_795_800_056_123)
        );
        assert_eq!(
            parse_instant("2026-11-27T18:20:56.123+01:00"),
            Some(1_795_800_056_123)
        );
        assert_eq!(parse_instant("1795800056"), Some(1_795_800_056_000));
        assert_eq!(parse_instant("yesterday"), None);
        assert_eq!(parse_instant(""), None);
    }
}

/// Serde helpers: stored milliseconds written as RFC 3339 in JSON.
pub mod as_rfc3339 {
    use super::{Millis, rfc3339};

    pub fn serialize<S: serde::Serializer>(ms: &Millis, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&rfc3339(*ms))
    }

    pub mod option {
        use super::super::{Millis, rfc3339};

        pub fn serialize<S: serde::Serializer>(
            ms: &Option<Millis>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match ms {
                Some(ms) => s.serialize_str(&rfc3339(*ms)),
                None => s.serialize_none(),
            }
        }
    }
}
