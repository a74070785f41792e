//! The Biotz delivery benchmark: whole-system figures against a bare-client baseline measured in
//! the same run, on SQLite and PostgreSQL. See BENCHMARKS.md.
//!
//!     cargo run --release --bin biotz-bench                 # the full run (several minutes)
//!     cargo run --bin biotz-bench -- --smoke                # seconds: checks that it all runs
//!     BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1/postgres …   # also on PostgreSQL
//!     … -- --only drain,e2e --backend postgres              # some scenarios, one database

mod measure;
mod offline;
mod scenarios;
mod setup;
mod sink;

use biotz::dispatch::Capacity;
use biotz::receiver::LocalTls;
use serde_json::{Value, json};

use self::setup::Backend;

struct Sizes {
    baseline: usize,
    drain: usize,
    seconds: f64,
    rates: Vec<u32>,
    /// The steady rates tried, in order, for the largest whose p99 stays under `CAPACITY_P99_MS`.
    capacity_rates: Vec<u32>,
    capacity_seconds: f64,
    backlog_small: usize,
    backlog_large: usize,
    /// The offline scenario: devices of one type, how many go silent, the CPU window.
    offline_devices: usize,
    offline_sample: usize,
    offline_window: std::time::Duration,
}

impl Sizes {
    fn full() -> Self {
        Self {
            baseline: 50_000,
            drain: 100_000,
            seconds: 10.0,
            rates: vec![200, 500, 1000, 2000],
            capacity_rates: vec![200, 500, 750, 1000, 1500, 2000, 3000, 4000, 6000, 8000],
            capacity_seconds: 5.0,
            backlog_small: 10_000,
            backlog_large: 1_000_000,
            offline_devices: 100_000,
            offline_sample: 1_000,
            offline_window: std::time::Duration::from_secs(20),
        }
    }

    fn smoke() -> Self {
        Self {
            baseline: 500,
            drain: 1_000,
            seconds: 1.0,
            rates: vec![50],
            capacity_rates: vec![50, 100],
            capacity_seconds: 1.0,
            backlog_small: 1_000,
            backlog_large: 5_000,
            offline_devices: 2_000,
            offline_sample: 50,
            offline_window: std::time::Duration::from_secs(1),
        }
    }
}

const CONCURRENCY: usize = 64;
/// "Capacity" is the largest steady rate whose p99 stays under this.
const CAPACITY_P99_MS: f64 = 20.0;
const WEBHOOKS: usize = 16;

struct Report {
    rows: Vec<Value>,
}

impl Report {
    fn add(&mut self, backend: &str, figure: &str, value: f64, unit: &str, note: String) {
        eprintln!("{backend:>9}  {figure:<44} {value:>12.3} {unit:<14} {note}");
        self.rows.push(json!({ "backend": backend, "figure": figure, "value": value, "unit": unit, "note": note }));
    }
}

