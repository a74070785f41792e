//! One vocabulary for where a delivery is, in the rows, the filter and the webhook's summary;
//! Disable and an immediate secret change ask first; a disabled webhook's waiting deliveries say
//! Skipped, not Retrying.

use std::time::Duration;

use crate::receiver::{Receiver, Reply};
use crate::scene::Scene;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retrying_is_one_word_and_disabling_asks_then_skips_what_waits() {
    let receiver = Receiver::start().await;
    // Unavailable for an hour: the delivery stays Retrying while the test looks at it.
    receiver.reply_always(Reply::With(503, vec![("retry-after", "3600".into())]));
    let Some(scene) = Scene::signed_in("status_words").await else {
        return;
    };
    let api = scene.app.api(&scene.tenant);
    let webhook = api.create_webhook("Backoff receiver", &receiver.url).await;
    let webhook_path = format!("/webhooks/{}", webhook["id"].as_str().unwrap());
    let browser = &scene.browser;

    browser
        .step("a test event answered 503: the row says Retrying")
        .await;
    let answer = api
        .post(
            &format!("/api/v1{webhook_path}/test"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    receiver.wait_for(1, Duration::from_secs(20)).await;
    browser.goto("/deliveries").await;
    browser
        .reload_until_text("table tbody tr", "Retrying")
        .await;

    browser.step("the filter has the same word").await;
    browser.choose("#status", "Retrying").await;
    browser.press("Filter").await;
    let row = browser.wait_for_text("table tbody tr", "Retrying").await;
    assert!(row.contains("Backoff receiver"), "{row}");
    browser.choose("#status", "Succeeded").await;
    browser.press("Filter").await;
    browser.wait_for_text(".empty", "No deliveries match").await;

    browser.step("the webhook's summary uses it too").await;
    browser.goto(&webhook_path).await;
    browser
        .wait_for_text(".trend", "1 pending, retrying or skipped")
        .await;

    browser.step("Disable asks first").await;
    browser.click_link("Disable").await;
    browser.wait_for_text("h1", "Disable webhook").await;
    browser.click_link("Cancel").await;
    browser.wait_for_text("h1", "Backoff receiver").await;
    browser.click_link("Disable").await;
    browser.press("Disable webhook").await;
    browser.wait_for_text(".flash", "Webhook disabled").await;
    browser.wait_for_text(".page-head", "Disabled").await;
    let row = browser.text("table tbody tr").await;
    assert!(row.contains("Skipped"), "{row}");
    assert!(!row.contains("Retrying"), "{row}");

    browser
        .step("an overlap reads as when it stops signing")
        .await;
    browser
        .choose("#keep_previous_for_seconds", "keeps signing for 1 hour")
        .await;
    browser.press("Regenerate secret").await;
    browser.wait_for_text(".flash", "Secret regenerated").await;
    let previous = browser
        .wait_for_text("main .panel li", "A previous secret stops signing in ")
        .await;
    assert!(!previous.contains("until in"), "{previous}");
}
