//! The fixed vectors in `vectors.json` are what receivers in other languages are checked
//! against. This test rebuilds them with this crate and fails if the file differs, so the file
//! always says what the Rust signer and verifier do. `BIOTZ_WRITE_VECTORS=1` rewrites it.

use biotz_signature::{Tolerance, sign_header, verify};
use serde::Serialize;

const SECRET: &str = "whsec_2AcXk3y7Fq0o9GdQmR5tLw8ZbN1vJhPe4sUiYxKcT6E";
const OLD_SECRET: &str = "whsec_Old9pV3nQ7rT1mK5xW2yZ8bC4dF6gH0jL";
const T: i64 = 1_764_264_056;

#[derive(Serialize)]
struct Vectors {
    signing: Vec<Signing>,
    verification: Vec<Verification>,
}

#[derive(Serialize)]
struct Signing {
    name: &'static str,
    secrets: Vec<&'static str>,
    timestamp: i64,
    body: &'static str,
    header: String,
}

#[derive(Serialize)]
struct Verification {
    name: &'static str,
    secret: &'static str,
    header: String,
    body: String,
    now: i64,
    tolerance: u64,
    valid: bool,
    error: Option<&'static str>,
}

const ALARM: &str = r#"{"id":"evt_01JDQ7Z6W3K9V2","type":"alarm.raised","created_at":"2026-11-27T17:20:56.123Z","data":{"alarm":{"id":"alm_1","state":"raised","severity":"critical"},"message":{"payload":{"temperature":81.5,"unit":"°C"}}}}"#;

/// (name, secret, header, body, now, the expected error code or None when valid)
type Case = (
    &'static str,
    &'static str,
    String,
    String,
    i64,
    Option<&'static str>,
);

/// HMAC-SHA256 over `t.body` with `t` as given, independently of the crate.
fn mac_hex(secret: &str, t: &str, body: &[u8]) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn build() -> Vectors {
    let bodies = [
        ("alarm", ALARM),
        ("empty object", "{}"),
        ("unicode", r#"{"name":"Kühlraum ❄ 3","note":"日本語"}"#),
    ];
    let mut signing: Vec<Signing> = bodies
        .iter()
        .map(|(name, body)| Signing {
            name,
            secrets: vec![SECRET],
            timestamp: T,
            body,
            header: sign_header(&[SECRET], T, body.as_bytes()),
        })
        .collect();
    signing.push(Signing {
        name: "rotation overlap: two v1, newest first",
        secrets: vec![SECRET, OLD_SECRET],
        timestamp: T,
        body: ALARM,
        header: sign_header(&[SECRET, OLD_SECRET], T, ALARM.as_bytes()),
    });

    let good = sign_header(&[SECRET], T, ALARM.as_bytes());
    let v1 = good.split_once(",v1=").unwrap().1.to_owned();
    let tampered = ALARM.replace("81.5", "81.6");
    let reserialised = ALARM.replace(",\"", ", \"");
    let cases: Vec<Case> = vec![
        ("valid", SECRET, good.clone(), ALARM.into(), T + 5, None),
        (
            "valid at the edge of the tolerance",
            SECRET,
            good.clone(),
            ALARM.into(),
            T - 300,
            None,
        ),
        (
            "trailing comma",
            SECRET,
            format!("{good},"),
            ALARM.into(),
            T,
            None,
        ),
        (
            "spaces around items",
            SECRET,
            format!(" t={T} , v1={v1} "),
            ALARM.into(),
            T,
            None,
        ),
        (
            "extra unknown scheme",
            SECRET,
            format!("t={T},v0=deadbeef,v1={v1}"),
            ALARM.into(),
            T,
            None,
        ),
        (
            "two v1, current secret second",
            SECRET,
            sign_header(&[OLD_SECRET, SECRET], T, ALARM.as_bytes()),
            ALARM.into(),
            T,
            None,
        ),
        (
            "two v1, verified with the older secret",
            OLD_SECRET,
            sign_header(&[SECRET, OLD_SECRET], T, ALARM.as_bytes()),
            ALARM.into(),
            T,
            None,
        ),
        (
            "tampered body",
            SECRET,
            good.clone(),
            tampered,
            T,
            Some("no_matching_signature"),
        ),
        (
            "re-serialised JSON",
            SECRET,
            good.clone(),
            reserialised,
            T,
            Some("no_matching_signature"),
        ),
        (
            "wrong secret",
            "whsec_wrong",
            good.clone(),
            ALARM.into(),
            T,
            Some("no_matching_signature"),
        ),
        (
            "stale timestamp",
            SECRET,
            good.clone(),
            ALARM.into(),
            T + 301,
            Some("timestamp_outside_tolerance"),
        ),
        (
            "timestamp from the future",
            SECRET,
            good.clone(),
            ALARM.into(),
            T - 301,
            Some("timestamp_outside_tolerance"),
        ),
        (
            "no timestamp",
            SECRET,
            format!("v1={v1}"),
            ALARM.into(),
            T,
            Some("no_timestamp"),
        ),
        (
            "two timestamps",
            SECRET,
            format!("t={T},t={T},v1={v1}"),
            ALARM.into(),
            T,
            Some("multiple_timestamps"),
        ),
        (
            "timestamp not a number",
            SECRET,
            format!("t=now,v1={v1}"),
            ALARM.into(),
            T,
            Some("invalid_timestamp"),
        ),
        (
            "no v1",
            SECRET,
            format!("t={T},v0={v1}"),
            ALARM.into(),
            T,
            Some("no_signature"),
        ),
        (
            "uppercase hex",
            SECRET,
            format!("t={T},v1={}", v1.to_uppercase()),
            ALARM.into(),
            T,
            Some("no_matching_signature"),
        ),
        (
            "timestamp changed",
            SECRET,
            format!("t={},v1={v1}", T + 1),
            ALARM.into(),
            T,
            Some("no_matching_signature"),
        ),
        (
            "leading zeros in t: the signature covers t as written",
            SECRET,
            format!(
                "t=0{T},v1={}",
                mac_hex(SECRET, &format!("0{T}"), ALARM.as_bytes())
            ),
            ALARM.into(),
            T,
            None,
        ),
        (
            "leading zeros in t, signed without them",
            SECRET,
            format!("t=0{T},v1={v1}"),
            ALARM.into(),
            T,
            Some("no_matching_signature"),
        ),
        (
            "t beyond 64 bits",
            SECRET,
            format!("t=99999999999999999999,v1={v1}"),
            ALARM.into(),
            T,
            Some("invalid_timestamp"),
        ),
    ];
    let verification = cases
        .into_iter()
        .map(|(name, secret, header, body, now, expected)| {
            let result = verify(secret, &header, body.as_bytes(), now, Tolerance::default());
            assert_eq!(result.as_ref().err().map(|e| e.code()), expected, "{name}");
            Verification {
                name,
                secret,
                header,
                body,
                now,
                tolerance: 300,
                valid: result.is_ok(),
                error: expected,
            }
        })
        .collect();
    Vectors {
        signing,
        verification,
    }
}

#[test]
fn vectors_file_matches_this_crate() {
    let vectors = build();
    let json = serde_json::to_string_pretty(&vectors).unwrap() + "\n";
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/vectors.json");
    if std::env::var_os("BIOTZ_WRITE_VECTORS").is_some() {
        std::fs::write(path, &json).unwrap();
    }
    let stored =
        std::fs::read_to_string(path).expect("vectors.json (BIOTZ_WRITE_VECTORS=1 makes it)");
    assert_eq!(
        stored, json,
        "vectors.json is stale: rerun with BIOTZ_WRITE_VECTORS=1"
    );
}
