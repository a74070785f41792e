//! Device types with message schemas, devices and their ingest tokens.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, freezer_schema};

#[tokio::test]
async fn device_types_carry_message_types_with_schemas() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let created = api.create_freezer_type("Freezer").await;
    assert!(created["id"].as_str().unwrap().starts_with("dty_"));
    assert_eq!(created["message_types"][0]["name"], "telemetry");
    assert_eq!(created["message_types"][0]["schema"], freezer_schema());

    let id = created["id"].as_str().unwrap();
    let read = api.get(&format!("/api/v1/device-types/{id}")).await;
    assert_eq!(read.body["name"], "Freezer");
    let listed = api.get("/api/v1/device-types").await;
    assert_eq!(
        listed.body["data"][0]["message_types"][0]["name"],
        "telemetry"
    );

    let changed = api
        .patch(
            &format!("/api/v1/device-types/{id}"),
            json!({ "description": "Walk-in freezers", "message_types": [
                { "name": "telemetry", "schema": freezer_schema() },
                { "name": "status", "schema": { "type": "object" } }
            ] }),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(changed.body["description"], "Walk-in freezers");
    assert_eq!(changed.body["message_types"].as_array().unwrap().len(), 2);
    assert_eq!(
        changed.body["message_types"][1]["id"], created["message_types"][0]["id"],
        "a kept message type keeps its id"
    );

    let duplicate = api
        .post("/api/v1/device-types", json!({ "name": "FREEZER" }))
        .await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    assert_eq!(
        api.delete(&format!("/api/v1/device-types/{id}"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.get(&format!("/api/v1/device-types/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn an_invalid_schema_is_refused_with_the_reason() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let answer = api
        .post(
            "/api/v1/device-types",
            json!({ "name": "Freezer", "message_types": [
                { "name": "telemetry", "schema": { "type": "nonsense" } },
                { "name": "bad name", "schema": { "type": "object" } },
                { "name": "extra", "schema": [1, 2] }
            ] }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        answer
            .field_error("message_types[0].schema")
            .starts_with("This is not a valid JSON Schema")
    );
    assert!(
        answer
            .field_error("message_types[1].name")
            .contains("letters, digits")
    );
    assert!(
        answer
            .field_error("message_types[2].schema")
            .contains("JSON object")
    );
    let twice = api
        .post(
            "/api/v1/device-types",
            json!({ "name": "Freezer", "message_types": [
                { "name": "telemetry", "schema": {} }, { "name": "telemetry", "schema": {} }
            ] }),
        )
        .await;
    assert!(
        twice
            .field_error("message_types[1].name")
            .contains("Two message types")
    );
    assert_eq!(
        api.get("/api/v1/device-types").await.body["data"],
        json!([]),
        "nothing was stored"
    );
}

#[tokio::test]
async fn a_message_type_in_use_cannot_be_removed_or_made_to_miss_the_field() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let freezer = api.create_freezer_type("Freezer").await;
    api.create_trigger(
        &freezer,
        "Too hot",
        json!({ "field": "/temperature", "op": ">", "value": -10 }),
        &[],
    )
    .await;
    let path = format!("/api/v1/device-types/{}", freezer["id"].as_str().unwrap());

    let removed = api.patch(&path, json!({ "message_types": [] })).await;
    assert_eq!(removed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        removed
            .field_error("message_types")
            .contains("used by the alarm trigger “Too hot”")
    );

    let narrowed = api
        .patch(&path, json!({ "message_types": [{ "name": "telemetry", "schema": {
            "type": "object", "properties": { "status": { "type": "string" } }, "additionalProperties": false
        } }] }))
        .await;
    assert_eq!(narrowed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        narrowed
            .field_error("message_types[0].schema")
            .contains("Too hot")
    );
    assert_eq!(
        api.get(&path).await.body["message_types"][0]["schema"],
        freezer_schema(),
        "unchanged"
    );
}

#[tokio::test]
async fn devices_get_an_ingest_token_shown_once_and_regenerable() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let freezer = api.create_freezer_type("Freezer").await;
    let (id, token) = api.create_device("Freezer 7", &freezer).await;
    assert!(id.starts_with("dev_") && token.starts_with("bdt_"));

    let read = api.get(&format!("/api/v1/devices/{id}")).await;
    assert_eq!(read.body["name"], "Freezer 7");
    assert_eq!(read.body["device_type_name"], "Freezer");
    assert!(read.body.get("token").is_none());
    assert!(read.body["last_seen_at"].is_null());
    assert!(
        !api.get("/api/v1/devices")
            .await
            .body
            .to_string()
            .contains(&token)
    );

    assert_eq!(
        app.ingest(&token, "telemetry", json!({ "temperature": -20 }))
            .await
            .status,
        StatusCode::ACCEPTED
    );
    assert!(api.get(&format!("/api/v1/devices/{id}")).await.body["last_seen_at"].is_string());
    let messages = api.get(&format!("/api/v1/devices/{id}/messages")).await;
    assert_eq!(
        messages.body["data"][0]["payload"],
        json!({ "temperature": -20 })
    );

    let regenerated = api
        .post(&format!("/api/v1/devices/{id}/token/regenerate"), json!({}))
        .await;
    let new_token = regenerated.body["token"].as_str().unwrap();
    assert_ne!(new_token, token);
    assert_eq!(
        app.ingest(&token, "telemetry", json!({ "temperature": -20 }))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.ingest(new_token, "telemetry", json!({ "temperature": -20 }))
            .await
            .status,
        StatusCode::ACCEPTED
    );

    let bad = api
        .post(
            "/api/v1/devices",
            json!({ "name": "", "device_type_id": "nope" }),
        )
        .await;
    assert!(bad.field_error("name").contains("Enter a name"));
    assert!(
        bad.field_error("device_type_id")
            .contains("Choose a device type")
    );
    let missing_type = api
        .post(
            "/api/v1/devices",
            json!({ "name": "x", "device_type_id": "dty_00000000000000000000000000" }),
        )
        .await;
    assert_eq!(missing_type.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        missing_type
            .field_error("device_type_id")
            .contains("Device type not found")
    );

    let renamed = api
        .patch(
            &format!("/api/v1/devices/{id}"),
            json!({ "name": "Freezer 8" }),
        )
        .await;
    assert_eq!(renamed.body["name"], "Freezer 8");
    assert_eq!(
        api.delete(&format!("/api/v1/devices/{id}")).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.ingest(new_token, "telemetry", json!({ "temperature": -20 }))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn ingest_answers_each_kind_of_bad_message_clearly() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let freezer = api.create_freezer_type("Freezer").await;
    let (device, token) = api.create_device("Freezer 7", &freezer).await;

    let violations = app
        .ingest(
            &token,
            "telemetry",
            json!({ "temperature": "hot", "colour": "red" }),
        )
        .await;
    assert_eq!(violations.status, StatusCode::BAD_REQUEST);
    assert_eq!(violations.body["error"]["code"], "schema_violation");
    let list = violations.body["error"]["violations"].as_array().unwrap();
    assert!(
        list.iter()
            .any(|v| v["pointer"] == "/temperature" && v["rule"] == "type"),
        "{list:?}"
    );
    assert!(
        list.iter().any(|v| v["rule"] == "additionalProperties"),
        "{list:?}"
    );
    let missing = app.ingest(&token, "telemetry", json!({})).await;
    assert!(
        missing.body["error"]["violations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["rule"] == "required")
    );

    let unknown = app.ingest(&token, "humidity", json!({})).await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        unknown
            .field_error("message_type")
            .contains("it has: telemetry")
    );

    assert_eq!(
        app.ingest("bdt_wrong", "telemetry", json!({ "temperature": 1 }))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let no_token = reqwest::Client::new()
        .post(app.url("/api/v1/ingest"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), StatusCode::UNAUTHORIZED);
    let api_token = reqwest::Client::new()
        .post(app.url("/api/v1/ingest"))
        .bearer_auth(&acme.token)
        .json(&json!({ "message_type": "telemetry", "payload": { "temperature": 1 } }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        api_token.status(),
        StatusCode::UNAUTHORIZED,
        "an API token is not a device token"
    );

    let client = reqwest::Client::new();
    let not_json = client
        .post(app.url("/api/v1/ingest"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"message_type\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        not_json.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "invalid_json"
    );
    let too_large = client
        .post(app.url("/api/v1/ingest"))
        .bearer_auth(&token)
        .json(&json!({ "message_type": "telemetry", "payload": { "temperature": 1, "status": "x".repeat(70_000) } }))
        .send()
        .await
        .unwrap();
    assert_eq!(too_large.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let message = too_large.text().await.unwrap();
    assert!(message.contains("64 KiB"), "{message}");

    let messages = api.get(&format!("/api/v1/devices/{device}/messages")).await;
    assert_eq!(
        messages.body["data"],
        json!([]),
        "no refused message was stored"
    );
}
