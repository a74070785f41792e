//! The OpenAPI document describes the routes that exist: every documented path and method is
//! called with real ids and must reach a handler (not 404 or 405).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::TestApp;

#[tokio::test]
async fn every_documented_operation_exists() {
    let app = TestApp::without_dispatcher().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let document: Value = reqwest::get(app.url("/api/v1/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(document["openapi"], "3.1.0");

    let webhook = api.create_webhook("Ops", "https://example.com/hook").await;
    let freezer = api.create_freezer_type("Freezer").await;
    let (device, device_token) = api.create_device("Freezer 7", &freezer).await;
    let trigger = api
        .create_trigger(
            &freezer,
            "Too hot",
            json!({ "field": "/temperature", "op": ">", "value": 0 }),
            &[&webhook],
        )
        .await;
    let ingested = app
        .ingest(&device_token, "telemetry", json!({ "temperature": 5 }))
        .await;
    let event = ingested.body["events"][0].as_str().unwrap().to_owned();
    let delivery = api.get(&format!("/api/v1/events/{event}")).await.body["deliveries"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = api
        .post("/api/v1/tokens", json!({ "name": "spare" }))
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let alarm = api.get("/api/v1/alarms").await.body["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let id_for = |path: &str| -> String {
        if !path.contains("{id}") {
            return path.to_owned();
        }
        let id = match path.split('/').nth(1).unwrap() {
            "webhooks" => webhook["id"].as_str().unwrap().to_owned(),
            "device-types" => freezer["id"].as_str().unwrap().to_owned(),
            "devices" => device.clone(),
            "alarm-triggers" => trigger["id"].as_str().unwrap().to_owned(),
            "deliveries" => delivery.clone(),
            "events" => event.clone(),
            "alarms" => alarm.clone(),
            "tokens" => token.clone(),
            other => panic!("no id for /{other}"),
        };
        path.replace("{id}", &id)
    };
    let mut operations: Vec<(Method, String)> = Vec::new();
    for (path, methods) in document["paths"].as_object().unwrap() {
        for method in methods.as_object().unwrap().keys() {
            operations.push((method.to_uppercase().parse().unwrap(), path.clone()));
        }
    }
    assert!(operations.len() >= 35, "{} operations", operations.len());
    // Deletions last, the dependants before what they depend on.
    let rank = |(method, path): &(Method, String)| match (method.as_str(), path.as_str()) {
        ("DELETE", p) if p.starts_with("/device-types") => 3,
        ("DELETE", p) if p.starts_with("/devices") => 2,
        ("DELETE", _) => 1,
        _ => 0,
    };
    operations.sort_by_key(rank);
    let client = reqwest::Client::new();
    for (method, path) in operations {
        let url = app.url(&format!("/api/v1{}", id_for(&path)));
        let bearer = if path == "/ingest" {
            &device_token
        } else {
            &acme.token
        };
        let mut request = client.request(method.clone(), &url).bearer_auth(bearer);
        if method != Method::GET && method != Method::DELETE {
            request = request.json(&json!({}));
        }
        let status = request.send().await.unwrap().status();
        assert!(
            status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path} is documented but answered {status}"
        );
    }
}
