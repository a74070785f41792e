//! Activity → Deliveries as a search: one delivery is found by its event id and by its device,
//! and each row shows the event id and the device so rows can be told apart.

use std::time::Duration;

use serde_json::json;

use crate::receiver::Receiver;
use crate::scene::Scene;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deliveries_search_finds_one_delivery_by_event_id_and_by_device() {
    let receiver = Receiver::start().await;
    let Some(scene) = Scene::signed_in("deliveries_search").await else {
        return;
    };
    let api = scene.app.api(&scene.tenant);
    let webhook = api.create_webhook("Ops pager", &receiver.url).await;
    api.create_webhook("Archive", &receiver.url).await;
    let freezer = api.create_freezer_type("Freezer").await;
    let (_, seven) = api.create_device("Freezer 7", &freezer).await;
    let (_, eight) = api.create_device("Freezer 8", &freezer).await;
    api.create_trigger(
        &freezer,
        "Too warm",
        json!({ "field": "/temperature", "op": ">", "value": 4 }),
        &[&webhook],
    )
    .await;
    let mut events = Vec::new();
    for token in [&seven, &eight] {
        let answer = scene
            .app
            .ingest(token, "telemetry", json!({ "temperature": 9 }))
            .await;
        assert_eq!(answer.status, 202, "{}", answer.body);
        events.push(answer.body["events"][0].as_str().unwrap().to_owned());
    }
    receiver.wait_for(2, Duration::from_secs(20)).await;
    let browser = &scene.browser;

    browser
        .step("both deliveries, told apart by event id and device")
        .await;
    browser.goto("/deliveries").await;
    let all = browser.wait_for_text("table tbody", &events[1]).await;
    assert!(all.contains(&events[0]), "{all}");
    assert!(
        all.contains("Freezer 7") && all.contains("Freezer 8"),
        "{all}"
    );

    browser.step("search by event id").await;
    browser.fill("#id", &events[0]).await;
    browser.press("Filter").await;
    let found = rows(browser).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains(&events[0]) && found[0].contains("Freezer 7"));

    browser.step("search by device and by webhook name").await;
    browser.fill("#id", "").await;
    browser.fill("#device", "freezer 8").await;
    browser.fill("#webhook_name", "ops").await;
    browser.press("Filter").await;
    let found = rows(browser).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains(&events[1]) && found[0].contains("Freezer 8"));

    browser
        .step("a webhook with none of them finds nothing")
        .await;
    browser.fill("#webhook_name", "Archive").await;
    browser.press("Filter").await;
    browser.wait_for_text(".empty", "No deliveries match").await;
}

async fn rows(browser: &crate::browser::Browser) -> Vec<String> {
    browser.find("table tbody tr").await;
    let mut rows = Vec::new();
    for row in browser.find_all("table tbody tr").await {
        rows.push(row.text().await.unwrap());
    }
    rows
}
