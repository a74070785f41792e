//! A device's page: the messages it sent that were refused, with the answer and the reason, and
//! for each accepted message the alarm it moved.

use reqwest::{Client, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, href_starting, occurrences, unescape_html};

/// Sends a raw body as the device, with the given content type.
async fn send_raw(app: &TestApp, token: &str, content_type: &str, body: &str) -> StatusCode {
    Client::new()
        .post(app.url("/api/v1/ingest"))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
        .status()
}

/// The rows of the page's rejected-messages table, as text without tags.
fn rejected_rows(html: &str) -> Vec<String> {
    let Some(start) = html.find("class=\"rejected-messages\"") else {
        return Vec::new();
    };
    let table = &html[start..html[start..].find("</table>").unwrap() + start];
    table
        .split("<tr>")
        .skip(2)
        .map(|row| {
            let mut text = String::new();
            let mut in_tag = false;
            for c in row.chars() {
                match c {
                    '<' => in_tag = true,
                    '>' => {
                        in_tag = false;
                        text.push(' ');
                    }
                    c if !in_tag => text.push(c),
                    _ => {}
                }
            }
            unescape_html(&text)
        })
        .collect()
}

#[tokio::test]
async fn the_device_page_lists_rejected_messages_with_the_answer_and_the_reason() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let freezer = api.create_freezer_type("Freezer").await;
    let (device, token) = api.create_device("Freezer 7", &freezer).await;
    let browser = app.browser(&acme).await;

    let page = browser.get(&format!("/devices/{device}")).await;
    assert!(page.html.contains("No rejected messages"), "{}", page.html);

    assert_eq!(
        send_raw(&app, &token, "application/json", "{\"message_type\": ").await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        send_raw(&app, &token, "text/plain", "temperature=3").await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    let unknown_type = app
        .ingest(&token, "humidity", json!({ "temperature": 1 }))
        .await;
    assert_eq!(unknown_type.status, StatusCode::UNPROCESSABLE_ENTITY);
    let breaks_schema = app
        .ingest(&token, "telemetry", json!({ "temperature": "warm" }))
        .await;
    assert_eq!(breaks_schema.status, StatusCode::BAD_REQUEST);
    let accepted = app
        .ingest(&token, "telemetry", json!({ "temperature": 2 }))
        .await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED);

    let page = browser.get(&format!("/devices/{device}")).await;
    let rows = rejected_rows(&page.html);
    assert_eq!(rows.len(), 4, "{rows:#?}");
    // Newest first, each with its answer, its reason and what was sent.
    assert!(
        rows[0].contains("HTTP 400")
            && rows[0].contains("/temperature")
            && rows[0].contains("\"warm\""),
        "{}",
        rows[0]
    );
    assert!(
        rows[1].contains("HTTP 422") && rows[1].contains("humidity"),
        "{}",
        rows[1]
    );
    assert!(
        rows[2].contains("HTTP 415") && rows[2].contains("Content-Type"),
        "{}",
        rows[2]
    );
    assert!(
        rows[3].contains("HTTP 400")
            && rows[3].contains("not valid JSON")
            && rows[3].contains("{\"message_type\":"),
        "{}",
        rows[3]
    );
    assert!(
        page.html.contains("class=\"device-error\">"),
        "the latest rejection is the device's last error"
    );

    // Another organization sees neither the device nor its rejections.
    let other = app.tenant("Other").await;
    let foreign = app
        .browser(&other)
        .await
        .get(&format!("/devices/{device}"))
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    assert!(!foreign.html.contains("warm"));
}

#[tokio::test]
async fn a_device_keeps_only_its_latest_rejected_messages() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let freezer = api.create_freezer_type("Freezer").await;
    let (device, token) = api.create_device("Freezer 7", &freezer).await;
    let (other_device, other_token) = api.create_device("Freezer 8", &freezer).await;

    for n in 0..23 {
        let answer = app
            .ingest(
                &token,
                "telemetry",
                json!({ "temperature": format!("t{n}") }),
            )
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    }
    let answer = app
        .ingest(&other_token, "telemetry", json!({ "door_open": 1 }))
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);

    let browser = app.browser(&acme).await;
    let rows = rejected_rows(&browser.get(&format!("/devices/{device}")).await.html);
    assert_eq!(rows.len(), 20, "{rows:#?}");
    assert!(rows[0].contains("\"t22\""), "{}", rows[0]);
    assert!(rows[19].contains("\"t3\""), "{}", rows[19]);
    // Trimming one device's list leaves the other's alone.
    let rows = rejected_rows(&browser.get(&format!("/devices/{other_device}")).await.html);
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert!(rows[0].contains("door_open"), "{}", rows[0]);
}

#[tokio::test]
async fn each_accepted_message_links_to_the_alarm_it_moved() {
    let app = TestApp::without_dispatcher().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let freezer = api.create_freezer_type("Freezer").await;
    let (device, token) = api.create_device("Freezer 7", &freezer).await;
    let ops = api.create_webhook("Ops", "https://example.com/ops").await;
    api.create_trigger(
        &freezer,
        "Too warm",
        json!({ "field": "/temperature", "op": ">", "value": 8 }),
        &[&ops],
    )
    .await;

    for t in [3, 9, 10, 4] {
        let answer = app
            .ingest(&token, "telemetry", json!({ "temperature": t }))
            .await;
        assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
    }

    let page = app
        .browser(&acme)
        .await
        .get(&format!("/devices/{device}"))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        occurrences(&page.html, "Too warm raised"),
        1,
        "{}",
        page.html
    );
    assert_eq!(occurrences(&page.html, "Too warm cleared"), 1);
    // Two messages moved nothing: the first (below) and the third (already raised).
    assert_eq!(
        occurrences(&page.html, "<span class=\"hint\">nothing</span>"),
        2
    );
    let alarm = href_starting(&page.html, "/alarms/alm_").expect("a link to the alarm");
    let alarms = api.get("/api/v1/alarms").await;
    assert_eq!(
        alarm,
        format!("/alarms/{}", alarms.body["data"][0]["id"].as_str().unwrap())
    );
}
