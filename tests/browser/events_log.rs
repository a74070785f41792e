//! Activity → Events: every event with its device, trigger and deliveries' outcomes, filtered.

use std::time::Duration;

use serde_json::json;

use crate::receiver::Receiver;
use crate::scene::Scene;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_events_log_lists_every_event_with_its_outcomes_and_filters_them() {
    let receiver = Receiver::start().await;
    let Some(scene) = Scene::signed_in("events_log").await else {
        return;
    };
    let api = scene.app.api(&scene.tenant);
    let webhook = api.create_webhook("Ops pager", &receiver.url).await;
    let freezer = api.create_freezer_type("Freezer").await;
    let (_, token) = api.create_device("Freezer 7", &freezer).await;
    api.create_trigger(
        &freezer,
        "Too warm",
        json!({ "field": "/temperature", "op": ">", "value": 4 }),
        &[&webhook],
    )
    .await;
    for temperature in [9, 2] {
        let answer = scene
            .app
            .ingest(&token, "telemetry", json!({ "temperature": temperature }))
            .await;
        assert_eq!(answer.status, 202, "{}", answer.body);
    }
    api.post(
        &format!("/api/v1/webhooks/{}/test", webhook["id"].as_str().unwrap()),
        json!({}),
    )
    .await;
    receiver.wait_for(3, Duration::from_secs(20)).await;
    let browser = &scene.browser;

    browser.step("Activity, Events: three events").await;
    browser.click_link("Events").await;
    browser.wait_for_text("h1", "Events").await;
    let table = browser.wait_for_text("table tbody", "webhook.test").await;
    assert!(
        table.contains("alarm.raised") && table.contains("alarm.cleared"),
        "{table}"
    );
    assert!(
        table.contains("Freezer 7") && table.contains("Too warm"),
        "{table}"
    );
    browser
        .reload_until_text("table tbody", "1 succeeded")
        .await;

    browser.step("filtered by device and type").await;
    browser.fill("#device", "freezer").await;
    browser.choose("#event_type", "alarm.cleared").await;
    browser.press("Filter").await;
    let rows = browser.find_all("table tbody tr").await;
    assert_eq!(rows.len(), 1);
    let row = rows[0].text().await.unwrap();
    assert!(
        row.contains("alarm.cleared") && row.contains("Freezer 7"),
        "{row}"
    );
}
