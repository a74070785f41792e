use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn create_returns_the_webhook_and_its_secret() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let created = api
        .create_webhook("  Ops pager ", "https://Hooks.Example.com/biotz?team=ops")
        .await;
    assert!(created["id"].as_str().unwrap().starts_with("whk_"));
    assert_eq!(created["name"], "Ops pager");
    assert_eq!(created["url"], "https://hooks.example.com/biotz?team=ops");
    assert_eq!(created["enabled"], true);
    let secret = created["secret"].as_str().unwrap();
    assert!(
        secret.starts_with("whsec_") && secret.len() >= 6 + 43,
        "{secret}"
    );
    assert!(created["created_at"].as_str().unwrap().ends_with('Z'));

    let read = api
        .get(&format!(
            "/api/v1/webhooks/{}",
            created["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body["name"], "Ops pager");
    assert!(
        read.body.get("secret").is_none(),
        "reading a webhook never shows its secret"
    );
}

#[tokio::test]
async fn invalid_webhooks_get_the_error_body_with_each_field_named() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);

    let http = api
        .post(
            "/api/v1/webhooks",
            json!({ "name": "x", "url": "http://example.com/hook" }),
        )
        .await;
    assert_eq!(http.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(http.body["error"]["code"], "validation_failed");
    assert_eq!(http.field_error("url"), "Webhooks only support HTTPS URLs.");

    let both = api
        .post(
            "/api/v1/webhooks",
            json!({ "name": "", "url": "https://user:pw@example.com/" }),
        )
        .await;
    assert_eq!(both.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(both.field_error("name").contains("Enter a name"));
    assert!(both.field_error("url").contains("user name and password"));

    let long_name = api
        .post(
            "/api/v1/webhooks",
            json!({ "name": "n".repeat(101), "url": "https://example.com/" }),
        )
        .await;
    assert!(long_name.field_error("name").contains("at most 100"));
    let long_url = format!("https://example.com/{}", "a".repeat(2040));
    let long_url = api
        .post("/api/v1/webhooks", json!({ "name": "n", "url": long_url }))
        .await;
    assert!(long_url.field_error("url").contains("at most 2048"));
    let relative = api
        .post("/api/v1/webhooks", json!({ "name": "n", "url": "/hooks" }))
        .await;
    assert!(relative.field_error("url").contains("absolute URL"));

    let missing = api.post("/api/v1/webhooks", json!({ "name": "x" })).await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(missing.field_error("url"), "This field is required.");
    let wrong_type = api
        .post(
            "/api/v1/webhooks",
            json!({ "name": 5, "url": "https://example.com" }),
        )
        .await;
    assert!(wrong_type.field_error("name").contains("expected a string"));
    let unknown = api
        .post(
            "/api/v1/webhooks",
            json!({ "name": "x", "url": "https://example.com", "secret": "mine" }),
        )
        .await;
    assert!(unknown.field_error("secret").contains("Unknown field"));

    let client = reqwest::Client::new();
    let response = client
        .post(app.url("/api/v1/webhooks"))
        .bearer_auth(&acme.token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_json");

    let response = client
        .post(app.url("/api/v1/webhooks"))
        .bearer_auth(&acme.token)
        .header("content-type", "text/plain")
        .body(r#"{"name":"x","url":"https://example.com"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let response = client
        .post(app.url("/api/v1/webhooks"))
        .bearer_auth(&acme.token)
        .header("content-type", "application/json")
        .body(format!(
            r#"{{"name":"x","url":"https://example.com/{}"}}"#,
            "a".repeat(300 * 1024)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "payload_too_large");

    let listed = api.get("/api/v1/webhooks").await;
    assert_eq!(
        listed.body["data"].as_array().unwrap().len(),
        0,
        "nothing invalid was stored"
    );
}

#[tokio::test]
async fn names_are_unique_per_organization_ignoring_case() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let other = app.tenant("Other").await;
    app.api(&acme)
        .create_webhook("Ops", "https://example.com/a")
        .await;
    let clash = app
        .api(&acme)
        .post(
            "/api/v1/webhooks",
            json!({ "name": "OPS", "url": "https://example.com/b" }),
        )
        .await;
    assert_eq!(clash.status, StatusCode::CONFLICT);
    assert_eq!(clash.body["error"]["code"], "conflict");
    assert!(clash.field_error("name").contains("already exists"));
    app.api(&other)
        .create_webhook("Ops", "https://example.com/a")
        .await;

    let second = app
        .api(&acme)
        .create_webhook("Billing", "https://example.com/b")
        .await;
    let renamed = app
        .api(&acme)
        .patch(
            &format!("/api/v1/webhooks/{}", second["id"].as_str().unwrap()),
            json!({ "name": "ops" }),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn list_searches_by_name_and_pages_with_a_cursor() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    for name in [
        "Ops pager",
        "Billing",
        "ops-archive",
        "Data lake",
        "100% done",
    ] {
        api.create_webhook(name, "https://example.com/hook").await;
    }
    let search = api.get("/api/v1/webhooks?name=OPS").await;
    let names: Vec<&str> = search.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["ops-archive", "Ops pager"],
        "newest first, case-insensitive substring"
    );
    let literal = api.get("/api/v1/webhooks?name=%25").await;
    assert_eq!(
        literal.body["data"].as_array().unwrap().len(),
        1,
        "% is matched literally"
    );

    let first = api.get("/api/v1/webhooks?limit=2").await;
    assert_eq!(first.body["data"].as_array().unwrap().len(), 2);
    let cursor = first.body["next_cursor"].as_str().unwrap().to_owned();
    let second = api
        .get(&format!("/api/v1/webhooks?limit=2&cursor={cursor}"))
        .await;
    let third = api
        .get(&format!(
            "/api/v1/webhooks?limit=2&cursor={}",
            second.body["next_cursor"].as_str().unwrap()
        ))
        .await;
    assert_eq!(third.body["data"].as_array().unwrap().len(), 1);
    assert!(third.body["next_cursor"].is_null());
    let mut all: Vec<String> = [&first, &second, &third]
        .iter()
        .flat_map(|page| {
            page.body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| w["id"].as_str().unwrap().to_owned())
        })
        .collect();
    all.dedup();
    assert_eq!(all.len(), 5, "every webhook once");

    let bad = api.get("/api/v1/webhooks?limit=1000").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.field_error("limit").contains("1 to 200"));
    let bad_cursor = api.get("/api/v1/webhooks?cursor=***").await;
    assert!(
        bad_cursor
            .field_error("cursor")
            .contains("next_cursor of the previous page")
    );
    let any_position = api.get("/api/v1/webhooks?cursor=Zz_0").await;
    assert_eq!(any_position.status, StatusCode::OK, "{}", any_position.body);
}

#[tokio::test]
async fn patch_changes_name_url_and_enabled() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let created = api.create_webhook("Ops", "https://example.com/a").await;
    let path = format!("/api/v1/webhooks/{}", created["id"].as_str().unwrap());

    let changed = api
        .patch(
            &path,
            json!({ "name": "Ops 2", "url": "https://example.org/b" }),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK);
    assert_eq!(changed.body["name"], "Ops 2");
    assert_eq!(changed.body["url"], "https://example.org/b");
    assert_eq!(changed.body["enabled"], true);

    let disabled = api.patch(&path, json!({ "enabled": false })).await;
    assert_eq!(disabled.body["enabled"], false);
    assert_eq!(disabled.body["disabled_reason"], "Disabled by a user.");
    assert_eq!(
        disabled.body["name"], "Ops 2",
        "fields left out stay as they were"
    );
    let enabled = api.patch(&path, json!({ "enabled": true })).await;
    assert_eq!(enabled.body["enabled"], true);
    assert!(enabled.body["disabled_reason"].is_null());

    let refused = api
        .patch(&path, json!({ "url": "http://example.org/b" }))
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        refused.field_error("url"),
        "Webhooks only support HTTPS URLs."
    );
    assert_eq!(
        api.get(&path).await.body["url"],
        "https://example.org/b",
        "a refused change stores nothing"
    );
}

