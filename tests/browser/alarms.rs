//! The guide end to end: a device type and a device made in the UI, a device message sent with
//! the token the page showed, the alarm under Activity → Alarms and its delivery that succeeded.

use std::time::Duration;

use serde_json::json;

use crate::receiver::Receiver;
use crate::scene::Scene;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ingested_message_shows_its_alarm_and_the_delivery_that_succeeded() {
    let receiver = Receiver::start().await;
    let Some(scene) = Scene::signed_in("alarm_delivery").await else {
        return;
    };
    let api = scene.app.api(&scene.tenant);
    let webhook = api.create_webhook("Ops pager", &receiver.url).await;
    let browser = &scene.browser;

    browser.step("Setup, Device Types, New Device Type").await;
    browser.click_link("Device Types").await;
    browser.click_link("New Device Type").await;
    browser.fill("#name", "Freezer").await;
    browser.fill("#mt-name-0", "telemetry").await;
    browser
        .fill(
            "#mt-schema-0",
            r#"{"type":"object","properties":{"temperature":{"type":"number"}},"required":["temperature"]}"#,
        )
        .await;
    browser.press("Save").await;
    browser.wait_for_text(".flash", "").await;
    browser.wait_for_text("main", "telemetry").await;

    browser
        .step("Setup, Devices, New Device: the token is shown once")
        .await;
    browser.click_link("Devices").await;
    browser.click_link("New Device").await;
    browser.fill("#name", "Freezer 7").await;
    browser.choose("#device_type_id", "Freezer").await;
    browser.press("Save").await;
    browser.wait_for_text("h1", "Device created").await;
    let token = browser.text("#device-token").await;
    assert!(token.starts_with("bdt_"), "{token}");

    let freezer = &api.get("/api/v1/device-types").await.body["data"][0];
    api.create_trigger(
        freezer,
        "Too warm",
        json!({ "field": "/temperature", "op": ">", "value": 4 }),
        &[&webhook],
    )
    .await;

    browser.step("the device sends a warm reading").await;
    let answer = scene
        .app
        .ingest(&token, "telemetry", json!({ "temperature": 7.5 }))
        .await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    let event = answer.body["events"][0].as_str().unwrap().to_owned();
    let received = receiver.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(received[0].header("biotz-iot-event-id"), event);

    browser.step("Activity, Alarms: the raised alarm").await;
    browser.click_link("Alarms").await;
    browser.wait_for_text("h1", "Alarms").await;
    let raised = browser.text("table").await;
    for expected in ["Freezer 7", "Too warm", "critical", "raised"] {
        assert!(
            raised.contains(expected),
            "{expected} missing from {raised}"
        );
    }
    // When it was raised: relative as text, exact on hover and for machines.
    let shown = browser.text("table time").await;
    assert!(shown == "just now" || shown.ends_with(" ago"), "{shown}");
    let exact = browser.attribute("table time", "title").await.unwrap();
    let machine = browser.attribute("table time", "datetime").await.unwrap();
    assert!(exact.ends_with(" UTC"), "{exact}");
    assert_eq!(exact[..10], machine[..10], "{exact} vs {machine}");

    browser.step("the alarm's event and its delivery").await;
    browser.click_link("Latest event").await;
    browser.wait_for_path(&format!("/events/{event}")).await;
    browser.wait_for_text("#event-body", "alarm.raised").await;
    browser.reload_until_text("table", "Succeeded").await;

    browser.step("the delivery's attempt").await;
    browser.click_link("alarm.raised").await;
    browser.wait_for_path("/deliveries/dlv_").await;
    browser
        .wait_for_text("h1", "alarm.raised to Ops pager")
        .await;
    browser.wait_for_text(".page-head", "Succeeded").await;
    let attempts = browser.find_all("table tbody tr").await;
    assert_eq!(attempts.len(), 1);
    let attempt = attempts[0].text().await.unwrap();
    assert!(attempt.starts_with('1'), "{attempt}");
    assert!(attempt.contains("HTTP 200"), "{attempt}");

    browser.step("Activity, Deliveries lists it").await;
    browser.click_link("Deliveries").await;
    browser.wait_for_text("h1", "Deliveries").await;
    let listed = browser.text("table tbody").await;
    assert!(listed.contains("alarm.raised"), "{listed}");
    assert!(listed.contains("Ops pager"), "{listed}");
    assert!(listed.contains("Succeeded"), "{listed}");
    assert!(listed.contains("HTTP 200"), "{listed}");

    browser
        .step("the webhooks list draws the day's delivery")
        .await;
    browser.click_link("Webhooks").await;
    let trend = browser.attribute("svg.spark", "aria-label").await;
    assert_eq!(
        trend.as_deref(),
        Some("Last 14 days: 1 of 1 delivery succeeded.")
    );
    browser.wait_for_text(".trend", "100 %").await;
}
