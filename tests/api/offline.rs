//! Device-offline triggers (`kind: "no_data"`): a device that sends nothing for
//! `silent_for_seconds` raises its alarm once, by the offline timer; its next message clears
//! it; nodes sharing a database raise it once; a device silent across a restart raises after.
//!
//! The timer is stepped with a `now` of the test's choosing (`Store::fire_due_offline`), so
//! the 10 s minimum costs no waiting, except in the restart test, which waits on the real task.

use std::time::{Duration, Instant};

use biotz::crypto::MasterKey;
use biotz::domain::time::now_ms;
use biotz::store::{DatabaseUrl, Store, StoreOptions};
use biotz_signature::{Tolerance, verify};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Api, Tenant, TestApp, text_after};
use crate::receiver::Receiver;

const WAIT: Duration = Duration::from_secs(30);
/// Past the deadline of a trigger silent for 10 s that starts counting now.
fn past_deadline() -> i64 {
    now_ms() + 11_000
}

async fn offline_trigger(api: &Api<'_>, device_type: &Value, body: Value) -> Value {
    let answer = api
        .post(
            &format!(
                "/api/v1/device-types/{}/alarm-triggers",
                device_type["id"].as_str().unwrap()
            ),
            body,
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    answer.body
}

fn cellar_trigger(webhooks: &[&Value]) -> Value {
    let ids: Vec<&Value> = webhooks.iter().map(|w| &w["id"]).collect();
    json!({
        "name": "Offline",
        "kind": "no_data",
        "silent_for_seconds": 10,
        "severity": "critical",
        "webhook_ids": ids,
    })
}

async fn alarms(api: &Api<'_>) -> Value {
    api.get("/api/v1/alarms").await.body["data"].clone()
}

async fn raised_at(address: &str, tenant: &Tenant) -> Value {
    let start = Instant::now();
    loop {
        let alarms: Value = reqwest::Client::new()
            .get(format!("{address}/api/v1/alarms"))
            .bearer_auth(&tenant.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if alarms["data"][0]["state"] == "raised" {
            return alarms["data"][0].clone();
        }
        assert!(start.elapsed() < WAIT, "no alarm raised in time: {alarms}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_silent_device_raises_once_and_its_next_message_clears_it() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let webhook = api.create_webhook("Receiver", &receiver.url).await;
    let freezer = api.create_freezer_type("Freezer").await;
    let (device, token) = api.create_device("Freezer 7", &freezer).await;
    let trigger = offline_trigger(&api, &freezer, cellar_trigger(&[&webhook])).await;
    assert_eq!(trigger["kind"], "no_data");
    assert_eq!(trigger["silent_for_seconds"], 10);
    assert_eq!(trigger["condition"], Value::Null);
    assert_eq!(trigger["message_type"], Value::Null);

    assert_eq!(
        app.store.fire_due_offline(now_ms()).await.unwrap(),
        0,
        "not due yet"
    );
    assert_eq!(
        app.store.fire_due_offline(past_deadline()).await.unwrap(),
        1
    );
    assert_eq!(
        app.store.fire_due_offline(past_deadline()).await.unwrap(),
        0,
        "raised once"
    );
    let alarm = &alarms(&api).await[0];
    assert_eq!(alarm["state"], "raised");
    assert_eq!(alarm["device_id"], device.as_str());

    let request = &receiver.wait_for(1, WAIT).await[0];
    assert_eq!(
        verify(
            webhook["secret"].as_str().unwrap(),
            request.header("biotz-iot-signature"),
            &request.body,
            now_ms() / 1000,
            Tolerance::default()
        ),
        Ok(())
    );
    let body = request.json();
    assert_eq!(body["type"], "alarm.raised");
    assert_eq!(body["data"]["trigger"]["kind"], "no_data");
    assert_eq!(body["data"]["trigger"]["silent_for_seconds"], 10);
    assert_eq!(body["data"]["device"]["id"], device.as_str());
    assert_eq!(body["data"]["message"], Value::Null, "no message raised it");
    let detail = api
        .get(&format!("/api/v1/alarms/{}", alarm["id"].as_str().unwrap()))
        .await;
    assert_eq!(detail.body["history"][0]["cause"], "offline_timer");

    let back = app
        .ingest(&token, "telemetry", json!({ "temperature": -18 }))
        .await;
    assert_eq!(back.status, StatusCode::ACCEPTED, "{}", back.body);
    assert_eq!(back.body["events"].as_array().unwrap().len(), 1, "cleared");
    let cleared = &receiver.wait_for(2, WAIT).await[1];
    assert_eq!(cleared.json()["type"], "alarm.cleared");
    assert_eq!(alarms(&api).await[0]["state"], "cleared");
    let again = app
        .ingest(&token, "telemetry", json!({ "temperature": -18 }))
        .await;
    assert_eq!(
        again.body["events"].as_array().unwrap().len(),
        0,
        "a message while online changes nothing"
    );
    assert_eq!(
        app.store.fire_due_offline(now_ms() + 5_000).await.unwrap(),
        0,
        "the message pushed the deadline on"
    );
}

#[tokio::test]
async fn only_messages_of_the_chosen_type_count() {
    let app = TestApp::without_dispatcher().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let schema = json!({ "type": "object" });
    let cellar = api
        .post(
            "/api/v1/device-types",
            json!({ "name": "Cellar", "message_types": [
                { "name": "telemetry", "schema": schema },
                { "name": "heartbeat", "schema": schema },
            ] }),
        )
        .await
        .body;
    let (_, token) = api.create_device("Cellar 1", &cellar).await;
    let mut body = cellar_trigger(&[]);
    body["message_type"] = json!("telemetry");
    let trigger = offline_trigger(&api, &cellar, body).await;
    assert_eq!(trigger["message_type"], "telemetry");

    app.ingest(&token, "heartbeat", json!({})).await;
    assert_eq!(
        app.store.fire_due_offline(past_deadline()).await.unwrap(),
        1,
        "a heartbeat is not telemetry"
    );
    let clear = app.ingest(&token, "heartbeat", json!({})).await;
    assert_eq!(clear.body["events"].as_array().unwrap().len(), 0);
    let clear = app.ingest(&token, "telemetry", json!({})).await;
    assert_eq!(clear.body["events"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_device_created_after_the_trigger_counts_from_its_creation() {
    let app = TestApp::without_dispatcher().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let freezer = api.create_freezer_type("Freezer").await;
    offline_trigger(&api, &freezer, cellar_trigger(&[])).await;
    api.create_device("Freezer 8", &freezer).await;
    assert_eq!(app.store.fire_due_offline(now_ms()).await.unwrap(), 0);
    assert_eq!(
        app.store.fire_due_offline(past_deadline()).await.unwrap(),
        1
    );
}

#[tokio::test]
async fn two_nodes_sharing_the_database_raise_an_offline_alarm_once() {
    let app = TestApp::without_dispatcher().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let freezer = api.create_freezer_type("Freezer").await;
    for i in 0..5 {
        api.create_device(&format!("Freezer {i}"), &freezer).await;
    }
    offline_trigger(&api, &freezer, cellar_trigger(&[])).await;

    let other = Store::connect(
        &StoreOptions::new(DatabaseUrl::parse(app.database.url()).unwrap()),
        MasterKey::parse_hex(&app.master_key_hex).unwrap(),
    )
    .await
    .unwrap();
    let due = past_deadline();
    let (here, there) = tokio::join!(app.store.fire_due_offline(due), other.fire_due_offline(due));
    assert_eq!(
        here.unwrap() + there.unwrap(),
        5,
        "each device's alarm raised by exactly one node"
    );
    let listed = alarms(&api).await;
    assert_eq!(listed.as_array().unwrap().len(), 5);
    for alarm in listed.as_array().unwrap() {
        let detail = api
            .get(&format!("/api/v1/alarms/{}", alarm["id"].as_str().unwrap()))
            .await;
        assert_eq!(detail.body["history"].as_array().unwrap().len(), 1);
    }
    other.close().await;
}

#[tokio::test]
async fn a_device_silent_across_a_restart_raises_after_the_restart() {
    let app = TestApp::without_dispatcher().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let freezer = api.create_freezer_type("Freezer").await;
    let (_, token) = api.create_device("Freezer 7", &freezer).await;
    offline_trigger(&api, &freezer, cellar_trigger(&[])).await;
    app.ingest(&token, "telemetry", json!({ "temperature": -18 }))
        .await;
    let last = now_ms();
    app.stop_serving();

    let (restarted, _) = app.another_node().await;
    let alarm = raised_at(&restarted, &acme).await;
    let raised = biotz::domain::time::parse_instant(alarm["raised_at"].as_str().unwrap()).unwrap();
    assert!(
        (last + 9_000..=last + 15_000).contains(&raised),
        "raised within 5 s of the deadline: {} ms after the last message",
        raised - last
    );
}

#[tokio::test]
async fn no_data_triggers_refuse_what_does_not_apply_field_by_field() {
    let app = TestApp::without_dispatcher().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let freezer = api.create_freezer_type("Freezer").await;
    let path = format!(
        "/api/v1/device-types/{}/alarm-triggers",
        freezer["id"].as_str().unwrap()
    );
    let refused = api
        .post(
            &path,
            json!({
                "name": "Offline",
                "kind": "no_data",
                "silent_for_seconds": 5,
                "condition": { "field": "/temperature", "op": ">", "value": 0 },
                "clear_condition": { "field": "/temperature", "op": "<", "value": 0 },
                "for_seconds": 30,
                "message_type": "nonsense",
            }),
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
            .field_error("silent_for_seconds")
            .contains("from 10")
    );
    for field in ["condition", "clear_condition", "for_seconds"] {
        assert!(
            refused.field_error(field).contains("no condition"),
            "{field}: {}",
            refused.body
        );
    }
    assert!(
        refused
            .field_error("message_type")
            .contains("no message type nonsense")
    );

    let missing = api
        .post(&path, json!({ "name": "Offline", "kind": "no_data" }))
        .await;
    assert!(
        missing
            .field_error("silent_for_seconds")
            .contains("at least 10")
    );
    let too_long = api
        .post(
            &path,
            json!({ "name": "Offline", "kind": "no_data", "silent_for_seconds": 30 * 86_400 + 1 }),
        )
        .await;
    assert!(
        too_long
            .field_error("silent_for_seconds")
            .contains("30 days")
    );
    let unknown = api
        .post(&path, json!({ "name": "Offline", "kind": "silence" }))
        .await;
    assert!(unknown.field_error("kind").contains("no_data"));
    let threshold = api
        .post(
            &path,
            json!({ "name": "Hot", "message_type": "telemetry", "silent_for_seconds": 60,
                    "condition": { "field": "/temperature", "op": ">", "value": 0 } }),
        )
        .await;
    assert!(
        threshold
            .field_error("silent_for_seconds")
            .contains("no_data")
    );

    let trigger = offline_trigger(&api, &freezer, cellar_trigger(&[])).await;
    let one = format!("/api/v1/alarm-triggers/{}", trigger["id"].as_str().unwrap());
    let changed = api.patch(&one, json!({ "kind": "threshold" })).await;
    assert!(changed.field_error("kind").contains("cannot change"));
    let longer = api.patch(&one, json!({ "silent_for_seconds": 600 })).await;
    assert_eq!(longer.status, StatusCode::OK, "{}", longer.body);
    assert_eq!(longer.body["silent_for_seconds"], 600);
    assert_eq!(api.get(&one).await.body["silent_for_seconds"], 600);
}

#[tokio::test]
async fn another_organization_cannot_see_or_change_an_offline_trigger() {
    let app = TestApp::without_dispatcher().await;
    let acme = app.tenant("Acme").await;
    let other = app.tenant("Other").await;
    let api = app.api(&acme);
    let freezer = api.create_freezer_type("Freezer").await;
    let trigger = offline_trigger(&api, &freezer, cellar_trigger(&[])).await;
    let one = format!("/api/v1/alarm-triggers/{}", trigger["id"].as_str().unwrap());
    let theirs = app.api(&other);
    assert_eq!(theirs.get(&one).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        theirs
            .patch(&one, json!({ "silent_for_seconds": 60 }))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(theirs.delete(&one).await.status, StatusCode::NOT_FOUND);
    assert_eq!(api.get(&one).await.body["silent_for_seconds"], 10);
}

#[tokio::test]
async fn the_form_creates_an_offline_trigger_without_script() {
    let app = TestApp::without_dispatcher().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let browser = app.browser(&acme).await;
    let freezer = api.create_freezer_type("Freezer").await;
    let list_path = format!(
        "/device-types/{}/alarm-triggers",
        freezer["id"].as_str().unwrap()
    );
    let form = browser.get(&format!("{list_path}/new")).await;
    assert!(form.html.contains("id=\"kind-no_data\""));
    assert!(form.html.contains("name=\"silent_for_seconds\""));
    let fields = |silent: &'static str| {
        vec![
            ("name", "Offline"),
            ("kind", "no_data"),
            ("message_type", ""),
            ("silent_for_seconds", silent),
            ("field", ""),
            ("op", ">"),
            ("value", ""),
            ("value_type", "number"),
            ("for_seconds", "0"),
            ("severity", "critical"),
            ("enabled", "on"),
        ]
    };
    let bad = browser.post_with_csrf(&list_path, &fields("5")).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        text_after(&bad.html, "id=\"silent_for_seconds-error\">")
            .unwrap()
            .contains("from 10")
    );
    let saved = browser.post_with_csrf(&list_path, &fields("120")).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.html);
    let listed = api.get(&format!("/api/v1{list_path}")).await.body["data"][0].clone();
    assert_eq!(listed["kind"], "no_data");
    assert_eq!(listed["silent_for_seconds"], 120);
    assert_eq!(listed["message_type"], Value::Null);
    let shown = browser
        .get(&format!(
            "/alarm-triggers/{}",
            listed["id"].as_str().unwrap()
        ))
        .await;
    assert!(shown.html.contains("a device sends nothing for 120 s"));
}
