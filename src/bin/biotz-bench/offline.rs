//! Device-offline detection for a large fleet: what a no_data trigger over every device of a
//! type costs at rest, and how long after a silent device's deadline its alarm is raised and
//! delivered.
//!
//! The fleet is written in bulk and never sends. Its trigger waits an hour, so at rest nothing
//! is due; then `sample` devices are made to go silent by moving their deadlines (in SQL) to
//! fall over the next few seconds, as if their last message had come an hour earlier. The
//! running server's own timer task raises them.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use biotz::alarms::setup as service;
use biotz::crypto::MasterKey;
use biotz::domain::time::now_ms;
use biotz::receiver::LocalTls;
use biotz::startup::Application;
use serde_json::json;

use crate::measure::{cpu_time, percentiles, postgres_cpu};
use crate::setup::{self, Backend, Database};
use crate::sink;

pub struct Offline {
    pub devices: usize,
    pub create_devices_s: f64,
    pub create_trigger_s: f64,
    /// This process's CPU (server, timer task, dispatcher; SQLite too) per second of wall time.
    pub idle_cpu_ms_per_s: f64,
    pub rest_cpu_ms_per_s: f64,
    /// The PostgreSQL server's processes, over the same windows (None on SQLite).
    pub idle_pg_cpu_ms_per_s: Option<f64>,
    pub rest_pg_cpu_ms_per_s: Option<f64>,
    /// One poll of the timer task when nothing is due, and a walk over every watch, for scale.
    pub poll_ms: f64,
    pub walk_ms: f64,
    pub sample: usize,
    pub to_event: (f64, f64, f64),
    pub to_delivery: (f64, f64, f64),
}

/// The benchmark's own SQL against the scenario's database: moving deadlines and reading the
/// raised alarms' events.
enum Raw {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

macro_rules! on_raw {
    ($raw:expr, $pool:ident => $body:expr) => {
        match $raw {
            Raw::Sqlite($pool) => $body,
            Raw::Postgres($pool) => $body,
        }
    };
}

impl Raw {
    async fn connect(url: &str) -> anyhow::Result<Self> {
        Ok(if url.starts_with("sqlite:") {
            Raw::Sqlite(sqlx::SqlitePool::connect(url).await?)
        } else {
            Raw::Postgres(sqlx::PgPool::connect(url).await?)
        })
    }

