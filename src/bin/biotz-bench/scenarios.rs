//! The measurements. Each returns its figures; `main` prints and saves them.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use biotz::crypto::MasterKey;
use biotz::dispatch::guard::AddressGuard;
use biotz::dispatch::metrics::Metrics;
use biotz::dispatch::{Capacity, Dispatcher, client};
use biotz::domain::time::now_ms;
use biotz::receiver::LocalTls;
use biotz::startup::Application;
use biotz::store::ClaimLimits;
use serde_json::json;
use tokio::sync::watch;

use crate::measure::{cpu_time, memory_mib, percentiles};
use crate::setup::{self, Backend, Database};
use crate::sink;

pub const BODY_BYTES: usize = 1024;

/// A rate and the CPU it cost per item.
pub struct Rate {
    pub per_second: f64,
    pub cpu_ms_per_item: f64,
}

/// Latency from the ingest request to the receiver seeing the POST.
pub struct Latency {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub delivered: usize,
    pub sent: usize,
}

fn progress(text: &str) {
    eprintln!("  … {text}");
}

/// The machine's practical limit: a bare reqwest loop POSTing signed 1 KiB bodies to the same
/// receiver at the same concurrency, with the same client settings as the dispatcher.
pub async fn baseline(tls: &LocalTls, concurrency: usize, total: usize) -> anyhow::Result<Rate> {
    let (url, sink) = sink::start(tls, None).await?;
    let settings = setup::dispatch_settings(tls, Duration::from_secs(10));
    let client = client::build(
        &settings,
        &AddressGuard::new(settings.allow_private_targets.clone()),
    )?;
    let body = bytes::Bytes::from(vec![b'x'; BODY_BYTES]);
    let next = Arc::new(AtomicUsize::new(0));
    let cpu = cpu_time();
    let start = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, url, body, next) =
                (client.clone(), url.clone(), body.clone(), next.clone());
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < total {
                    let t = now_ms() / 1000;
                    let signature = biotz_signature::sign_header(&["whsec_baseline"], t, &body);
                    let sent = client
                        .post(&url)
                        .header("content-type", "application/json")
                        .header(biotz_signature::HEADER, signature)
                        .body(body.clone())
                        .send()
                        .await;
                    match sent {
                        Ok(response) => {
                            let _ = response.bytes().await;
                        }
                        Err(error) => eprintln!("baseline request failed: {error:?}"),
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await?;
    }
    let elapsed = start.elapsed();
    let cpu = cpu_time() - cpu;
    anyhow::ensure!(sink.count() as usize >= total, "the baseline lost requests");
    Ok(Rate {
        per_second: total as f64 / elapsed.as_secs_f64(),
        cpu_ms_per_item: cpu.as_secs_f64() * 1000.0 / total as f64,
    })
}

/// `total` pending deliveries across `webhooks` webhooks, drained by the real dispatcher.
pub async fn drain(
    backend: &Backend,
    tls: &LocalTls,
    total: usize,
    webhook_count: usize,
    capacity: Capacity,
) -> anyhow::Result<Rate> {
    let key = MasterKey::generate();
    let database = Database::create(backend).await?;
    let store = database.open(&key).await?;
    let (url, sink) = sink::start(tls, None).await?;
    let org = setup::tenant(&store).await?;
    let webhooks = setup::webhooks(&store, &org, "Receiver", &url, webhook_count).await?;
    progress(&format!("queueing {total} deliveries"));
    store
        .enqueue_synthetic(&org, &webhooks, total, BODY_BYTES, now_ms())
        .await?;
    let dispatcher = Arc::new(Dispatcher::with_capacity(
        store.clone(),
        setup::dispatch_settings(tls, Duration::from_secs(10)),
        Arc::new(Metrics::default()),
        capacity,
    )?);
    progress("draining");
    let cpu = cpu_time();
    let start = Instant::now();
    let (stop, stopping) = watch::channel(false);
    let running = tokio::spawn(dispatcher.run(stopping, Duration::from_secs(5)));
    anyhow::ensure!(
        sink.wait_for(total as u64, Duration::from_secs(600)).await,
        "not every delivery arrived"
    );
    // Done means recorded, too. (Looked at every 20 ms: a tighter loop would load the database
    // it measures.)
    while store.pending_count().await? > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = start.elapsed();
    let cpu = cpu_time() - cpu;
    let counts = store.delivery_status_counts().await?;
    anyhow::ensure!(
        counts.iter().all(|(status, _)| status == "succeeded"),
        "every delivery should have succeeded: {counts:?}"
    );
    let _ = stop.send(true);
    let _ = running.await;
    store.close().await;
    database.drop().await;
    Ok(Rate {
        per_second: total as f64 / elapsed.as_secs_f64(),
        cpu_ms_per_item: cpu.as_secs_f64() * 1000.0 / total as f64,
    })
}

