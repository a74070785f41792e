//! Checks the recipe against the Rust signer's fixed vectors (`signature/vectors.json`, or the
//! file named by `BIOTZ_VECTORS`): every `signing` header is recomputed, and every
//! `verification` case is sent through the receiver's router with its clock at the case's `now`.

use axum::body::{Body, to_bytes};
use axum::http::Request;
use biotz_receiver_example::Receiver;
use biotz_signature::{Tolerance, sign_header};
use serde_json::Value;
use tower::ServiceExt;

fn vectors() -> Value {
    let path = std::env::var("BIOTZ_VECTORS").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../signature/vectors.json"
        )
        .into()
    });
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{path}: {error}"))
}

fn text(value: &Value) -> &str {
    value.as_str().expect("a string in vectors.json")
}

fn number(value: &Value) -> i64 {
    value.as_i64().expect("a number in vectors.json")
}

/// The error code the receiver answers for one case, or None when it accepts it.
async fn verdict(case: &Value) -> Option<String> {
    let now = number(&case["now"]);
    let tolerance = case["tolerance"]
        .as_u64()
        .expect("a tolerance in vectors.json");
    let router = Receiver::new(text(&case["secret"]))
        .with_clock(move || now)
        .with_tolerance(Tolerance::Seconds(tolerance))
        .router();
    let request = Request::post("/webhook")
        .header("Biotz-IoT-Signature", text(&case["header"]))
        .header("Biotz-IoT-Event-Id", "evt_vector")
        .body(Body::from(text(&case["body"]).to_owned()))
        .expect("a valid request");
    let response = router.oneshot(request).await.expect("the router answers");
    let status = response.status();
    let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let body: Value = serde_json::from_slice(&body).expect("a JSON answer");
    match status.as_u16() {
        200 => None,
        400 => Some(text(&body["error"]["code"]).to_owned()),
        other => Some(format!("HTTP {other}")),
    }
}

#[tokio::test]
async fn vectors_agree_with_biotz_signature() {
    let vectors = vectors();
    let signing = vectors["signing"].as_array().expect("signing cases");
    let verification = vectors["verification"]
        .as_array()
        .expect("verification cases");
    let mut failures = Vec::new();
    for case in signing {
        let secrets: Vec<&str> = case["secrets"]
            .as_array()
            .unwrap()
            .iter()
            .map(text)
            .collect();
        let header = sign_header(
            &secrets,
            number(&case["timestamp"]),
            text(&case["body"]).as_bytes(),
        );
        if header != text(&case["header"]) {
            failures.push(format!("signing {}: got {header}", case["name"]));
        }
    }
    for case in verification {
        let expected = case["error"].as_str().map(str::to_owned);
        let got = verdict(case).await;
        if got != expected {
            failures.push(format!(
                "verification {}: expected {expected:?}, got {got:?}",
                case["name"]
            ));
        }
    }
    let total = signing.len() + verification.len();
    for failure in &failures {
        println!("FAIL {failure}");
    }
    println!(
        "rust: {}/{total} vectors agree with biotz-signature",
        total - failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