    async fn set_due(&self, dues: &[(String, i64)]) -> anyhow::Result<()> {
        on_raw!(self, pool => {
            let mut tx = pool.begin().await?;
            for (device, due) in dues {
                sqlx::query("UPDATE offline_watches SET due_at = $1 WHERE device_id = $2")
                    .bind(due)
                    .bind(device)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// (device id, event id, event created_at) of every alarm.raised event.
    async fn raised(&self) -> anyhow::Result<Vec<(String, String, i64)>> {
        let sql = "SELECT a.device_id, e.id, e.created_at FROM events e JOIN alarms a ON a.id = e.alarm_id
                   WHERE e.type = 'alarm.raised'";
        Ok(on_raw!(self, pool => sqlx::query_as(sql).fetch_all(pool).await?))
    }

    /// A count that reads every watch (`+ 0` keeps the index out), as a poller without the
    /// due-time index would.
    async fn walk(&self) -> anyhow::Result<i64> {
        let sql = "SELECT count(*) FROM offline_watches WHERE due_at + 0 <= $1";
        Ok(on_raw!(self, pool => sqlx::query_scalar(sql).bind(now_ms()).fetch_one(pool).await?))
    }
}

/// CPU per second of this process and (`pg`) of the PostgreSQL server over `window`.
async fn cpu_over(window: Duration, pg: bool) -> (f64, Option<f64>) {
    let (cpu, pg) = (cpu_time(), pg.then(postgres_cpu));
    tokio::time::sleep(window).await;
    let per_s = |d: Duration| d.as_secs_f64() * 1000.0 / window.as_secs_f64();
    (
        per_s(cpu_time() - cpu),
        pg.map(|before| per_s(postgres_cpu() - before)),
    )
}

fn median_ms(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

pub async fn offline(
    backend: &Backend,
    tls: &LocalTls,
    devices: usize,
    sample: usize,
    window: Duration,
) -> anyhow::Result<Offline> {
    let is_pg = matches!(backend, Backend::Postgres { .. });
    let key = MasterKey::generate();
    let database = Database::create(backend).await?;
    let settings = setup::serve_settings(
        database.settings(&key),
        setup::dispatch_settings(tls, Duration::from_secs(5)),
    );
    let app = Application::build(settings).await?;
    let store = app.store().clone();
    let (sink_url, sink) = sink::start(tls, None).await?;
    let org = setup::tenant(&store).await?;
    let webhooks = setup::webhooks(&store, &org, "Healthy", &sink_url, 1).await?;
    let input: service::DeviceTypeInput = serde_json::from_value(json!({
        "name": "Sensor",
        "message_types": [{ "name": "telemetry", "schema": { "type": "object" } }]
    }))?;
    let device_type = service::create_device_type(&store, &org, &input)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let started = Instant::now();
    let ids = store
        .create_devices_synthetic(&org, &device_type.id, "Sensor", devices)
        .await?;
    let create_devices_s = started.elapsed().as_secs_f64();

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let _ = app
            .run_until_stopped(async {
                let _ = stopped.await;
            })
            .await;
    });
    // Let start-up work (migrations' aftermath, first checkpoints) settle before measuring.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (idle_cpu_ms_per_s, idle_pg_cpu_ms_per_s) = cpu_over(window, is_pg).await;

    let trigger: service::TriggerInput = serde_json::from_value(json!({
        "name": "Offline",
        "kind": "no_data",
        "silent_for_seconds": 3600,
        "webhook_ids": webhooks.iter().map(|(id, _)| id.to_string()).collect::<Vec<_>>(),
    }))?;
    let started = Instant::now();
    service::create_trigger(&store, &org, &device_type.id, &trigger)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let create_trigger_s = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (rest_cpu_ms_per_s, rest_pg_cpu_ms_per_s) = cpu_over(window, is_pg).await;

    let mut polls = Vec::new();
    for _ in 0..21 {
        let started = Instant::now();
        store.fire_due_offline(now_ms()).await?;
        polls.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let raw = Raw::connect(&database.url).await?;
    let mut walks = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        anyhow::ensure!(raw.walk().await? == 0, "nothing is due at rest");
        walks.push(started.elapsed().as_secs_f64() * 1000.0);
    }

    // The sample's deadlines, spread over 5 s starting 2 s from now.
    let (t0, t0_ms) = (Instant::now(), now_ms());
    let step = (ids.len() / sample).max(1);
    let dues: Vec<(String, i64)> = (0..sample)
        .map(|i| {
            let device = ids[(i * step) % ids.len()].to_string();
            (device, t0_ms + 2_000 + (i as i64 * 5_000) / sample as i64)
        })
        .collect();
    sink.record_arrivals(true);
    raw.set_due(&dues).await?;
    let due_of: HashMap<&str, i64> = dues.iter().map(|(d, due)| (d.as_str(), *due)).collect();
    if !sink.wait_for(sample as u64, Duration::from_secs(60)).await {
        anyhow::bail!(
            "{} of {sample} offline alarms delivered within a minute ({} raised)",
            sink.count(),
            raw.raised().await?.len()
        );
    }
    let raised = raw.raised().await?;
    anyhow::ensure!(
        raised.len() == sample,
        "{} alarms raised for {sample} silent devices",
        raised.len()
    );
    let arrivals = sink.arrivals();
    let mut to_event = Vec::new();
    let mut to_delivery = Vec::new();
    for (device, event, created_at) in &raised {
        let due = due_of[device.as_str()];
        to_event.push(Duration::from_millis((created_at - due).max(0) as u64));
        if let Some(arrived) = arrivals.get(event) {
            let arrived_ms = t0_ms + arrived.duration_since(t0).as_millis() as i64;
            to_delivery.push(Duration::from_millis((arrived_ms - due).max(0) as u64));
        }
    }
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(15), server).await;
    drop(raw);
    database.drop().await;
    let none = (f64::NAN, f64::NAN, f64::NAN);
    Ok(Offline {
        devices,
        create_devices_s,
        create_trigger_s,
        idle_cpu_ms_per_s,
        rest_cpu_ms_per_s,
        idle_pg_cpu_ms_per_s,
        rest_pg_cpu_ms_per_s,
        poll_ms: median_ms(polls),
        walk_ms: median_ms(walks),
        sample,
        to_event: percentiles(to_event).unwrap_or(none),
        to_delivery: percentiles(to_delivery).unwrap_or(none),
    })
}
