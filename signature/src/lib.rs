// The crate's documentation is its README, so the examples there are compiled and run as doctests.
#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

pub mod standard;

/// The name of the header that carries the signature.
pub const HEADER: &str = "Biotz-IoT-Signature";

/// How far a signature's timestamp may be from the receiver's clock by default, in seconds.
pub const DEFAULT_TOLERANCE_SECS: u64 = 300;

type HmacSha256 = Hmac<Sha256>;

/// Lowercase hex HMAC-SHA256 of `t + "." + body`, where `t` is the timestamp's text.
fn hex_mac(secret: &str, t: &str, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The `v1` value for one secret: lowercase hex of HMAC-SHA256(secret, `t.body`).
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    hex_mac(secret, &timestamp.to_string(), body)
}

/// The whole header value: `t=<timestamp>` then one `v1=` per secret, in the order given
/// (the current secret first, then older ones still inside their rotation overlap).
pub fn sign_header<S: AsRef<str>>(secrets: &[S], timestamp: i64, body: &[u8]) -> String {
    let mut header = format!("t={timestamp}");
    for secret in secrets {
        header.push_str(",v1=");
        header.push_str(&sign(secret.as_ref(), timestamp, body));
    }
    header
}

/// A parsed `Biotz-IoT-Signature` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeader {
    /// The `t` value: unix seconds at which the request was signed.
    pub timestamp: i64,
    /// Every `v1` value, as written (not necessarily valid hex).
    pub signatures: Vec<String>,
    /// The `t` value exactly as written (trimmed): what the signature covers.
    timestamp_text: String,
}

impl SignatureHeader {
    /// Parses a header value. Items are split on `,` and trimmed; empty items and unknown
    /// keys are ignored; exactly one `t` and at least one `v1` are required.
    pub fn parse(header: &str) -> Result<Self, VerifyError> {
        let mut timestamp = None;
        let mut timestamp_text = String::new();
        let mut signatures = Vec::new();
        for item in header
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
        {
            let Some((key, value)) = item.split_once('=') else {
                continue;
            };
            match key.trim() {
                "t" => {
                    if timestamp.is_some() {
                        return Err(VerifyError::MultipleTimestamps);
                    }
                    timestamp = Some(parse_timestamp(value.trim())?);
                    value.trim().clone_into(&mut timestamp_text);
                }
                "v1" => signatures.push(value.trim().to_owned()),
                _ => {}
            }
        }
        let timestamp = timestamp.ok_or(VerifyError::NoTimestamp)?;
        if signatures.is_empty() {
            return Err(VerifyError::NoSignature);
        }
        Ok(Self {
            timestamp,
            signatures,
            timestamp_text,
        })
    }
}

impl fmt::Display for SignatureHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t={}", self.timestamp)?;
        for signature in &self.signatures {
            write!(f, ",v1={signature}")?;
        }
        Ok(())
    }
}

fn parse_timestamp(value: &str) -> Result<i64, VerifyError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VerifyError::InvalidTimestamp);
    }
    value.parse().map_err(|_| VerifyError::InvalidTimestamp)
}

/// How far the signed timestamp may be from the verifier's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tolerance {
    /// At most this many seconds either way.
    Seconds(u64),
    /// Any timestamp is accepted: for checking a captured request long after it was sent.
    Unlimited,
}

impl Default for Tolerance {
    fn default() -> Self {
        Tolerance::Seconds(DEFAULT_TOLERANCE_SECS)
    }
}

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    /// The header has no `t=` item.
    NoTimestamp,
    /// The header has more than one `t=` item.
    MultipleTimestamps,
    /// The `t=` value is not a whole number of seconds.
    InvalidTimestamp,
    /// The header has no `v1=` item.
    NoSignature,
    /// The timestamp is further from the verifier's clock than the tolerance allows.
    TimestampOutsideTolerance {
        /// The signed timestamp.
        timestamp: i64,
        /// The verifier's clock.
        now: i64,
        /// The tolerance that was exceeded, in seconds.
        tolerance: u64,
    },
    /// No `v1` matches the body under this secret.
    NoMatchingSignature,
    /// The secret does not decode as the Standard Webhooks scheme requires (standard base64
    /// after `whsec_`).
    InvalidSecret,
}

