//! Long lists come a page at a time, with a way to older entries and back to the newest.

use serde_json::json;

use crate::scene::Scene;

/// One more than a page holds (the UI's pages and the alarms overview show 50).
const MANY: usize = 51;

async fn rows(browser: &crate::browser::Browser) -> usize {
    browser.find_all("table tbody tr").await.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_lists_of_webhooks_and_alarms_come_a_page_at_a_time() {
    let Some(scene) = Scene::signed_in("long_lists").await else {
        return;
    };
    let api = scene.app.api(&scene.tenant);
    for n in 1..=MANY {
        api.create_webhook(&format!("Pager {n:02}"), "https://example.com/biotz")
            .await;
    }
    let freezer = api.create_freezer_type("Freezer").await;
    api.create_trigger(
        &freezer,
        "Too warm",
        json!({ "field": "/temperature", "op": ">", "value": 4 }),
        &[],
    )
    .await;
    for n in 1..=MANY {
        let (_, token) = api
            .create_device(&format!("Freezer {n:02}"), &freezer)
            .await;
        let answer = scene
            .app
            .ingest(&token, "telemetry", json!({ "temperature": 9 }))
            .await;
        assert_eq!(answer.status, 202, "{}", answer.body);
    }
    let browser = &scene.browser;

    browser.step("the webhooks list's first page").await;
    browser.goto("/webhooks").await;
    browser.find("table").await;
    assert_eq!(rows(browser).await, 50);
    browser.wait_for_text("table", "Pager 51").await;

    browser.step("older webhooks").await;
    browser.click_link("Older webhooks →").await;
    assert_eq!(rows(browser).await, 1);
    browser.wait_for_text("table", "Pager 01").await;

    browser.step("back to the newest webhooks").await;
    browser.click_link("← Newest webhooks").await;
    assert_eq!(rows(browser).await, 50);
    assert!(browser.find_all("a.button[href*='cursor=']").await.len() == 1);

    browser
        .step("the alarms overview shows where its list ends")
        .await;
    browser.goto("/alarms").await;
    browser.find("table").await;
    assert_eq!(rows(browser).await, 50);
    browser.click_link("All raised alarms →").await;
    browser.wait_for_text("h1", "Raised alarms").await;
    assert_eq!(rows(browser).await, 50);

    browser.step("older raised alarms").await;
    browser.click_link("Older alarms →").await;
    assert_eq!(rows(browser).await, 1);
    browser.wait_for_text("table", "Freezer 01").await;
    browser.click_link("← Newest alarms").await;
    assert_eq!(rows(browser).await, 50);
}
