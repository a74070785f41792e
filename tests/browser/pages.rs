//! Every signed-in page, checked as a whole: it reads on a phone-sized screen (nothing wider
//! than the screen, so nothing scrolls sideways), every field, button and link has a name that
//! a screen reader can say, and all text stands out from its background (WCAG AA contrast).

use std::time::Duration;

use serde_json::{Value, json};

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
        let overflow = browser
            .script(
                "return [...document.querySelectorAll('body *')]
                   .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1
                             && !e.closest('pre, .skip, .visually-hidden, .default-submit'))
                   .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className : ''))
                   .slice(0, 5);",
            )
            .await;
        assert_eq!(overflow, json!([]), "{path} is wider than a 390 px screen");
        let width = browser
            .script("return document.documentElement.scrollWidth <= document.documentElement.clientWidth;")
            .await;
        assert_eq!(width, json!(true), "{path} scrolls sideways");
        // Tables stack into cards on a phone; each cell but the first says which column it was.
        let unlabelled = browser
            .script(
                "return [...document.querySelectorAll('tbody td:not(:first-child)')]
                   .filter(td => !td.dataset.label && !td.querySelector('form'))
                   .map(td => td.textContent.trim());",
            )
            .await;
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
        let unnamed = browser
            .script(
                "const shown = e => !e.closest('[aria-hidden=true], [hidden]');
                 const fields = [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
                   .filter(shown)
                   .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
                   .map(e => 'field ' + (e.id || e.name));
                 const controls = [...document.querySelectorAll('a[href], button')]
                   .filter(shown)
                   .filter(e => !e.textContent.trim() && !e.getAttribute('aria-label'))
                   .map(e => e.tagName.toLowerCase() + ' ' + (e.getAttribute('href') || e.name));
                 const images = [...document.querySelectorAll('img:not([alt]), svg:not([aria-label]):not([aria-hidden=true])')]
                   .map(e => e.tagName.toLowerCase() + ' ' + (e.getAttribute('src') || e.className.baseVal || ''));
                 return fields.concat(controls, images);",
            )
            .await;
        assert_eq!(unnamed, Value::Array(vec![]), "{path} has unnamed controls");
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
        // WCAG 2 AA: 4.5:1 for text, 3:1 for large text (24 px, or 18.66 px bold).
        let faint = browser
            .script(
                "const channels = c => c.match(/[\\d.]+/g).map(Number);
                 const luminance = c => {
                   const [r, g, b] = channels(c).slice(0, 3).map(v => {
                     v /= 255;
                     return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
                   });
                   return 0.2126 * r + 0.7152 * g + 0.0722 * b;
                 };
                 const opaque = c => { const v = channels(c); return v.length < 4 || v[3] > 0; };
                 const background = e => {
                   for (; e; e = e.parentElement) {
                     const c = getComputedStyle(e).backgroundColor;
                     if (opaque(c)) return c;
                   }
                   return 'rgb(255, 255, 255)';
                 };
                 const faint = [];
                 for (const e of document.querySelectorAll('body *')) {
                   if (!e.getClientRects().length || e.closest('.skip, .visually-hidden, [hidden], svg')) continue;
                   if (![...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
                   const style = getComputedStyle(e);
                   const [a, b] = [luminance(style.color), luminance(background(e))];
                   const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
                   const size = parseFloat(style.fontSize);
                   const large = size >= 24 || (Number(style.fontWeight) >= 700 && size >= 18.66);
                   if (ratio < (large ? 3 : 4.5)) {
                     faint.push(e.tagName.toLowerCase() + ' “' + e.textContent.trim().slice(0, 30) + '” ' + ratio.toFixed(2));
                   }
                 }
                 return faint;",
            )
            .await;
        assert_eq!(faint, json!([]), "{path} has text too faint to read");
    }
}
