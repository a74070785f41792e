//! The Standard Webhooks v1 scheme (<https://www.standardwebhooks.com>), which a webhook may
//! choose instead of `Biotz-IoT-Signature`, so receivers can verify with the scheme's
//! off-the-shelf libraries.
//!
//! Three headers: `webhook-id` (the event id), `webhook-timestamp` (unix seconds) and
//! `webhook-signature`: `v1,<base64 HMAC-SHA256(key, id + "." + timestamp + "." + body)>`, one
//! more space-separated `v1,…` per older secret still inside its rotation overlap. The key is the
//! standard-base64 decoding of the secret after its `whsec_` prefix.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{KeyInit, Mac};
use subtle::ConstantTimeEq;

use super::{HmacSha256, Tolerance, VerifyError, parse_timestamp};

pub const ID_HEADER: &str = "webhook-id";
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
pub const SIGNATURE_HEADER: &str = "webhook-signature";
/// The prefix of a secret as shown to users.
pub const SECRET_PREFIX: &str = "whsec_";

/// The HMAC key a secret stands for: the standard base64 (with padding) after `whsec_`.
/// `None` when the secret does not decode so, such as one made before the scheme existed.
pub fn key(secret: &str) -> Option<Vec<u8>> {
    let encoded = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
    STANDARD.decode(encoded).ok().filter(|key| !key.is_empty())
}

/// Whether the secret can sign under this scheme.
pub fn is_valid_secret(secret: &str) -> bool {
    key(secret).is_some()
}

fn mac(key: &[u8], id: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    STANDARD.encode(mac.finalize().into_bytes())
}

/// The `webhook-signature` value: one `v1,<base64>` per secret that decodes, in the order
/// given (the current secret first), space-separated. Secrets that do not decode are left out;
/// `None` when none does.
pub fn sign_header<S: AsRef<str>>(
    secrets: &[S],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Option<String> {
    let timestamp = timestamp.to_string();
    let signatures: Vec<String> = secrets
        .iter()
        .filter_map(|secret| key(secret.as_ref()))
        .map(|key| format!("v1,{}", mac(&key, id, &timestamp, body)))
        .collect();
    (!signatures.is_empty()).then(|| signatures.join(" "))
}

/// Verifies a request signed under this scheme: `timestamp` and `signature` are the
/// `webhook-timestamp` and `webhook-signature` headers, `id` the `webhook-id` header.
pub fn verify(
    secret: &str,
    id: &str,
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now: i64,
    tolerance: Tolerance,
) -> Result<(), VerifyError> {
    let key = key(secret).ok_or(VerifyError::InvalidSecret)?;
    let timestamp = timestamp.trim();
    if timestamp.is_empty() {
        return Err(VerifyError::NoTimestamp);
    }
    let signed_at = parse_timestamp(timestamp)?;
    if let Tolerance::Seconds(tolerance) = tolerance
        && now.abs_diff(signed_at) > tolerance
    {
        return Err(VerifyError::TimestampOutsideTolerance {
            timestamp: signed_at,
            now,
            tolerance,
        });
    }
    let candidates: Vec<&str> = signature
        .split_whitespace()
        .filter_map(|item| item.strip_prefix("v1,"))
        .collect();
    if candidates.is_empty() {
        return Err(VerifyError::NoSignature);
    }
    let expected = mac(&key, id, timestamp, body);
    let matches = candidates.iter().fold(false, |found, candidate| {
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

    /// The example of the Standard Webhooks specification's test suite: its secret, message id,
    /// timestamp and payload give this signature.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const T: i64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;

    #[test]
    fn signs_id_dot_timestamp_dot_body_with_the_decoded_key() {
        let header = sign_header(&[SECRET], ID, T, BODY).unwrap();
        assert_eq!(header, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert_eq!(
            verify(
                SECRET,
                ID,
                &T.to_string(),
                &header,
                BODY,
                T,
                Tolerance::default()
            ),
            Ok(())
        );
    }

    #[test]
    fn every_secret_that_decodes_signs_during_an_overlap() {
        let old = "whsec_c2Vjb25kIHNlY3JldCBrZXkgb2YgdGhpcyB0ZXN0";
        let header = sign_header(&[SECRET, "whsec_not-standard_base64", old], ID, T, BODY).unwrap();
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2, "{header}");
        for secret in [SECRET, old] {
            assert_eq!(
                verify(
                    secret,
                    ID,
                    &T.to_string(),
                    &header,
                    BODY,
                    T,
                    Tolerance::default()
                ),
                Ok(())
            );
        }
        assert_eq!(
            sign_header(&["whsec_not-standard_base64"], ID, T, BODY),
            None
        );
    }

    #[test]
    fn refusals_name_the_rule() {
        let header = sign_header(&[SECRET], ID, T, BODY).unwrap();
        let check = |secret: &str, id: &str, t: &str, sig: &str, body: &[u8], now: i64| {
            verify(secret, id, t, sig, body, now, Tolerance::default())
        };
        let t = T.to_string();
        assert_eq!(
            check(SECRET, ID, &t, &header, b"{}", T),
            Err(VerifyError::NoMatchingSignature)
        );
        assert_eq!(
            check(SECRET, "msg_other", &t, &header, BODY, T),
            Err(VerifyError::NoMatchingSignature)
        );
        assert_eq!(
            check(SECRET, ID, &t, &header, BODY, T + 301)
                .unwrap_err()
                .code(),
            "timestamp_outside_tolerance"
        );
        assert_eq!(
            check(SECRET, ID, "", &header, BODY, T),
            Err(VerifyError::NoTimestamp)
        );
        assert_eq!(
            check(SECRET, ID, "soon", &header, BODY, T),
            Err(VerifyError::InvalidTimestamp)
        );
        assert_eq!(
            check(SECRET, ID, &t, "v2,abc", BODY, T),
            Err(VerifyError::NoSignature)
        );
        assert_eq!(
            check("whsec_not-standard_base64", ID, &t, &header, BODY, T),
            Err(VerifyError::InvalidSecret)
        );
    }
}
