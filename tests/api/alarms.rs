//! The alarm state machine and the outbox rows it writes.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::TestApp;

struct Setup {
    token: String,
    device: String,
    trigger: Value,
    webhooks: Vec<Value>,
}

async fn freezer_with_trigger(
    app: &TestApp,
    tenant: &crate::helpers::Tenant,
    condition: Value,
) -> Setup {
    let api = app.api(tenant);
    let freezer = api.create_freezer_type("Freezer").await;
    let (device, token) = api.create_device("Freezer 7", &freezer).await;
    let ops = api.create_webhook("Ops", "https://example.com/ops").await;
    let pager = api
        .create_webhook("Pager", "https://example.com/pager")
        .await;
    let trigger = api
        .create_trigger(&freezer, "Too hot", condition, &[&ops, &pager])
        .await;
    Setup {
        token,
        device,
        trigger,
        webhooks: vec![ops, pager],
    }
}

fn events(answer: &crate::helpers::Answer) -> Vec<String> {
    answer.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn raise_clear_and_messages_that_change_nothing() {
    let app = TestApp::without_dispatcher().await;
    let acme = app.tenant("Acme").await;
    let setup = freezer_with_trigger(
        &app,
        &acme,
        json!({ "field": "/temperature", "op": ">", "value": -10 }),
    )
    .await;
    let send = |t: f64| app.ingest(&setup.token, "telemetry", json!({ "temperature": t }));

    assert_eq!(
        events(&send(-20.0).await),
        Vec::<String>::new(),
        "false with no alarm: nothing"
    );
    let raised = send(-5.0).await;
    assert_eq!(raised.status, StatusCode::ACCEPTED);
    assert!(raised.body["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(events(&raised).len(), 1, "false → true raises");
    assert_eq!(events(&send(-1.0).await).len(), 0, "still true: nothing");
    let missing = app
        .ingest(
            &setup.token,
            "telemetry",
            json!({ "temperature": -30, "status": "ok" }),
        )
        .await;
    assert_eq!(events(&missing).len(), 1, "true → false clears");
    assert_eq!(events(&send(-40.0).await).len(), 0, "still false: nothing");
    assert_eq!(events(&send(0.0).await).len(), 1, "raised again");

    let api = app.api(&acme);
    let alarms = api.get("/api/v1/alarms").await;
    assert_eq!(
        alarms.body["data"].as_array().unwrap().len(),
        1,
        "one alarm per (device, trigger)"
    );
    let alarm = &alarms.body["data"][0];
    assert_eq!(alarm["state"], "raised");
    assert_eq!(alarm["device_id"], setup.device.as_str());
    assert_eq!(alarm["trigger_name"], "Too hot");
    assert_eq!(
        api.get("/api/v1/alarms?state=cleared").await.body["data"],
        json!([])
    );
    assert_eq!(
        api.get("/api/v1/alarms?state=raised").await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        api.get("/api/v1/alarms?state=nonsense").await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

#[tokio::test]
async fn each_transition_writes_one_event_and_one_pending_delivery_per_webhook() {
    let app = TestApp::without_dispatcher().await;
    let acme = app.tenant("Acme").await;
    let setup = freezer_with_trigger(
        &app,
        &acme,
        json!({ "field": "/temperature", "op": ">=", "value": -10 }),
    )
    .await;
    let api = app.api(&acme);
    api.patch(
        &format!(
            "/api/v1/webhooks/{}",
            setup.webhooks[1]["id"].as_str().unwrap()
        ),
        json!({ "enabled": false }),
    )
    .await;

    let raised = app
        .ingest(
            &setup.token,
            "telemetry",
            json!({ "temperature": -10, "status": "door ajar" }),
        )
        .await;
    let event_id = &events(&raised)[0];
    let event = api.get(&format!("/api/v1/events/{event_id}")).await;
    assert_eq!(event.status, StatusCode::OK);
    assert_eq!(event.body["type"], "alarm.raised");

    let body = &event.body["body"];
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        vec!["id", "type", "created_at", "data"],
        "the envelope, in order"
    );
    assert_eq!(body["id"], event_id.as_str());
    assert_eq!(body["type"], "alarm.raised");
    assert!(body["created_at"].as_str().unwrap().ends_with('Z'));
    let data = &body["data"];
    assert_eq!(data["alarm"]["state"], "raised");
    assert_eq!(data["alarm"]["severity"], "critical");
    assert!(data["alarm"]["id"].as_str().unwrap().starts_with("alm_"));
    assert!(data["alarm"]["cleared_at"].is_null());
    assert_eq!(data["trigger"]["id"], setup.trigger["id"]);
    assert_eq!(
        data["trigger"]["condition"],
        json!({ "field": "/temperature", "op": ">=", "value": -10 })
    );
    assert_eq!(data["device_type"]["name"], "Freezer");
    assert_eq!(data["device"]["id"], setup.device.as_str());
    assert_eq!(data["message"]["id"], raised.body["id"]);
    assert_eq!(data["message"]["message_type"], "telemetry");
    assert_eq!(
        data["message"]["payload"],
        json!({ "temperature": -10, "status": "door ajar" })
    );

    let deliveries = event.body["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 2);
    let by_name = |name: &str| {
        deliveries
            .iter()
            .find(|d| d["webhook_name"] == name)
            .unwrap()
    };
    assert_eq!(by_name("Ops")["status"], "pending");
    assert!(by_name("Ops")["id"].as_str().unwrap().starts_with("dlv_"));
    assert!(by_name("Ops")["next_attempt_at"].is_string());
    assert_eq!(
        by_name("Pager")["status"],
        "skipped",
        "a disabled webhook's delivery is kept as skipped"
    );
    assert_eq!(by_name("Ops")["attempts"], 0);

    let cleared = app
        .ingest(&setup.token, "telemetry", json!({ "temperature": -11 }))
        .await;
    let cleared = api
        .get(&format!("/api/v1/events/{}", events(&cleared)[0]))
        .await;
    assert_eq!(cleared.body["type"], "alarm.cleared");
    assert_eq!(cleared.body["body"]["data"]["alarm"]["state"], "cleared");
    assert!(cleared.body["body"]["data"]["alarm"]["cleared_at"].is_string());
    assert_eq!(
        cleared.body["body"]["data"]["alarm"]["id"], data["alarm"]["id"],
        "the same alarm"
    );
}

#[tokio::test]
async fn disabled_triggers_and_other_message_types_are_not_evaluated() {
    let app = TestApp::without_dispatcher().await;
    let acme = app.tenant("Acme").await;
    let setup = freezer_with_trigger(
        &app,
        &acme,
        json!({ "field": "/temperature", "op": ">", "value": 0 }),
    )
    .await;
    let api = app.api(&acme);
    let path = format!(
        "/api/v1/alarm-triggers/{}",
        setup.trigger["id"].as_str().unwrap()
    );
    api.patch(&path, json!({ "enabled": false })).await;
    assert_eq!(
        events(
            &app.ingest(&setup.token, "telemetry", json!({ "temperature": 5 }))
                .await
        )
        .len(),
        0
    );
    api.patch(&path, json!({ "enabled": true })).await;
    assert_eq!(
        events(
            &app.ingest(&setup.token, "telemetry", json!({ "temperature": 5 }))
                .await
        )
        .len(),
        1
    );
}

async fn concurrent_messages_raise_once(app: TestApp) {
    let acme = app.tenant("Acme").await;
    let setup = freezer_with_trigger(
        &app,
        &acme,
        json!({ "field": "/temperature", "op": ">", "value": 0 }),
    )
    .await;
    let send_many = |t: i64| {
        let token = setup.token.clone();
        let url = app.url("/api/v1/ingest");
        async move {
            let client = reqwest::Client::new();
            let sends = (0..16).map(|_| {
                client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&json!({ "message_type": "telemetry", "payload": { "temperature": t } }))
                    .send()
            });
            let answers = futures_util::future::join_all(sends).await;
            let mut events = 0;
            for answer in answers {
                let answer = answer.unwrap();
                assert_eq!(answer.status(), StatusCode::ACCEPTED);
                events += answer.json::<Value>().await.unwrap()["events"]
                    .as_array()
                    .unwrap()
                    .len();
            }
            events
        }
    };
    assert_eq!(
        send_many(10).await,
        1,
        "sixteen concurrent hot messages raise the alarm once"
    );
    assert_eq!(
        send_many(-10).await,
        1,
        "sixteen concurrent cold messages clear it once"
    );
    let api = app.api(&acme);
    let alarms = api.get("/api/v1/alarms").await;
    assert_eq!(alarms.body["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn two_messages_at_once_cannot_raise_the_alarm_twice() {
    concurrent_messages_raise_once(TestApp::without_dispatcher().await).await;
}