/// A running server with a trigger on `devices` devices sending to a healthy receiver (and, for
/// the isolation scenario, to a hanging one too).
struct Platform {
    app_url: String,
    tokens: Vec<String>,
    healthy: Arc<sink::Sink>,
    store: biotz::store::Store,
    server: tokio::task::JoinHandle<()>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    database: Database,
}

impl Platform {
    async fn start(
        backend: &Backend,
        tls: &LocalTls,
        devices: usize,
        with_hanging: bool,
    ) -> anyhow::Result<Self> {
        let key = MasterKey::generate();
        let database = Database::create(backend).await?;
        let settings = setup::serve_settings(
            database.settings(&key),
            setup::dispatch_settings(tls, Duration::from_secs(5)),
        );
        let app = Application::build(settings).await?;
        let store = app.store().clone();
        let app_url = format!("http://127.0.0.1:{}", app.port());
        let (healthy_url, healthy) = sink::start(tls, None).await?;
        let org = setup::tenant(&store).await?;
        let mut webhooks = setup::webhooks(&store, &org, "Healthy", &healthy_url, 1).await?;
        if with_hanging {
            let (hanging_url, _hanging) = sink::start(tls, Some(Duration::from_secs(3600))).await?;
            let hanging = setup::webhooks(&store, &org, "Hanging", &hanging_url, 1).await?;
            webhooks.push((hanging[0].0.clone(), "Hanging".into()));
            std::mem::forget(_hanging);
        }
        let ids: Vec<_> = webhooks.into_iter().map(|(id, _)| id).collect();
        let tokens = setup::devices_with_trigger(&store, &org, &ids, devices).await?;
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let server = tokio::spawn(async move {
            let _ = app
                .run_until_stopped(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Self {
            app_url,
            tokens,
            healthy,
            store,
            server,
            stop: Some(stop),
            database,
        })
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(15), &mut self.server).await;
        self.store.close().await;
        self.database.drop().await;
    }
}

/// Sends one message per device in turn, alternating hot and cold so every message raises or
/// clears the alarm: every message is one event and one delivery per webhook.
struct Toggler {
    client: reqwest::Client,
    url: String,
    tokens: Vec<String>,
    next: AtomicUsize,
}

impl Toggler {
    async fn send(&self) -> Option<(Instant, Vec<String>)> {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        let device = i % self.tokens.len();
        let hot = (i / self.tokens.len()).is_multiple_of(2);
        let started = Instant::now();
        let response = self
            .client
            .post(&self.url)
            .bearer_auth(&self.tokens[device])
            .json(&json!({ "message_type": "telemetry", "payload": { "temperature": if hot { 5 } else { -5 } } }))
            .send()
            .await
            .ok()?;
        let body: serde_json::Value = response.json().await.ok()?;
        let events = body["events"]
            .as_array()?
            .iter()
            .filter_map(|e| e.as_str().map(str::to_owned))
            .collect();
        Some((started, events))
    }
}

/// Latency at a steady offered load of `rate` alarms per second for `seconds`.
pub async fn latency(
    backend: &Backend,
    tls: &LocalTls,
    rate: u32,
    seconds: f64,
    with_hanging: bool,
) -> anyhow::Result<Latency> {
    let platform = Platform::start(backend, tls, 200, with_hanging).await?;
    platform.healthy.record_arrivals(true);
    let toggler = Arc::new(Toggler {
        client: reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .build()?,
        url: format!("{}/api/v1/ingest", platform.app_url),
        tokens: platform.tokens.clone(),
        next: AtomicUsize::new(0),
    });
    let total = (f64::from(rate) * seconds) as usize;
    let sent_at = Arc::new(std::sync::Mutex::new(HashMap::new()));
    let tick = Duration::from_millis(5);
    let per_tick = f64::from(rate) * tick.as_secs_f64();
    let mut interval = tokio::time::interval(tick);
    let mut owed = 0.0;
    let mut launched = 0;
    let mut requests = tokio::task::JoinSet::new();
    while launched < total {
        interval.tick().await;
        owed += per_tick;
        while owed >= 1.0 && launched < total {
            owed -= 1.0;
            launched += 1;
            let (toggler, sent_at) = (toggler.clone(), sent_at.clone());
            requests.spawn(async move {
                if let Some((started, events)) = toggler.send().await {
                    let mut sent_at = sent_at.lock().unwrap();
                    for event in events {
                        sent_at.insert(event, started);
                    }
                }
            });
        }
    }
    while requests.join_next().await.is_some() {}
    let sent: HashMap<String, Instant> = sent_at.lock().unwrap().clone();
    let all = platform
        .healthy
        .wait_for(sent.len() as u64, Duration::from_secs(60))
        .await;
    anyhow::ensure!(all, "not every alarm was delivered");
    let arrivals = platform.healthy.arrivals();
    let samples: Vec<Duration> = sent
        .iter()
        .filter_map(|(event, started)| {
            arrivals
                .get(event)
                .map(|arrived| arrived.duration_since(*started))
        })
        .collect();
    let delivered = samples.len();
    platform.stop().await;
    let (p50_ms, p99_ms, max_ms) = percentiles(samples).unwrap_or((f64::NAN, f64::NAN, f64::NAN));
    Ok(Latency {
        p50_ms,
        p99_ms,
        max_ms,
        delivered,
        sent: sent.len(),
    })
}

/// As many messages as `concurrency` clients can send in `seconds`: each one raises or clears an
/// alarm, so each is ingest, evaluation, an event and a delivery received.
pub async fn end_to_end_throughput(
    backend: &Backend,
    tls: &LocalTls,
    concurrency: usize,
    seconds: f64,
) -> anyhow::Result<Rate> {
    let platform = Platform::start(backend, tls, concurrency * 4, false).await?;
    let toggler = Arc::new(Toggler {
        client: reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .build()?,
        url: format!("{}/api/v1/ingest", platform.app_url),
        tokens: platform.tokens.clone(),
        next: AtomicUsize::new(0),
    });
    let events = Arc::new(AtomicU64::new(0));
    let cpu = cpu_time();
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(seconds);
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (toggler, events) = (toggler.clone(), events.clone());
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    if let Some((_, made)) = toggler.send().await {
                        events.fetch_add(made.len() as u64, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await?;
    }
    let made = events.load(Ordering::Relaxed);
    anyhow::ensure!(
        platform
            .healthy
            .wait_for(made, Duration::from_secs(120))
            .await,
        "not every event was delivered"
    );
    let elapsed = start.elapsed();
    let cpu = cpu_time() - cpu;
    platform.stop().await;
    Ok(Rate {
        per_second: made as f64 / elapsed.as_secs_f64(),
        cpu_ms_per_item: cpu.as_secs_f64() * 1000.0 / made as f64,
    })
}

/// Messages per second through `POST /api/v1/ingest` with trigger evaluation, none changing an
/// alarm (the trigger's condition stays true after each device's first message).
pub async fn ingest(
    backend: &Backend,
    tls: &LocalTls,
    concurrency: usize,
    seconds: f64,
    offline_trigger: bool,
) -> anyhow::Result<Rate> {
    let platform = Platform::start(backend, tls, concurrency, false).await?;
    if offline_trigger {
        setup::offline_trigger(&platform.store).await?;
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let url = format!("{}/api/v1/ingest", platform.app_url);
    let count = Arc::new(AtomicU64::new(0));
    let cpu = cpu_time();
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(seconds);
    let workers: Vec<_> = platform
        .tokens
        .iter()
        .map(|token| {
            let (client, url, token, count) = (client.clone(), url.clone(), token.clone(), count.clone());
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    let sent = client
                        .post(&url)
                        .bearer_auth(&token)
                        .json(&json!({ "message_type": "telemetry", "payload": { "temperature": 5 } }))
                        .send()
                        .await;
                    if sent.is_ok_and(|r| r.status().is_success()) {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await?;
    }
    let elapsed = start.elapsed();
    let cpu = cpu_time() - cpu;
    let total = count.load(Ordering::Relaxed);
    platform.stop().await;
    Ok(Rate {
        per_second: total as f64 / elapsed.as_secs_f64(),
        cpu_ms_per_item: cpu.as_secs_f64() * 1000.0 / total as f64,
    })
}

/// Claim time from a small and a large backlog, and memory with the large one pending.
pub struct Backlog {
    pub small: usize,
    pub large: usize,
    pub claim_small_ms: f64,
    pub claim_large_ms: f64,
    pub peak_rss_mib: f64,
}

async fn median_claim_ms(store: &biotz::store::Store, rounds: usize) -> anyhow::Result<f64> {
    let limits = ClaimLimits {
        total: 128,
        per_webhook: 16,
        lease_ms: 60_000,
    };
    let mut samples = Vec::new();
    for _ in 0..rounds {
        let start = Instant::now();
        let claimed = store.claim_due("bench", limits, &[]).await?;
        samples.push(start.elapsed());
        anyhow::ensure!(claimed.len() == 128, "claimed {} of 128", claimed.len());
        let ids: Vec<_> = claimed.into_iter().map(|(c, _)| c.id).collect();
        store.release_claimed("bench", &ids).await?;
    }
    Ok(percentiles(samples).map_or(f64::NAN, |(p50, _, _)| p50))
}

pub async fn backlog(
    backend: &Backend,
    tls: &LocalTls,
    small: usize,
    large: usize,
) -> anyhow::Result<Backlog> {
    let key = MasterKey::generate();
    let database = Database::create(backend).await?;
    let store = database.open(&key).await?;
    let (url, _sink) = sink::start(tls, None).await?;
    let org = setup::tenant(&store).await?;
    let webhooks = setup::webhooks(&store, &org, "Receiver", &url, 16).await?;
    progress(&format!("queueing {small} deliveries"));
    store
        .enqueue_synthetic(&org, &webhooks, small, BODY_BYTES, now_ms())
        .await?;
    let claim_small_ms = median_claim_ms(&store, 21).await?;
    let mut queued = small;
    while queued < large {
        let chunk = (large - queued).min(50_000);
        store
            .enqueue_synthetic(&org, &webhooks, chunk, BODY_BYTES, now_ms())
            .await?;
        queued += chunk;
        progress(&format!("queued {queued} of {large}"));
    }
    let claim_large_ms = median_claim_ms(&store, 21).await?;
    let (_, peak_rss_mib) = memory_mib();
    store.close().await;
    database.drop().await;
    Ok(Backlog {
        small,
        large,
        claim_small_ms,
        claim_large_ms,
        peak_rss_mib,
    })
}
