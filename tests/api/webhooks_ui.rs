//! Developer Tools → Webhooks, driven as a browser would (forms, redirects, cookies).

use reqwest::StatusCode;

use crate::helpers::{TestApp, field_value};

fn secret_on(html: &str) -> String {
    let start = html
        .find("<code id=\"secret\">")
        .expect("the secret is shown")
        + "<code id=\"secret\">".len();
    html[start..start + html[start..].find('<').unwrap()].to_owned()
}

#[tokio::test]
async fn the_guide_flow_creates_a_webhook_and_shows_its_secret() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let browser = app.browser(&acme).await;

    let list = browser.get("/webhooks").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.html.contains("No webhooks yet"));
    assert!(list.html.contains("href=\"/webhooks/new\">New Webhook"));
    assert!(
        list.html.contains("Developer Tools") && list.html.contains("Alarm Triggers"),
        "the sidebar"
    );

    let saved = browser
        .submit(
            "/webhooks/new",
            "/webhooks",
            &[("name", "Ops pager"), ("url", "https://example.com/biotz")],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    let location = saved.location.unwrap();
    assert!(
        location.starts_with("/webhooks/whk_") && location.ends_with("?created=1"),
        "{location}"
    );

    let created = browser.get(&location).await;
    assert_eq!(created.status, StatusCode::OK);
    assert!(created.html.contains("Webhook created!"));
    let secret = secret_on(&created.html);
    assert!(secret.starts_with("whsec_"));
    let id = location
        .trim_start_matches("/webhooks/")
        .trim_end_matches("?created=1");
    let api_secret = app
        .api(&acme)
        .get(&format!("/api/v1/webhooks/{id}/secret"))
        .await;
    assert_eq!(api_secret.body["secret"], secret.as_str());

    let shown = browser.get(&format!("/webhooks/{id}")).await;
    assert!(!shown.html.contains(&secret), "hidden until revealed");
    assert!(
        browser
            .get(&format!("/webhooks/{id}?reveal=1"))
            .await
            .html
            .contains(&secret)
    );
    let listed = browser.get("/webhooks").await;
    // The list lets the URL wrap after its separators (`<wbr>`).
    let listed = listed.html.replace("<wbr>", "");
    assert!(listed.contains("Ops pager") && listed.contains("https://example.com/biotz"));
}

#[tokio::test]
async fn an_http_url_is_refused_beside_the_field_and_the_form_keeps_the_input() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let browser = app.browser(&acme).await;
    let refused = browser
        .submit(
            "/webhooks/new",
            "/webhooks",
            &[("name", "Ops"), ("url", "http://example.com/biotz")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.html.contains(
        "<p class=\"field-error\" id=\"url-error\">Webhooks only support HTTPS URLs.</p>"
    ));
    assert_eq!(field_value(&refused.html, "name").as_deref(), Some("Ops"));
    assert_eq!(
        field_value(&refused.html, "url").as_deref(),
        Some("http://example.com/biotz")
    );
    assert!(refused.html.contains("aria-invalid=\"true\""));
    assert_eq!(
        app.api(&acme).get("/api/v1/webhooks").await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );

    app.api(&acme)
        .create_webhook("Taken", "https://example.com/a")
        .await;
    let clash = browser
        .submit(
            "/webhooks/new",
            "/webhooks",
            &[("name", "taken"), ("url", "https://example.com/b")],
        )
        .await;
    assert_eq!(clash.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        clash
            .html
            .contains("A webhook with this name already exists")
    );
}

