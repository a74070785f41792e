//! Alarm triggers: conditions checked against the schema, and their webhook lists.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn triggers_are_checked_against_the_message_schema() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let freezer = api.create_freezer_type("Freezer").await;
    let path = format!(
        "/api/v1/device-types/{}/alarm-triggers",
        freezer["id"].as_str().unwrap()
    );

    let created = api
        .create_trigger(
            &freezer,
            "Too hot",
            json!({ "field": "/temperature", "op": ">", "value": -10 }),
            &[],
        )
        .await;
    assert!(created["id"].as_str().unwrap().starts_with("trg_"));
    assert_eq!(
        created["condition"],
        json!({ "field": "/temperature", "op": ">", "value": -10 })
    );
    assert_eq!(created["severity"], "critical");
    assert_eq!(created["enabled"], true);
    assert_eq!(created["message_type"], "telemetry");

    let typo = api
        .post(&path, json!({ "name": "Typo", "message_type": "telemetry", "condition": { "field": "/temprature", "op": ">", "value": 1 } }))
        .await;
    assert_eq!(typo.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        typo.field_error("condition.field")
            .contains("no field /temprature")
    );
    let wrong_type = api
        .post(&path, json!({ "name": "Wrong", "message_type": "telemetry", "condition": { "field": "/status", "op": "==", "value": 3 } }))
        .await;
    assert!(
        wrong_type
            .field_error("condition.field")
            .contains("/status is string")
    );
    let everything = api
        .post(&path, json!({ "name": "", "message_type": "humidity", "condition": { "field": "x", "op": "~", "value": null }, "severity": "loud" }))
        .await;
    for field in [
        "name",
        "message_type",
        "condition.field",
        "condition.op",
        "condition.value",
        "severity",
    ] {
        assert!(
            everything.body["error"]["fields"].get(field).is_some(),
            "{field}: {}",
            everything.body
        );
    }
    assert!(
        everything
            .field_error("message_type")
            .contains("it has: telemetry")
    );
    let bool_order = api
        .post(&path, json!({ "name": "Door", "message_type": "telemetry", "condition": { "field": "/door_open", "op": ">", "value": true } }))
        .await;
    assert!(bool_order.field_error("condition.op").contains("== or !="));
    let clash = api
        .post(&path, json!({ "name": "TOO HOT", "message_type": "telemetry", "condition": { "field": "/temperature", "op": ">", "value": 0 } }))
        .await;
    assert_eq!(clash.status, StatusCode::CONFLICT);

    let listed = api.get(&path).await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 1);

    let id = created["id"].as_str().unwrap();
    let changed = api
        .patch(&format!("/api/v1/alarm-triggers/{id}"), json!({ "severity": "info", "enabled": false, "condition": { "field": "/door_open", "op": "==", "value": true } }))
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(changed.body["severity"], "info");
    assert_eq!(changed.body["enabled"], false);
    assert_eq!(changed.body["name"], "Too hot", "fields left out stay");
    assert_eq!(
        api.delete(&format!("/api/v1/alarm-triggers/{id}"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.get(&format!("/api/v1/alarm-triggers/{id}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_webhook_list_takes_only_the_organizations_webhooks() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let other = app.tenant("Other").await;
    let api = app.api(&acme);
    let freezer = api.create_freezer_type("Freezer").await;
    let ops = api.create_webhook("Ops", "https://example.com/ops").await;
    let billing = api
        .create_webhook("Billing", "https://example.com/billing")
        .await;
    let foreign = app
        .api(&other)
        .create_webhook("Foreign", "https://example.com/x")
        .await;
    let trigger = api
        .create_trigger(
            &freezer,
            "Too hot",
            json!({ "field": "/temperature", "op": ">", "value": -10 }),
            &[&ops],
        )
        .await;
    assert_eq!(trigger["webhooks"][0]["name"], "Ops");
    let path = format!(
        "/api/v1/alarm-triggers/{}/webhooks",
        trigger["id"].as_str().unwrap()
    );

    let set = api
        .call(
            reqwest::Method::PUT,
            &path,
            Some(json!({ "webhook_ids": [billing["id"], ops["id"]] })),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    let names: Vec<&str> = set.body["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["Billing", "Ops"]);

    let refused = api
        .call(
            reqwest::Method::PUT,
            &path,
            Some(json!({ "webhook_ids": [ops["id"], foreign["id"]] })),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused
            .field_error("webhook_ids")
            .contains(foreign["id"].as_str().unwrap())
    );
    assert_eq!(
        api.get(&path).await.body["webhooks"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "a refused list changes nothing"
    );

    api.delete(&format!(
        "/api/v1/webhooks/{}",
        billing["id"].as_str().unwrap()
    ))
    .await;
    let after = api.get(&path).await;
    assert_eq!(
        after.body["webhooks"].as_array().unwrap().len(),
        1,
        "deleting a webhook removes its links"
    );

    let cleared = api
        .call(
            reqwest::Method::PUT,
            &path,
            Some(json!({ "webhook_ids": [] })),
        )
        .await;
    assert_eq!(cleared.body["webhooks"], json!([]));
}

#[tokio::test]
async fn another_organization_gets_404_on_every_setup_route() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let intruder = app.tenant("Intruder").await;
    let api = app.api(&acme);
    let freezer = api.create_freezer_type("Freezer").await;
    let (device, token) = api.create_device("Freezer 7", &freezer).await;
    let trigger = api
        .create_trigger(
            &freezer,
            "Too hot",
            json!({ "field": "/temperature", "op": ">", "value": -10 }),
            &[],
        )
        .await;
    let ingested = app
        .ingest(&token, "telemetry", json!({ "temperature": 5 }))
        .await;
    let event = ingested.body["events"][0].as_str().unwrap().to_owned();
    let (dt, tr) = (
        freezer["id"].as_str().unwrap(),
        trigger["id"].as_str().unwrap(),
    );

    use reqwest::Method;
    let routes = [
        (Method::GET, format!("/api/v1/device-types/{dt}"), None),
        (
            Method::PATCH,
            format!("/api/v1/device-types/{dt}"),
            Some(json!({ "name": "Mine" })),
        ),
        (Method::DELETE, format!("/api/v1/device-types/{dt}"), None),
        (
            Method::GET,
            format!("/api/v1/device-types/{dt}/alarm-triggers"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/device-types/{dt}/alarm-triggers"),
            Some(
                json!({ "name": "x", "message_type": "telemetry", "condition": { "field": "/temperature", "op": ">", "value": 1 } }),
            ),
        ),
        (Method::GET, format!("/api/v1/devices/{device}"), None),
        (
            Method::PATCH,
            format!("/api/v1/devices/{device}"),
            Some(json!({ "name": "Mine" })),
        ),
        (Method::DELETE, format!("/api/v1/devices/{device}"), None),
        (
            Method::POST,
            format!("/api/v1/devices/{device}/token/regenerate"),
            Some(json!({})),
        ),
        (
            Method::GET,
            format!("/api/v1/devices/{device}/messages"),
            None,
        ),
        (Method::GET, format!("/api/v1/alarm-triggers/{tr}"), None),
        (
            Method::PATCH,
            format!("/api/v1/alarm-triggers/{tr}"),
            Some(json!({ "name": "Mine" })),
        ),
        (Method::DELETE, format!("/api/v1/alarm-triggers/{tr}"), None),
        (
            Method::PUT,
            format!("/api/v1/alarm-triggers/{tr}/webhooks"),
            Some(json!({ "webhook_ids": [] })),
        ),
        (Method::GET, format!("/api/v1/events/{event}"), None),
    ];
    let other = app.api(&intruder);
    for (method, path, body) in routes {
        let answer = other.call(method.clone(), &path, body).await;
        assert_eq!(
            answer.status,
            StatusCode::NOT_FOUND,
            "{method} {path}: {}",
            answer.body
        );
    }
    assert_eq!(other.get("/api/v1/alarms").await.body["data"], json!([]));
    assert_eq!(other.get("/api/v1/devices").await.body["data"], json!([]));
    assert_eq!(
        other.get("/api/v1/device-types").await.body["data"],
        json!([])
    );
    let device_page = api.get(&format!("/api/v1/devices/{device}")).await;
    assert_eq!(
        device_page.body["name"], "Freezer 7",
        "the owner's device is unchanged"
    );
    assert_eq!(
        app.ingest(&token, "telemetry", json!({ "temperature": 5 }))
            .await
            .status,
        StatusCode::ACCEPTED
    );
}
