//! Idempotent ingest: a device that resends a message with the same id gets the original
//! message's id back, and nothing is stored or evaluated again.

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Answer, TestApp};

/// A freezer device with a `/temperature > 0` trigger on one webhook; its id and token.
async fn freezer(app: &TestApp, tenant: &crate::helpers::Tenant, name: &str) -> (String, String) {
    let api = app.api(tenant);
    let freezer = api.create_freezer_type(&format!("{name} type")).await;
    let (device, token) = api.create_device(name, &freezer).await;
    let ops = api
        .create_webhook(&format!("{name} ops"), "https://example.com/ops")
        .await;
    api.create_trigger(
        &freezer,
        "Too warm",
        json!({ "field": "/temperature", "op": ">", "value": 0 }),
        &[&ops],
    )
    .await;
    (device, token)
}

/// Sends a message to `base` with the device token, an optional body `id` and header.
async fn send(
    base: &str,
    token: &str,
    temperature: f64,
    id: Option<&str>,
    header: Option<&str>,
) -> Answer {
    let mut body =
        json!({ "message_type": "telemetry", "payload": { "temperature": temperature } });
    if let Some(id) = id {
        body["id"] = id.into();
    }
    let mut request = Client::new()
        .post(format!("{base}/api/v1/ingest"))
        .bearer_auth(token)
        .json(&body);
    if let Some(header) = header {
        request = request.header("Idempotency-Key", header);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let body = response.json().await.unwrap_or(Value::Null);
    Answer { status, body }
}

impl TestApp {
    async fn count(&self, table: &str, device: &str) -> i64 {
        self.sql_number(&format!(
            "SELECT count(*) FROM {table} WHERE device_id = '{device}'"
        ))
        .await
    }
}

#[tokio::test]
async fn a_repeated_message_id_answers_the_original_and_stores_nothing() {
    let app = TestApp::without_dispatcher().await;
    let acme = app.tenant("Acme").await;
    let (device, token) = freezer(&app, &acme, "Freezer 1").await;

    let first = send(&app.address, &token, 5.0, Some("reading-1"), None).await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.body);
    assert_eq!(first.body["events"].as_array().unwrap().len(), 1);
    assert!(first.body.get("duplicate").is_none(), "{}", first.body);

    // The resend carries a clearing value: were it evaluated, the alarm would clear.
    let again = send(&app.address, &token, -5.0, Some("reading-1"), None).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body["id"], first.body["id"]);
    assert_eq!(again.body["duplicate"], true);
    assert_eq!(again.body["events"], json!([]));
    let by_header = send(&app.address, &token, -5.0, None, Some("reading-1")).await;
    assert_eq!(
        by_header.status,
        StatusCode::OK,
        "the header names the same id"
    );
    assert_eq!(by_header.body["id"], first.body["id"]);

    assert_eq!(app.count("messages", &device).await, 1);
    let raised = app.api(&acme).get("/api/v1/alarms?state=raised").await;
    assert_eq!(
        raised.body["data"].as_array().unwrap().len(),
        1,
        "{}",
        raised.body
    );

    let other = send(&app.address, &token, -5.0, Some("reading-2"), None).await;
    assert_eq!(
        other.status,
        StatusCode::ACCEPTED,
        "a new id is a new message"
    );
    assert_eq!(
        other.body["events"].as_array().unwrap().len(),
        1,
        "it clears"
    );
    let plain = send(&app.address, &token, -5.0, None, None).await;
    assert_eq!(
        plain.status,
        StatusCode::ACCEPTED,
        "no id: never a duplicate"
    );
    assert_eq!(app.count("messages", &device).await, 3);
}

#[tokio::test]
async fn message_ids_are_per_device_and_expire_after_a_day() {
    let app = TestApp::without_dispatcher().await;
    let acme = app.tenant("Acme").await;
    let (first_device, first) = freezer(&app, &acme, "Freezer 1").await;
    let (_, second) = freezer(&app, &acme, "Freezer 2").await;

    let original = send(&app.address, &first, 5.0, Some("same"), None).await;
    let elsewhere = send(&app.address, &second, 5.0, Some("same"), None).await;
    assert_eq!(
        elsewhere.status,
        StatusCode::ACCEPTED,
        "another device's id"
    );
    assert_ne!(elsewhere.body["id"], original.body["id"]);

    app.execute_sql(&format!(
        "UPDATE message_keys SET created_at = created_at - 86400001 WHERE device_id = '{first_device}'"
    ))
    .await;
    let later = send(&app.address, &first, -5.0, Some("same"), None).await;
    assert_eq!(
        later.status,
        StatusCode::ACCEPTED,
        "a day later the id is new"
    );
    assert_ne!(later.body["id"], original.body["id"]);
    let repeat = send(&app.address, &first, -5.0, Some("same"), None).await;
    assert_eq!(repeat.body["id"], later.body["id"], "and remembered anew");
    assert_eq!(app.count("messages", &first_device).await, 2);
}

#[tokio::test]
async fn bad_message_ids_are_refused_naming_the_field() {
    let app = TestApp::without_dispatcher().await;
    let acme = app.tenant("Acme").await;
    let (device, token) = freezer(&app, &acme, "Freezer 1").await;

    let long = "x".repeat(101);
    for (id, header, rule) in [
        (Some(long.as_str()), None, "at most 100"),
        (None, Some(long.as_str()), "at most 100"),
        (Some(""), None, "empty"),
        (Some("a\u{7}b"), None, "control"),
        (Some("one"), Some("two"), "differ"),
    ] {
        let answer = send(&app.address, &token, 5.0, id, header).await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            answer.body
        );
        assert!(answer.field_error("id").contains(rule), "{}", answer.body);
    }
    assert_eq!(app.count("messages", &device).await, 0);
    let agreeing = send(&app.address, &token, 5.0, Some("one"), Some("one")).await;
    assert_eq!(agreeing.status, StatusCode::ACCEPTED, "{}", agreeing.body);
    let exactly = send(&app.address, &token, 5.0, Some(&"y".repeat(100)), None).await;
    assert_eq!(exactly.status, StatusCode::ACCEPTED, "{}", exactly.body);
}

#[tokio::test]
async fn repeats_racing_on_two_nodes_are_stored_once() {
    let app = TestApp::without_dispatcher().await;
    let acme = app.tenant("Acme").await;
    let (device, token) = freezer(&app, &acme, "Freezer 1").await;
    let (second, _) = app.another_node().await;

    for round in 0..5 {
        let id = format!("burst-{round}");
        let sends = (0..16).map(|i| {
            let base = if i % 2 == 0 { &app.address } else { &second };
            send(base, &token, 5.0 + f64::from(round), Some(&id), None)
        });
        let answers = futures_util::future::join_all(sends).await;
        let created: Vec<&Answer> = answers
            .iter()
            .filter(|a| a.status == StatusCode::ACCEPTED)
            .collect();
        assert_eq!(
            created.len(),
            1,
            "round {round}: {:?}",
            answers.iter().map(|a| &a.body).collect::<Vec<_>>()
        );
        for answer in &answers {
            assert!(answer.status.is_success(), "{}", answer.body);
            assert_eq!(answer.body["id"], created[0].body["id"]);
        }
    }
    assert_eq!(app.count("messages", &device).await, 5);
    assert_eq!(
        app.sql_number("SELECT count(*) FROM events").await,
        1,
        "the first message raised the alarm; the rest changed nothing"
    );
}
