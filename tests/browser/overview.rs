//! Overview, the page after sign-in: a raised alarm and a failing webhook show there, with
//! links into each.

use std::time::Duration;

use serde_json::json;

use crate::receiver::{Receiver, Reply};
use crate::scene::Scene;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_shows_a_raised_alarm_and_a_failing_webhook() {
    let failing = Receiver::start().await;
    failing.reply_always(Reply::Status(500));
    let healthy = Receiver::start().await;
    let Some(scene) = Scene::signed_in("overview").await else {
        return;
    };
    let browser = &scene.browser;
    browser.step("signing in lands on the overview").await;
    assert_eq!(browser.path().await, "/overview");
    browser
        .wait_for_text("#raised-alarms", "No alarm is raised")
        .await;

    let api = scene.app.api(&scene.tenant);
    let flaky = api.create_webhook("Flaky receiver", &failing.url).await;
    let fine = api.create_webhook("Healthy receiver", &healthy.url).await;
    let freezer = api.create_freezer_type("Freezer").await;
    let (_, token) = api.create_device("Freezer 7", &freezer).await;
    api.create_trigger(
        &freezer,
        "Too warm",
        json!({ "field": "/temperature", "op": ">", "value": 4 }),
        &[&flaky, &fine],
    )
    .await;

    browser
        .step("a warm reading raises the alarm; one receiver fails")
        .await;
    let answer = scene
        .app
        .ingest(&token, "telemetry", json!({ "temperature": 9 }))
        .await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    healthy.wait_for(1, Duration::from_secs(20)).await;
    failing.wait_for(1, Duration::from_secs(20)).await;

    browser
        .step("the overview shows both, without a reload")
        .await;
    let alarms = browser.wait_for_text("#raised-alarms", "Freezer 7").await;
    assert!(alarms.contains("Too warm"), "{alarms}");
    let webhooks = browser
        .wait_for_text("#failing-webhooks", "Flaky receiver")
        .await;
    assert!(webhooks.contains("Failing since"), "{webhooks}");
    assert!(!webhooks.contains("Healthy receiver"), "{webhooks}");
    browser.wait_for_text("#last-hour", "Succeeded 1").await;
    browser.wait_for_text(".tiles", "1\nraised alarm").await;

    browser.step("each links into its page").await;
    browser.click_link("Flaky receiver").await;
    browser.wait_for_text("h1", "Flaky receiver").await;
}
