//! Tenancy and CSRF on every Setup page and action.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;

use super::*;

#[tokio::test]
async fn another_organizations_ids_get_404_on_every_setup_page_and_action() {
    let app = TestApp::without_dispatcher().await;
    let acme = app.tenant("Acme").await;
    let intruder = app.tenant("Intruder").await;
    let api = app.api(&acme);
    let freezer = api.create_freezer_type("Freezer").await;
    let (device, token) = api.create_device("Freezer 7", &freezer).await;
    let ops = api.create_webhook("Ops", "https://example.com/ops").await;
    let trigger = api
        .create_trigger(
            &freezer,
            "Too warm",
            json!({ "field": "/temperature", "op": ">", "value": 0 }),
            &[&ops],
        )
        .await;
    let raised = app
        .ingest(&token, "telemetry", json!({ "temperature": 5 }))
        .await;
    let (t, tr) = (
        freezer["id"].as_str().unwrap(),
        trigger["id"].as_str().unwrap(),
    );
    let event = raised.body["events"][0].as_str().unwrap();

    let browser = app.browser(&intruder).await;
    let pages = [
        format!("/device-types/{t}"),
        format!("/device-types/{t}/edit"),
        format!("/device-types/{t}/delete"),
        format!("/device-types/{t}/alarm-triggers"),
        format!("/device-types/{t}/alarm-triggers/new"),
        format!("/devices/{device}"),
        format!("/devices/{device}/edit"),
        format!("/devices/{device}/delete"),
        format!("/alarm-triggers/{tr}"),
        format!("/alarm-triggers/{tr}/edit"),
        format!("/alarm-triggers/{tr}/webhooks"),
        format!("/alarm-triggers/{tr}/delete"),
        format!("/events/{event}"),
    ];
    for path in &pages {
        assert_eq!(
            browser.get(path).await.status,
            StatusCode::NOT_FOUND,
            "GET {path}"
        );
    }
    let mut posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            format!("/device-types/{t}/edit"),
            vec![("name", "Mine"), ("action", "save")],
        ),
        (
            format!("/device-types/{t}/edit"),
            vec![("name", "Mine"), ("action", "add_row")],
        ),
        (format!("/device-types/{t}/delete"), vec![]),
        (
            format!("/device-types/{t}/alarm-triggers"),
            trigger_fields("Mine", "/temperature", ">", "1", "number"),
        ),
        (format!("/devices/{device}/edit"), vec![("name", "Mine")]),
        (format!("/devices/{device}/token/regenerate"), vec![]),
        (format!("/devices/{device}/delete"), vec![]),
        (
            format!("/alarm-triggers/{tr}/edit"),
            trigger_fields("Mine", "/temperature", ">", "1", "number"),
        ),
        (format!("/alarm-triggers/{tr}/delete"), vec![]),
    ];
    for action in ["search", "add", "save"] {
        posts.push((
            format!("/alarm-triggers/{tr}/webhooks"),
            vec![("action", action)],
        ));
    }
    for (path, fields) in &posts {
        let answer = browser.post_with_csrf(path, fields).await;
        assert_eq!(
            answer.status,
            StatusCode::NOT_FOUND,
            "POST {path} {fields:?}"
        );
    }
    // A device type of another organization chosen in a form is refused like an unknown one.
    app.api(&intruder).create_freezer_type("Cooler").await;
    let borrowed = browser
        .post_with_csrf("/devices", &[("name", "Mine"), ("device_type_id", t)])
        .await;
    assert_eq!(borrowed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(borrowed.html.contains("id=\"device_type_id-error\""));
    assert_eq!(
        app.api(&intruder).get("/api/v1/devices").await.body["data"],
        json!([])
    );
    for list in ["/device-types", "/devices", "/alarm-triggers", "/alarms"] {
        let html = browser.get(list).await.html;
        assert!(
            !html.contains("Freezer") && !html.contains("Too warm"),
            "{list}"
        );
    }

    assert_eq!(
        app.ingest(&token, "telemetry", json!({ "temperature": 6 }))
            .await
            .status,
        StatusCode::ACCEPTED,
        "the token still works"
    );
    let read = api.get(&format!("/api/v1/devices/{device}")).await;
    assert_eq!(read.body["name"], "Freezer 7");
    assert_eq!(
        api.get(&format!("/api/v1/device-types/{t}")).await.body["name"],
        "Freezer"
    );
    let read = api.get(&format!("/api/v1/alarm-triggers/{tr}")).await;
    assert_eq!(
        (
            read.body["name"].as_str(),
            read.body["webhooks"].as_array().map(Vec::len)
        ),
        (Some("Too warm"), Some(1))
    );
    assert_eq!(
        app.api(&intruder).get("/api/v1/devices").await.body["data"],
        json!([])
    );
}

