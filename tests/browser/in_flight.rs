//! A delivery whose attempt is in flight says "Sending…", not the end of its lease as a retry
//! time; once answered it says what happened.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::receiver::{Receiver, Reply};
use crate::scene::Scene;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_in_flight_says_sending_and_then_succeeded() {
    let receiver = Receiver::start().await;
    let gate = Arc::new(Semaphore::new(0));
    receiver.reply_next([Reply::Held(gate.clone())]);
    let Some(scene) = Scene::signed_in("in_flight").await else {
        return;
    };
    let api = scene.app.api(&scene.tenant);
    let webhook = api.create_webhook("Slow receiver", &receiver.url).await;
    let browser = &scene.browser;

    browser
        .step("a test event: its attempt waits on the receiver")
        .await;
    let answer = api
        .post(
            &format!("/api/v1/webhooks/{}/test", webhook["id"].as_str().unwrap()),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    receiver.wait_for(1, Duration::from_secs(20)).await;

    browser.step("the delivery's page says Sending…").await;
    browser.goto("/deliveries").await;
    let row = browser.wait_for_text("table tbody tr", "Sending…").await;
    assert!(!row.contains("Pending"), "{row}");
    browser.click_link("webhook.test").await;
    let head = browser.wait_for_text(".page-head", "Sending…").await;
    assert!(!head.contains("Pending"), "{head}");
    let facts = browser.text(".facts").await;
    assert!(!facts.contains("Next attempt"), "{facts}");

    browser.step("answered: the page says Succeeded").await;
    gate.add_permits(1);
    browser.reload_until_text(".page-head", "Succeeded").await;
}
