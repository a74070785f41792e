//! Custom headers: sent with every attempt to a real HTTPS receiver, stored sealed, read back
//! masked, never in the attempt log or anywhere in the database in plain text.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::dispatch::delivery_when;
use crate::helpers::{TestApp, TestDatabase};
use crate::receiver::Receiver;

const WAIT: Duration = Duration::from_secs(15);
const API_KEY: &str = "k-3f9a-very-secret-api-key";
const BASIC: &str = "Basic Z2F0ZXdheTpwYXNzd29yZC0xMjM0NQ==";

/// Whether `needle` is anywhere in the database as plain text: SQLite's file and its WAL read
/// as bytes, or on PostgreSQL every table that holds webhooks and what was sent.
async fn database_contains(app: &TestApp, needle: &str) -> bool {
    match &app.database {
        TestDatabase::Sqlite { url } => {
            let path = url.trim_start_matches("sqlite://");
            [path.to_owned(), format!("{path}-wal")].iter().any(|file| {
                std::fs::read(file).is_ok_and(|bytes| {
                    bytes
                        .windows(needle.len())
                        .any(|window| window == needle.as_bytes())
                })
            })
        }
        TestDatabase::Postgres { url, .. } => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            let mut found = false;
            for table in [
                "webhooks",
                "webhook_secrets",
                "deliveries",
                "attempts",
                "events",
            ] {
                let text: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT coalesce(string_agg(t::text, ' '), '') FROM {table} t"
                )))
                .fetch_one(&pool)
                .await
                .unwrap();
                found |= text.contains(needle);
            }
            pool.close().await;
            found
        }
    }
}

