//! What the delivery page and the forms say when something is wrong: the download and the
//! commands beside it agree on one file name and fit a laptop's screen; an attempt that never
//! reached the receiver says why in words, with no signature panel; callback URLs wrap only
//! between their parts; a refused form puts the focus on the field to fix and outlines it; a bad
//! JSON Schema says where.

use std::time::Duration;

use serde_json::json;

use crate::receiver::Receiver;
use crate::scene::Scene;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_body_downloads_under_the_name_the_verify_command_uses() {
    let receiver = Receiver::start().await;
    let Some(scene) = Scene::signed_in("body_download").await else {
        return;
    };
    let api = scene.app.api(&scene.tenant);
    let webhook = api.create_webhook("Ops pager", &receiver.url).await;
    let browser = &scene.browser;
    browser.resize(1280, 800).await;

    browser.step("a test event, answered 200").await;
    api.post(
        &format!("/api/v1/webhooks/{}/test", webhook["id"].as_str().unwrap()),
        json!({}),
    )
    .await;
    receiver.wait_for(1, Duration::from_secs(20)).await;
    browser.goto("/deliveries").await;
    browser
        .reload_until_text("table tbody tr", "Succeeded")
        .await;
    browser.click_link("webhook.test").await;

    browser
        .step("the server's file name is the one the commands use")
        .await;
    let served = browser
        .script(
            "const a = document.querySelector('a[download]');
             return fetch(a.href).then(r => [a.getAttribute('download'),
                                             r.headers.get('content-disposition')]);",
        )
        .await;
    let file = served[0].as_str().unwrap().to_owned();
    assert!(
        file.starts_with("evt_") && file.ends_with(".json"),
        "{file}"
    );
    assert_eq!(
        served[1].as_str().unwrap(),
        format!("attachment; filename=\"{file}\"")
    );
    let command = browser.text("#verify-command").await;
    assert!(command.ends_with(&format!(" {file}")), "{command}");
    let steps = browser.text("main .panel ol").await;
    assert!(steps.contains(&format!("sha256sum {file}")), "{steps}");

    browser
        .step("the verify command is not cut off at 1280 px")
        .await;
    let fits = browser
        .script(
            "const pre = document.getElementById('verify-command');
             return pre.scrollWidth <= pre.clientWidth;",
        )
        .await;
    assert_eq!(fits, json!(true), "the verify command overflows its box");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attempt_that_never_reached_the_receiver_says_why_in_words() {
    let Some(scene) = Scene::signed_in("never_reached").await else {
        return;
    };
    // Nothing listens on port 1 of the loopback address: every connection is refused.
    let url = "https://127.0.0.1:1/incoming/biotz-alarms/freezer-room";
    let api = scene.app.api(&scene.tenant);
    let webhook = api.create_webhook("Nobody home", url).await;
    let browser = &scene.browser;

    browser.step("a test event that cannot connect").await;
    api.post(
        &format!("/api/v1/webhooks/{}/test", webhook["id"].as_str().unwrap()),
        json!({}),
    )
    .await;
    browser.goto("/deliveries").await;
    browser.reload_until_text("table tbody tr", "Failed").await;
    browser.click_link("webhook.test").await;
    let attempts = browser.text("table tbody").await;
    assert!(
        attempts.contains("Could not connect to the receiver (Connection refused)."),
        "{attempts}"
    );
    assert!(!attempts.contains("client error"), "{attempts}");
    assert!(!attempts.contains("http_status"), "{attempts}");
    let main = browser.text("main").await;
    assert!(!main.contains("Debug a signature mismatch"), "{main}");
    assert!(main.contains("The receiver was never reached"), "{main}");

    browser
        .step("the webhooks list wraps the URL only between its parts")
        .await;
    browser.click_link("Webhooks").await;
    let wrapping = browser
        .script(
            "const cell = document.querySelector('td.url');
             return [getComputedStyle(cell).wordBreak, cell.querySelectorAll('wbr').length];",
        )
        .await;
    assert_ne!(wrapping[0], json!("break-all"), "{wrapping}");
    assert!(wrapping[1].as_u64().unwrap() >= 5, "{wrapping}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_form_focuses_and_outlines_the_bad_field_and_schemas_say_where() {
    let Some(scene) = Scene::signed_in("refused_form").await else {
        return;
    };
    let browser = &scene.browser;

    browser.step("New Webhook with an http:// URL").await;
    browser.goto("/webhooks/new").await;
    browser.fill("#name", "Ops pager").await;
    browser.fill("#url", "http://example.com/hook").await;
    browser.press("Save").await;
    browser
        .wait_for_text("#url-error", "Webhooks only support HTTPS URLs")
        .await;
    assert_eq!(browser.focused().await, "#url");
    let outline = browser
        .script("return getComputedStyle(document.getElementById('url')).outlineStyle;")
        .await;
    assert_eq!(outline, json!("solid"));

    browser
        .step("a device type whose schema has a misspelt type")
        .await;
    browser.goto("/device-types/new").await;
    browser.fill("#name", "Freezer").await;
    browser.fill("#mt-name-0", "telemetry").await;
    browser
        .fill(
            "#mt-schema-0",
            r#"{"type":"object","properties":{"temperature":{"type":"nubmer"}}}"#,
        )
        .await;
    browser.press("Save").await;
    let error = browser
        .wait_for_text("#mt-schema-0-error", "At /properties/temperature/type")
        .await;
    assert!(!error.contains("anyOf"), "{error}");
    assert_eq!(browser.focused().await, "#mt-schema-0");
}