impl VerifyError {
    /// A stable, machine-readable name for the failed rule.
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::NoTimestamp => "no_timestamp",
            VerifyError::MultipleTimestamps => "multiple_timestamps",
            VerifyError::InvalidTimestamp => "invalid_timestamp",
            VerifyError::NoSignature => "no_signature",
            VerifyError::TimestampOutsideTolerance { .. } => "timestamp_outside_tolerance",
            VerifyError::NoMatchingSignature => "no_matching_signature",
            VerifyError::InvalidSecret => "invalid_secret",
        }
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::NoTimestamp => f.write_str("no timestamp: the header has no t= item"),
            VerifyError::MultipleTimestamps => {
                f.write_str("more than one timestamp: the header must have exactly one t= item")
            }
            VerifyError::InvalidTimestamp => {
                f.write_str("invalid timestamp: t= must be whole unix seconds")
            }
            VerifyError::NoSignature => f.write_str("no v1: the header has no v1= signature"),
            VerifyError::TimestampOutsideTolerance {
                timestamp,
                now,
                tolerance,
            } => write!(
                f,
                "timestamp outside tolerance: t={timestamp} is {}s from now ({now}), more than {tolerance}s",
                now.abs_diff(*timestamp)
            ),
            VerifyError::NoMatchingSignature => f.write_str(
                "no matching signature: no v1 matches this body under this secret \
                 (check the secret, and verify the raw body bytes, not re-serialised JSON)",
            ),
            VerifyError::InvalidSecret => f.write_str(
                "invalid secret: under the standard scheme the secret is whsec_ followed by \
                 standard base64",
            ),
        }
    }
}

impl std::error::Error for VerifyError {}

