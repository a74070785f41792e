//! Duration triggers (`for_seconds`): the alarm is raised by a timer once the condition has held
//! that long, with no further message; a breaking message resets the clock; a timer fires once
//! across nodes sharing a database, and after a restart.

use std::time::{Duration, Instant};

use biotz::crypto::MasterKey;
use biotz::domain::time::now_ms;
use biotz::store::{DatabaseUrl, Store, StoreOptions};
use biotz_signature::{Tolerance, verify};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Api, Tenant, TestApp};
use crate::receiver::Receiver;

const WAIT: Duration = Duration::from_secs(20);

/// A freezer with one device and a duration trigger `/temperature > 0` held `seconds`.
async fn duration_trigger(api: &Api<'_>, seconds: i64, webhooks: &[&Value]) -> (Value, String) {
    let freezer = api.create_freezer_type("Freezer").await;
    let (_, token) = api.create_device("Freezer 7", &freezer).await;
    let trigger = api
        .create_trigger(
            &freezer,
            "Warm for a while",
            json!({ "field": "/temperature", "op": ">", "value": 0 }),
            webhooks,
        )
        .await;
    let patched = api
        .patch(
            &format!("/api/v1/alarm-triggers/{}", trigger["id"].as_str().unwrap()),
            json!({ "for_seconds": seconds }),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(patched.body["for_seconds"], seconds);
    (patched.body, token)
}

fn events(answer: &crate::helpers::Answer) -> usize {
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
    answer.body["events"].as_array().unwrap().len()
}

/// The organization's alarms as another node at `address` answers them.
async fn alarms_at(address: &str, tenant: &Tenant) -> Value {
    reqwest::Client::new()
        .get(format!("{address}/api/v1/alarms"))
        .bearer_auth(&tenant.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn raised_within(address: &str, tenant: &Tenant) -> Value {
    let start = Instant::now();
    loop {
        let alarms = alarms_at(address, tenant).await;
        if alarms["data"][0]["state"] == "raised" {
            return alarms["data"][0].clone();
        }
        assert!(start.elapsed() < WAIT, "no alarm raised in time: {alarms}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_duration_alarm_is_raised_by_the_timer_with_no_further_message() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let webhook = api.create_webhook("Receiver", &receiver.url).await;
    let (_, token) = duration_trigger(&api, 1, &[&webhook]).await;

    let hot = app
        .ingest(&token, "telemetry", json!({ "temperature": 5 }))
        .await;
    assert_eq!(
        events(&hot),
        0,
        "the message starts the clock; it raises nothing"
    );
    let alarm = raised_within(&app.address, &acme).await;
    let raised_at =
        biotz::domain::time::parse_instant(alarm["raised_at"].as_str().unwrap()).unwrap();
    assert!(raised_at >= now_ms() - 60_000);

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
    assert_eq!(body["data"]["trigger"]["for_seconds"], 1);
    assert_eq!(
        body["data"]["message"]["id"], hot.body["id"],
        "the message that started the clock"
    );
    let detail = api
        .get(&format!("/api/v1/alarms/{}", alarm["id"].as_str().unwrap()))
        .await;
    assert_eq!(detail.body["history"][0]["cause"], "timer");
    assert_eq!(detail.body["history"][0]["message_id"], hot.body["id"]);
    assert_eq!(
        events(
            &app.ingest(&token, "telemetry", json!({ "temperature": -5 }))
                .await
        ),
        1,
        "a message clears it"
    );
}

#[tokio::test]
async fn a_message_that_breaks_the_condition_resets_the_clock() {
    let app = TestApp::without_dispatcher().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let (_, token) = duration_trigger(&api, 3600, &[]).await;
    let an_hour_on = || now_ms() + 3_601_000;

    app.ingest(&token, "telemetry", json!({ "temperature": 5 }))
        .await;
    app.ingest(&token, "telemetry", json!({ "temperature": -5 }))
        .await;
    assert_eq!(
        app.store.fire_due_timers(an_hour_on()).await.unwrap(),
        0,
        "broken: no timer"
    );
    app.ingest(&token, "telemetry", json!({ "temperature": 5 }))
        .await;
    app.ingest(&token, "telemetry", json!({ "temperature": 6 }))
        .await;
    assert_eq!(
        app.store.fire_due_timers(now_ms()).await.unwrap(),
        0,
        "not due yet"
    );
    assert_eq!(app.store.fire_due_timers(an_hour_on()).await.unwrap(), 1);
    assert_eq!(
        app.store.fire_due_timers(an_hour_on()).await.unwrap(),
        0,
        "fired once"
    );
    assert_eq!(
        alarms_at(&app.address, &acme).await["data"][0]["state"],
        "raised"
    );
}

#[tokio::test]
async fn two_nodes_sharing_the_database_fire_a_timer_once() {
    let app = TestApp::without_dispatcher().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let (_, token) = duration_trigger(&api, 3600, &[]).await;
    app.ingest(&token, "telemetry", json!({ "temperature": 5 }))
        .await;

    let other = Store::connect(
        &StoreOptions::new(DatabaseUrl::parse(app.database.url()).unwrap()),
        MasterKey::parse_hex(&app.master_key_hex).unwrap(),
    )
    .await
    .unwrap();
    let due = now_ms() + 3_601_000;
    let (here, there) = tokio::join!(app.store.fire_due_timers(due), other.fire_due_timers(due));
    assert_eq!(
        here.unwrap() + there.unwrap(),
        1,
        "exactly one node raised it"
    );
    let alarm = &alarms_at(&app.address, &acme).await["data"][0];
    let detail = api
        .get(&format!("/api/v1/alarms/{}", alarm["id"].as_str().unwrap()))
        .await;
    assert_eq!(
        detail.body["history"].as_array().unwrap().len(),
        1,
        "one transition, one event"
    );
    other.close().await;
}

#[tokio::test]
async fn a_timer_due_while_no_node_ran_fires_after_a_restart() {
    let app = TestApp::without_dispatcher().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let (_, token) = duration_trigger(&api, 2, &[]).await;
    app.ingest(&token, "telemetry", json!({ "temperature": 5 }))
        .await;
    app.stop_serving();

    let (restarted, _) = app.another_node().await;
    let alarm = raised_within(&restarted, &acme).await;
    assert_eq!(alarm["state"], "raised");
}
