//! Setup → Alarm Triggers → a device type → New Alarm Trigger → Edit Webhook List → search by
//! name → add from the dropdown → Save.

use crate::scene::Scene;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_trigger_gets_a_webhook_found_by_name_from_the_dropdown() {
    let Some(scene) = Scene::signed_in("trigger_webhook_list").await else {
        return;
    };
    let api = scene.app.api(&scene.tenant);
    let freezer = api.create_freezer_type("Freezer").await;
    api.create_freezer_type("Door sensor").await;
    for name in ["Ops pager", "Night shift", "Billing"] {
        api.create_webhook(name, "https://example.com/biotz").await;
    }
    let browser = &scene.browser;

    browser
        .step("Setup, Alarm Triggers, choose the device type")
        .await;
    browser.click_link("Alarm Triggers").await;
    browser.wait_for_text("h1", "Alarm Triggers").await;
    browser.click_link("Freezer").await;
    browser.wait_for_text("h1", "Freezer").await;
    browser.wait_for_text(".empty", "No alarm triggers").await;

    browser.step("New Alarm Trigger").await;
    browser.click_link("New Alarm Trigger").await;
    browser.wait_for_text("h1", "New").await;
    browser.fill("#name", "Too warm").await;
    browser.choose("#message_type", "telemetry").await;
    browser.fill("#field", "/temperature").await;
    browser.choose("#op", ">").await;
    browser.fill("#value", "4").await;
    browser.choose("#value_type", "number").await;
    browser.choose("#severity", "critical").await;
    browser.press("Save").await;
    browser.wait_for_text("h1", "Too warm").await;
    let trigger_path = browser.wait_for_path("/alarm-triggers/trg_").await;
    browser.wait_for_text(".empty", "No webhooks yet").await;

    browser.step("Edit Webhook List, search by name").await;
    browser.click_link("Edit Webhook List").await;
    browser.wait_for_text("h1", "Edit Webhook List").await;
    browser.fill("#q", "pager").await;
    // The dropdown fills as one types; a person waits until it shows the match.
    browser
        .wait_until("the dropdown to offer only Ops pager", async || {
            let options = browser.find_all("#candidate option").await;
            let mut labels = Vec::new();
            for option in options {
                labels.push(option.text().await?);
            }
            Ok(labels == ["Ops pager"])
        })
        .await;
    browser
        .wait_for_text("#candidate-status", "1 webhook matches")
        .await;

    browser.step("add it from the dropdown").await;
    browser.choose("#candidate", "Ops pager").await;
    browser.press("Add").await;
    browser.wait_for_text(".staged", "Ops pager").await;
    browser.wait_for_text(".alert", "Not saved yet").await;

    browser.step("save the list").await;
    browser.press("Save").await;
    browser.wait_for_text(".flash", "Webhook list saved").await;
    assert_eq!(browser.path().await, trigger_path);
    let listed = browser.text("table").await;
    assert!(listed.contains("Ops pager"), "{listed}");
    assert!(!listed.contains("Night shift"), "{listed}");

    browser.step("the list is what the API reads").await;
    let triggers = api
        .get(&format!(
            "/api/v1/device-types/{}/alarm-triggers",
            freezer["id"].as_str().unwrap()
        ))
        .await;
    let trigger = &triggers.body["data"][0];
    assert_eq!(trigger["name"], "Too warm");
    assert_eq!(trigger["condition"]["op"], ">");
    assert_eq!(trigger["condition"]["value"], 4.0);
    let names: Vec<&str> = trigger["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Ops pager"]);
}
