//! Test-firing a trigger: a signed `alarm.raised` with `"test": true` to every webhook on the
//! list, from the latest message or a schema sample, with no alarm state change.

use std::time::Duration;

use biotz_signature::{Tolerance, verify};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::receiver::Receiver;

const WAIT: Duration = Duration::from_secs(15);

#[tokio::test]
async fn a_test_fire_sends_a_signed_test_event_and_changes_no_alarm() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let webhook = api.create_webhook("Receiver", &receiver.url).await;
    let off = api.create_webhook("Off", "https://example.com/off").await;
    api.patch(
        &format!("/api/v1/webhooks/{}", off["id"].as_str().unwrap()),
        json!({ "enabled": false }),
    )
    .await;
    let freezer = api.create_freezer_type("Freezer").await;
    let trigger = api
        .create_trigger(
            &freezer,
            "Too hot",
            json!({ "field": "/temperature", "op": ">", "value": 100 }),
            &[&webhook, &off],
        )
        .await;
    let path = format!(
        "/api/v1/alarm-triggers/{}/test",
        trigger["id"].as_str().unwrap()
    );

    let sampled = api.post(&path, json!({})).await;
    assert_eq!(sampled.status, StatusCode::ACCEPTED, "{}", sampled.body);
    assert_eq!(sampled.body["built_from"], "schema_sample");
    let statuses: Vec<&str> = sampled.body["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.iter().filter(|s| **s == "pending").count(), 1);
    assert_eq!(
        statuses.iter().filter(|s| **s == "skipped").count(),
        1,
        "a disabled webhook's is kept as skipped"
    );
    let request = &receiver.wait_for(1, WAIT).await[0];
    assert_eq!(
        verify(
            webhook["secret"].as_str().unwrap(),
            request.header("biotz-iot-signature"),
            &request.body,
            biotz::domain::time::now_ms() / 1000,
            Tolerance::default()
        ),
        Ok(())
    );
    let body = request.json();
    assert_eq!(body["type"], "alarm.raised");
    assert_eq!(body["test"], true);
    assert_eq!(body["id"], sampled.body["event_id"]);
    assert_eq!(body["data"]["trigger"]["name"], "Too hot");
    assert_eq!(
        body["data"]["message"]["payload"],
        json!({ "temperature": 0, "status": "sample", "door_open": false })
    );

    let (_, token) = api.create_device("Freezer 7", &freezer).await;
    let sent = app
        .ingest(&token, "telemetry", json!({ "temperature": 4.5 }))
        .await;
    let latest = api.post(&path, json!({})).await;
    assert_eq!(latest.body["built_from"], "latest_message");
    let request = &receiver.wait_for(2, WAIT).await[1];
    assert_eq!(request.json()["data"]["message"]["id"], sent.body["id"]);
    assert_eq!(request.json()["data"]["device"]["name"], "Freezer 7");
    assert_eq!(
        api.get("/api/v1/alarms").await.body["data"],
        json!([]),
        "no alarm changed"
    );
    let event = api
        .get(&format!(
            "/api/v1/events/{}",
            latest.body["event_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(event.body["alarm_id"], Value::Null);
    assert_eq!(event.body["deliveries"].as_array().unwrap().len(), 2);

    let stranger = app.tenant("Other").await;
    assert_eq!(
        app.api(&stranger).post(&path, json!({})).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_test_fire_button_shows_the_event_and_its_deliveries() {
    let app = TestApp::without_dispatcher().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let browser = app.browser(&acme).await;
    let webhook = api.create_webhook("Ops", "https://example.com/ops").await;
    let freezer = api.create_freezer_type("Freezer").await;
    let trigger = api
        .create_trigger(
            &freezer,
            "Too hot",
            json!({ "field": "/temperature", "op": ">", "value": 0 }),
            &[&webhook],
        )
        .await;
    let id = trigger["id"].as_str().unwrap();
    let page = browser.get(&format!("/alarm-triggers/{id}")).await;
    assert!(
        page.html
            .contains(&format!("action=\"/alarm-triggers/{id}/test\""))
    );
    assert_eq!(
        browser
            .post_form(&format!("/alarm-triggers/{id}/test"), &[])
            .await
            .status,
        StatusCode::FORBIDDEN,
        "CSRF"
    );
    let fired = browser
        .post_with_csrf(&format!("/alarm-triggers/{id}/test"), &[])
        .await;
    assert_eq!(fired.status, StatusCode::SEE_OTHER);
    let event_page = browser.get(fired.location.as_deref().unwrap()).await;
    assert!(event_page.html.contains("Test event queued to 1 webhook"));
    assert!(
        crate::helpers::unescape_html(&event_page.html).contains(r#""test": true"#),
        "the body shows the test mark"
    );
    assert!(
        event_page.html.contains(">Ops<"),
        "the delivery to Ops is listed"
    );
}
