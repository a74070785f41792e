//! The hand-off from ingest to this process's dispatcher: deliveries written by an ingest
//! transaction are sent without a claim when a slot is free, wait in memory behind their
//! webhook's attempts when none is, in the outbox when its queue is full or their lease would
//! run out,
//! and are claimed by another node when the process dies; webhook changes reach the next
//! attempt on every node.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use biotz_signature::{SignatureHeader, Tolerance, verify};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::dispatch::{Scene, delivery_of, delivery_when};
use crate::helpers::TestApp;
use crate::receiver::{Receiver, Reply, TLS};

const WAIT: Duration = Duration::from_secs(30);

/// The value of one series of `biotz_deliveries_leased_total` on the node at `address`.
async fn leased(address: &str, how: &str) -> u64 {
    let text = reqwest::get(format!("{address}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let series = format!("biotz_deliveries_leased_total{{how=\"{how}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&series))
        .unwrap_or_else(|| panic!("/metrics has no {series}: {text}"))
        .parse()
        .unwrap()
}

/// Waits until `check` holds for the node's leased counters (handed over, claimed).
async fn leased_when(address: &str, what: &str, check: impl Fn(u64, u64) -> bool) -> (u64, u64) {
    let start = Instant::now();
    loop {
        let counts = (
            leased(address, "handed_over").await,
            leased(address, "claimed").await,
        );
        if check(counts.0, counts.1) {
            return counts;
        }
        assert!(
            start.elapsed() < WAIT,
            "timed out waiting for {what}: {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sends `count` messages that alternately raise and clear the scene's alarm: `count` events.
async fn toggle(app: &TestApp, scene: &Scene, count: usize) -> Vec<String> {
    let mut events = Vec::new();
    for nth in 0..count {
        events.push(toggle_one(app, scene, nth).await);
    }
    events
}

#[tokio::test]
async fn an_ingested_alarm_is_sent_without_a_claim() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn().await;
    let scene = Scene::new(&app, &receiver.url).await;
    let api = app.api(&scene.tenant);
    let event = scene.raise(&app).await;
    let received = receiver.wait_for(1, WAIT).await;
    verify(
        scene.secret(),
        received[0].header("biotz-iot-signature"),
        &received[0].body,
        biotz::domain::time::now_ms() / 1000,
        Tolerance::default(),
    )
    .expect("the handed-over delivery is signed with the webhook's secret");
    assert_eq!(received[0].header("biotz-iot-event-id"), event);
    let id = delivery_of(&api, &event).await;
    let delivery = delivery_when(&api, &id, "success", |d| d["status"] == "succeeded").await;
    assert_eq!(delivery["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(leased(&app.address, "handed_over").await, 1);
    assert_eq!(leased(&app.address, "claimed").await, 0);
}

/// Eight replies that wait for the test's go (the webhook's eight slots, its cap, stay taken
/// until then) and the semaphore that gives it.
fn held_replies(receiver: &Receiver) -> Arc<Semaphore> {
    let go = Arc::new(Semaphore::new(0));
    receiver.reply_next(std::iter::repeat_n(Reply::Held(go.clone()), 8));
    go
}

#[tokio::test]
async fn deliveries_beyond_a_webhooks_slots_wait_in_memory_and_need_no_claim() {
    let receiver = Receiver::start().await;
    let go = held_replies(&receiver);
    let app = TestApp::spawn_with(|s| {
        s.dispatch.delivery_timeout = Duration::from_secs(20);
        s.dispatch.lease = Duration::from_secs(60);
    })
    .await;
    let scene = Scene::new(&app, &receiver.url).await;
    let api = app.api(&scene.tenant);
    let events = toggle(&app, &scene, 10).await;
    receiver.wait_for(8, WAIT).await;
    leased_when(&app.address, "all ten handed over", |handed, _| {
        handed == 10
    })
    .await;
    assert_eq!(receiver.received().len(), 8, "two wait for a slot");
    go.add_permits(8);
    receiver.wait_for(10, WAIT).await;
    for event in &events {
        let id = delivery_of(&api, event).await;
        let delivery = delivery_when(&api, &id, "success", |d| d["status"] == "succeeded").await;
        assert_eq!(delivery["attempts"].as_array().unwrap().len(), 1);
    }
    assert_eq!(leased(&app.address, "claimed").await, 0);
}

#[tokio::test]
async fn deliveries_beyond_a_webhooks_queue_wait_in_the_outbox_and_are_claimed() {
    let receiver = Receiver::start().await;
    let go = held_replies(&receiver);
    let app = TestApp::spawn_with(|s| {
        s.dispatch.delivery_timeout = Duration::from_secs(20);
        s.dispatch.lease = Duration::from_secs(60);
    })
    .await;
    let scene = Scene::new(&app, &receiver.url).await;
    let api = app.api(&scene.tenant);
    let queue = biotz::dispatch::Capacity::default().queued_per_webhook;
    // Eight take the slots, `queue` wait in memory, two are written due.
    let events = toggle(&app, &scene, 8 + queue + 2).await;
    leased_when(
        &app.address,
        "the slots and the queue taken",
        |handed, _| handed == 8 + queue as u64,
    )
    .await;
    assert_eq!(
        leased(&app.address, "claimed").await,
        0,
        "the webhook is at its cap"
    );
    go.add_permits(8);
    receiver.wait_for(events.len(), WAIT).await;
    for event in &events {
        let id = delivery_of(&api, event).await;
        delivery_when(&api, &id, "success", |d| d["status"] == "succeeded").await;
    }
    leased_when(&app.address, "the two claimed", |handed, claimed| {
        handed == 8 + queue as u64 && claimed == 2
    })
    .await;
}

#[tokio::test]
async fn a_waiting_delivery_whose_lease_would_run_out_goes_back_to_the_outbox() {
    let receiver = Receiver::start().await;
    let go = held_replies(&receiver);
    // The eight held attempts time out after 2 s. A delivery waiting behind them must start
    // 3 s (the timeout and a second) before its 4 s lease ends, so both waiting ones are given
    // back after about a second, and claimed once the slots free.
    let app = TestApp::spawn_with(|s| {
        s.dispatch.delivery_timeout = Duration::from_secs(2);
        s.dispatch.lease = Duration::from_secs(4);
    })
    .await;
    let scene = Scene::new(&app, &receiver.url).await;
    let api = app.api(&scene.tenant);
    let events = toggle(&app, &scene, 10).await;
    for event in &events[8..] {
        let id = delivery_of(&api, event).await;
        let delivery = delivery_when(&api, &id, "success", |d| d["status"] == "succeeded").await;
        let attempts = delivery["attempts"].as_array().unwrap();
        assert_eq!(attempts.len(), 1, "sent once: {delivery}");
    }
    let sent: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| r.header("biotz-iot-event-id").to_owned())
        .collect();
    for event in &events[8..] {
        assert_eq!(sent.iter().filter(|e| *e == event).count(), 1);
    }
    go.add_permits(8);
}

#[tokio::test]
async fn a_changed_url_or_secret_applies_to_the_next_attempt() {
    let first = Receiver::start().await;
    let second = Receiver::start().await;
    let app = TestApp::spawn().await;
    let scene = Scene::new(&app, &first.url).await;
    let api = app.api(&scene.tenant);
    scene.raise(&app).await;
    first.wait_for(1, WAIT).await;

    let path = format!("/api/v1/webhooks/{}", scene.webhook_id());
    let answer = api.patch(&path, json!({ "url": second.url })).await;
    assert_eq!(answer.status, StatusCode::OK);
    let regenerated = api
        .post(&format!("{path}/secret/regenerate"), json!({}))
        .await;
    let secret = regenerated.body["secret"].as_str().unwrap().to_owned();
    let event = toggle_one(&app, &scene, 1).await;
    let received = second.wait_for(1, WAIT).await;
    assert_eq!(received[0].header("biotz-iot-event-id"), event);
    let header = received[0].header("biotz-iot-signature");
    verify(
        &secret,
        header,
        &received[0].body,
        biotz::domain::time::now_ms() / 1000,
        Tolerance::default(),
    )
    .expect("signed with the new secret");
    let header = SignatureHeader::parse(header).unwrap();
    assert_eq!(header.signatures.len(), 1, "the old secret stopped at once");
    assert_eq!(first.received().len(), 1);

    let answer = api.patch(&path, json!({ "enabled": false })).await;
    assert_eq!(answer.status, StatusCode::OK);
    let event = toggle_one(&app, &scene, 2).await;
    let id = delivery_of(&api, &event).await;
    delivery_when(&api, &id, "skipped", |d| d["status"] == "skipped").await;
    assert_eq!(second.received().len(), 1);
}

#[tokio::test]
async fn a_change_made_on_another_node_applies_within_a_second() {
    let first = Receiver::start().await;
    let second = Receiver::start().await;
    let app = TestApp::spawn().await;
    let scene = Scene::new(&app, &first.url).await;
    scene.raise(&app).await;
    first.wait_for(1, WAIT).await;

    let (other, _) = app.another_node().await;
    let changed = reqwest::Client::new()
        .patch(format!("{other}/api/v1/webhooks/{}", scene.webhook_id()))
        .bearer_auth(&scene.tenant.token)
        .json(&json!({ "url": second.url }))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    let at = Instant::now();
    // Alarms keep coming to this node; from within a second of the change they go to the
    // new URL, and none goes to the old one after the first has reached the new one.
    let mut sent = 1;
    while second.received().is_empty() {
        assert!(
            at.elapsed() < Duration::from_secs(2),
            "the change had not reached this node's dispatcher after {:?}",
            at.elapsed()
        );
        toggle_one(&app, &scene, sent).await;
        sent += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let before = first.received().len();
    toggle_one(&app, &scene, sent).await;
    second.wait_for(2, WAIT).await;
    assert_eq!(first.received().len(), before);
}

/// Sends the `nth` message of a raise, clear, raise… sequence that started with a raise;
/// returns its event.
async fn toggle_one(app: &TestApp, scene: &Scene, nth: usize) -> String {
    let temperature = if nth.is_multiple_of(2) { 5 } else { -5 };
    let answer = app
        .ingest(
            &scene.token,
            "telemetry",
            json!({ "temperature": temperature }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);
    answer.body["events"][0].as_str().unwrap().to_owned()
}

/// A child process that is killed when the test ends, also when it fails.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `biotz serve` process on the app's database, trusting the test receivers, on `port`.
fn serve(app: &TestApp, port: u16) -> Process {
    let ca = app.temp_file("ca.pem", &TLS.ca_pem);
    Command::new(env!("CARGO_BIN_EXE_biotz"))
        .arg("serve")
        .env("DATABASE_URL", app.database.url())
        .env("BIOTZ_LISTEN", format!("127.0.0.1:{port}"))
        .env("BIOTZ_MASTER_KEY", &app.master_key_hex)
        .env("BIOTZ_ALLOW_PRIVATE_TARGETS", "127.0.0.0/8")
        .env("BIOTZ_EXTRA_CA_CERTS", ca)
        .env("BIOTZ_DELIVERY_TIMEOUT", "1s")
        .env("BIOTZ_LEASE", "2s")
        .env("BIOTZ_RETRY_SCHEDULE", "200ms,200ms,200ms")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map(Process)
        .expect("biotz serve starts")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn deliveries_handed_over_by_a_killed_node_are_claimed_by_another() {
    let receiver = Receiver::start().await;
    // The serving node dies with its handed-over attempts in flight and nothing recorded.
    receiver.reply_always(Reply::Hang(Duration::from_secs(60)));
    let app = TestApp::without_dispatcher().await;
    let scene = Scene::new(&app, &receiver.url).await;
    let api = app.api(&scene.tenant);
    let port = free_port();
    let node = serve(&app, port);
    let address = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let start = Instant::now();
    while client
        .get(format!("{address}/readyz"))
        .send()
        .await
        .is_err()
    {
        assert!(start.elapsed() < WAIT, "biotz serve did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut events = Vec::new();
    for i in 0..6 {
        let answer: Value = client
            .post(format!("{address}/api/v1/ingest"))
            .bearer_auth(&scene.token)
            .json(&json!({
                "message_type": "telemetry",
                "payload": { "temperature": if i % 2 == 0 { 5 } else { -5 } }
            }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        events.push(answer["events"][0].as_str().unwrap().to_owned());
    }
    receiver.wait_for(6, WAIT).await;
    assert_eq!(leased(&address, "handed_over").await, 6);
    // Killed with attempts in flight under its leases (its 1 s timeout may already have
    // recorded failed first attempts, retried under new leases).
    drop(node);
    receiver.reply_always(Reply::Status(200));

    let _worker = Process(crate::processes::worker(&app, "1s", "2s"));
    for event in &events {
        let id = delivery_of(&api, event).await;
        delivery_when(&api, &id, "delivery after the crash", |d| {
            d["status"] == "succeeded"
        })
        .await;
    }
    let mut arrived: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| r.header("biotz-iot-event-id").to_owned())
        .collect();
    arrived.sort();
    arrived.dedup();
    assert_eq!(arrived.len(), 6, "every event arrived");
}
