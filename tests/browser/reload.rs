//! Every POST redirects: reloading the page after creating a device does not post the form
//! again, and the once-only token page, reloaded, says the token is gone instead of showing it.

use crate::scene::Scene;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloading_after_new_device_does_not_post_again_nor_show_the_token_twice() {
    let Some(scene) = Scene::signed_in("reload_token").await else {
        return;
    };
    let api = scene.app.api(&scene.tenant);
    api.create_freezer_type("Freezer").await;
    let browser = &scene.browser;

    browser.step("Setup, Devices, New Device, Save").await;
    browser.goto("/devices/new").await;
    browser.fill("#name", "Freezer 7").await;
    browser.choose("#device_type_id", "Freezer").await;
    browser.press("Save").await;
    browser.wait_for_text("h1", "Device created").await;
    let token = browser.text("#device-token").await;
    assert!(token.starts_with("bdt_"), "{token}");

    browser
        .step("reload: no repost, and the token is gone")
        .await;
    browser.refresh_page().await;
    let main = browser.wait_for_text("h1", "Ingest token shown once").await;
    assert!(!main.contains("already exists"), "{main}");
    let page = browser.text("main").await;
    assert!(!page.contains(&token), "the token was shown twice");
    assert!(!page.contains("already exists"), "{page}");
    let devices = api.get("/api/v1/devices").await;
    assert_eq!(devices.body["data"].as_array().unwrap().len(), 1);
}
