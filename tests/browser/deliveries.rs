//! A receiver that answers 500: the delivery shows each retry and fails when the schedule is
//! spent; Resend sends it again once the receiver is fixed.

use std::time::Duration;

use serde_json::json;

use crate::receiver::{Receiver, Reply};
use crate::scene::Scene;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_delivery_shows_its_retries_and_resend_sends_it_again() {
    let receiver = Receiver::start().await;
    receiver.reply_always(Reply::Status(500));
    let Some(scene) = Scene::signed_in("failing_delivery").await else {
        return;
    };
    let api = scene.app.api(&scene.tenant);
    let webhook = api.create_webhook("Flaky receiver", &receiver.url).await;
    let freezer = api.create_freezer_type("Freezer").await;
    let (_, token) = api.create_device("Freezer 7", &freezer).await;
    api.create_trigger(
        &freezer,
        "Too warm",
        json!({ "field": "/temperature", "op": ">", "value": 4 }),
        &[&webhook],
    )
    .await;
    let browser = &scene.browser;

    browser
        .step("a warm reading: the first attempt and its retries fail")
        .await;
    let answer = scene
        .app
        .ingest(&token, "telemetry", json!({ "temperature": 9 }))
        .await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    // The tests' schedule: the first attempt and two retries.
    receiver.wait_for(3, Duration::from_secs(20)).await;

    browser
        .step("Activity, Deliveries: the delivery failed after three attempts")
        .await;
    browser.click_link("Deliveries").await;
    browser.wait_for_text("h1", "Deliveries").await;
    let row = browser.reload_until_text("table tbody tr", "Failed").await;
    assert!(row.contains("Flaky receiver"), "{row}");
    assert!(row.contains("HTTP 500"), "{row}");

    browser
        .step("the delivery's page lists every attempt")
        .await;
    browser.click_link("alarm.raised").await;
    browser.wait_for_path("/deliveries/dlv_").await;
    browser.wait_for_text(".page-head", "Failed").await;
    let attempts = attempt_rows(browser).await;
    assert_eq!(attempts.len(), 3, "{attempts:?}");
    for (n, attempt) in attempts.iter().enumerate() {
        assert!(attempt.starts_with(&(n + 1).to_string()), "{attempt}");
        assert!(attempt.contains("HTTP 500"), "{attempt}");
    }

    browser.step("the webhooks list draws the failure").await;
    let delivery_path = browser.path().await;
    browser.click_link("Webhooks").await;
    assert_eq!(
        browser
            .attribute("svg.spark", "aria-label")
            .await
            .as_deref(),
        Some("Last 14 days: 0 of 1 delivery succeeded, 1 failed.")
    );
    browser.wait_for_text(".trend", "0 %").await;
    browser.click_link("Flaky receiver").await;
    browser
        .wait_for_text(
            ".trend",
            "Last 14 days: 0 of 1 delivery succeeded, 1 failed.",
        )
        .await;

    browser
        .step("Resend, now that the receiver answers 200")
        .await;
    browser.goto(&delivery_path).await;
    receiver.reply_always(Reply::Status(200));
    browser.press("Resend").await;
    browser.wait_for_text(".flash", "").await;
    browser.reload_until_text(".page-head", "Succeeded").await;
    let attempts = attempt_rows(browser).await;
    assert_eq!(attempts.len(), 4, "{attempts:?}");
    let last = attempts
        .iter()
        .find(|a| a.starts_with('4'))
        .expect("a fourth attempt");
    assert!(last.contains("HTTP 200"), "{last}");
    let received = receiver.wait_for(4, Duration::from_secs(20)).await;
    assert_eq!(
        received[3].header("biotz-iot-delivery-id"),
        received[0].header("biotz-iot-delivery-id"),
        "Resend sends the same delivery again"
    );

    browser.step("the webhooks list draws the success").await;
    browser.click_link("Webhooks").await;
    assert_eq!(
        browser
            .attribute("svg.spark", "aria-label")
            .await
            .as_deref(),
        Some("Last 14 days: 1 of 1 delivery succeeded.")
    );
}

/// The text of each row of the attempts table.
async fn attempt_rows(browser: &crate::browser::Browser) -> Vec<String> {
    let mut rows = Vec::new();
    for row in browser.find_all("table tbody tr").await {
        rows.push(row.text().await.unwrap());
    }
    rows
}