#[tokio::test]
async fn setup_forms_without_the_csrf_token_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let freezer = api.create_freezer_type("Freezer").await;
    let (device, token) = api.create_device("Freezer 7", &freezer).await;
    let ops = api.create_webhook("Ops", "https://example.com/ops").await;
    let trigger = api
        .create_trigger(
            &freezer,
            "Too warm",
            json!({ "field": "/temperature", "op": ">", "value": 0 }),
            &[&ops],
        )
        .await;
    let (t, tr) = (
        freezer["id"].as_str().unwrap(),
        trigger["id"].as_str().unwrap(),
    );
    let browser = app.browser(&acme).await;

    let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            "/device-types".into(),
            vec![("name", "Fridge"), ("action", "save")],
        ),
        (
            format!("/device-types/{t}/edit"),
            vec![("name", "Renamed"), ("action", "save")],
        ),
        (format!("/device-types/{t}/delete"), vec![]),
        (
            "/devices".into(),
            vec![("name", "Fridge 1"), ("device_type_id", t)],
        ),
        (format!("/devices/{device}/edit"), vec![("name", "Renamed")]),
        (format!("/devices/{device}/token/regenerate"), vec![]),
        (format!("/devices/{device}/delete"), vec![]),
        (
            format!("/device-types/{t}/alarm-triggers"),
            trigger_fields("New", "/temperature", ">", "1", "number"),
        ),
        (
            format!("/alarm-triggers/{tr}/edit"),
            trigger_fields("Renamed", "/temperature", ">", "1", "number"),
        ),
        (
            format!("/alarm-triggers/{tr}/webhooks"),
            vec![("action", "save")],
        ),
        (format!("/alarm-triggers/{tr}/delete"), vec![]),
    ];
    for (path, fields) in &posts {
        let missing = browser.post_form(path, fields).await;
        assert_eq!(
            missing.status,
            StatusCode::FORBIDDEN,
            "POST {path} without _csrf"
        );
        assert!(missing.html.contains("CSRF token"));
        let mut forged = vec![("_csrf", "forged")];
        forged.extend_from_slice(fields);
        assert_eq!(
            browser.post_form(path, &forged).await.status,
            StatusCode::FORBIDDEN,
            "POST {path} forged"
        );
    }
    let types = api.get("/api/v1/device-types").await;
    assert_eq!(types.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(types.body["data"][0]["name"], "Freezer");
    let devices = api.get("/api/v1/devices").await;
    assert_eq!(devices.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(devices.body["data"][0]["name"], "Freezer 7");
    assert_eq!(
        app.ingest(&token, "telemetry", json!({ "temperature": -1 }))
            .await
            .status,
        StatusCode::ACCEPTED
    );
    let read = api.get(&format!("/api/v1/alarm-triggers/{tr}")).await;
    assert_eq!(
        (
            read.body["name"].as_str(),
            read.body["webhooks"].as_array().map(Vec::len)
        ),
        (Some("Too warm"), Some(1))
    );
    assert_eq!(
        api.get(&format!("/api/v1/device-types/{t}/alarm-triggers"))
            .await
            .body["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
