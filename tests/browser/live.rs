//! Live pages: what the dispatcher does shows up without a reload, and relative times tick.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::receiver::{Receiver, Reply};
use crate::scene::Scene;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_page_turns_from_sending_to_succeeded_without_a_reload() {
    let receiver = Receiver::start().await;
    let gate = Arc::new(Semaphore::new(0));
    receiver.reply_next([Reply::Held(gate.clone())]);
    let Some(scene) = Scene::signed_in("live_delivery").await else {
        return;
    };
    let api = scene.app.api(&scene.tenant);
    let webhook = api.create_webhook("Slow receiver", &receiver.url).await;
    let browser = &scene.browser;

    browser
        .step("a test event whose attempt waits on the receiver")
        .await;
    let answer = api
        .post(
            &format!("/api/v1/webhooks/{}/test", webhook["id"].as_str().unwrap()),
            serde_json::json!({}),
        )
        .await;
    let delivery = answer.body["delivery_id"].as_str().unwrap().to_owned();
    receiver.wait_for(1, Duration::from_secs(20)).await;
    browser.goto(&format!("/deliveries/{delivery}")).await;
    browser.wait_for_text(".page-head", "Sending…").await;
    // Marks this document: a reload would replace it and lose the mark.
    browser
        .script("document.documentElement.dataset.loaded = 'once';")
        .await;

    browser.step("answered: the page changes by itself").await;
    gate.add_permits(1);
    browser.wait_for_text(".page-head", "Succeeded").await;
    browser.wait_for_text("#attempts", "HTTP 200").await;
    assert_eq!(
        browser
            .script("return document.documentElement.dataset.loaded || null;")
            .await,
        serde_json::json!("once"),
        "the page was reloaded"
    );

    browser
        .step("relative times tick, outside the live parts too")
        .await;
    browser.click_link("Slow receiver").await;
    browser.wait_for_text(".facts", "Created").await;
    // Moves the webhook's creation three hours back in the page alone: only the clock in the
    // page's script can make it read so.
    browser
        .script(
            "const t = document.querySelector('.facts time');
             t.setAttribute('datetime', new Date(Date.now() - 3 * 3600 * 1000).toISOString());",
        )
        .await;
    browser.wait_for_text(".facts", "3 hours ago").await;
}