#[tokio::test]
async fn custom_headers_arrive_with_every_attempt_and_are_stored_only_sealed() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Acme").await;
    let api = app.api(&tenant);
    let created = api
        .post(
            "/api/v1/webhooks",
            json!({
                "name": "Behind a gateway",
                "url": receiver.url,
                "headers": [
                    { "name": "X-Api-Key", "value": API_KEY },
                    { "name": "Authorization", "value": BASIC },
                ],
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(
        created.body["headers"],
        json!([
            { "name": "X-Api-Key", "value": "••••••••" },
            { "name": "Authorization", "value": "••••••••" },
        ])
    );
    let id = created.body["id"].as_str().unwrap();
    let read = api.get(&format!("/api/v1/webhooks/{id}")).await;
    assert!(!read.body.to_string().contains(API_KEY));
    assert_eq!(read.body["headers"][0]["name"], "X-Api-Key");

    api.post(&format!("/api/v1/webhooks/{id}/test"), json!({}))
        .await;
    let request = &receiver.wait_for(1, WAIT).await[0];
    assert_eq!(request.header("x-api-key"), API_KEY);
    assert_eq!(request.header("authorization"), BASIC);
    assert!(!request.header("biotz-iot-signature").is_empty());

    let delivery = request.header("biotz-iot-delivery-id").to_owned();
    let logged = delivery_when(&api, &delivery, "its attempt", |d| {
        d["status"] == "succeeded"
    })
    .await;
    let sent = logged["attempts"][0]["request_headers"].as_str().unwrap();
    assert!(sent.contains("X-Api-Key: ••••••••"), "{sent}");
    assert!(!sent.contains(API_KEY) && !sent.contains(BASIC), "{sent}");
    assert!(!database_contains(&app, API_KEY).await);
    assert!(!database_contains(&app, "Z2F0ZXdheTpwYXNzd29yZC0xMjM0NQ").await);
    assert!(
        database_contains(&app, "Behind a gateway").await,
        "the check itself reads the database"
    );

    // A header listed without a value keeps its saved one; one left out is removed.
    let kept = api
        .patch(
            &format!("/api/v1/webhooks/{id}"),
            json!({ "headers": [{ "name": "x-api-key" }] }),
        )
        .await;
    assert_eq!(kept.status, StatusCode::OK, "{}", kept.body);
    assert_eq!(
        kept.body["headers"],
        json!([{ "name": "x-api-key", "value": "••••••••" }])
    );
    api.post(&format!("/api/v1/webhooks/{id}/test"), json!({}))
        .await;
    let second = &receiver.wait_for(2, WAIT).await[1];
    assert_eq!(second.header("x-api-key"), API_KEY);
    assert!(second.headers.get("authorization").is_none());
}

#[tokio::test]
async fn headers_that_would_break_the_request_are_refused_by_field_and_change_nothing() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Acme").await;
    let api = app.api(&tenant);
    let webhook = api
        .create_webhook("Gateway", "https://example.com/hook")
        .await;
    let id = webhook["id"].as_str().unwrap();
    let path = format!("/api/v1/webhooks/{id}");

    let refused = api
        .patch(
            &path,
            json!({ "name": "Renamed", "headers": [
                { "name": "Content-Type", "value": "text/plain" },
                { "name": "X-Line", "value": "a\r\nInjected: yes" },
                { "name": "Biotz-IoT-Signature", "value": "forged" },
                { "name": "X-New" },
            ]}),
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert!(
        refused
            .field_error("headers[0].name")
            .contains("set by the sender")
    );
    assert!(refused.field_error("headers[1].value").contains("one line"));
    assert!(
        refused
            .field_error("headers[2].name")
            .contains("set by the sender")
    );
    assert!(
        refused
            .field_error("headers[3].value")
            .contains("no value is saved")
    );
    let many: Vec<_> = (0..21)
        .map(|i| json!({ "name": format!("X-{i}"), "value": "v" }))
        .collect();
    let too_many = api.patch(&path, json!({ "headers": many })).await;
    assert!(too_many.field_error("headers").contains("at most 20"));

    let unchanged = api.get(&path).await;
    assert_eq!(unchanged.body["name"], "Gateway");
    assert_eq!(unchanged.body["headers"], json!([]));
}

#[tokio::test]
async fn the_form_saves_headers_shows_them_masked_and_keeps_a_value_left_empty() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Acme").await;
    let api = app.api(&tenant);
    let webhook = api.create_webhook("Gateway", &receiver.url).await;
    let id = webhook["id"].as_str().unwrap();
    let browser = app.browser(&tenant).await;
    let edit = format!("/webhooks/{id}/edit");
    let post = |fields: Vec<(&'static str, String)>| {
        let browser = &browser;
        let edit = edit.clone();
        let url = receiver.url.clone();
        async move {
            let mut all: Vec<(&str, String)> = vec![
                ("name", "Gateway".into()),
                ("url", url),
                ("signing", "biotz".into()),
                ("headers_shown", "1".into()),
            ];
            all.extend(fields);
            let borrowed: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
            browser.submit(&edit, &edit, &borrowed).await
        }
    };

    let bad = post(vec![
        ("header_name", "Host".into()),
        ("header_value", "evil.example".into()),
        ("header_name", String::new()),
        ("header_value", String::new()),
    ])
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.html.contains(r#"id="header-name-1-error""#),
        "{}",
        bad.html
    );

    let saved = post(vec![
        ("header_name", "X-Api-Key".into()),
        ("header_value", API_KEY.into()),
        ("header_name", String::new()),
        ("header_value", String::new()),
    ])
    .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.html);
    let page = browser.get(&format!("/webhooks/{id}")).await;
    assert!(page.html.contains("X-Api-Key: ••••••••"));
    let form = browser.get(&edit).await;
    assert!(
        !form.html.contains(API_KEY),
        "the form never shows a saved value"
    );
    assert!(form.html.contains("saved (hidden): leave empty to keep"));

    // Saved again with the value left empty: the header keeps its value.
    let again = post(vec![
        ("header_name", "X-Api-Key".into()),
        ("header_value", String::new()),
    ])
    .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.html);
    api.post(&format!("/api/v1/webhooks/{id}/test"), json!({}))
        .await;
    let request = &receiver.wait_for(1, WAIT).await[0];
    assert_eq!(request.header("x-api-key"), API_KEY);

    // A post without the header rows (an older form) leaves the headers alone.
    let plain = browser
        .submit(
            &edit,
            &edit,
            &[("name", "Gateway"), ("url", receiver.url.as_str())],
        )
        .await;
    assert_eq!(plain.status, StatusCode::SEE_OTHER);
    let read = api.get(&format!("/api/v1/webhooks/{id}")).await;
    assert_eq!(read.body["headers"][0]["name"], "X-Api-Key");
}
