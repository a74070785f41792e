use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn api_tokens_are_shown_once_listed_by_hint_and_deleted() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let created = api
        .post("/api/v1/tokens", json!({ "name": "deploy" }))
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let token = created.body["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("biotz_"));

    let listed = api.get("/api/v1/tokens").await;
    let names: Vec<&str> = listed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["deploy", "tests"]);
    assert!(
        !listed.body.to_string().contains(&token),
        "a token is never shown again"
    );
    assert!(
        token.starts_with(
            listed.body["data"][0]["hint"]
                .as_str()
                .unwrap()
                .trim_end_matches('…')
        )
    );

    let duplicate = api
        .post("/api/v1/tokens", json!({ "name": "DEPLOY" }))
        .await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    let empty = api.post("/api/v1/tokens", json!({ "name": " " })).await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(empty.field_error("name").contains("Enter a name"));

    let new_token_works = reqwest::Client::new()
        .get(app.url("/api/v1/webhooks"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(new_token_works.status(), StatusCode::OK);
    let id = created.body["id"].as_str().unwrap();
    assert_eq!(
        api.delete(&format!("/api/v1/tokens/{id}")).await.status,
        StatusCode::NO_CONTENT
    );
    let deleted_token = reqwest::Client::new()
        .get(app.url("/api/v1/webhooks"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted_token.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_tokens_page_creates_a_token_and_shows_it_once() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let browser = app.browser(&acme).await;
    let created = browser
        .submit("/tokens", "/tokens", &[("name", "script")])
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.html);
    let shown = created.location.unwrap();
    let page = browser.get(&shown).await;
    assert_eq!(page.status, StatusCode::OK);
    let start =
        page.html.find("<code id=\"new-token\">").unwrap() + "<code id=\"new-token\">".len();
    let token = &page.html[start..start + page.html[start..].find('<').unwrap()];
    assert!(token.starts_with("biotz_"));
    let works = reqwest::Client::new()
        .get(app.url("/api/v1/webhooks"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(works.status(), StatusCode::OK);
    // Reloading the page it was shown on shows it no more.
    let again = browser.get(&shown).await;
    assert!(
        again.html.contains("script") && !again.html.contains(token),
        "listed, not shown again"
    );

    let invalid = browser.submit("/tokens", "/tokens", &[("name", "")]).await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(invalid.html.contains("Enter a name for the token"));
}