/// Verifies `header` for `body` under `secret` at the verifier's clock `now` (unix seconds).
///
/// Succeeds when the header parses, its timestamp is within `tolerance` of `now`, and any of
/// its `v1` values equals the expected signature (compared in constant time).
pub fn verify(
    secret: &str,
    header: &str,
    body: &[u8],
    now: i64,
    tolerance: Tolerance,
) -> Result<(), VerifyError> {
    let parsed = SignatureHeader::parse(header)?;
    if let Tolerance::Seconds(tolerance) = tolerance
        && now.abs_diff(parsed.timestamp) > tolerance
    {
        return Err(VerifyError::TimestampOutsideTolerance {
            timestamp: parsed.timestamp,
            now,
            tolerance,
        });
    }
    // The signature covers `t` as written in the header (leading zeros included). Compare the
    // hex text itself, as receivers in other languages do: `v1` is lowercase hex.
    let expected = hex_mac(secret, &parsed.timestamp_text, body);
    let matches = parsed.signatures.iter().fold(false, |found, candidate| {
        found | bool::from(candidate.as_bytes().ct_eq(expected.as_bytes()))
    });
    if matches {
        Ok(())
    } else {
        Err(VerifyError::NoMatchingSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const BODY: &[u8] = br#"{"id":"evt_1","type":"alarm.raised"}"#;
    const T: i64 = 1_700_000_000;

    #[test]
    fn signs_the_timestamp_dot_body() {
        let mut mac = HmacSha256::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(format!("{T}.").as_bytes());
        mac.update(BODY);
        let expected = hex::encode(mac.finalize().into_bytes());
        assert_eq!(sign(SECRET, T, BODY), expected);
        assert_eq!(expected.len(), 64);
        assert!(
            expected
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
    }

    #[test]
    fn header_lists_every_secret_newest_first() {
        let header = sign_header(&[SECRET, "whsec_old"], T, BODY);
        let parsed = SignatureHeader::parse(&header).unwrap();
        assert_eq!(parsed.timestamp, T);
        assert_eq!(
            parsed.signatures,
            vec![sign(SECRET, T, BODY), sign("whsec_old", T, BODY)]
        );
        assert_eq!(parsed.to_string(), header);
        assert_eq!(
            verify("whsec_old", &header, BODY, T, Tolerance::default()),
            Ok(())
        );
    }

    #[test]
    fn accepts_within_tolerance_either_way() {
        let header = sign_header(&[SECRET], T, BODY);
        for now in [T - 300, T, T + 300] {
            assert_eq!(
                verify(SECRET, &header, BODY, now, Tolerance::default()),
                Ok(())
            );
        }
        for now in [T - 301, T + 301] {
            assert_eq!(
                verify(SECRET, &header, BODY, now, Tolerance::default()),
                Err(VerifyError::TimestampOutsideTolerance {
                    timestamp: T,
                    now,
                    tolerance: 300
                })
            );
        }
        assert_eq!(
            verify(SECRET, &header, BODY, T + 86_400, Tolerance::Unlimited),
            Ok(())
        );
    }

    #[test]
    fn tolerates_spaces_trailing_commas_and_unknown_schemes() {
        let v1 = sign(SECRET, T, BODY);
        for header in [
            format!("t={T},v1={v1},"),
            format!(" t = {T} , v1 = {v1} "),
            format!("v0=abc,t={T},,v1={v1},x=1,junk"),
            format!("t={T},v1=nothex,v1={v1}"),
            format!("t={T},v1={},v1={v1}", sign("whsec_old", T, BODY)),
        ] {
            assert_eq!(
                verify(SECRET, &header, BODY, T, Tolerance::default()),
                Ok(()),
                "{header}"
            );
        }
    }

    #[test]
    fn names_each_failed_rule() {
        let v1 = sign(SECRET, T, BODY);
        let cases = [
            (format!("v1={v1}"), VerifyError::NoTimestamp),
            (String::new(), VerifyError::NoTimestamp),
            (
                format!("t={T},t={T},v1={v1}"),
                VerifyError::MultipleTimestamps,
            ),
            (format!("t=soon,v1={v1}"), VerifyError::InvalidTimestamp),
            (format!("t=-5,v1={v1}"), VerifyError::InvalidTimestamp),
            (format!("t={T}"), VerifyError::NoSignature),
            (format!("t={T},v0={v1}"), VerifyError::NoSignature),
            (
                format!("t={T},v1={}", "0".repeat(64)),
                VerifyError::NoMatchingSignature,
            ),
            (
                format!("t={},v1={v1}", T + 1),
                VerifyError::NoMatchingSignature,
            ),
            (
                format!("t={T},v1={}", &v1[..63]),
                VerifyError::NoMatchingSignature,
            ),
            (
                format!("t={T},v1={}", v1.to_uppercase()),
                VerifyError::NoMatchingSignature,
            ),
        ];
        for (header, expected) in cases {
            assert_eq!(
                verify(SECRET, &header, BODY, T, Tolerance::default()),
                Err(expected),
                "{header}"
            );
        }
        assert_eq!(
            verify(
                "whsec_other",
                &sign_header(&[SECRET], T, BODY),
                BODY,
                T,
                Tolerance::default()
            ),
            Err(VerifyError::NoMatchingSignature)
        );
        let mut tampered = BODY.to_vec();
        tampered[2] ^= 1;
        assert_eq!(
            verify(
                SECRET,
                &sign_header(&[SECRET], T, BODY),
                &tampered,
                T,
                Tolerance::default()
            ),
            Err(VerifyError::NoMatchingSignature)
        );
    }

    #[test]
    fn errors_say_which_rule_failed() {
        assert!(
            VerifyError::NoTimestamp
                .to_string()
                .starts_with("no timestamp")
        );
        assert!(VerifyError::NoSignature.to_string().starts_with("no v1"));
        assert!(
            VerifyError::NoMatchingSignature
                .to_string()
                .starts_with("no matching signature")
        );
        let outside = VerifyError::TimestampOutsideTolerance {
            timestamp: 0,
            now: 400,
            tolerance: 300,
        };
        assert!(
            outside
                .to_string()
                .starts_with("timestamp outside tolerance")
        );
        assert_eq!(outside.code(), "timestamp_outside_tolerance");
    }
}