#[tokio::test]
async fn delete_removes_the_webhook() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let created = api.create_webhook("Ops", "https://example.com/a").await;
    let path = format!("/api/v1/webhooks/{}", created["id"].as_str().unwrap());
    assert_eq!(api.delete(&path).await.status, StatusCode::NO_CONTENT);
    assert_eq!(api.get(&path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(api.delete(&path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        api.get("/api/v1/webhooks/whk_nonsense").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_secret_can_be_revealed_and_regenerated_with_an_overlap() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let created = api.create_webhook("Ops", "https://example.com/a").await;
    let id = created["id"].as_str().unwrap();
    let first = created["secret"].as_str().unwrap().to_owned();

    let revealed = api.get(&format!("/api/v1/webhooks/{id}/secret")).await;
    assert_eq!(revealed.status, StatusCode::OK);
    assert_eq!(revealed.body["secret"], first.as_str());
    assert_eq!(revealed.body["previous"], json!([]));

    let regenerated = api
        .post(
            &format!("/api/v1/webhooks/{id}/secret/regenerate"),
            json!({}),
        )
        .await;
    assert_eq!(regenerated.status, StatusCode::OK);
    let second = regenerated.body["secret"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    assert!(second.starts_with("whsec_"));
    assert_eq!(
        regenerated.body["previous"],
        json!([]),
        "without an overlap the old secret stops at once"
    );

    let overlapped = api
        .post(
            &format!("/api/v1/webhooks/{id}/secret/regenerate"),
            json!({ "keep_previous_for_seconds": 3600 }),
        )
        .await;
    let third = overlapped.body["secret"].as_str().unwrap();
    assert_ne!(third, second);
    let previous = overlapped.body["previous"].as_array().unwrap();
    assert_eq!(previous.len(), 1);
    assert!(previous[0]["expires_at"].as_str().unwrap().ends_with('Z'));
    assert!(
        previous[0].get("secret").is_none(),
        "older secrets are listed, never revealed"
    );
    assert_eq!(
        api.get(&format!("/api/v1/webhooks/{id}/secret")).await.body["secret"],
        third
    );

    let too_long = api
        .post(
            &format!("/api/v1/webhooks/{id}/secret/regenerate"),
            json!({ "keep_previous_for_seconds": 700_000 }),
        )
        .await;
    assert_eq!(too_long.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        too_long
            .field_error("keep_previous_for_seconds")
            .contains("7 days")
    );
    assert_eq!(
        api.get(&format!("/api/v1/webhooks/{id}/secret")).await.body["secret"],
        third,
        "a refused regeneration changes nothing"
    );
}

#[tokio::test]
async fn regenerate_accepts_an_empty_body() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let created = app
        .api(&acme)
        .create_webhook("Ops", "https://example.com/a")
        .await;
    let response = reqwest::Client::new()
        .post(app.url(&format!(
            "/api/v1/webhooks/{}/secret/regenerate",
            created["id"].as_str().unwrap()
        )))
        .bearer_auth(&acme.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn secrets_are_stored_encrypted() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let created = app
        .api(&acme)
        .create_webhook("Ops", "https://example.com/a")
        .await;
    let secret = created["secret"].as_str().unwrap();
    let sealed: Vec<Vec<u8>> = match app.database.url() {
        url if url.starts_with("sqlite:") => {
            let pool = sqlx::SqlitePool::connect(url).await.unwrap();
            sqlx::query_scalar("SELECT sealed FROM webhook_secrets")
                .fetch_all(&pool)
                .await
                .unwrap()
        }
        url => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            sqlx::query_scalar("SELECT sealed FROM webhook_secrets")
                .fetch_all(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(sealed.len(), 1);
    let stored = &sealed[0];
    let needle = &secret.as_bytes()[6..];
    assert!(
        !stored.windows(needle.len()).any(|w| w == needle),
        "the secret is not stored in the clear"
    );
    assert!(
        stored.len() >= 24 + secret.len() + 16,
        "nonce, ciphertext and tag"
    );
}

#[tokio::test]
async fn requests_without_a_valid_token_get_401() {
    let app = TestApp::spawn().await;
    let anonymous = app.anonymous_api();
    let answer = anonymous.get("/api/v1/webhooks").await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.body["error"]["code"], "unauthorized");
    let response = reqwest::Client::new()
        .get(app.url("/api/v1/webhooks"))
        .bearer_auth("biotz_not-a-real-token")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("API Tokens")
    );
}