#[tokio::test]
async fn regenerate_secret_replaces_it_and_can_keep_the_previous_one_signing() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let created = app
        .api(&acme)
        .create_webhook("Ops", "https://example.com/a")
        .await;
    let id = created["id"].as_str().unwrap();
    let browser = app.browser(&acme).await;

    // With no overlap the previous secret stops at once: the first press only asks.
    let asked = browser
        .submit(
            &format!("/webhooks/{id}"),
            &format!("/webhooks/{id}/secret/regenerate"),
            &[("keep_previous_for_seconds", "0")],
        )
        .await;
    assert_eq!(asked.status, StatusCode::OK);
    assert!(
        asked.html.contains("stops signing at once"),
        "{}",
        asked.html
    );
    let unchanged = browser.get(&format!("/webhooks/{id}?reveal=1")).await;
    assert_eq!(
        secret_on(&unchanged.html),
        created["secret"].as_str().unwrap()
    );
    let done = browser
        .submit(
            &format!("/webhooks/{id}"),
            &format!("/webhooks/{id}/secret/regenerate"),
            &[("keep_previous_for_seconds", "0"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(
        done.location.as_deref(),
        Some(format!("/webhooks/{id}?reveal=1").as_str())
    );
    let page = browser.get(&format!("/webhooks/{id}?reveal=1")).await;
    let second = secret_on(&page.html);
    assert_ne!(second, created["secret"].as_str().unwrap());
    assert!(page.html.contains("The previous secret no longer signs"));
    assert!(!page.html.contains("Previous secrets still signing"));

    browser
        .submit(
            &format!("/webhooks/{id}"),
            &format!("/webhooks/{id}/secret/regenerate"),
            &[("keep_previous_for_seconds", "86400")],
        )
        .await;
    let page = browser.get(&format!("/webhooks/{id}?reveal=1")).await;
    assert_ne!(secret_on(&page.html), second);
    assert!(page.html.contains("Previous secrets still signing"));

    let bad = browser
        .submit(
            &format!("/webhooks/{id}"),
            &format!("/webhooks/{id}/secret/regenerate"),
            &[("keep_previous_for_seconds", "9999999")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn edit_disable_enable_and_delete() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let created = api.create_webhook("Ops", "https://example.com/a").await;
    let id = created["id"].as_str().unwrap();
    let browser = app.browser(&acme).await;

    let edit = browser.get(&format!("/webhooks/{id}/edit")).await;
    assert_eq!(
        field_value(&edit.html, "url").as_deref(),
        Some("https://example.com/a")
    );
    let saved = browser
        .submit(
            &format!("/webhooks/{id}/edit"),
            &format!("/webhooks/{id}/edit"),
            &[("name", "Ops 2"), ("url", "https://example.org/b")],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    assert!(
        browser
            .get(&format!("/webhooks/{id}"))
            .await
            .html
            .contains("Webhook saved.")
    );
    let read = api.get(&format!("/api/v1/webhooks/{id}")).await;
    assert_eq!(
        (read.body["name"].as_str(), read.body["url"].as_str()),
        (Some("Ops 2"), Some("https://example.org/b"))
    );

    let invalid = browser
        .submit(
            &format!("/webhooks/{id}/edit"),
            &format!("/webhooks/{id}/edit"),
            &[("name", "Ops 3"), ("url", "ftp://example.org")],
        )
        .await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        api.get(&format!("/api/v1/webhooks/{id}")).await.body["name"],
        "Ops 2"
    );

    browser
        .submit(
            &format!("/webhooks/{id}"),
            &format!("/webhooks/{id}/disable"),
            &[],
        )
        .await;
    let page = browser.get(&format!("/webhooks/{id}")).await;
    assert!(
        page.html.contains("badge danger\">Disabled") && page.html.contains("Disabled by a user.")
    );
    assert_eq!(
        api.get(&format!("/api/v1/webhooks/{id}")).await.body["enabled"],
        false
    );
    browser
        .submit(
            &format!("/webhooks/{id}"),
            &format!("/webhooks/{id}/enable"),
            &[],
        )
        .await;
    assert_eq!(
        api.get(&format!("/api/v1/webhooks/{id}")).await.body["enabled"],
        true
    );

    let confirm = browser.get(&format!("/webhooks/{id}/delete")).await;
    assert!(confirm.html.contains("Delete <strong>Ops 2</strong>"));
    let deleted = browser
        .submit(
            &format!("/webhooks/{id}/delete"),
            &format!("/webhooks/{id}/delete"),
            &[],
        )
        .await;
    assert_eq!(deleted.location.as_deref(), Some("/webhooks"));
    assert!(
        browser
            .get("/webhooks")
            .await
            .html
            .contains("Webhook “Ops 2” deleted.")
    );
    assert_eq!(
        api.get(&format!("/api/v1/webhooks/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_list_searches_by_name() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    for name in ["Ops pager", "Billing"] {
        app.api(&acme)
            .create_webhook(name, "https://example.com/a")
            .await;
    }
    let browser = app.browser(&acme).await;
    let found = browser.get("/webhooks?q=PAGER").await;
    assert!(found.html.contains("Ops pager") && !found.html.contains("Billing"));
    let none = browser.get("/webhooks?q=nothing").await;
    assert!(none.html.contains("No webhook matches “nothing”"));
}

#[tokio::test]
async fn a_form_post_without_the_csrf_token_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let browser = app.browser(&acme).await;
    let missing = browser
        .post_form(
            "/webhooks",
            &[("name", "Ops"), ("url", "https://example.com/a")],
        )
        .await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    assert!(missing.html.contains("CSRF token"));
    let forged = browser
        .post_form(
            "/webhooks",
            &[
                ("_csrf", "forged"),
                ("name", "Ops"),
                ("url", "https://example.com/a"),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.api(&acme).get("/api/v1/webhooks").await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );

    let created = app
        .api(&acme)
        .create_webhook("Ops", "https://example.com/a")
        .await;
    let id = created["id"].as_str().unwrap();
    let delete = browser
        .post_form(&format!("/webhooks/{id}/delete"), &[])
        .await;
    assert_eq!(delete.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.api(&acme)
            .get(&format!("/api/v1/webhooks/{id}"))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn pages_need_a_session() {
    let app = TestApp::spawn().await;
    let browser = app.new_browser();
    let page = browser.get("/webhooks/new").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(
        page.location.as_deref(),
        Some("/login?next=%2Fwebhooks%2Fnew")
    );
    let post = browser
        .post_form(
            "/webhooks",
            &[("name", "x"), ("url", "https://example.com")],
        )
        .await;
    assert_eq!(post.status, StatusCode::SEE_OTHER);
}
