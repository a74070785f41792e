//! `biotz worker` processes against the test database: a node killed mid-batch loses nothing,
//! two nodes deliver each event once, and SIGTERM hands work back.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::dispatch::delivery_when;
use sqlx::Connection;

use crate::helpers::{Api, TestApp, TestDatabase};
use crate::receiver::{Receiver, Reply, TLS};

const WAIT: Duration = Duration::from_secs(30);

/// A `biotz worker` on the app's database, trusting the test receivers.
pub fn worker(app: &TestApp, timeout: &str, lease: &str) -> Child {
    worker_command(app, timeout, lease)
        .spawn()
        .expect("biotz worker starts")
}

fn worker_command(app: &TestApp, timeout: &str, lease: &str) -> Command {
    let ca = app.temp_file("ca.pem", &TLS.ca_pem);
    let mut command = Command::new(env!("CARGO_BIN_EXE_biotz"));
    command
        .arg("worker")
        .env("DATABASE_URL", app.database.url())
        .env("BIOTZ_MASTER_KEY", &app.master_key_hex)
        .env("BIOTZ_ALLOW_PRIVATE_TARGETS", "127.0.0.0/8")
        .env("BIOTZ_EXTRA_CA_CERTS", ca)
        .env("BIOTZ_DELIVERY_TIMEOUT", timeout)
        .env("BIOTZ_LEASE", lease)
        .env("BIOTZ_RETRY_SCHEDULE", "200ms,200ms,200ms")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    command
}

