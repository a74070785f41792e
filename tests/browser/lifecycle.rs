//! An operator's alarm: build a compound trigger with a duration in the form (no script needed
//! for the rows), see the timer raise the alarm, acknowledge it with a note, read its history,
//! and test-fire the trigger.

use serde_json::json;

use crate::scene::Scene;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compound_duration_trigger_is_built_acknowledged_and_test_fired() {
    let Some(scene) = Scene::signed_in("alarm_lifecycle").await else {
        return;
    };
    let api = scene.app.api(&scene.tenant);
    let freezer = api.create_freezer_type("Freezer").await;
    let (_, token) = api.create_device("Freezer 7", &freezer).await;
    api.create_webhook("Ops pager", "https://example.com/biotz")
        .await;
    let browser = &scene.browser;

    browser.step("New Alarm Trigger with two comparisons").await;
    browser
        .goto(&format!(
            "/device-types/{}/alarm-triggers/new",
            freezer["id"].as_str().unwrap()
        ))
        .await;
    browser.fill("#name", "Warm with the door open").await;
    browser.fill("#field", "/temperature").await;
    browser.choose("#op", ">").await;
    browser.fill("#value", "8").await;
    browser.press("Add a comparison").await;
    browser.fill("#field-1", "/door_open").await;
    browser.choose("#op-1", "==").await;
    browser.fill("#value-1", "true").await;
    browser.choose("#value_type-1", "true/false").await;
    browser.choose("#combine", "all of these hold").await;
    browser.fill("#for_seconds", "1").await;
    browser.press("Save").await;
    browser.wait_for_text("h1", "Warm with the door open").await;
    let facts = browser.text(".facts").await;
    assert!(
        facts.contains("/temperature > 8 and /door_open == true"),
        "{facts}"
    );
    assert!(facts.contains("1 s before it is raised"), "{facts}");

    browser
        .step("the timer raises the alarm with no further message")
        .await;
    let sent = scene
        .app
        .ingest(
            &token,
            "telemetry",
            json!({ "temperature": 9, "door_open": true }),
        )
        .await;
    assert_eq!(
        sent.body["events"],
        json!([]),
        "the message starts the clock"
    );
    browser.goto("/alarms").await;
    browser.reload_until_text("table", "Details").await;
    browser.click_link("Details").await;
    browser.wait_for_text("#alarm-state", "raised").await;
    browser.wait_for_text("#history", "by the timer").await;

    browser.step("acknowledge it with a note").await;
    browser.fill("#note", "Closing the door").await;
    browser.press("Acknowledge").await;
    browser.wait_for_text(".flash", "Alarm acknowledged").await;
    browser.wait_for_text("#alarm-state", "acknowledged").await;
    let history = browser.text("#history").await;
    assert!(history.contains("acknowledged"), "{history}");
    assert!(history.contains(&scene.tenant.email), "{history}");
    assert!(history.contains("Closing the door"), "{history}");

    browser.step("test-fire the trigger").await;
    browser.click_link("Warm with the door open").await;
    browser.press("Test-fire").await;
    browser.wait_for_text(".flash", "Test event made").await;
    browser.wait_for_text("#event-body", "\"test\": true").await;
}
