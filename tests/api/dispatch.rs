//! The dispatcher against real HTTPS receivers on 127.0.0.1: signatures, retries, the attempt
//! log, the failure lifecycle, resend/replay/test, fairness.

use std::time::Duration;

use biotz_signature::{SignatureHeader, Tolerance, verify};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Api, Tenant, TestApp};
use crate::receiver::{Receiver, Reply};

const WAIT: Duration = Duration::from_secs(15);

/// A tenant whose device's hot messages raise an alarm sent to `url`.
pub struct Scene {
    pub tenant: Tenant,
    pub webhook: Value,
    pub token: String,
}

impl Scene {
    pub async fn new(app: &TestApp, url: &str) -> Self {
        let tenant = app.tenant("Acme").await;
        let api = app.api(&tenant);
        let webhook = api.create_webhook("Receiver", url).await;
        let freezer = api.create_freezer_type("Freezer").await;
        let (_, token) = api.create_device("Freezer 7", &freezer).await;
        api.create_trigger(
            &freezer,
            "Too hot",
            json!({ "field": "/temperature", "op": ">", "value": 0 }),
            &[&webhook],
        )
        .await;
        Self {
            tenant,
            webhook,
            token,
        }
    }

    pub fn secret(&self) -> &str {
        self.webhook["secret"].as_str().unwrap()
    }

    pub fn webhook_id(&self) -> &str {
        self.webhook["id"].as_str().unwrap()
    }

    /// Sends a hot then a cold message: two events. Returns the event ids.
    pub async fn raise_and_clear(&self, app: &TestApp) -> Vec<String> {
        let mut events = Vec::new();
        for temperature in [5, -5] {
            let answer = app
                .ingest(
                    &self.token,
                    "telemetry",
                    json!({ "temperature": temperature }),
                )
                .await;
            assert_eq!(answer.status, StatusCode::ACCEPTED);
            events.extend(
                answer.body["events"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e.as_str().unwrap().to_owned()),
            );
        }
        events
    }

    pub async fn raise(&self, app: &TestApp) -> String {
        let answer = app
            .ingest(&self.token, "telemetry", json!({ "temperature": 5 }))
            .await;
        answer.body["events"][0]
            .as_str()
            .expect("the alarm was raised")
            .to_owned()
    }
}

