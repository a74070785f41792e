//! `biotz receive`: a development HTTPS receiver, like `stripe listen`. It makes a certificate
//! (and says where the CA's PEM is, for BIOTZ_EXTRA_CA_CERTS), verifies each POST with the
//! given secret, prints one line per request, and answers as told, to watch retries happen.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use biotz_signature::{Tolerance, verify};
use clap::Args;
use rand::RngExt;

use crate::config::parse_duration;
use crate::domain::time::{now_ms, rfc3339};
use crate::receiver::{LocalTls, serve_https};

#[derive(Args, Debug)]
pub struct ReceiveArgs {
    /// The webhook's secret (whsec_…), to verify each request
    #[arg(long, env = "BIOTZ_WEBHOOK_SECRET", hide_env_values = true)]
    pub secret: String,
    /// The address to listen on
    #[arg(long, default_value = "127.0.0.1:9443")]
    pub listen: SocketAddr,
    /// Answer every request with this status (e.g. 500 to watch retries, 410 to unsubscribe)
    #[arg(long, default_value_t = 200)]
    pub status: u16,
    /// Answer this fraction of requests (0 to 1) with 500 instead
    #[arg(long, default_value_t = 0.0)]
    pub fail_rate: f64,
    /// Wait this long before answering (e.g. 20s to see a timeout)
    #[arg(long)]
    pub delay: Option<String>,
    /// Also print each event's JSON
    #[arg(long, short)]
    pub verbose: bool,
    /// Where to write the certificate authority's PEM (default: the system's temporary folder)
    #[arg(long)]
    pub cert_dir: Option<PathBuf>,
    /// Serve this certificate (PEM, with its chain) instead of making one; needs --key
    #[arg(long, requires = "key")]
    pub cert: Option<PathBuf>,
    /// The private key (PEM) of --cert
    #[arg(long, requires = "cert")]
    pub key: Option<PathBuf>,
}

struct Behaviour {
    secret: String,
    status: StatusCode,
    fail_rate: f64,
    delay: Option<Duration>,
    verbose: bool,
}

pub async fn run(
    args: ReceiveArgs,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<i32> {
    let status = StatusCode::from_u16(args.status)
        .ok()
        .filter(|s| (200..600).contains(&s.as_u16()))
        .with_context(|| {
            format!(
                "--status: {} is not an HTTP status; use 200 to 599",
                args.status
            )
        })?;
    if !(0.0..=1.0).contains(&args.fail_rate) {
        anyhow::bail!("--fail-rate: use a fraction from 0 to 1, such as 0.3");
    }
    let delay = args
        .delay
        .as_deref()
        .map(parse_duration)
        .transpose()
        .map_err(|m| anyhow::anyhow!("--delay: {m}"))?;
    let (tls, ca_path) = match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => {
            let read = |path: &PathBuf| {
                std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
            };
            (
                LocalTls {
                    ca_pem: String::new(),
                    cert_pem: read(cert)?,
                    key_pem: read(key)?,
                },
                None,
            )
        }
        _ => {
            let tls = LocalTls::generate(&[args.listen.ip().to_string()])?;
            let dir = args.cert_dir.clone().unwrap_or_else(std::env::temp_dir);
            let path = dir.join(format!("biotz-receive-{}-ca.pem", std::process::id()));
            std::fs::write(&path, &tls.ca_pem)
                .with_context(|| format!("writing {}", path.display()))?;
            (tls, Some(path))
        }
    };

    let behaviour = Arc::new(Behaviour {
        secret: args.secret,
        status,
        fail_rate: args.fail_rate,
        delay,
        verbose: args.verbose,
    });
    let router = Router::new().fallback(receive).with_state(behaviour);
    let listener = std::net::TcpListener::bind(args.listen)
        .with_context(|| format!("listening on {}", args.listen))?;
    let (address, handle) = serve_https(listener, &tls, router).await?;
    println!("Listening on https://{address}/ (every path)");
    if let Some(path) = &ca_path {
        println!(
            "Trust its certificate in biotz with BIOTZ_EXTRA_CA_CERTS={}",
            path.display()
        );
    }
    let ip = address.ip();
    if ip.is_loopback() || ip.is_unspecified() {
        println!("and let biotz reach it with BIOTZ_ALLOW_PRIVATE_TARGETS=127.0.0.0/8");
    } else if !crate::dispatch::guard::is_public(ip) {
        println!(
            "and let biotz reach it with BIOTZ_ALLOW_PRIVATE_TARGETS={ip}/{}",
            if ip.is_ipv4() { 32 } else { 128 }
        );
    }
    println!(
        "Answering {status}{}. Ctrl-C stops.",
        if args.fail_rate > 0.0 {
            format!(", or 500 for {:.0} % of requests", args.fail_rate * 100.0)
        } else {
            String::new()
        }
    );
    let _ = std::io::stdout().flush();
    shutdown.await;
    handle.graceful_shutdown(Some(Duration::from_secs(2)));
    if let Some(path) = &ca_path {
        let _ = std::fs::remove_file(path);
    }
    println!("stopped");
    Ok(0)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
}

async fn receive(
    State(behaviour): State<Arc<Behaviour>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let signature = header(&headers, biotz_signature::HEADER);
    let verdict = verify(
        &behaviour.secret,
        signature,
        &body,
        now_ms() / 1000,
        Tolerance::default(),
    );
    let event: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
    let event_type = event
        .as_ref()
        .and_then(|e| e["type"].as_str())
        .unwrap_or("?");
    let answer = match &verdict {
        Err(_) => StatusCode::BAD_REQUEST,
        Ok(()) if behaviour.fail_rate > 0.0 && rand::rng().random_bool(behaviour.fail_rate) => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
        Ok(()) => behaviour.status,
    };
    let check = match &verdict {
        Ok(()) => "valid".to_owned(),
        Err(error) => format!("INVALID ({error})"),
    };
    println!(
        "{} {event_type} {} attempt {} signature {check} → {}",
        rfc3339(now_ms()),
        header(&headers, "biotz-iot-event-id"),
        header(&headers, "biotz-iot-delivery-attempt"),
        answer.as_u16()
    );
    if behaviour.verbose
        && let Some(event) = &event
    {
        println!(
            "{}",
            serde_json::to_string_pretty(event).unwrap_or_default()
        );
    }
    let _ = std::io::stdout().flush();
    if let Some(delay) = behaviour.delay {
        tokio::time::sleep(delay).await;
    }
    let text = match verdict {
        Ok(()) => "received\n".to_owned(),
        Err(error) => format!("{error}\n"),
    };
    (answer, text)
}
