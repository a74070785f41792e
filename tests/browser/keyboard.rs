//! The UI with a keyboard alone: the skip link comes first, fields and buttons come in reading
//! order, and whatever has the focus shows it.

use fantoccini::key::Key;

use crate::scene::Scene;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_can_be_made_with_the_keyboard_alone() {
    let Some(scene) = Scene::signed_in("keyboard").await else {
        return;
    };
    let browser = &scene.browser;
    let tab = Key::Tab.to_string();

    browser
        .step("the first Tab reaches the skip link, shown")
        .await;
    browser.goto("/webhooks").await;
    browser.find("main h1").await;
    browser.type_keys(&tab).await;
    assert_eq!(browser.focused().await, "a Skip to content");
    assert!(browser.focus_is_visible().await);
    let left = browser
        .script("return document.activeElement.getBoundingClientRect().left;")
        .await;
    assert!(
        left.as_f64().unwrap_or(-1.0) >= 0.0,
        "the skip link stays off screen"
    );

    browser.step("New Webhook, from the keyboard").await;
    browser.goto("/webhooks/new").await;
    browser.find("#url").await;
    assert_eq!(
        browser.focused().await,
        "#name",
        "the form starts in its first field"
    );
    browser.type_keys("Keyboard pager").await;
    browser.type_keys(&tab).await;
    assert_eq!(browser.focused().await, "#url");
    assert!(browser.focus_is_visible().await);
    browser.type_keys("https://example.com/biotz").await;
    browser.type_keys(&tab).await;
    assert_eq!(browser.focused().await, "#signing");
    // Past the event filters and the custom header rows (two blank ones: a name and a value
    // each) to Save.
    for field in [
        "#event-type-1",
        "#event-type-2",
        "#event-type-3",
        "#min_severity",
        "#header-name-1",
        "#header-value-1",
        "#header-name-2",
        "#header-value-2",
    ] {
        browser.type_keys(&tab).await;
        assert_eq!(browser.focused().await, field);
    }
    browser.type_keys(&tab).await;
    assert_eq!(browser.focused().await, "button Save");
    assert!(browser.focus_is_visible().await);
    browser.type_keys(&Key::Enter.to_string()).await;
    browser.wait_for_text("h1", "Keyboard pager").await;
    browser.wait_for_text(".alert", "Webhook created!").await;
}
