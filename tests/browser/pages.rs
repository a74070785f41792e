//! Every signed-in page, checked as a whole: it reads on a phone-sized screen (nothing wider
//! than the screen, so nothing scrolls sideways), every field, button and link has a name that
//! a screen reader can say, and all text stands out from its background (WCAG AA contrast).

use std::time::Duration;

use serde_json::json;

use crate::checks;
use crate::receiver::Receiver;
use crate::scene::Scene;

/// A scene with one of everything, and the path of every page that shows it.
async fn every_page(test: &'static str) -> Option<(Scene, Receiver, Vec<String>)> {
    let receiver = Receiver::start().await;
    let scene = Scene::signed_in(test).await?;
    let api = scene.app.api(&scene.tenant);
    let webhook = api
        .create_webhook("Ops pager with a rather long name", &receiver.url)
        .await;
    let freezer = api.create_freezer_type("Freezer").await;
    let (device, token) = api.create_device("Freezer 7", &freezer).await;
    let trigger = api
        .create_trigger(
            &freezer,
            "Too warm",
            json!({ "field": "/temperature", "op": ">", "value": 4 }),
            &[&webhook],
        )
        .await;
    let answer = scene
        .app
        .ingest(&token, "telemetry", json!({ "temperature": 7.5 }))
        .await;
    let event = answer.body["events"][0].as_str().unwrap().to_owned();
    receiver.wait_for(1, Duration::from_secs(20)).await;
    let delivery = api.get(&format!("/api/v1/events/{event}")).await.body["deliveries"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let webhook_id = webhook["id"].as_str().unwrap();
    let freezer_id = freezer["id"].as_str().unwrap();
    let trigger_id = trigger["id"].as_str().unwrap();
    let pages = [
        "/webhooks".to_owned(),
        "/webhooks/new".to_owned(),
        format!("/webhooks/{webhook_id}?reveal=1"),
        "/tokens".to_owned(),
        "/device-types".to_owned(),
        format!("/device-types/{freezer_id}"),
        format!("/device-types/{freezer_id}/edit"),
        "/devices".to_owned(),
        format!("/devices/{device}"),
        "/alarm-triggers".to_owned(),
        format!("/device-types/{freezer_id}/alarm-triggers"),
        format!("/device-types/{freezer_id}/alarm-triggers/new"),
        format!("/alarm-triggers/{trigger_id}"),
        format!("/alarm-triggers/{trigger_id}/webhooks"),
        "/alarms".to_owned(),
        "/alarms?state=raised".to_owned(),
        format!("/events/{event}"),
        "/deliveries".to_owned(),
        format!("/deliveries/{delivery}"),
        "/settings".to_owned(),
        "/overview".to_owned(),
        "/events".to_owned(),
    ];
    Some((scene, receiver, pages.to_vec()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_fits_a_narrow_screen() {
    let Some((scene, _receiver, pages)) = every_page("narrow").await else {
        return;
    };
    let browser = &scene.browser;
    browser.resize(390, 844).await;
    for path in &pages {
        browser.step(&format!("{path} at 390 px")).await;
        browser.goto(path).await;
        browser.find("main h1").await;
        let wide = checks::too_wide(browser).await;
        assert_eq!(wide, json!([]), "{path} is wider than a 390 px screen");
        assert!(
            !checks::scrolls_sideways(browser).await,
            "{path} scrolls sideways"
        );
        let unlabelled = checks::unlabelled_cells(browser).await;
        assert_eq!(
            unlabelled,
            json!([]),
            "{path} has table cells without a column label"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_control_has_a_name_a_screen_reader_can_say() {
    let Some((scene, _receiver, pages)) = every_page("names").await else {
        return;
    };
    let browser = &scene.browser;
    for path in &pages {
        browser.step(&format!("the names on {path}")).await;
        browser.goto(path).await;
        browser.find("main h1").await;
        let unnamed = checks::unnamed(browser).await;
        assert_eq!(unnamed, json!([]), "{path} has unnamed controls");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_text_stands_out_from_its_background() {
    let Some((scene, _receiver, pages)) = every_page("contrast").await else {
        return;
    };
    let browser = &scene.browser;
    for path in &pages {
        browser.step(&format!("the contrast on {path}")).await;
        browser.goto(path).await;
        browser.find("main h1").await;
        let faint = checks::faint_text(browser).await;
        assert_eq!(faint, json!([]), "{path} has text too faint to read");
    }
}