fn signal(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

async fn wait_exit(mut child: Child, deadline: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            start.elapsed() < deadline,
            "the worker did not exit within {deadline:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Queues `count` test events for the webhook; returns their delivery ids.
async fn queue_tests(api: &Api<'_>, webhook: &Value, count: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..count {
        let answer = api
            .post(
                &format!("/api/v1/webhooks/{}/test", webhook["id"].as_str().unwrap()),
                json!({}),
            )
            .await;
        ids.push(answer.body["delivery_id"].as_str().unwrap().to_owned());
    }
    ids
}

#[tokio::test]
async fn a_worker_killed_mid_batch_loses_nothing() {
    let receiver = Receiver::start().await;
    // The first worker's requests hang: it dies with them in flight and nothing recorded.
    receiver.reply_always(Reply::Hang(Duration::from_secs(60)));
    let app = TestApp::without_dispatcher().await;
    let tenant = app.tenant("Acme").await;
    let api = app.api(&tenant);
    let webhook = api.create_webhook("Receiver", &receiver.url).await;
    let deliveries = queue_tests(&api, &webhook, 20).await;

    let first = worker(&app, "1s", "2s");
    receiver.wait_for(1, WAIT).await;
    signal(&first, "KILL");
    wait_exit(first, WAIT).await;
    receiver.reply_always(Reply::Status(200));

    let second = worker(&app, "1s", "2s");
    for id in &deliveries {
        let delivery = delivery_when(&api, id, "delivery after the crash", |d| {
            d["status"] == "succeeded"
        })
        .await;
        assert!(!delivery["attempts"].as_array().unwrap().is_empty());
    }
    signal(&second, "TERM");
    wait_exit(second, WAIT).await;
    let received = receiver.received();
    let mut arrived: Vec<&str> = received
        .iter()
        .map(|r| r.header("biotz-iot-delivery-id"))
        .collect();
    arrived.sort();
    arrived.dedup();
    assert_eq!(arrived.len(), 20, "every delivery arrived");
    // Sent twice only across the crash: once by the killed worker, once by the one after it.
    for id in &arrived {
        let times = received
            .iter()
            .filter(|r| r.header("biotz-iot-delivery-id") == *id)
            .count();
        assert!(times <= 2, "{id} arrived {times} times");
    }
}

#[tokio::test]
async fn two_workers_deliver_every_event_of_a_burst_once() {
    let receiver = Receiver::start().await;
    let app = TestApp::without_dispatcher().await;
    let tenant = app.tenant("Acme").await;
    let api = app.api(&tenant);
    let webhooks = [
        api.create_webhook("One", &receiver.url).await,
        api.create_webhook("Two", &receiver.url).await,
        api.create_webhook("Three", &receiver.url).await,
    ];
    let mut deliveries = Vec::new();
    for webhook in &webhooks {
        deliveries.extend(queue_tests(&api, webhook, 30).await);
    }
    let workers = [worker(&app, "5s", "15s"), worker(&app, "5s", "15s")];
    let received = receiver.wait_for(deliveries.len(), WAIT).await;
    for id in &deliveries {
        delivery_when(&api, id, "success", |d| d["status"] == "succeeded").await;
    }
    for worker in workers {
        signal(&worker, "TERM");
        assert!(wait_exit(worker, WAIT).await.success());
    }
    let mut arrived: Vec<&str> = received
        .iter()
        .map(|r| r.header("biotz-iot-delivery-id"))
        .collect();
    arrived.sort();
    let total = arrived.len();
    arrived.dedup();
    assert_eq!(arrived.len(), deliveries.len());
    assert_eq!(total, deliveries.len(), "no delivery was sent twice");
    assert_eq!(receiver.received().len(), deliveries.len());
}

#[tokio::test]
async fn sigterm_finishes_attempts_in_flight_and_releases_the_rest() {
    let receiver = Receiver::start().await;
    receiver.reply_always(Reply::Hang(Duration::from_millis(1500)));
    let app = TestApp::without_dispatcher().await;
    let tenant = app.tenant("Acme").await;
    let api = app.api(&tenant);
    let webhook = api.create_webhook("Receiver", &receiver.url).await;
    let deliveries = queue_tests(&api, &webhook, 12).await;
    let node = worker(&app, "10s", "60s");
    receiver.wait_for(8, WAIT).await;
    signal(&node, "TERM");
    assert!(wait_exit(node, WAIT).await.success(), "a clean exit");

    let mut succeeded = 0;
    for id in &deliveries {
        let delivery = api.get(&format!("/api/v1/deliveries/{id}")).await.body;
        match delivery["status"].as_str().unwrap() {
            "succeeded" => succeeded += 1,
            "pending" => {
                assert!(
                    delivery["attempts"].as_array().unwrap().is_empty(),
                    "never started"
                );
                let due = biotz::domain::time::parse_instant(
                    delivery["next_attempt_at"].as_str().unwrap(),
                )
                .unwrap();
                assert!(
                    due <= biotz::domain::time::now_ms(),
                    "released: due now, not when a 60 s lease ends"
                );
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(
        succeeded,
        receiver.received().len(),
        "every attempt in flight finished and was recorded"
    );
    assert!(succeeded >= 8);
}

/// Starts a worker with `--listen 127.0.0.1:0`; returns it and the address it printed.
async fn listening_worker(app: &TestApp) -> (Child, String) {
    let mut node = worker_command(app, "5s", "15s")
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("biotz worker starts");
    let stdout = node.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).map(|_| line)
    });
    let line = tokio::time::timeout(WAIT, line)
        .await
        .expect("the worker says where it listens")
        .unwrap()
        .unwrap();
    let address = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .to_owned();
    (node, format!("http://{address}"))
}

/// Scrapes `url` until `done` holds for the status and text, or panics after `WAIT`.
async fn scrape_until(url: &str, what: &str, done: impl Fn(u16, &str) -> bool) -> String {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let start = Instant::now();
    loop {
        if let Ok(response) = client.get(url).send().await {
            let status = response.status().as_u16();
            let text = response.text().await.unwrap_or_default();
            if done(status, &text) {
                return text;
            }
            assert!(
                start.elapsed() < WAIT,
                "{what}: last answer {status} {text}"
            );
        }
        assert!(start.elapsed() < WAIT, "{what}: no answer");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_worker_with_listen_serves_its_metrics_and_readiness() {
    let receiver = Receiver::start().await;
    let app = TestApp::without_dispatcher().await;
    let tenant = app.tenant("Acme").await;
    let api = app.api(&tenant);
    let webhook = api.create_webhook("Receiver", &receiver.url).await;
    let deliveries = queue_tests(&api, &webhook, 3).await;
    let (node, base) = listening_worker(&app).await;
    for id in &deliveries {
        delivery_when(&api, id, "delivered by the worker", |d| {
            d["status"] == "succeeded"
        })
        .await;
    }
    let metrics = format!("{base}/metrics");
    scrape_until(&metrics, "the worker's counters", |status, text| {
        status == 200
            && text.contains("biotz_delivery_attempts_total{outcome=\"succeeded\"} 3")
            && text.contains("biotz_deliveries_leased_total{how=\"claimed\"} 3")
            && text.contains("biotz_database_up 1")
            && text.contains("biotz_deliveries_pending 0")
    })
    .await;
    let healthz = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(healthz.status(), 200);
    let readyz = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(readyz.status(), 200);

    // The database goes: PostgreSQL's is dropped under the worker; SQLite's file (which open
    // connections keep reading) stops being a biotz database.
    match &app.database {
        TestDatabase::Postgres {
            admin_url, name, ..
        } => {
            let mut admin = sqlx::PgConnection::connect(admin_url).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE {name} WITH (FORCE)"
            )))
            .execute(&mut admin)
            .await
            .unwrap();
        }
        TestDatabase::Sqlite { url } => {
            let mut db = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::query("DROP TABLE _sqlx_migrations")
                .execute(&mut db)
                .await
                .unwrap();
        }
    }
    let not_ready = scrape_until(&format!("{base}/readyz"), "/readyz", |status, _| {
        status == 503
    })
    .await;
    assert!(not_ready.contains("database"), "{not_ready}");
    let after = scrape_until(
        &metrics,
        "the counters without the database",
        |status, _| status == 200,
    )
    .await;
    assert!(
        after.contains("biotz_delivery_attempts_total{outcome=\"succeeded\"} 3"),
        "{after}"
    );
    if matches!(app.database, TestDatabase::Postgres { .. }) {
        assert!(after.contains("biotz_database_up 0"), "{after}");
        assert!(!after.contains("biotz_deliveries_pending"), "{after}");
    }
    signal(&node, "TERM");
    wait_exit(node, WAIT).await;
}
