//! `biotz receive`: a development HTTPS receiver, like `stripe listen`. It makes a certificate
//! (and says where the CA's PEM is, for BIOTZ_EXTRA_CA_CERTS), verifies each POST with the
//! webhook's secret, prints one line per request, and answers as told, to watch retries happen.
//!
//! It starts without a secret, since the webhook (and so its secret) is made only after biotz
//! trusts this receiver's certificate: until a secret is given, each POST is printed as
//! unverified. The secret comes from `--secret`, from `--secret-file`, read again on every
//! request so that writing the secret there later takes effect without a restart, or from the
//! API with `--webhook whk_… --api-token …` (see `receive_secret`).

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
use biotz_signature::{Tolerance, VerifyError, verify};
use clap::Args;
use rand::RngExt;

use super::receive_secret::{Fetched, SecretSource};
use crate::config::parse_duration;
use crate::domain::time::{now_ms, rfc3339};
use crate::receiver::{LocalTls, serve_https};

#[derive(Args, Debug)]
pub struct ReceiveArgs {
    /// The webhook's secret (whsec_…), to verify each request. Without it (or --secret-file)
    /// requests are answered but shown as unverified
    #[arg(long, env = "BIOTZ_WEBHOOK_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
    /// A file holding the webhook's secret, read on every request: write the secret there once
    /// the webhook exists, and the next request is verified
    #[arg(long, conflicts_with = "secret")]
    pub secret_file: Option<PathBuf>,
    /// The webhook (whk_…) whose secret to fetch from biotz's API (with --api-token), at start
    /// and again whenever a signature matches none, so a regenerated secret is picked up
    #[arg(long, conflicts_with_all = ["secret", "secret_file"], requires = "api_token")]
    pub webhook: Option<String>,
    /// An API token of the webhook's organization, for --webhook
    #[arg(
        long,
        env = "BIOTZ_API_TOKEN",
        hide_env_values = true,
        requires = "webhook"
    )]
    pub api_token: Option<String>,
    /// Where biotz's API is, for --webhook
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub server: String,
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
    /// Keep the certificate in this folder and reuse it on the next start, so senders that trust
    /// its CA (biotz-receive-ca.pem there) keep trusting it across restarts. Without it, a new
    /// certificate is made in the system's temporary folder and removed on exit.
    #[arg(long)]
    pub cert_dir: Option<PathBuf>,
    /// Another name the certificate is valid for, such as the host name senders use to reach this
    /// receiver in a container network (repeatable; localhost and the listen address always are)
    #[arg(long = "name", value_name = "HOST")]
    pub names: Vec<String>,
    /// Serve this certificate (PEM, with its chain) instead of making one; needs --key
    #[arg(long, requires = "key")]
    pub cert: Option<PathBuf>,
    /// The private key (PEM) of --cert
    #[arg(long, requires = "cert")]
    pub key: Option<PathBuf>,
}

