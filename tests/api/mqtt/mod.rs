//! MQTT ingest against a real Mosquitto broker of each test's own.

mod broker;
mod crash;

use std::time::{Duration, Instant};

use biotz::ingest_mqtt::settings::{MqttArgs, parse};
use biotz_signature::{Tolerance, verify};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Tenant, TestApp};
use crate::receiver::Receiver;
use broker::Broker;

const WAIT: Duration = Duration::from_secs(20);
const DEVICE_PASSWORD: &str = "device-broker-password";

/// The settings of a node that ingests from `broker` with this client id.
pub fn mqtt_settings(broker: &Broker, client_id: &str) -> biotz::ingest_mqtt::MqttSettings {
    let args = MqttArgs {
        mqtt_url: Some(broker.url()),
        mqtt_client_id: Some(client_id.into()),
        ..Default::default()
    };
    parse(&args, 0).unwrap().unwrap()
}

/// Waits until `address`/readyz answers 200: the node is connected to its broker.
pub async fn wait_ready(address: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let ready = reqwest::get(format!("{address}/readyz")).await;
        if ready.is_ok_and(|r| r.status() == StatusCode::OK) {
            return;
        }
        assert!(Instant::now() < deadline, "{address} never became ready");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Waits until `probe` answers `Some`.
pub async fn wait_until<T, F: Future<Output = Option<T>>>(
    what: &str,
    mut probe: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A freezer type with a `/temperature > 0` trigger to `url`; the device's id and the
/// webhook's secret.
pub async fn freezer(app: &TestApp, tenant: &Tenant, url: &str) -> (String, String) {
    let api = app.api(tenant);
    let freezer = api.create_freezer_type("Freezer").await;
    let (device, _) = api.create_device("Freezer 7", &freezer).await;
    let webhook = api.create_webhook("Ops", url).await;
    api.create_trigger(
        &freezer,
        "Too warm",
        json!({ "field": "/temperature", "op": ">", "value": 0 }),
        &[&webhook],
    )
    .await;
    (device, webhook["secret"].as_str().unwrap().to_owned())
}

pub async fn count_messages(app: &TestApp, device: &str) -> i64 {
    app.sql_number(&format!(
        "SELECT count(*) FROM messages WHERE device_id = '{device}'"
    ))
    .await
}

pub async fn metric(address: &str, line: &str) -> Option<u64> {
    let text = reqwest::get(format!("{address}/metrics"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(line)?.trim().parse().ok())
}

#[tokio::test]
async fn a_published_message_is_delivered_as_a_signed_webhook_once_per_message_id() {
    let receiver = Receiver::start().await;
    let broker = Broker::start(&[]).await;
    let app = TestApp::spawn_with(|s| s.mqtt = Some(mqtt_settings(&broker, "biotz-test-1"))).await;
    let acme = app.tenant("Acme").await;
    let (device, secret) = freezer(&app, &acme, &receiver.url).await;
    broker.add_device(&device, DEVICE_PASSWORD);
    wait_ready(&app.address).await;

    let mut client = broker.device(&device, DEVICE_PASSWORD).await;
    client
        .publish("telemetry", br#"{"temperature": 7.5}"#, Some("reading-1"))
        .await;
    let requests = receiver.wait_for(1, WAIT).await;
    let request = &requests[0];
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert_eq!(
        verify(
            &secret,
            request.header("biotz-iot-signature"),
            &request.body,
            now,
            Tolerance::default()
        ),
        Ok(())
    );
    let body: Value = request.json();
    assert_eq!(body["type"], "alarm.raised");
    assert_eq!(body["data"]["device"]["id"], device.as_str());
    assert_eq!(
        body["data"]["message"]["payload"],
        json!({ "temperature": 7.5 })
    );

    // A resend with the same message-id (a clearing value, were it evaluated) stores nothing;
    // a new id clears the alarm.
    client
        .publish("telemetry", br#"{"temperature": -1}"#, Some("reading-1"))
        .await;
    client
        .publish("telemetry", br#"{"temperature": -2}"#, Some("reading-2"))
        .await;
    let requests = receiver.wait_for(2, WAIT).await;
    assert_eq!(requests[1].json()["type"], "alarm.cleared");
    assert_eq!(
        requests[1].json()["data"]["message"]["payload"],
        json!({ "temperature": -2 })
    );
    wait_until("both stored", || async {
        (metric(
            &app.address,
            "biotz_mqtt_messages_total{outcome=\"stored\"}",
        )
        .await
            == Some(2))
        .then_some(())
    })
    .await;
    assert_eq!(
        metric(
            &app.address,
            "biotz_mqtt_messages_total{outcome=\"duplicate\"}"
        )
        .await,
        Some(1)
    );
    assert_eq!(count_messages(&app, &device).await, 2);
}

#[tokio::test]
async fn an_invalid_message_shows_on_the_device_page_and_the_next_one_is_ingested() {
    let broker = Broker::start(&[]).await;
    let app = TestApp::spawn_with(|s| {
        s.dispatcher = false;
        s.mqtt = Some(mqtt_settings(&broker, "biotz-test-2"));
    })
    .await;
    let acme = app.tenant("Acme").await;
    let (device, _) = freezer(&app, &acme, "https://example.com/hook").await;
    broker.add_device(&device, DEVICE_PASSWORD);
    wait_ready(&app.address).await;

    let mut client = broker.device(&device, DEVICE_PASSWORD).await;
    client
        .publish("telemetry", br#"{"temperature": "warm"}"#, None)
        .await;
    client
        .publish("no-such-type", br#"{"temperature": 1}"#, None)
        .await;
    client.publish("telemetry", b"not json", None).await;
    client
        .publish("telemetry", br#"{"temperature": 3}"#, None)
        .await;
    wait_until("the valid message", || async {
        (count_messages(&app, &device).await == 1).then_some(())
    })
    .await;
    wait_until("the three invalid messages counted", || async {
        let invalid = "biotz_mqtt_messages_total{outcome=\"invalid\"}";
        (metric(&app.address, invalid).await == Some(3)).then_some(())
    })
    .await;
    assert_eq!(
        metric(
            &app.address,
            "biotz_mqtt_messages_total{outcome=\"stored\"}"
        )
        .await,
        Some(1)
    );

    let page = app
        .browser(&acme)
        .await
        .get(&format!("/devices/{device}"))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let error = last_error(&page.html);
    assert!(
        [
            "is not JSON",
            "no message type no-such-type",
            "does not match"
        ]
        .iter()
        .any(|reason| error.contains(reason)),
        "the last error: {error}"
    );
    assert!(error.contains("biotz/devices/"), "{error}");

    // A schema violation names the field and the rule.
    client
        .publish("telemetry", br#"{"temperature": "warm"}"#, None)
        .await;
    let shown = wait_until("the schema error on the page", || async {
        let page = app
            .browser(&acme)
            .await
            .get(&format!("/devices/{device}"))
            .await;
        let error = last_error(&page.html);
        (metric(
            &app.address,
            "biotz_mqtt_messages_total{outcome=\"invalid\"}",
        )
        .await
            == Some(4))
        .then_some(error)
    })
    .await;
    assert!(
        shown.contains("does not match")
            && shown.contains("/temperature")
            && shown.contains("(type)"),
        "{shown}"
    );

    // A NUL character is refused as over HTTP, on both databases alike.
    client
        .publish("telemetry", br#"{"temperature": "a\u0000b"}"#, None)
        .await;
    let shown = wait_until("the NUL error on the page", || async {
        let page = app
            .browser(&acme)
            .await
            .get(&format!("/devices/{device}"))
            .await;
        let error = last_error(&page.html);
        (metric(
            &app.address,
            "biotz_mqtt_messages_total{outcome=\"invalid\"}",
        )
        .await
            == Some(5))
        .then_some(error)
    })
    .await;
    assert!(
        shown.contains("NUL character") && shown.contains("temperature"),
        "{shown}"
    );
    assert_eq!(count_messages(&app, &device).await, 1);
}

/// The text of the device page's last error.
fn last_error(html: &str) -> String {
    let start = html
        .find("class=\"device-error\">")
        .expect("the page shows a last error");
    let rest = &html[start..];
    let cell = &rest[rest.find('>').unwrap() + 1..rest.find("</dd>").unwrap()];
    let mut text = String::new();
    let mut in_tag = false;
    for c in cell.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    crate::helpers::unescape_html(&text)
}

#[tokio::test]
async fn two_nodes_share_the_subscription_and_ingest_each_message_once() {
    let broker = Broker::start(&[]).await;
    let app = TestApp::spawn_with(|s| {
        s.dispatcher = false;
        s.mqtt = Some(mqtt_settings(&broker, "biotz-node-a"));
    })
    .await;
    let (second, _) = app
        .another_node_with(|s| {
            s.dispatcher = false;
            s.mqtt = Some(mqtt_settings(&broker, "biotz-node-b"));
        })
        .await;
    let acme = app.tenant("Acme").await;
    let (device, _) = freezer(&app, &acme, "https://example.com/hook").await;
    broker.add_device(&device, DEVICE_PASSWORD);
    wait_ready(&app.address).await;
    wait_ready(&second).await;

    let mut client = broker.device(&device, DEVICE_PASSWORD).await;
    for i in 0..40 {
        client
            .publish(
                "telemetry",
                format!(r#"{{"temperature": {i}}}"#).as_bytes(),
                None,
            )
            .await;
    }
    wait_until("all 40 messages", || async {
        (count_messages(&app, &device).await >= 40).then_some(())
    })
    .await;
    let stored = "biotz_mqtt_messages_total{outcome=\"stored\"}";
    let (a, b) = wait_until("both nodes' counts", || async {
        let a = metric(&app.address, stored).await?;
        let b = metric(&second, stored).await?;
        (a + b == 40).then_some((a, b))
    })
    .await;
    assert!(
        a > 0 && b > 0,
        "the broker shared the messages: {a} and {b}"
    );
    assert_eq!(count_messages(&app, &device).await, 40, "each message once");
}

#[tokio::test]
async fn a_device_cannot_publish_as_another_device() {
    let broker = Broker::start(&[]).await;
    let app = TestApp::spawn_with(|s| {
        s.dispatcher = false;
        s.mqtt = Some(mqtt_settings(&broker, "biotz-test-3"));
    })
    .await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let freezer_type = api.create_freezer_type("Freezer").await;
    let (victim, _) = api.create_device("Victim", &freezer_type).await;
    let (intruder, _) = api.create_device("Intruder", &freezer_type).await;
    broker.add_device(&victim, DEVICE_PASSWORD);
    broker.add_device(&intruder, "intruder-password");
    wait_ready(&app.address).await;

    let mut client = broker.device(&intruder, "intruder-password").await;
    client
        .publish_on(
            &format!("biotz/devices/{victim}/messages/telemetry"),
            br#"{"temperature": 1}"#,
            None,
        )
        .await;
    client
        .publish("telemetry", br#"{"temperature": 2}"#, None)
        .await;
    wait_until("the intruder's own message", || async {
        (count_messages(&app, &intruder).await == 1).then_some(())
    })
    .await;
    assert_eq!(
        count_messages(&app, &victim).await,
        0,
        "the ACL dropped the forged one"
    );
}

#[tokio::test]
async fn readyz_reports_the_broker_and_the_node_reconnects() {
    let mut broker = Broker::start(&[]).await;
    let app = TestApp::spawn_with(|s| {
        s.dispatcher = false;
        s.mqtt = Some(mqtt_settings(&broker, "biotz-test-4"));
    })
    .await;
    let acme = app.tenant("Acme").await;
    let (device, _) = freezer(&app, &acme, "https://example.com/hook").await;
    broker.add_device(&device, DEVICE_PASSWORD);
    wait_ready(&app.address).await;

    broker.stop();
    let body = wait_until("/readyz to report the broker", || async {
        let answer = reqwest::get(app.url("/readyz")).await.ok()?;
        (answer.status() == StatusCode::SERVICE_UNAVAILABLE).then_some(answer.text().await.ok()?)
    })
    .await;
    assert!(body.contains("MQTT broker"), "{body}");
    assert_eq!(metric(&app.address, "biotz_mqtt_connected").await, Some(0));

    broker.restart().await;
    wait_ready(&app.address).await;
    let mut client = broker.device(&device, DEVICE_PASSWORD).await;
    client
        .publish("telemetry", br#"{"temperature": 1}"#, None)
        .await;
    wait_until("a message after the reconnect", || async {
        (count_messages(&app, &device).await == 1).then_some(())
    })
    .await;
}
