//! Another organization's ids answer 404 on every route, exactly like ids that do not exist.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn another_organization_gets_404_on_every_webhook_route() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let intruder = app.tenant("Intruder").await;
    let webhook = app
        .api(&acme)
        .create_webhook("Ops", "https://example.com/a")
        .await;
    let id = webhook["id"].as_str().unwrap();
    let secret = webhook["secret"].as_str().unwrap();

    let api = app.api(&intruder);
    let routes = [
        (Method::GET, format!("/api/v1/webhooks/{id}"), None),
        (
            Method::PATCH,
            format!("/api/v1/webhooks/{id}"),
            Some(json!({ "name": "mine", "url": "http://bad" })),
        ),
        (Method::DELETE, format!("/api/v1/webhooks/{id}"), None),
        (Method::GET, format!("/api/v1/webhooks/{id}/secret"), None),
        (
            Method::POST,
            format!("/api/v1/webhooks/{id}/secret/regenerate"),
            Some(json!({})),
        ),
    ];
    for (method, path, body) in routes {
        let answer = api.call(method.clone(), &path, body).await;
        assert_eq!(
            answer.status,
            StatusCode::NOT_FOUND,
            "{method} {path}: {}",
            answer.body
        );
        assert_eq!(answer.body["error"]["code"], "not_found");
        assert!(!answer.body.to_string().contains(secret));
    }
    let listed = api.get("/api/v1/webhooks").await;
    assert_eq!(listed.body["data"], json!([]));

    let owner = app.api(&acme);
    let still = owner.get(&format!("/api/v1/webhooks/{id}")).await;
    assert_eq!(still.status, StatusCode::OK);
    assert_eq!(still.body["name"], "Ops");
    assert_eq!(
        owner
            .get(&format!("/api/v1/webhooks/{id}/secret"))
            .await
            .body["secret"],
        secret
    );
}

#[tokio::test]
async fn another_organization_gets_404_on_every_webhook_page() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let intruder = app.tenant("Intruder").await;
    let webhook = app
        .api(&acme)
        .create_webhook("Ops", "https://example.com/a")
        .await;
    let id = webhook["id"].as_str().unwrap();

    let browser = app.browser(&intruder).await;
    for path in [
        format!("/webhooks/{id}"),
        format!("/webhooks/{id}/edit"),
        format!("/webhooks/{id}/delete"),
    ] {
        assert_eq!(
            browser.get(&path).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let csrf = browser.get("/webhooks").await.csrf();
    for action in ["edit", "enable", "disable", "secret/regenerate", "delete"] {
        let path = format!("/webhooks/{id}/{action}");
        let answer = browser
            .post_form(
                &path,
                &[
                    ("_csrf", &csrf),
                    ("name", "mine"),
                    ("url", "https://evil.example"),
                ],
            )
            .await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
    }
    let owner = app.api(&acme);
    let still = owner.get(&format!("/api/v1/webhooks/{id}")).await;
    assert_eq!(still.body["name"], "Ops");
    assert_eq!(still.body["enabled"], true);
    assert_eq!(
        owner
            .get(&format!("/api/v1/webhooks/{id}/secret"))
            .await
            .body["secret"],
        webhook["secret"]
    );
}

#[tokio::test]
async fn another_organization_cannot_delete_tokens() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let intruder = app.tenant("Intruder").await;
    let tokens = app.api(&acme).get("/api/v1/tokens").await;
    let id = tokens.body["data"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.api(&intruder)
            .delete(&format!("/api/v1/tokens/{id}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let browser = app.browser(&intruder).await;
    let csrf = browser.get("/tokens").await.csrf();
    let answer = browser
        .post_form(&format!("/tokens/{id}/delete"), &[("_csrf", &csrf)])
        .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.api(&acme).get("/api/v1/webhooks").await.status,
        StatusCode::OK,
        "the token still works"
    );
}

/// A reference in a body to another organization's row reads exactly like one to a row that
/// exists nowhere: the same status, code and message, only the id differs.
#[tokio::test]
async fn another_organizations_ids_in_a_body_read_as_not_found() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let intruder = app.tenant("Intruder").await;
    let owner = app.api(&acme);
    let foreign_type = owner.create_freezer_type("Freezer").await;
    let foreign_type = foreign_type["id"].as_str().unwrap();
    let foreign_webhook = owner.create_webhook("Ops", "https://example.com/a").await;
    let foreign_webhook = foreign_webhook["id"].as_str().unwrap();
    let nowhere_type = "dty_00000000000000000000000000";
    let nowhere_webhook = "whk_00000000000000000000000000";

    let api = app.api(&intruder);
    let device = |device_type: &str| {
        api.post(
            "/api/v1/devices",
            json!({ "name": "Freezer 7", "device_type_id": device_type }),
        )
    };
    let (foreign, nowhere) = (device(foreign_type).await, device(nowhere_type).await);
    assert_eq!(
        foreign.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        foreign.body
    );
    assert!(foreign.field_error("device_type_id").contains("not found"));
    assert_eq!(
        foreign.body.to_string().replace(foreign_type, "ID"),
        nowhere.body.to_string().replace(nowhere_type, "ID")
    );

    let own_type = api.create_freezer_type("Fridge").await;
    let trigger = api
        .create_trigger(
            &own_type,
            "Too warm",
            json!({ "field": "/temperature", "op": ">", "value": -18 }),
            &[],
        )
        .await;
    let path = format!(
        "/api/v1/alarm-triggers/{}/webhooks",
        trigger["id"].as_str().unwrap()
    );
    let set = |webhook: &str| {
        api.call(
            Method::PUT,
            &path,
            Some(json!({ "webhook_ids": [webhook] })),
        )
    };
    let (foreign, nowhere) = (set(foreign_webhook).await, set(nowhere_webhook).await);
    assert_eq!(
        foreign.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        foreign.body
    );
    assert!(foreign.field_error("webhook_ids").contains("not found"));
    assert_eq!(
        foreign.body.to_string().replace(foreign_webhook, "ID"),
        nowhere.body.to_string().replace(nowhere_webhook, "ID")
    );
}
