//! On a phone the navigation folds into a menu instead of taking the top of every page.

use serde_json::json;

use crate::scene::Scene;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_navigation_on_a_phone_is_a_menu() {
    let Some(scene) = Scene::signed_in("phone_menu").await else {
        return;
    };
    let browser = &scene.browser;
    browser.resize(390, 844).await;
    browser.goto("/webhooks").await;

    browser.step("the header is one short line").await;
    let header = browser
        .script("return document.querySelector('.sidebar').getBoundingClientRect().height;")
        .await;
    assert!(
        header.as_f64().unwrap() < 100.0,
        "the header is {header} px tall"
    );
    let shown = browser
        .script("return getComputedStyle(document.getElementById('main-nav')).display;")
        .await;
    assert_eq!(shown, json!("none"));

    browser.step("Menu opens it, and its links work").await;
    browser.click(".menu-toggle").await;
    browser
        .wait_until("the menu to open", async || {
            let display = browser
                .script("return getComputedStyle(document.getElementById('main-nav')).display;")
                .await;
            Ok(display != json!("none"))
        })
        .await;
    browser.click_link("Deliveries").await;
    browser.wait_for_text("h1", "Deliveries").await;

    browser
        .step("on a desktop the sidebar shows as before")
        .await;
    browser.resize(1280, 800).await;
    let shown = browser
        .script("return getComputedStyle(document.getElementById('main-nav')).display;")
        .await;
    assert_ne!(shown, json!("none"));
}