struct Behaviour {
    secret: SecretSource,
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
            let mut names = vec![args.listen.ip().to_string()];
            names.extend(args.names.iter().cloned());
            match &args.cert_dir {
                Some(dir) => (kept_certificate(dir, &names)?, None),
                None => {
                    let tls = LocalTls::generate(&names)?;
                    let path = std::env::temp_dir()
                        .join(format!("biotz-receive-{}-ca.pem", std::process::id()));
                    std::fs::write(&path, &tls.ca_pem)
                        .with_context(|| format!("writing {}", path.display()))?;
                    (tls, Some(path))
                }
            }
        }
    };
    let ca_shown = args
        .cert_dir
        .as_ref()
        .map(|dir| dir.join(KEPT_CA))
        .or_else(|| ca_path.clone());

    let secret = match (
        args.secret.filter(|s| !s.trim().is_empty()),
        args.secret_file,
        args.webhook,
    ) {
        (Some(secret), _, _) => SecretSource::Given(secret.trim().to_owned()),
        (None, Some(path), _) => SecretSource::File(path),
        (None, None, Some(webhook)) => SecretSource::Fetched(
            Fetched::start(
                &webhook,
                args.api_token.as_deref().unwrap_or_default(),
                &args.server,
            )
            .await?,
        ),
        (None, None, None) => SecretSource::None,
    };
    let waiting_for = match &secret {
        SecretSource::Given(_) => None,
        SecretSource::Fetched(fetched) => Some(format!(
            "Verifying with the secret of {} from {}; fetched again when a signature matches none.",
            fetched.webhook, args.server
        )),
        SecretSource::File(path) => Some(format!(
            "Verifying with the secret in {} once it is there; until then each request is shown unverified.",
            path.display()
        )),
        SecretSource::None => Some(
            "No secret given: each request is shown unverified. Once the webhook exists, restart \
             with --secret whsec_… (or BIOTZ_WEBHOOK_SECRET), or use --secret-file to add it \
             without a restart."
                .to_owned(),
        ),
    };
    let behaviour = Arc::new(Behaviour {
        secret,
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
    if let Some(path) = &ca_shown {
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
    if let Some(notice) = waiting_for {
        println!("{notice}");
    }
    let _ = std::io::stdout().flush();
    shutdown.await;
    handle.graceful_shutdown(Some(Duration::from_secs(2)));
    if let Some(path) = &ca_path {
        let _ = std::fs::remove_file(path);
    }
    println!("stopped");
    Ok(0)
}

const KEPT_CA: &str = "biotz-receive-ca.pem";
const KEPT_CERT: &str = "biotz-receive-cert.pem";
const KEPT_KEY: &str = "biotz-receive-key.pem";

/// The certificate kept in `dir` when it is there and valid for `names`; otherwise a new one,
/// written there (the key with mode 0600).
fn kept_certificate(dir: &std::path::Path, names: &[String]) -> anyhow::Result<LocalTls> {
    let read = |file: &str| std::fs::read_to_string(dir.join(file));
    if let (Ok(ca_pem), Ok(cert_pem), Ok(key_pem), Ok(kept_names)) = (
        read(KEPT_CA),
        read(KEPT_CERT),
        read(KEPT_KEY),
        read("biotz-receive-names.txt"),
    ) && kept_names.lines().eq(names.iter().map(String::as_str))
    {
        return Ok(LocalTls {
            ca_pem,
            cert_pem,
            key_pem,
        });
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tls = LocalTls::generate(names)?;
    let write = |file: &str, text: &str| {
        let path = dir.join(file);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
    };
    {
        let path = dir.join(KEPT_KEY);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options
            .open(&path)
            .and_then(|mut file| file.write_all(tls.key_pem.as_bytes()))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    write(KEPT_CERT, &tls.cert_pem)?;
    write(KEPT_CA, &tls.ca_pem)?;
    write("biotz-receive-names.txt", &names.join("\n"))?;
    Ok(tls)
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
    let check_with = |secret: &str| {
        verify(
            secret,
            signature,
            &body,
            now_ms() / 1000,
            Tolerance::default(),
        )
    };
    // `None`: no secret yet, so the request is neither accepted nor refused on its signature.
    let secret = behaviour.secret.current().await;
    let mut verdict = secret.as_deref().map(check_with);
    if let (Some(Err(VerifyError::NoMatchingSignature)), Some(used)) = (&verdict, &secret)
        && let Some(fresh) = behaviour.secret.refreshed(used).await
    {
        verdict = Some(check_with(&fresh));
    }
    let event: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
    let event_type = event
        .as_ref()
        .and_then(|e| e["type"].as_str())
        .unwrap_or("?");
    let answer = match &verdict {
        Some(Err(_)) => StatusCode::BAD_REQUEST,
        _ if behaviour.fail_rate > 0.0 && rand::rng().random_bool(behaviour.fail_rate) => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
        _ => behaviour.status,
    };
    let check = match &verdict {
        Some(Ok(())) => "valid".to_owned(),
        Some(Err(error)) => format!("INVALID ({error})"),
        None => "UNVERIFIED (no secret yet)".to_owned(),
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
        Some(Ok(())) => "received\n".to_owned(),
        Some(Err(error)) => format!("{error}\n"),
        None => "received, not verified: no secret yet\n".to_owned(),
    };
    (answer, text)
}
