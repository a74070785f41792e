//! The receiver's answers beyond the signature rules: parsing only after verifying, and
//! deduplication on Biotz-IoT-Event-Id.

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use biotz_receiver_example::Receiver;
use biotz_signature::sign_header;
use serde_json::Value;
use tower::ServiceExt;

const SECRET: &str = "whsec_receiver_test";
const NOW: i64 = 1_764_264_056;
const EVENT: &str = r#"{"id":"evt_1","type":"webhook.test","data":{}}"#;

fn router() -> Router {
    Receiver::new(SECRET).with_clock(|| NOW).router()
}

async fn post(router: &Router, signature: &str, event_id: &str, body: &str) -> (StatusCode, Value) {
    let request = Request::post("/webhook")
        .header("Biotz-IoT-Signature", signature)
        .header("Biotz-IoT-Event-Id", event_id)
        .body(Body::from(body.to_owned()))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&body).unwrap())
}

fn signed(body: &str) -> String {
    sign_header(&[SECRET], NOW, body.as_bytes())
}

#[tokio::test]
async fn a_retried_event_is_acknowledged_as_a_duplicate() {
    let router = router();
    let (status, answer) = post(&router, &signed(EVENT), "evt_1", EVENT).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer, serde_json::json!({"received": true}));

    let (status, answer) = post(&router, &signed(EVENT), "evt_1", EVENT).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["duplicate"], true);

    let (status, answer) = post(&router, &signed(EVENT), "evt_2", EVENT).await;
    assert_eq!(
        (status, &answer["duplicate"]),
        (StatusCode::OK, &Value::Null)
    );
}

#[tokio::test]
async fn a_forged_request_for_a_known_event_is_still_refused() {
    let router = router();
    post(&router, &signed(EVENT), "evt_1", EVENT).await;
    let forged = sign_header(&["whsec_guess"], NOW, EVENT.as_bytes());
    let (status, answer) = post(&router, &forged, "evt_1", EVENT).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["error"]["code"], "no_matching_signature");
}

#[tokio::test]
async fn the_body_is_verified_before_it_is_parsed() {
    let router = router();
    let (status, answer) = post(&router, &signed(EVENT), "evt_1", "not JSON").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["error"]["code"], "no_matching_signature");

    let (status, answer) = post(&router, &signed("not JSON"), "evt_1", "not JSON").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["error"]["code"], "invalid_json");
}

#[tokio::test]
async fn an_event_without_its_id_header_is_refused() {
    let (status, answer) = post(&router(), &signed(EVENT), "", EVENT).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["error"]["code"], "no_event_id");
}
