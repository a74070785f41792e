//! The OpenAPI document describes the routes that exist: every documented path and method is
//! called with real ids and must reach a handler (not 404 or 405), with a documented status and a
//! body that matches the schema the document gives for it.

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
        let answer = request.send().await.unwrap();
        let status = answer.status();
        assert!(
            status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path} is documented but answered {status}"
        );
        let body = answer.bytes().await.unwrap();
        check_against_document(&document, &method, &path, status, &body);
    }
}

/// The status is among the operation's documented responses, and a JSON body matches its schema.
fn check_against_document(
    document: &Value,
    method: &Method,
    path: &str,
    status: StatusCode,
    body: &[u8],
) {
    let operation = &document["paths"][path][method.as_str().to_lowercase()];
    let mut response = &operation["responses"][status.as_str()];
    assert!(
        !response.is_null(),
        "{method} {path} answered {status}, which the document does not list"
    );
    if let Some(target) = response["$ref"].as_str() {
        response = document.pointer(target.trim_start_matches('#')).unwrap();
    }
    let schema = &response["content"]["application/json"]["schema"];
    if schema.is_null() {
        return;
    }
    let body: Value = serde_json::from_slice(body).unwrap();
    let root = json!({ "components": document["components"], "allOf": [schema] });
    let validator = jsonschema::validator_for(&root).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {path} answered {status} with a body the document does not allow: {errors:?}\n{body}"
    );
}

#[tokio::test]
async fn create_routes_document_409_and_filters_their_values() {
    let document: Value =
        serde_json::from_str(include_str!("../../src/web/api/openapi.json")).unwrap();
    for (path, methods) in document["paths"].as_object().unwrap() {
        if let Some(create) = methods.get("post")
            && create["responses"]["201"].is_object()
        {
            assert!(
                create["responses"]["409"].is_object(),
                "POST {path} creates but does not document 409"
            );
        }
        for parameter in methods["get"]["parameters"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if parameter["name"] == "status" {
                assert!(
                    parameter["schema"]["enum"].is_array(),
                    "GET {path}: status lists its values"
                );
            }
        }
    }
}