/// The delivery with its attempts, once `check` holds for it.
pub async fn delivery_when(
    api: &Api<'_>,
    id: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let start = std::time::Instant::now();
    loop {
        let answer = api.get(&format!("/api/v1/deliveries/{id}")).await;
        if check(&answer.body) {
            return answer.body;
        }
        assert!(
            start.elapsed() < WAIT,
            "timed out waiting for {what}: {}",
            answer.body
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The first delivery of an event.
pub async fn delivery_of(api: &Api<'_>, event: &str) -> String {
    let event = api.get(&format!("/api/v1/events/{event}")).await;
    event.body["deliveries"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn now_secs() -> i64 {
    biotz::domain::time::now_ms() / 1000
}

#[tokio::test]
async fn an_alarm_raised_by_ingest_arrives_signed_and_verifies() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn().await;
    let scene = Scene::new(&app, &receiver.url).await;
    let event = scene.raise(&app).await;

    let request = &receiver.wait_for(1, WAIT).await[0];
    assert_eq!(request.header("content-type"), "application/json");
    assert_eq!(
        request.header("user-agent"),
        format!("Biotz-IoT-Webhooks/{}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(request.header("biotz-iot-event-id"), event);
    assert!(request.header("biotz-iot-delivery-id").starts_with("dlv_"));
    assert_eq!(request.header("biotz-iot-delivery-attempt"), "1");
    let signature = request.header("biotz-iot-signature");
    let parsed = SignatureHeader::parse(signature).unwrap();
    assert_eq!(parsed.signatures.len(), 1);
    assert!(
        parsed.signatures[0].len() == 64
            && parsed.signatures[0].bytes().all(|b| b.is_ascii_hexdigit())
    );
    assert_eq!(
        verify(
            scene.secret(),
            signature,
            &request.body,
            now_secs(),
            Tolerance::default()
        ),
        Ok(())
    );
    assert_eq!(request.json()["id"], event.as_str());
    assert_eq!(request.json()["type"], "alarm.raised");

    let api = app.api(&scene.tenant);
    let stored = api.get(&format!("/api/v1/events/{event}")).await;
    assert_eq!(
        request.json(),
        stored.body["body"],
        "the stored body is what was sent"
    );
    let id = request.header("biotz-iot-delivery-id").to_owned();
    let delivery = delivery_when(&api, &id, "success", |d| d["status"] == "succeeded").await;
    assert_eq!(delivery["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(delivery["attempts"][0]["response_status"], 200);
    assert_eq!(delivery["attempts"][0]["signature_t"], parsed.timestamp);
    assert_eq!(delivery["attempts"][0]["response_body"], "ok");

    // An independent verifier (the Python recipe) accepts it too.
    let python = std::process::Command::new("python3")
        .arg("-c")
        .arg("import sys; sys.path.insert(0, sys.argv[1]); import biotz_webhook as b; b.verify(sys.argv[2], sys.argv[3], sys.stdin.buffer.read()); print('valid')")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/receivers/python"))
        .arg(scene.secret())
        .arg(signature)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn();
    if let Ok(mut child) = python {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(&request.body)
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&output.stdout).trim(),
            "valid",
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[tokio::test]
async fn a_failed_attempt_is_retried_with_the_same_body_and_a_fresh_signature() {
    let receiver = Receiver::start().await;
    receiver.reply_next([Reply::Status(500)]);
    // The retry comes over a second later, so its `t` differs.
    let app =
        TestApp::spawn_with(|s| s.dispatch.retry_schedule = vec![Duration::from_millis(1100)])
            .await;
    let scene = Scene::new(&app, &receiver.url).await;
    let event = scene.raise(&app).await;
    let requests = receiver.wait_for(2, WAIT).await;
    let (first, second) = (&requests[0], &requests[1]);
    assert_eq!(first.header("biotz-iot-event-id"), event);
    assert_eq!(second.header("biotz-iot-event-id"), event);
    assert_eq!(
        first.header("biotz-iot-delivery-id"),
        second.header("biotz-iot-delivery-id")
    );
    assert_eq!(first.header("biotz-iot-delivery-attempt"), "1");
    assert_eq!(second.header("biotz-iot-delivery-attempt"), "2");
    assert_eq!(
        first.body, second.body,
        "the body bytes are identical on every attempt"
    );
    let (t1, t2) = (
        SignatureHeader::parse(first.header("biotz-iot-signature"))
            .unwrap()
            .timestamp,
        SignatureHeader::parse(second.header("biotz-iot-signature"))
            .unwrap()
            .timestamp,
    );
    assert!(t2 > t1, "each attempt is signed at its own time");
    for request in [first, second] {
        let signature = request.header("biotz-iot-signature");
        let t = SignatureHeader::parse(signature).unwrap().timestamp;
        assert_eq!(
            verify(
                scene.secret(),
                signature,
                &request.body,
                t,
                Tolerance::Seconds(0)
            ),
            Ok(())
        );
    }

    let api = app.api(&scene.tenant);
    let id = first.header("biotz-iot-delivery-id");
    let delivery = delivery_when(&api, id, "two attempts", |d| d["status"] == "succeeded").await;
    let attempts = delivery["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0]["response_status"], 500);
    assert_eq!(attempts[0]["error_kind"], "http_status");
    assert_eq!(attempts[1]["response_status"], 200);
    assert!(attempts[1]["error_kind"].is_null());
    assert_eq!(attempts[0]["signature_t"], t1);
    assert_eq!(attempts[1]["signature_t"], t2);
}

#[tokio::test]
async fn retry_after_on_429_and_503_delays_the_next_attempt() {
    for status in [429, 503] {
        let receiver = Receiver::start().await;
        receiver.reply_next([Reply::With(status, vec![("retry-after", "30".into())])]);
        let app = TestApp::spawn().await;
        let scene = Scene::new(&app, &receiver.url).await;
        let event = scene.raise(&app).await;
        let api = app.api(&scene.tenant);
        let id = delivery_of(&api, &event).await;
        // The delivery row, not only the attempt log, shows the first attempt.
        let delivery = delivery_when(&api, &id, "the first attempt", |d| {
            d["attempts"].as_array().is_some_and(|a| a.len() == 1)
                && d["last_attempt_at"].is_string()
        })
        .await;
        assert_eq!(delivery["status"], "pending");
        let at = |field: &str| {
            let text = delivery[field]
                .as_str()
                .unwrap_or_else(|| panic!("no {field}: {delivery}"));
            biotz::domain::time::parse_instant(text).unwrap()
        };
        let wait = at("next_attempt_at") - at("last_attempt_at");
        assert!(
            wait >= 30_000,
            "{status}: Retry-After: 30 was honoured, not the 200 ms schedule (waits {wait} ms)"
        );
        assert_eq!(receiver.received().len(), 1);
    }
}

#[tokio::test]
async fn gone_stops_the_delivery_and_disables_the_webhook() {
    let receiver = Receiver::start().await;
    receiver.reply_always(Reply::Status(410));
    let app = TestApp::spawn().await;
    let scene = Scene::new(&app, &receiver.url).await;
    let api = app.api(&scene.tenant);
    let event = scene.raise(&app).await;
    let id = delivery_of(&api, &event).await;
    let delivery = delivery_when(&api, &id, "failure", |d| d["status"] == "failed").await;
    assert_eq!(
        delivery["attempts"].as_array().unwrap().len(),
        1,
        "410 is not retried"
    );
    let webhook = api
        .get(&format!("/api/v1/webhooks/{}", scene.webhook_id()))
        .await;
    assert_eq!(webhook.body["enabled"], false);
    assert!(
        webhook.body["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("410 Gone")
    );

    let cleared = app
        .ingest(&scene.token, "telemetry", json!({ "temperature": -5 }))
        .await;
    let event = api
        .get(&format!(
            "/api/v1/events/{}",
            cleared.body["events"][0].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        event.body["deliveries"][0]["status"], "skipped",
        "new events for a disabled webhook are skipped"
    );
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test]
async fn a_receiver_that_does_not_answer_in_time_is_a_timeout() {
    let receiver = Receiver::start().await;
    receiver.reply_always(Reply::Hang(Duration::from_secs(10)));
    let app =
        TestApp::spawn_with(|s| s.dispatch.delivery_timeout = Duration::from_millis(500)).await;
    let scene = Scene::new(&app, &receiver.url).await;
    let api = app.api(&scene.tenant);
    let id = delivery_of(&api, &scene.raise(&app).await).await;
    let delivery = delivery_when(&api, &id, "a timed-out attempt", |d| {
        d["attempts"].as_array().is_some_and(|a| !a.is_empty())
    })
    .await;
    let attempt = &delivery["attempts"][0];
    assert_eq!(attempt["error_kind"], "timeout");
    assert!(attempt["response_status"].is_null());
    assert!(attempt["duration_ms"].as_i64().unwrap() >= 500);
}

#[tokio::test]
async fn redirects_are_refused_not_followed() {
    let elsewhere = Receiver::start().await;
    let receiver = Receiver::start().await;
    receiver.reply_always(Reply::With(302, vec![("location", elsewhere.url.clone())]));
    let app = TestApp::spawn().await;
    let scene = Scene::new(&app, &receiver.url).await;
    let api = app.api(&scene.tenant);
    let id = delivery_of(&api, &scene.raise(&app).await).await;
    let delivery = delivery_when(&api, &id, "a refused redirect", |d| {
        d["attempts"].as_array().is_some_and(|a| !a.is_empty())
    })
    .await;
    assert_eq!(delivery["attempts"][0]["error_kind"], "redirect");
    assert_eq!(delivery["attempts"][0]["response_status"], 302);
    assert!(
        delivery["attempts"][0]["error_message"]
            .as_str()
            .unwrap()
            .contains("never followed")
    );
    assert!(
        elsewhere.received().is_empty(),
        "the redirect target got nothing"
    );
}

#[tokio::test]
async fn private_addresses_are_refused_without_the_allow_list() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn_with(|s| s.dispatch.allow_private_targets = vec![]).await;
    let scene = Scene::new(&app, &receiver.url).await;
    let api = app.api(&scene.tenant);
    let by_name = api
        .create_webhook("By name", &receiver.url.replace("127.0.0.1", "localhost"))
        .await;
    let id = delivery_of(&api, &scene.raise(&app).await).await;
    let delivery = delivery_when(&api, &id, "a blocked attempt", |d| {
        d["attempts"].as_array().is_some_and(|a| !a.is_empty())
    })
    .await;
    assert_eq!(delivery["attempts"][0]["error_kind"], "blocked_address");

    let test = api
        .post(
            &format!("/api/v1/webhooks/{}/test", by_name["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    let id = test.body["delivery_id"].as_str().unwrap();
    let delivery = delivery_when(&api, id, "a blocked attempt", |d| {
        d["attempts"].as_array().is_some_and(|a| !a.is_empty())
    })
    .await;
    assert_eq!(
        delivery["attempts"][0]["error_kind"], "blocked_address",
        "a name resolving to loopback is refused too"
    );
    assert!(
        delivery["attempts"][0]["error_message"]
            .as_str()
            .unwrap()
            .contains("BIOTZ_ALLOW_PRIVATE_TARGETS")
    );
    assert!(receiver.received().is_empty());
}

#[tokio::test]
async fn tls_is_always_verified() {
    let receiver = Receiver::start_untrusted().await;
    let app = TestApp::spawn().await;
    let scene = Scene::new(&app, &receiver.url).await;
    let api = app.api(&scene.tenant);
    let id = delivery_of(&api, &scene.raise(&app).await).await;
    let delivery = delivery_when(&api, &id, "a refused certificate", |d| {
        d["attempts"].as_array().is_some_and(|a| !a.is_empty())
    })
    .await;
    assert_eq!(
        delivery["attempts"][0]["error_kind"], "tls",
        "{}",
        delivery["attempts"][0]
    );
    assert!(receiver.received().is_empty());
}

#[tokio::test]
async fn during_a_rotation_overlap_both_secrets_sign() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn().await;
    let scene = Scene::new(&app, &receiver.url).await;
    let api = app.api(&scene.tenant);
    let rotated = api
        .post(
            &format!("/api/v1/webhooks/{}/secret/regenerate", scene.webhook_id()),
            json!({ "keep_previous_for_seconds": 3600 }),
        )
        .await;
    let new_secret = rotated.body["secret"].as_str().unwrap();
    api.post(
        &format!("/api/v1/webhooks/{}/test", scene.webhook_id()),
        json!({}),
    )
    .await;
    let request = &receiver.wait_for(1, WAIT).await[0];
    let signature = request.header("biotz-iot-signature");
    let parsed = SignatureHeader::parse(signature).unwrap();
    assert_eq!(parsed.signatures.len(), 2, "{signature}");
    assert_eq!(
        parsed.signatures[0],
        biotz_signature::sign(new_secret, parsed.timestamp, &request.body),
        "newest first"
    );
    assert_eq!(
        verify(
            scene.secret(),
            signature,
            &request.body,
            now_secs(),
            Tolerance::default()
        ),
        Ok(())
    );
    assert_eq!(
        verify(
            new_secret,
            signature,
            &request.body,
            now_secs(),
            Tolerance::default()
        ),
        Ok(())
    );

    api.post(
        &format!("/api/v1/webhooks/{}/secret/regenerate", scene.webhook_id()),
        json!({}),
    )
    .await;
    let newest = api
        .get(&format!("/api/v1/webhooks/{}/secret", scene.webhook_id()))
        .await
        .body["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    api.post(
        &format!("/api/v1/webhooks/{}/test", scene.webhook_id()),
        json!({}),
    )
    .await;
    let request = &receiver.wait_for(2, WAIT).await[1];
    let signature = request.header("biotz-iot-signature");
    assert_eq!(
        SignatureHeader::parse(signature).unwrap().signatures.len(),
        2,
        "the first secret's overlap still runs"
    );
    assert_eq!(
        verify(
            &newest,
            signature,
            &request.body,
            now_secs(),
            Tolerance::default()
        ),
        Ok(())
    );
    assert_eq!(
        verify(
            new_secret,
            signature,
            &request.body,
            now_secs(),
            Tolerance::default()
        ),
        Err(biotz_signature::VerifyError::NoMatchingSignature),
        "a secret regenerated without overlap stops at once"
    );
}

#[tokio::test]
async fn test_events_resend_and_replay() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn().await;
    let scene = Scene::new(&app, &receiver.url).await;
    let api = app.api(&scene.tenant);

    let test = api
        .post(
            &format!("/api/v1/webhooks/{}/test", scene.webhook_id()),
            json!({}),
        )
        .await;
    assert_eq!(test.status, StatusCode::ACCEPTED);
    let request = &receiver.wait_for(1, WAIT).await[0];
    assert_eq!(request.json()["type"], "webhook.test");
    assert_eq!(request.json()["data"]["webhook"]["id"], scene.webhook_id());
    let id = test.body["delivery_id"].as_str().unwrap();
    delivery_when(&api, id, "the test delivered", |d| {
        d["status"] == "succeeded"
    })
    .await;

    let resent = api
        .post(&format!("/api/v1/deliveries/{id}/resend"), json!({}))
        .await;
    assert_eq!(resent.status, StatusCode::ACCEPTED);
    let again = &receiver.wait_for(2, WAIT).await[1];
    assert_eq!(again.header("biotz-iot-delivery-id"), id);
    assert_eq!(again.header("biotz-iot-delivery-attempt"), "2");
    assert_eq!(again.body, request.body);
    let delivery = delivery_when(&api, id, "the resend recorded", |d| {
        d["attempts"].as_array().unwrap().len() == 2 && d["status"] == "succeeded"
    })
    .await;
    assert_eq!(delivery["attempts"][1]["response_status"], 200);

    // Disabled: new events are skipped; after enabling, replay sends them.
    api.patch(
        &format!("/api/v1/webhooks/{}", scene.webhook_id()),
        json!({ "enabled": false }),
    )
    .await;
    let since = biotz::domain::time::rfc3339(biotz::domain::time::now_ms() - 1000);
    let events = scene.raise_and_clear(&app).await;
    assert_eq!(events.len(), 2);
    let refused = api
        .post(
            &format!("/api/v1/webhooks/{}/replay", scene.webhook_id()),
            json!({ "since": since }),
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::CONFLICT,
        "replaying to a disabled webhook is refused"
    );
    let skipped = api
        .get(&format!(
            "/api/v1/webhooks/{}/deliveries?status=skipped",
            scene.webhook_id()
        ))
        .await;
    assert_eq!(skipped.body["data"].as_array().unwrap().len(), 2);
    api.patch(
        &format!("/api/v1/webhooks/{}", scene.webhook_id()),
        json!({ "enabled": true }),
    )
    .await;
    let bad = api
        .post(
            &format!("/api/v1/webhooks/{}/replay", scene.webhook_id()),
            json!({ "since": "last week" }),
        )
        .await;
    assert!(bad.field_error("since").contains("RFC 3339"));
    let replayed = api
        .post(
            &format!("/api/v1/webhooks/{}/replay", scene.webhook_id()),
            json!({ "since": since }),
        )
        .await;
    assert_eq!(replayed.status, StatusCode::ACCEPTED);
    assert_eq!(replayed.body["replayed"], 2);
    let arrived = receiver.wait_for(4, WAIT).await;
    let mut replayed_events: Vec<&str> = arrived[2..]
        .iter()
        .map(|r| r.header("biotz-iot-event-id"))
        .collect();
    replayed_events.sort();
    let mut expected: Vec<&str> = events.iter().map(String::as_str).collect();
    expected.sort();
    assert_eq!(replayed_events, expected);
}

#[tokio::test]
async fn a_webhook_failing_too_long_is_disabled_and_its_new_events_skipped() {
    let receiver = Receiver::start().await;
    receiver.reply_always(Reply::Status(500));
    let app = TestApp::spawn_with(|s| {
        s.dispatch.retry_schedule = vec![Duration::from_millis(100); 20];
        s.dispatch.disable_after = Duration::from_millis(600);
    })
    .await;
    let scene = Scene::new(&app, &receiver.url).await;
    let api = app.api(&scene.tenant);
    let path = format!("/api/v1/webhooks/{}", scene.webhook_id());
    scene.raise(&app).await;
    receiver.wait_for(1, WAIT).await;
    let start = std::time::Instant::now();
    let failing = loop {
        let webhook = api.get(&path).await;
        if webhook.body["failing_since"].is_string() {
            break webhook;
        }
        assert!(start.elapsed() < WAIT, "never marked failing");
    };
    assert_eq!(failing.body["enabled"], true);
    let disabled = loop {
        let webhook = api.get(&path).await;
        if webhook.body["enabled"] == false {
            break webhook;
        }
        assert!(start.elapsed() < WAIT, "never disabled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        disabled.body["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("kept failing"),
        "{}",
        disabled.body
    );
    let pending = api.get(&format!("{path}/deliveries?status=pending")).await;
    assert_eq!(
        pending.body["data"],
        json!([]),
        "what waited is kept as skipped"
    );

    // Enabled again, a success clears the failing state.
    receiver.reply_always(Reply::Status(200));
    api.patch(&path, json!({ "enabled": true })).await;
    api.post(&format!("{path}/test"), json!({})).await;
    let healthy = loop {
        let webhook = api.get(&path).await;
        if webhook.body["failing_since"].is_null() && webhook.body["enabled"] == true {
            break webhook;
        }
        assert!(start.elapsed() < WAIT * 2, "never healthy again");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(healthy.body["disabled_reason"].is_null());
}

#[tokio::test]
async fn a_hanging_receiver_does_not_delay_a_healthy_one() {
    let hanging = Receiver::start().await;
    hanging.reply_always(Reply::Hang(Duration::from_secs(20)));
    let healthy = Receiver::start().await;
    let app = TestApp::spawn_with(|s| s.dispatch.delivery_timeout = Duration::from_secs(20)).await;
    let scene = Scene::new(&app, &hanging.url).await;
    let api = app.api(&scene.tenant);
    // Many deliveries for the hanging receiver, queued first.
    for _ in 0..30 {
        api.post(
            &format!("/api/v1/webhooks/{}/test", scene.webhook_id()),
            json!({}),
        )
        .await;
    }
    hanging.wait_for(8, WAIT).await;
    let good = api.create_webhook("Healthy", &healthy.url).await;
    let sent = std::time::Instant::now();
    api.post(
        &format!("/api/v1/webhooks/{}/test", good["id"].as_str().unwrap()),
        json!({}),
    )
    .await;
    let arrived = healthy.wait_for(1, WAIT).await;
    let waited = arrived[0].at.duration_since(sent);
    assert!(
        waited < Duration::from_secs(5),
        "the healthy receiver waited {waited:?} behind the hanging one"
    );
    assert!(
        hanging.received().len() <= 8,
        "at most the per-webhook cap in flight"
    );
}

#[tokio::test]
async fn metrics_count_deliveries_and_the_queue() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn().await;
    let scene = Scene::new(&app, &receiver.url).await;
    let api = app.api(&scene.tenant);
    let id = delivery_of(&api, &scene.raise(&app).await).await;
    delivery_when(&api, &id, "success", |d| d["status"] == "succeeded").await;
    let text = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("biotz_delivery_attempts_total{outcome=\"succeeded\"} 1"),
        "{text}"
    );
    assert!(text.contains("biotz_delivery_attempt_duration_seconds_count 1"));
    assert!(text.contains("biotz_deliveries_pending 0"));
    assert!(text.contains("# TYPE biotz_oldest_pending_delivery_age_seconds gauge"));
}