/// The baseline again, right before a throughput scenario: on a shared machine the load of
/// other processes changes over a run, so each ratio compares figures measured a moment apart.
async fn adjacent_baseline(
    report: &mut Report,
    backend: &str,
    scenario: &str,
    tls: &LocalTls,
    sizes: &Sizes,
) -> anyhow::Result<f64> {
    let near = scenarios::baseline(tls, CONCURRENCY, sizes.baseline / 2).await?;
    report.add(
        backend,
        &format!("baseline requests/s, just before {scenario}"),
        near.per_second,
        "req/s",
        "the ratio below is against this".into(),
    );
    Ok(near.per_second)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let smoke = args.iter().any(|a| a == "--smoke");
    let output = args
        .iter()
        .position(|a| a == "--json")
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| "bench-results.json".into());
    let sizes = if smoke { Sizes::smoke() } else { Sizes::full() };
    // `--only drain,ingest` runs the baseline and just those scenarios.
    let only: Vec<String> = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(|list| list.split(',').map(str::to_owned).collect())
        .unwrap_or_default();
    let run = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    let mut backends = vec![Backend::Sqlite];
    if let Ok(url) =
        std::env::var("BENCH_POSTGRES_URL").or_else(|_| std::env::var("TEST_DATABASE_URL"))
        && !url.is_empty()
    {
        backends.push(Backend::Postgres { admin_url: url });
    } else {
        eprintln!("(PostgreSQL skipped: set BENCH_POSTGRES_URL to include it)");
    }
    // `--backend postgres` runs just one of them.
    if let Some(chosen) = args
        .iter()
        .position(|a| a == "--backend")
        .and_then(|i| args.get(i + 1))
    {
        backends.retain(|backend| backend.name() == chosen);
        anyhow::ensure!(
            !backends.is_empty(),
            "--backend: use sqlite, or postgres with BENCH_POSTGRES_URL set"
        );
    }
    biotz::receiver::tls::install_crypto_provider();
    if std::env::var_os("BENCH_LOG").is_some() {
        biotz::telemetry::init(biotz::telemetry::LogFormat::Pretty);
    }
    let tls = LocalTls::generate(&[])?;
    let mut report = Report { rows: Vec::new() };
    let capacity = Capacity {
        global: CONCURRENCY,
        per_webhook: CONCURRENCY / WEBHOOKS * 2,
        batch: 128,
        ..Capacity::default()
    };

    eprintln!(
        "baseline: bare reqwest, {} signed 1 KiB POSTs at concurrency {CONCURRENCY}",
        sizes.baseline
    );
    let baseline = scenarios::baseline(&tls, CONCURRENCY, sizes.baseline).await?;
    report.add(
        "-",
        "baseline requests/s",
        baseline.per_second,
        "req/s",
        String::new(),
    );
    report.add(
        "-",
        "baseline CPU per request",
        baseline.cpu_ms_per_item,
        "ms",
        String::new(),
    );

    for backend in &backends {
        let name = backend.name();
        if run("drain") {
            eprintln!(
                "{name}: dispatch drain of {} deliveries over {WEBHOOKS} webhooks",
                sizes.drain
            );
            let near = adjacent_baseline(&mut report, name, "drain", &tls, &sizes).await?;
            let drain = scenarios::drain(backend, &tls, sizes.drain, WEBHOOKS, capacity).await?;
            let target = if matches!(backend, Backend::Sqlite) {
                50
            } else {
                35
            };
            let ratio = 100.0 * drain.per_second / near;
            report.add(
                name,
                "dispatch drain deliveries/s",
                drain.per_second,
                "deliveries/s",
                format!("{ratio:.1} % of baseline (target ≥ {target} %)"),
            );
            report.add(
                name,
                "dispatch CPU per delivery",
                drain.cpu_ms_per_item,
                "ms",
                "target ≤ 0.15 ms".into(),
            );
        }
        if run("e2e") {
            eprintln!("{name}: end-to-end throughput (ingest → alarm → POST received)");
            let near = adjacent_baseline(&mut report, name, "end-to-end", &tls, &sizes).await?;
            let e2e = scenarios::end_to_end_throughput(backend, &tls, 32, sizes.seconds).await?;
            let ratio = 100.0 * e2e.per_second / near;
            let target = if matches!(backend, Backend::Sqlite) {
                25
            } else {
                20
            };
            report.add(
                name,
                "end-to-end alarms/s",
                e2e.per_second,
                "alarms/s",
                format!("{ratio:.1} % of baseline (target ≥ {target} %)"),
            );
            report.add(
                name,
                "end-to-end CPU per alarm",
                e2e.cpu_ms_per_item,
                "ms",
                "target ≤ 0.3 ms".into(),
            );
        }
        if run("latency") {
            for &rate in &sizes.rates {
                eprintln!("{name}: latency at {rate} alarms/s for {} s", sizes.seconds);
                let latency = scenarios::latency(backend, &tls, rate, sizes.seconds, false).await?;
                let sqlite = matches!(backend, Backend::Sqlite);
                let target = match (rate, sqlite) {
                    (200, true) => "target p99 ≤ 3 ms",
                    (200, false) => "target p99 ≤ 4 ms",
                    (2000, true) => "target p99 ≤ 20 ms",
                    (2000, false) => "target p99 ≤ 25 ms",
                    _ => "",
                };
                let delivered = format!("{}/{} delivered", latency.delivered, latency.sent);
                report.add(
                    name,
                    &format!("latency at {rate}/s p50"),
                    latency.p50_ms,
                    "ms",
                    delivered,
                );
                report.add(
                    name,
                    &format!("latency at {rate}/s p99"),
                    latency.p99_ms,
                    "ms",
                    target.into(),
                );
                report.add(
                    name,
                    &format!("latency at {rate}/s max"),
                    latency.max_ms,
                    "ms",
                    String::new(),
                );
            }
        }
        if run("capacity") {
            let mut capacity = None;
            for &rate in &sizes.capacity_rates {
                eprintln!(
                    "{name}: capacity, latency at {rate} alarms/s for {} s",
                    sizes.capacity_seconds
                );
                let latency =
                    scenarios::latency(backend, &tls, rate, sizes.capacity_seconds, false).await?;
                eprintln!("{name}:   p99 {:.2} ms", latency.p99_ms);
                if latency.delivered < latency.sent
                    || latency.p99_ms.is_nan()
                    || latency.p99_ms >= CAPACITY_P99_MS
                {
                    break;
                }
                capacity = Some((rate, latency.p99_ms));
            }
            let (rate, p99) = capacity.unwrap_or((0, f64::NAN));
            report.add(
                name,
                &format!("capacity: largest steady rate with p99 < {CAPACITY_P99_MS} ms"),
                f64::from(rate),
                "alarms/s",
                format!(
                    "p99 {p99:.2} ms there; rates tried: {:?}",
                    sizes.capacity_rates
                ),
            );
        }
        if run("isolation") {
            let rate = sizes.rates[0];
            eprintln!("{name}: latency at {rate} alarms/s while another webhook's receiver hangs");
            let isolated = scenarios::latency(backend, &tls, rate, sizes.seconds, true).await?;
            let delivered = format!("{}/{} delivered", isolated.delivered, isolated.sent);
            report.add(
                name,
                &format!("latency at {rate}/s, other receiver hanging, p50"),
                isolated.p50_ms,
                "ms",
                delivered,
            );
            report.add(
                name,
                &format!("latency at {rate}/s, other receiver hanging, p99"),
                isolated.p99_ms,
                "ms",
                "target: within 20 % of the healthy p99".into(),
            );
        }
        if run("ingest") {
            eprintln!("{name}: ingest throughput with trigger evaluation");
            let ingest = scenarios::ingest(backend, &tls, 32, sizes.seconds, false).await?;
            let target = if matches!(backend, Backend::Sqlite) {
                "target ≥ 10,000"
            } else {
                ""
            };
            report.add(
                name,
                "ingest messages/s",
                ingest.per_second,
                "msgs/s",
                target.into(),
            );
            report.add(
                name,
                "ingest CPU per message",
                ingest.cpu_ms_per_item,
                "ms",
                String::new(),
            );
        }
        if run("offline") {
            eprintln!(
                "{name}: offline detection, {} devices of one type with a no_data trigger",
                sizes.offline_devices
            );
            let o = offline::offline(
                backend,
                &tls,
                sizes.offline_devices,
                sizes.offline_sample,
                sizes.offline_window,
            )
            .await?;
            let n = o.devices;
            report.add(
                name,
                &format!("offline: create {n} devices (bulk)"),
                o.create_devices_s,
                "s",
                String::new(),
            );
            report.add(
                name,
                &format!("offline: create the trigger over {n} devices"),
                o.create_trigger_s,
                "s",
                "writes one watch per device".into(),
            );
            let window = format!("over {} s", sizes.offline_window.as_secs());
            report.add(
                name,
                "offline: CPU per second, idle, no trigger",
                o.idle_cpu_ms_per_s,
                "ms/s",
                format!("this process, {window}"),
            );
            report.add(
                name,
                &format!("offline: CPU per second at rest, {n} watched"),
                o.rest_cpu_ms_per_s,
                "ms/s",
                format!("this process, {window}"),
            );
            if let (Some(idle), Some(rest)) = (o.idle_pg_cpu_ms_per_s, o.rest_pg_cpu_ms_per_s) {
                report.add(
                    name,
                    "offline: PostgreSQL server CPU per second, idle",
                    idle,
                    "ms/s",
                    format!("all postgres processes, {window}"),
                );
                report.add(
                    name,
                    &format!("offline: PostgreSQL server CPU per second at rest, {n} watched"),
                    rest,
                    "ms/s",
                    format!("all postgres processes, {window}"),
                );
            }
            report.add(
                name,
                &format!("offline: one poll with {n} watched, none due"),
                o.poll_ms,
                "ms",
                "median of 21".into(),
            );
            report.add(
                name,
                &format!("offline: a walk over {n} watches, for scale"),
                o.walk_ms,
                "ms",
                "what a poll without the index would read".into(),
            );
            let sample = format!("{} devices gone silent, deadlines over 5 s", o.sample);
            report.add(
                name,
                "offline: deadline → alarm.raised event p50",
                o.to_event.0,
                "ms",
                sample.clone(),
            );
            report.add(
                name,
                "offline: deadline → alarm.raised event p99",
                o.to_event.1,
                "ms",
                "target ≤ 5000 ms".into(),
            );
            report.add(
                name,
                "offline: deadline → alarm.raised event max",
                o.to_event.2,
                "ms",
                String::new(),
            );
            report.add(
                name,
                "offline: deadline → delivery received p50",
                o.to_delivery.0,
                "ms",
                sample,
            );
            report.add(
                name,
                "offline: deadline → delivery received p99",
                o.to_delivery.1,
                "ms",
                String::new(),
            );
        }
        if run("ingest-offline") {
            eprintln!("{name}: ingest throughput with a no_data trigger on the type too");
            let ingest = scenarios::ingest(backend, &tls, 32, sizes.seconds, true).await?;
            report.add(
                name,
                "ingest messages/s, with a no_data trigger too",
                ingest.per_second,
                "msgs/s",
                "each batch also pushes its devices' offline deadlines".into(),
            );
            report.add(
                name,
                "ingest CPU per message, with a no_data trigger too",
                ingest.cpu_ms_per_item,
                "ms",
                String::new(),
            );
        }
        if run("backlog") {
            eprintln!("{name}: backlog of {} deliveries", sizes.backlog_large);
            let backlog =
                scenarios::backlog(backend, &tls, sizes.backlog_small, sizes.backlog_large).await?;
            let growth = backlog.claim_large_ms / backlog.claim_small_ms;
            report.add(
                name,
                &format!("claim 128 from {} pending", backlog.small),
                backlog.claim_small_ms,
                "ms",
                String::new(),
            );
            report.add(
                name,
                &format!("claim 128 from {} pending", backlog.large),
                backlog.claim_large_ms,
                "ms",
                format!("{growth:.2}× the small backlog's (target: flat)"),
            );
            report.add(
                name,
                &format!("peak RSS with {} pending", backlog.large),
                backlog.peak_rss_mib,
                "MiB",
                "target < 300 MB".into(),
            );
        }
    }

    let document = json!({
        "smoke": smoke,
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "concurrency": CONCURRENCY,
        "webhooks": WEBHOOKS,
        "body_bytes": scenarios::BODY_BYTES,
        "rows": report.rows,
    });
    std::fs::write(&output, serde_json::to_string_pretty(&document)?)?;
    eprintln!("results written to {output}");
    Ok(())
}
