//! Developer Tools → Webhooks: New Webhook → Save → the secret → Regenerate secret, and the
//! HTTPS rule shown beside the field.

use std::time::Duration;

use biotz_signature::{Tolerance, verify};

use crate::receiver::{Received, Receiver};
use crate::scene::Scene;

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn verifies(secret: &str, request: &Received) -> bool {
    verify(
        secret,
        request.header("biotz-iot-signature"),
        &request.body,
        now_secs(),
        Tolerance::default(),
    )
    .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_webhook_shows_its_secret_and_regenerating_replaces_it() {
    let receiver = Receiver::start().await;
    let Some(scene) = Scene::signed_in("new_webhook").await else {
        return;
    };
    let browser = &scene.browser;
    // A laptop's screen: the new secret must show without scrolling.
    browser.resize(1280, 720).await;

    browser.step("Developer Tools, Webhooks, New Webhook").await;
    browser.click_link("Webhooks").await;
    browser.wait_for_text("h1", "Webhooks").await;
    browser.click_link("New Webhook").await;
    browser.wait_for_text("h1", "New Webhook").await;

    browser.step("save a name and an HTTPS callback URL").await;
    browser.fill("#name", "Ops pager").await;
    browser.fill("#url", &receiver.url).await;
    browser.press("Save").await;
    browser.wait_for_text(".alert", "Webhook created!").await;
    browser.wait_for_text("h1", "Ops pager").await;
    let webhook_path = browser.path().await;
    assert!(webhook_path.starts_with("/webhooks/whk_"), "{webhook_path}");
    let first_secret = browser.text("#secret").await;
    let in_view = browser
        .script("return document.getElementById('secret').getBoundingClientRect().bottom <= window.innerHeight;")
        .await;
    assert_eq!(
        in_view,
        serde_json::json!(true),
        "the new secret is below the fold"
    );
    assert!(first_secret.starts_with("whsec_"), "{first_secret}");

    browser.step("copy the secret").await;
    browser.click("[data-copy='#secret']").await;
    browser
        .wait_for_text("[data-copy='#secret']", "Copied")
        .await;
    browser
        .wait_for_text("[role=status].visually-hidden", "Copied")
        .await;

    browser
        .step("without the Clipboard API the secret is still copied")
        .await;
    browser.refresh_page().await;
    browser
        .script("Object.defineProperty(navigator, 'clipboard', { value: undefined });")
        .await;
    browser.click("[data-copy='#secret']").await;
    browser
        .wait_for_text("[data-copy='#secret']", "Copied")
        .await;

    browser
        .step("a test event is signed with the secret shown")
        .await;
    browser.press("Send test event").await;
    browser.wait_for_path("/deliveries/dlv_").await;
    let first = receiver.wait_for(1, Duration::from_secs(20)).await[0].clone();
    assert!(verifies(&first_secret, &first));

    browser
        .step("regenerate the secret, the previous one stopping at once")
        .await;
    browser.goto(&webhook_path).await;
    browser
        .choose("#keep_previous_for_seconds", "stops signing at once")
        .await;
    browser.press("Regenerate secret").await;
    browser
        .wait_for_text(".consequence", "stops signing at once")
        .await;
    browser.press("Regenerate secret now").await;
    browser.wait_for_text(".flash", "Secret regenerated").await;
    let second_secret = browser.text("#secret").await;
    assert!(second_secret.starts_with("whsec_"), "{second_secret}");
    assert_ne!(second_secret, first_secret);

    browser
        .step("the next delivery verifies with the new secret only")
        .await;
    browser.press("Send test event").await;
    browser.wait_for_path("/deliveries/dlv_").await;
    let second = receiver.wait_for(2, Duration::from_secs(20)).await[1].clone();
    assert!(verifies(&second_secret, &second));
    assert!(
        !verifies(&first_secret, &second),
        "the old secret still verifies a signature made after regenerating"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_callback_url_is_refused_beside_the_field() {
    let Some(scene) = Scene::signed_in("http_url").await else {
        return;
    };
    let browser = &scene.browser;

    browser.step("save an http:// callback URL").await;
    browser.goto("/webhooks/new").await;
    browser.fill("#name", "Plain pager").await;
    browser.fill("#url", "http://example.com/biotz").await;
    browser.press("Save").await;

    browser.step("the message is beside the field").await;
    let message = browser.wait_for_text("#url-error", "HTTPS").await;
    assert_eq!(message, "Webhooks only support HTTPS URLs.");
    let field = browser.find("#url").await;
    let beside = field
        .find(fantoccini::Locator::XPath(
            "following-sibling::p[@id='url-error']",
        ))
        .await;
    assert!(beside.is_ok(), "the error is not next to the URL field");
    assert_eq!(
        browser.attribute("#url", "aria-invalid").await.as_deref(),
        Some("true")
    );
    let described = browser.attribute("#url", "aria-describedby").await;
    assert!(described.unwrap_or_default().contains("url-error"));
    assert_eq!(
        browser.attribute("#url", "value").await.as_deref(),
        Some("http://example.com/biotz"),
        "what was typed is kept to correct"
    );
    assert_eq!(browser.find_all("#name-error").await.len(), 0);

    browser.step("nothing was saved").await;
    browser.goto("/webhooks").await;
    browser.wait_for_text(".empty", "No webhooks yet").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_filters_and_custom_headers_are_set_in_the_form_and_shown_on_the_page() {
    let Some(scene) = Scene::signed_in("signing_scheme").await else {
        return;
    };
    let browser = &scene.browser;
    browser
        .step("New Webhook with the Standard Webhooks scheme")
        .await;
    browser.goto("/webhooks/new").await;
    browser.fill("#name", "Standard receiver").await;
    browser.fill("#url", "https://example.com/standard").await;
    browser
        .choose(
            "#signing",
            "Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature)",
        )
        .await;
    browser
        .click("input[name=event_types][value='alarm.raised']")
        .await;
    browser.choose("#min_severity", "critical and above").await;
    browser.fill("#header-name-1", "X-Api-Key").await;
    browser.fill("#header-value-1", "k-browser-secret").await;
    browser.press("Save").await;
    browser.wait_for_text("h1", "Standard receiver").await;
    browser
        .wait_for_text("#options", "X-Api-Key: ••••••••")
        .await;
    browser
        .wait_for_text("#options", "Standard Webhooks: webhook-id")
        .await;
    browser
        .wait_for_text(".alert", "webhook-signature header")
        .await;

    browser
        .step("Edit shows the scheme chosen, and changes it back")
        .await;
    browser.click_link("Edit").await;
    browser.wait_for_text("h1", "Edit webhook").await;
    let chosen = browser
        .script("return document.getElementById('signing').value;")
        .await;
    assert_eq!(chosen, serde_json::json!("standard"));
    browser
        .choose("#signing", "Biotz-IoT-Signature (the default)")
        .await;
    browser.press("Save").await;
    browser
        .wait_for_text("#options", "Biotz-IoT-Signature")
        .await;
}
