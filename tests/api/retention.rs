//! Retention: what a purge removes (finished and old) and what it always keeps (pending
//! deliveries, alarms that are not cleared with what they refer to, recent data).

use std::time::Duration;

use biotz::domain::time::now_ms;
use biotz::retention::{RetentionSettings, purge_all};
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;
use crate::mqtt::wait_until;
use crate::receiver::{Receiver, Reply};

const DAY_MS: i64 = 86_400_000;

impl TestApp {
    async fn rows(&self, table: &str) -> i64 {
        self.sql_number(&format!("SELECT count(*) FROM {table}"))
            .await
    }

    async fn rows_where(&self, table: &str, condition: &str) -> i64 {
        self.sql_number(&format!("SELECT count(*) FROM {table} WHERE {condition}"))
            .await
    }
}

#[tokio::test]
async fn a_purge_removes_finished_old_data_and_keeps_pending_and_open_alarms() {
    let ok = Receiver::start().await;
    let later = Receiver::start().await;
    later.reply_always(Reply::With(503, vec![("Retry-After", "3600".into())]));
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let freezer = api.create_freezer_type("Freezer").await;
    let (first, first_token) = api.create_device("Freezer 1", &freezer).await;
    let (second, second_token) = api.create_device("Freezer 2", &freezer).await;
    let hook = api.create_webhook("Ops", &ok.url).await;
    let slow = api.create_webhook("Later", &later.url).await;
    api.create_trigger(
        &freezer,
        "Too warm",
        json!({ "field": "/temperature", "op": ">", "value": 0 }),
        &[&hook],
    )
    .await;

    // The first freezer's alarm is raised and cleared; the second's stays raised.
    for (token, temperature) in [
        (&first_token, 5),
        (&first_token, -5),
        (&first_token, -6),
        (&second_token, 5),
    ] {
        let answer = app
            .ingest(token, "telemetry", json!({ "temperature": temperature }))
            .await;
        assert_eq!(answer.status, StatusCode::ACCEPTED);
    }
    // A test event to a receiver that asks to be retried in an hour: pending.
    let test = api
        .post(
            &format!("/api/v1/webhooks/{}/test", slow["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert!(test.status.is_success(), "{}", test.body);
    ok.wait_for(3, Duration::from_secs(20)).await;
    later.wait_for(1, Duration::from_secs(20)).await;
    wait_until("the attempts recorded", || async {
        (app.rows_where("deliveries", "status = 'succeeded'").await == 3
            && app.rows("attempts").await == 4)
            .then_some(())
    })
    .await;
    assert_eq!(app.rows_where("deliveries", "status = 'pending'").await, 1);
    let events = app.rows("events").await;
    assert_eq!(events, 4);

    // Within the period nothing goes.
    let purged = purge_all(
        &app.store,
        &RetentionSettings::default(),
        now_ms() + 29 * DAY_MS,
    )
    .await
    .unwrap();
    assert_eq!(
        (purged.deliveries, purged.events, purged.messages),
        (0, 0, 0)
    );
    assert_eq!(app.rows("messages").await, 4);

    let purged = purge_all(
        &app.store,
        &RetentionSettings::default(),
        now_ms() + 31 * DAY_MS,
    )
    .await
    .unwrap();
    assert_eq!(purged.deliveries, 3, "the succeeded deliveries");
    assert_eq!(purged.events, 2, "the cleared alarm's two events");
    assert_eq!(purged.messages, 3, "the first freezer's messages");
    assert_eq!(
        app.rows_where("messages", &format!("device_id = '{first}'"))
            .await,
        0
    );
    assert_eq!(
        app.rows_where("messages", &format!("device_id = '{second}'"))
            .await,
        1,
        "the message that raised the open alarm"
    );
    assert_eq!(
        app.rows("events").await,
        2,
        "the open alarm's event and the pending test event"
    );
    assert_eq!(app.rows_where("deliveries", "status = 'pending'").await, 1);
    assert_eq!(app.rows("deliveries").await, 1);
    assert_eq!(
        app.rows("attempts").await,
        1,
        "the pending delivery's attempt"
    );
    let raised = api.get("/api/v1/alarms?state=raised").await;
    let event = raised.body["data"][0]["latest_event_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let kept = api.get(&format!("/api/v1/events/{event}")).await;
    assert_eq!(
        kept.status,
        StatusCode::OK,
        "the open alarm's event can still be read"
    );

    // Purging again finds nothing more.
    let again = purge_all(
        &app.store,
        &RetentionSettings::default(),
        now_ms() + 31 * DAY_MS,
    )
    .await
    .unwrap();
    assert_eq!((again.deliveries, again.events, again.messages), (0, 0, 0));
}

#[tokio::test]
async fn purges_run_in_batches_and_forget_expired_message_ids() {
    let app = TestApp::without_dispatcher().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let freezer = api.create_freezer_type("Freezer").await;
    let (_, token) = api.create_device("Freezer 1", &freezer).await;
    let count = biotz::store::PURGE_BATCH + 20;
    // One client, 16 at a time: enough for batches, without a connection storm.
    let client = reqwest::Client::new();
    let url = app.url("/api/v1/ingest");
    let sends = (0..count).map(|i| {
        let request = client
            .post(&url)
            .bearer_auth(&token)
            .json(&json!({ "message_type": "telemetry", "payload": { "temperature": -1 }, "id": format!("m-{i}") }));
        async move { request.send().await.unwrap().status() }
    });
    let statuses: Vec<StatusCode> = futures_util::stream::iter(sends)
        .buffer_unordered(16)
        .collect()
        .await;
    for status in statuses {
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    assert_eq!(app.rows("message_keys").await, count as i64);

    let purged = purge_all(
        &app.store,
        &RetentionSettings::default(),
        now_ms() + 2 * DAY_MS,
    )
    .await
    .unwrap();
    assert_eq!(purged.messages, 0);
    assert_eq!(
        purged.message_ids, count as u64,
        "a day later the ids are forgotten"
    );
    let purged = purge_all(
        &app.store,
        &RetentionSettings::default(),
        now_ms() + 31 * DAY_MS,
    )
    .await
    .unwrap();
    assert_eq!(purged.messages, count as u64, "every batch");
    assert_eq!(app.rows("messages").await, 0);
}

#[tokio::test]
async fn an_organization_sets_its_own_retention_on_the_settings_page() {
    let app = TestApp::without_dispatcher().await;
    let acme = app.tenant("Acme").await;
    let beta = app.tenant("Beta").await;
    for tenant in [&acme, &beta] {
        let api = app.api(tenant);
        let freezer = api.create_freezer_type("Freezer").await;
        let (_, token) = api.create_device("Freezer 1", &freezer).await;
        app.ingest(&token, "telemetry", json!({ "temperature": 1 }))
            .await;
    }

    let browser = app.browser(&beta).await;
    let page = browser.get("/settings").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains("30d"), "the server's default is shown");
    let refused = browser.post_form("/settings", &[("retain", "7d")]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "no CSRF token");
    for (typed, rule) in [
        ("36h", "whole number of days"),
        ("0d", "between 1 and 3650"),
        ("soon", "such as 30d"),
    ] {
        let answer = browser
            .submit("/settings", "/settings", &[("retain", typed)])
            .await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{typed}");
        assert!(answer.html.contains(rule), "{typed}: {}", answer.html);
    }
    let saved = browser
        .submit("/settings", "/settings", &[("retain", "7d")])
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.html);
    let page = browser.get("/settings").await;
    assert_eq!(
        crate::helpers::field_value(&page.html, "retain").as_deref(),
        Some("7d")
    );

    let purged = purge_all(
        &app.store,
        &RetentionSettings::default(),
        now_ms() + 10 * DAY_MS,
    )
    .await
    .unwrap();
    assert_eq!(purged.messages, 1, "Beta's message only");
    assert_eq!(
        app.rows("messages").await,
        1,
        "Acme keeps the default 30 days"
    );

    let cleared = browser
        .submit("/settings", "/settings", &[("retain", "")])
        .await;
    assert_eq!(cleared.status, StatusCode::SEE_OTHER);
    let page = browser.get("/settings").await;
    assert_eq!(
        crate::helpers::field_value(&page.html, "retain").as_deref(),
        Some("")
    );
}

#[tokio::test]
async fn finished_deliveries_are_exported_as_gzip_json_lines_before_the_purge() {
    let ok = Receiver::start().await;
    let exports = tempfile::tempdir().unwrap();
    let settings = RetentionSettings {
        export_dir: Some(exports.path().to_owned()),
        ..Default::default()
    };
    let app = TestApp::spawn_with(|s| s.retention = settings.clone()).await;
    let acme = app.tenant("Acme").await;
    let browser = app.browser(&acme).await;
    let saved = browser
        .submit(
            "/settings",
            "/settings",
            &[("retain", ""), ("export", "on")],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.html);
    assert!(browser.get("/settings").await.html.contains("checked"));

    let api = app.api(&acme);
    let freezer = api.create_freezer_type("Freezer").await;
    let (_, token) = api.create_device("Freezer 1", &freezer).await;
    let hook = api.create_webhook("Ops", &ok.url).await;
    api.create_trigger(
        &freezer,
        "Too warm",
        json!({ "field": "/temperature", "op": ">", "value": 0 }),
        &[&hook],
    )
    .await;
    let raised = app
        .ingest(&token, "telemetry", json!({ "temperature": 5 }))
        .await;
    let cleared = app
        .ingest(&token, "telemetry", json!({ "temperature": -5 }))
        .await;
    ok.wait_for(2, Duration::from_secs(20)).await;
    wait_until("both deliveries recorded", || async {
        (app.rows_where("deliveries", "status = 'succeeded'").await == 2).then_some(())
    })
    .await;

    let purged = purge_all(&app.store, &settings, now_ms() + 31 * DAY_MS)
        .await
        .unwrap();
    assert_eq!(purged.deliveries, 2);
    let org_dirs: Vec<_> = std::fs::read_dir(exports.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(org_dirs.len(), 1, "one directory per organization");
    assert!(
        org_dirs[0]
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("org_")
    );
    let files: Vec<_> = std::fs::read_dir(&org_dirs[0])
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let today = time::OffsetDateTime::now_utc().date().to_string();
    assert_eq!(
        files,
        vec![org_dirs[0].join(format!("deliveries-{today}.jsonl.gz"))]
    );

    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(&files[0]).unwrap()),
        &mut text,
    )
    .unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    let events: Vec<&str> = lines
        .iter()
        .map(|l| l["event"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        [
            raised.body["events"][0].as_str().unwrap(),
            cleared.body["events"][0].as_str().unwrap()
        ]
    );
    for line in &lines {
        assert_eq!(line["status"], "succeeded");
        assert!(line["id"].as_str().unwrap().starts_with("dlv_"));
        assert_eq!(line["webhook_id"], hook["id"]);
        assert_eq!(line["attempts"].as_array().unwrap().len(), 1);
        assert_eq!(line["attempts"][0]["response_status"], 200);
    }
    assert_eq!(app.rows("deliveries").await, 0, "exported, then purged");
}

#[tokio::test]
async fn one_node_at_a_time_holds_the_purge_lease() {
    let app = TestApp::without_dispatcher().await;
    let lease = biotz::retention::PURGE_LEASE;
    let now = now_ms();
    let hour = 3_600_000;
    assert!(
        app.store
            .claim_maintenance_lease(lease, "node-a", now, now + hour)
            .await
            .unwrap()
    );
    assert!(
        !app.store
            .claim_maintenance_lease(lease, "node-b", now, now + hour)
            .await
            .unwrap(),
        "another node's unexpired lease"
    );
    assert!(
        app.store
            .claim_maintenance_lease(lease, "node-a", now + 1, now + hour)
            .await
            .unwrap(),
        "renewed by its owner"
    );
    assert!(
        app.store
            .claim_maintenance_lease(lease, "node-b", now + hour, now + 2 * hour)
            .await
            .unwrap(),
        "taken over once it expired"
    );
    assert!(
        !app.store
            .claim_maintenance_lease(lease, "node-a", now + hour, now + 2 * hour)
            .await
            .unwrap()
    );
}
