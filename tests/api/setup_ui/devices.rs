//! Setup → Devices.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, field_value, href_starting, text_after, unescape_html};

use super::*;

#[tokio::test]
async fn a_new_device_shows_its_token_once_with_a_curl_line_that_works() {
    let app = TestApp::without_dispatcher().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let browser = app.browser(&acme).await;
    assert!(
        browser
            .get("/devices/new")
            .await
            .html
            .contains("No device types yet")
    );
    let freezer = api.create_freezer_type("Freezer").await;
    let type_id = freezer["id"].as_str().unwrap();

    let refused = browser
        .post_with_csrf("/devices", &[("name", " "), ("device_type_id", type_id)])
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        text_after(&refused.html, "id=\"name-error\">")
            .unwrap()
            .starts_with("Enter a name")
    );
    assert!(
        refused
            .html
            .contains(&format!("<option value=\"{type_id}\" selected>"))
    );

    let (id, token, curl) = new_device(&browser, "Freezer 7", type_id).await;
    assert!(token.starts_with("bdt_"), "{token}");
    assert!(curl.contains(&app.url("/api/v1/ingest")), "{curl}");
    assert!(
        curl.contains(&format!("'Authorization: Bearer {token}'")),
        "{curl}"
    );
    // The line's body, as curl would send it, is accepted: the payload fits the schema.
    let body: Value =
        serde_json::from_str(curl.rsplit_once("-d '").unwrap().1.trim_end_matches('\'')).unwrap();
    assert_eq!(body["message_type"], "telemetry");
    let sent = app
        .ingest(&token, "telemetry", body["payload"].clone())
        .await;
    assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.body);

    let page = browser.get(&format!("/devices/{id}")).await;
    assert!(!page.html.contains(&token), "shown once only");
    let device = api.get(&format!("/api/v1/devices/{id}")).await;
    assert!(
        page.html
            .contains(device.body["token_hint"].as_str().unwrap())
    );
    assert!(page.html.contains("<code>telemetry</code>"));
    let pretty = serde_json::to_string_pretty(&body["payload"]).unwrap();
    assert!(
        unescape_html(&page.html).contains(&pretty),
        "the payload as received"
    );

    let regenerated = browser
        .post_with_csrf(&format!("/devices/{id}/token/regenerate"), &[])
        .await;
    assert_eq!(regenerated.status, StatusCode::SEE_OTHER);
    let shown = regenerated.location.unwrap();
    let regenerated = browser.get(&shown).await;
    assert_eq!(regenerated.status, StatusCode::OK);
    // Shown once: reloading the page finds the token gone, and says how to get a new one.
    let again = browser.get(&shown).await;
    assert_eq!(again.status, StatusCode::GONE);
    assert!(again.html.contains("Regenerate token"), "{}", again.html);
    let fresh = text_after(&regenerated.html, "<code id=\"device-token\">").unwrap();
    assert!(!again.html.contains(&fresh), "shown once only");
    // Nobody else can take it, even with the link: another user of another organization.
    let other = app.tenant("Other").await;
    let intruder = app.browser(&other).await;
    let taken = intruder.get(&shown).await;
    assert_eq!(taken.status, StatusCode::NOT_FOUND);
    assert_ne!(fresh, token);
    assert_eq!(
        app.ingest(&token, "telemetry", json!({ "temperature": 1 }))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.ingest(&fresh, "telemetry", json!({ "temperature": 1 }))
            .await
            .status,
        StatusCode::ACCEPTED
    );
}

#[tokio::test]
async fn devices_are_filtered_renamed_paged_and_deleted() {
    let app = TestApp::without_dispatcher().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let browser = app.browser(&acme).await;
    let freezer = api.create_freezer_type("Freezer").await;
    let fridge = api.create_freezer_type("Fridge").await;
    let (id, token) = api.create_device("Freezer 7", &freezer).await;
    api.create_device("Fridge 1", &fridge).await;

    let all = browser.get("/devices").await;
    assert!(all.html.contains("Freezer 7") && all.html.contains("Fridge 1"));
    let only = browser
        .get(&format!(
            "/devices?device_type_id={}",
            fridge["id"].as_str().unwrap()
        ))
        .await;
    assert!(only.html.contains("Fridge 1") && !only.html.contains("Freezer 7"));

    let renamed = browser
        .post_with_csrf(&format!("/devices/{id}/edit"), &[("name", "")])
        .await;
    assert_eq!(renamed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(renamed.html.contains("id=\"name-error\""));
    let taken = browser
        .post_with_csrf(&format!("/devices/{id}/edit"), &[("name", "fridge 1")])
        .await;
    assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        field_value(&taken.html, "name").as_deref(),
        Some("fridge 1")
    );
    let renamed = browser
        .post_with_csrf(&format!("/devices/{id}/edit"), &[("name", "Freezer 8")])
        .await;
    assert_eq!(renamed.status, StatusCode::SEE_OTHER);
    assert_eq!(
        api.get(&format!("/api/v1/devices/{id}")).await.body["name"],
        "Freezer 8"
    );

    // One page of messages more than fits: the pager leads to the oldest.
    for temperature in 0..51 {
        app.ingest(&token, "telemetry", json!({ "temperature": temperature }))
            .await;
    }
    let newest = browser.get(&format!("/devices/{id}")).await;
    assert!(
        newest.html.contains("&#34;temperature&#34;: 50")
            && !newest.html.contains("&#34;temperature&#34;: 0\n")
    );
    let older = href_starting(&newest.html, &format!("/devices/{id}?cursor=")).expect("a pager");
    let oldest = browser.get(&older).await;
    assert!(
        oldest.html.contains("&#34;temperature&#34;: 0\n")
            && !oldest.html.contains("&#34;temperature&#34;: 50")
    );

    let confirm = browser.get(&format!("/devices/{id}/delete")).await;
    assert!(confirm.html.contains("Delete <strong>Freezer 8</strong>"));
    let deleted = browser
        .post_with_csrf(&format!("/devices/{id}/delete"), &[])
        .await;
    assert_eq!(deleted.location.as_deref(), Some("/devices"));
    assert_eq!(
        api.get(&format!("/api/v1/devices/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
}
