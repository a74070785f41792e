//! A NUL character (U+0000) in any text field, JSON string or key, form field or query parameter
//! is refused with 422 naming the field, on SQLite and PostgreSQL alike (PostgreSQL cannot store
//! it), and nothing is written.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, freezer_schema};

const NUL: &str = "a\u{0}b";

/// Every string leaf of `body`, with its path as the errors name fields (`a.b[0].c`).
fn string_paths(value: &Value, path: String, out: &mut Vec<String>) {
    match value {
        Value::String(_) => out.push(path),
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                string_paths(item, format!("{path}[{index}]"), out);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                let inner = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                string_paths(item, inner, out);
            }
        }
        _ => {}
    }
}

fn with_nul_at(body: &Value, path: &str) -> Value {
    let pointer = format!(
        "/{}",
        path.replace('[', ".").replace(']', "").replace('.', "/")
    );
    let mut body = body.clone();
    let leaf = body.pointer_mut(&pointer).unwrap();
    *leaf = Value::String(format!("{}{NUL}", leaf.as_str().unwrap()));
    body
}

#[tokio::test]
async fn every_string_of_every_api_write_route_refuses_nul() {
    let app = TestApp::without_dispatcher().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let webhook = api.create_webhook("Ops", "https://example.com/a").await;
    let w = webhook["id"].as_str().unwrap().to_owned();
    let freezer = api.create_freezer_type("Freezer").await;
    let t = freezer["id"].as_str().unwrap().to_owned();
    let (d, device_token) = api.create_device("Freezer 7", &freezer).await;
    let condition = json!({ "field": "/status", "op": "==", "value": "open" });
    let trigger = api
        .create_trigger(&freezer, "Door", condition.clone(), &[&webhook])
        .await;
    let tr = trigger["id"].as_str().unwrap().to_owned();

    let device_type = json!({
        "name": "Fridge",
        "description": "Cold rooms",
        "message_types": [{ "name": "telemetry", "schema": freezer_schema() }],
    });
    let trigger_body = json!({
        "name": "Door 2", "message_type": "telemetry", "condition": condition,
        "severity": "warning", "webhook_ids": [w],
    });
    let routes: Vec<(Method, String, Value)> = vec![
        (
            Method::POST,
            "/webhooks".into(),
            json!({ "name": "Billing", "url": "https://example.com/b" }),
        ),
        (
            Method::PATCH,
            format!("/webhooks/{w}"),
            json!({ "name": "Ops 2", "url": "https://example.com/c" }),
        ),
        (
            Method::POST,
            format!("/webhooks/{w}/replay"),
            json!({ "since": "2026-01-01T00:00:00Z" }),
        ),
        (Method::POST, "/device-types".into(), device_type.clone()),
        (Method::PATCH, format!("/device-types/{t}"), device_type),
        (
            Method::POST,
            "/devices".into(),
            json!({ "name": "Freezer 8", "device_type_id": t }),
        ),
        (
            Method::PATCH,
            format!("/devices/{d}"),
            json!({ "name": "Freezer 9" }),
        ),
        (
            Method::POST,
            format!("/device-types/{t}/alarm-triggers"),
            trigger_body.clone(),
        ),
        (Method::PATCH, format!("/alarm-triggers/{tr}"), trigger_body),
        (
            Method::PUT,
            format!("/alarm-triggers/{tr}/webhooks"),
            json!({ "webhook_ids": [w] }),
        ),
        (Method::POST, "/tokens".into(), json!({ "name": "spare" })),
        (
            Method::POST,
            "/ingest".into(),
            json!({ "message_type": "telemetry", "payload": { "temperature": 1, "status": "open" } }),
        ),
    ];
    let client = reqwest::Client::new();
    let mut checked = 0;
    for (method, path, body) in &routes {
        let bearer = if path == "/ingest" {
            &device_token
        } else {
            &acme.token
        };
        let mut fields = Vec::new();
        string_paths(body, String::new(), &mut fields);
        for field in fields {
            let response = client
                .request(method.clone(), app.url(&format!("/api/v1{path}")))
                .bearer_auth(bearer)
                .json(&with_nul_at(body, &field))
                .send()
                .await
                .unwrap();
            let status = response.status();
            let answer: Value = response.json().await.unwrap();
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{method} {path} with NUL in {field}: {answer}"
            );
            let message = answer["error"]["fields"][&field]
                .as_str()
                .unwrap_or_default();
            assert!(
                message.contains("NUL"),
                "{method} {path}: {field} is named: {answer}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 25, "{checked} fields checked");

    let key = client
        .post(app.url("/api/v1/ingest"))
        .bearer_auth(&device_token)
        .json(&json!({ "message_type": "telemetry", "payload": { "temperature": 1, "x\u{0}": 1 } }))
        .send()
        .await
        .unwrap();
    assert_eq!(key.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let search = api.get("/api/v1/webhooks?name=a%00b").await;
    assert_eq!(search.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(search.field_error("name").contains("NUL"));

    let listed = api.get("/api/v1/webhooks").await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(listed.body["data"][0]["name"], "Ops", "nothing was written");
    let messages = api.get(&format!("/api/v1/devices/{d}/messages")).await;
    assert_eq!(messages.body["data"], json!([]), "no message was stored");
}

/// The names of the fields of the post form whose action is `action`.
fn form_fields(html: &str, action: &str) -> Vec<String> {
    let start = html
        .find(&format!("action=\"{action}\""))
        .unwrap_or_else(|| panic!("a form posting to {action}"));
    let form = &html[start..start + html[start..].find("</form>").unwrap()];
    let mut names: Vec<String> = form
        .split("name=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|name| *name != "_csrf")
        .map(str::to_owned)
        .collect();
    names.dedup();
    names
}

#[tokio::test]
async fn every_field_of_every_form_refuses_nul() {
    let app = TestApp::without_dispatcher().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let webhook = api.create_webhook("Ops", "https://example.com/a").await;
    let w = webhook["id"].as_str().unwrap().to_owned();
    let freezer = api.create_freezer_type("Freezer").await;
    let t = freezer["id"].as_str().unwrap().to_owned();
    let (d, _) = api.create_device("Freezer 7", &freezer).await;
    let trigger = api
        .create_trigger(
            &freezer,
            "Door",
            json!({ "field": "/status", "op": "==", "value": "open" }),
            &[&webhook],
        )
        .await;
    let tr = trigger["id"].as_str().unwrap().to_owned();

    let forms = [
        ("/webhooks/new".to_owned(), "/webhooks".to_owned()),
        (format!("/webhooks/{w}/edit"), format!("/webhooks/{w}/edit")),
        (format!("/webhooks/{w}"), format!("/webhooks/{w}/replay")),
        ("/device-types/new".into(), "/device-types".into()),
        (
            format!("/device-types/{t}/edit"),
            format!("/device-types/{t}/edit"),
        ),
        ("/devices/new".into(), "/devices".into()),
        (format!("/devices/{d}/edit"), format!("/devices/{d}/edit")),
        (
            format!("/device-types/{t}/alarm-triggers/new"),
            format!("/device-types/{t}/alarm-triggers"),
        ),
        (
            format!("/alarm-triggers/{tr}/edit"),
            format!("/alarm-triggers/{tr}/edit"),
        ),
        (
            format!("/alarm-triggers/{tr}/webhooks"),
            format!("/alarm-triggers/{tr}/webhooks"),
        ),
        ("/tokens".into(), "/tokens".into()),
    ];
    let browser = app.browser(&acme).await;
    let mut checked = 0;
    for (page, action) in &forms {
        let html = browser.get(page).await;
        let csrf = html.csrf();
        let fields = form_fields(&html.html, action);
        assert!(!fields.is_empty(), "{action} has fields");
        for field in fields {
            let answer = browser
                .post_form(action, &[("_csrf", &csrf), (&field, NUL)])
                .await;
            assert_eq!(
                answer.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{action} with NUL in {field}"
            );
            assert!(answer.html.contains("NUL"), "{action}: {field}");
            checked += 1;
        }
    }
    assert!(checked >= 20, "{checked} fields checked");

    let anonymous = app.new_browser();
    let login = anonymous.get("/login").await;
    for field in form_fields(&login.html, "/login") {
        let answer = anonymous
            .post_form("/login", &[("_csrf", &login.csrf()), (&field, NUL)])
            .await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "/login {field}"
        );
    }
    let search = browser.get("/webhooks?q=a%00b").await;
    assert_eq!(search.status, StatusCode::UNPROCESSABLE_ENTITY);
    let listed = api.get("/api/v1/webhooks").await;
    assert_eq!(listed.body["data"][0]["name"], "Ops", "nothing was written");
}
