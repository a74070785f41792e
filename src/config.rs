//! Settings from flags and environment variables (each flag has a variable of the same meaning),
//! validated at start: every invalid setting is reported at once, naming the variable, the flag,
//! the rule and an example of a good value.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use ipnet::IpNet;

use crate::crypto::MasterKey;
use crate::store::{DatabaseUrl, StoreOptions};

pub const DEFAULT_RETRY_SCHEDULE: &str = "5s,30s,2m,10m,30m,1h,3h,6h,12h,24h";

#[derive(Args, Debug, Clone)]
pub struct DatabaseArgs {
    /// sqlite://FILE (created if missing) or postgres://USER[:PASSWORD]@HOST[:PORT]/DB
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://biotz.db",
        hide_env_values = true
    )]
    pub database_url: String,
    /// 64 hex digits (32 bytes) that encrypt webhook secrets at rest. With SQLite, a key file
    /// beside the database is made and used when this is not set; PostgreSQL requires it.
    #[arg(long, env = "BIOTZ_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct LogArgs {
    /// Log format: pretty (for people) or json (for machines). Levels come from RUST_LOG.
    #[arg(long, env = "BIOTZ_LOG_FORMAT", default_value = "pretty")]
    pub log_format: String,
}

#[derive(Args, Debug, Clone)]
pub struct DispatchArgs {
    /// Delays before attempts 2, 3, …, e.g. 5s,30s,2m (±10 % jitter is added)
    #[arg(long, env = "BIOTZ_RETRY_SCHEDULE", default_value = DEFAULT_RETRY_SCHEDULE)]
    pub retry_schedule: String,
    /// The longest one delivery attempt may take, connection included
    #[arg(long, env = "BIOTZ_DELIVERY_TIMEOUT", default_value = "15s")]
    pub delivery_timeout: String,
    /// Comma-separated CIDRs that callbacks may reach although not public, e.g. 127.0.0.0/8
    #[arg(long, env = "BIOTZ_ALLOW_PRIVATE_TARGETS", default_value = "")]
    pub allow_private_targets: String,
    /// A PEM bundle of CA certificates trusted in addition to the public roots
    #[arg(long, env = "BIOTZ_EXTRA_CA_CERTS")]
    pub extra_ca_certs: Option<PathBuf>,
    /// Disable a webhook whose deliveries keep failing with no success for this long
    #[arg(long, env = "BIOTZ_DISABLE_AFTER", default_value = "3d")]
    pub disable_after: String,
    /// How long a dispatcher owns the deliveries it claims; a crashed one's come back after
    /// this. At least the delivery timeout + 1s (default: twice the timeout + 5s)
    #[arg(long, env = "BIOTZ_LEASE")]
    pub lease: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub dispatch: DispatchArgs,
    #[command(flatten)]
    pub log: LogArgs,
    #[command(flatten)]
    pub mqtt: crate::ingest_mqtt::MqttArgs,
    /// Purge finished messages, events, deliveries and attempts older than this (whole days;
    /// each organization may set its own under Settings)
    #[arg(long, env = "BIOTZ_RETAIN", default_value = crate::retention::DEFAULT_RETAIN)]
    pub retain: String,
    /// A directory where finished deliveries are exported (gzip JSON lines per day) before
    /// they are purged, for the organizations that ask for it under Settings
    #[arg(long, env = "BIOTZ_EXPORT_DIR")]
    pub export_dir: Option<PathBuf>,
    /// The address the web UI and API listen on
    #[arg(long, env = "BIOTZ_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// The URL users reach this server at (for printed links, and `Secure` cookies when https)
    #[arg(long, env = "BIOTZ_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Comma-separated CIDRs of the reverse proxies in front; only from these are
    /// X-Forwarded-For and Forwarded believed when counting failed sign-ins per client
    #[arg(long, env = "BIOTZ_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: String,
    /// Serve the UI and API only; leave delivery to `biotz worker` processes
    #[arg(long)]
    pub no_dispatcher: bool,
    /// Seed a demo organization whose simulated devices raise alarms every few seconds,
    /// delivered to a receiver built into the process (prints how to sign in)
    #[arg(long)]
    pub demo: bool,
}

#[derive(Args, Debug, Clone)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub dispatch: DispatchArgs,
    #[command(flatten)]
    pub log: LogArgs,
    /// An address to serve /metrics, /healthz and /readyz on (none by default). A variable of
    /// its own, so a worker beside `biotz serve` does not take BIOTZ_LISTEN's address
    #[arg(long, env = "BIOTZ_WORKER_LISTEN")]
    pub listen: Option<String>,
}

/// Why the settings were refused: one line per problem.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n{}", .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
pub struct ConfigError(pub Vec<String>);

struct Problems(Vec<String>);

impl Problems {
    fn check<T>(&mut self, setting: &str, result: Result<T, String>) -> Option<T> {
        result
            .map_err(|message| self.0.push(format!("{setting}: {message}")))
            .ok()
    }
}

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub url: DatabaseUrl,
    pub master_key: MasterKey,
}

impl DatabaseSettings {
    pub fn store_options(&self) -> StoreOptions {
        StoreOptions::new(self.url.clone())
    }
}

#[derive(Debug, Clone)]
pub struct DispatchSettings {
    pub retry_schedule: Vec<Duration>,
    pub delivery_timeout: Duration,
    pub allow_private_targets: Vec<IpNet>,
    /// PEM text of the extra CA certificates, already checked to hold at least one.
    pub extra_ca_certs: Option<Vec<u8>>,
    pub disable_after: Duration,
    pub lease: Duration,
}

#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub database: DatabaseSettings,
    pub dispatch: DispatchSettings,
    /// Where `/metrics`, `/healthz` and `/readyz` are served, if anywhere.
    pub listen: Option<SocketAddr>,
}

#[derive(Debug, Clone)]
pub struct ServeSettings {
    pub database: DatabaseSettings,
    pub dispatch: DispatchSettings,
    pub listen: SocketAddr,
    pub public_url: String,
    pub dispatcher: bool,
    /// MQTT ingest, when `BIOTZ_MQTT_URL` is set.
    pub mqtt: Option<crate::ingest_mqtt::MqttSettings>,
    /// How long finished data is kept, and where it is exported first.
    pub retention: crate::retention::RetentionSettings,
    /// Peers whose forwarded headers name the client (`BIOTZ_TRUSTED_PROXIES`).
    pub trusted_proxies: Vec<IpNet>,
}

/// Long enough for one attempt plus the wait behind one round of the same webhook's others.
pub fn default_lease(delivery_timeout: Duration) -> Duration {
    delivery_timeout * 2 + Duration::from_secs(5)
}

pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|_| {
        format!("'{text}' is not a duration; write a number and a unit, such as 500ms, 15s, 2m, 1h or 3d")
    })
}

fn parse_database(args: &DatabaseArgs, problems: &mut Problems) -> Option<DatabaseSettings> {
    let url = problems.check(
        "DATABASE_URL (--database-url)",
        DatabaseUrl::parse(&args.database_url),
    )?;
    let key = match (&args.master_key, &url) {
        (Some(hex), _) => problems.check(
            "BIOTZ_MASTER_KEY (--master-key)",
            MasterKey::parse_hex(hex).map_err(|e| e.to_string()),
        ),
        (None, DatabaseUrl::Postgres(_)) => problems.check(
            "BIOTZ_MASTER_KEY (--master-key)",
            Err(
                "required with PostgreSQL, and the same on every node; make one with \
                 `openssl rand -hex 32`"
                    .to_owned(),
            ),
        ),
        (None, DatabaseUrl::Sqlite(sqlite_url)) => {
            let Some(file) = crate::store::sqlite_file(sqlite_url) else {
                return problems.check(
                    "BIOTZ_MASTER_KEY (--master-key)",
                    Err("required with an in-memory SQLite database".to_owned()),
                );
            };
            let path = key_file_for(&file);
            problems.check(
                "BIOTZ_MASTER_KEY (--master-key)",
                MasterKey::load_or_create(&path).map_err(|e| e.to_string()),
            )
        }
    }?;
    Some(DatabaseSettings {
        url,
        master_key: key,
    })
}

/// `biotz.db` → `biotz.db.key`, in the same directory.
pub fn key_file_for(database: &std::path::Path) -> PathBuf {
    let mut name = database.file_name().unwrap_or_default().to_os_string();
    name.push(".key");
    database.with_file_name(name)
}

fn parse_dispatch(args: &DispatchArgs, problems: &mut Problems) -> Option<DispatchSettings> {
    let retry_schedule = problems.check(
        "BIOTZ_RETRY_SCHEDULE (--retry-schedule)",
        parse_schedule(&args.retry_schedule),
    );
    let delivery_timeout = problems.check(
        "BIOTZ_DELIVERY_TIMEOUT (--delivery-timeout)",
        parse_duration(&args.delivery_timeout).and_then(|d| {
            if d >= Duration::from_millis(100) && d <= Duration::from_secs(300) {
                Ok(d)
            } else {
                Err("use between 100ms and 5m, such as 15s".into())
            }
        }),
    );
    let allow = problems.check(
        "BIOTZ_ALLOW_PRIVATE_TARGETS (--allow-private-targets)",
        parse_cidrs(&args.allow_private_targets),
    );
    let extra_ca_certs = match &args.extra_ca_certs {
        None => Some(None),
        Some(path) => problems.check(
            "BIOTZ_EXTRA_CA_CERTS (--extra-ca-certs)",
            read_pem_bundle(path).map(Some),
        ),
    };
    let disable_after = problems.check(
        "BIOTZ_DISABLE_AFTER (--disable-after)",
        parse_duration(&args.disable_after),
    );
    let delivery_timeout = delivery_timeout?;
    let lease = match &args.lease {
        None => Some(default_lease(delivery_timeout)),
        Some(text) => problems.check(
            "BIOTZ_LEASE (--lease)",
            parse_duration(text).and_then(|lease| {
                if lease >= delivery_timeout + Duration::from_secs(1) {
                    Ok(lease)
                } else {
                    Err(format!(
                        "must be at least the delivery timeout + 1s ({}), or an attempt could outlive its lease",
                        humantime::format_duration(delivery_timeout + Duration::from_secs(1))
                    ))
                }
            }),
        ),
    };
    Some(DispatchSettings {
        retry_schedule: retry_schedule?,
        delivery_timeout,
        allow_private_targets: allow?,
        extra_ca_certs: extra_ca_certs?,
        disable_after: disable_after?,
        lease: lease?,
    })
}

/// `5s,30s,2m`: the delays before attempts 2, 3, 4. Empty or `none` means a single attempt.
pub fn parse_schedule(text: &str) -> Result<Vec<Duration>, String> {
    let text = text.trim();
    if text.is_empty() || text.eq_ignore_ascii_case("none") {
        return Ok(Vec::new());
    }
    let delays = text
        .split(',')
        .map(parse_duration)
        .collect::<Result<Vec<_>, _>>()?;
    if delays.len() > 50 {
        return Err(format!(
            "at most 50 retries; this schedule has {}",
            delays.len()
        ));
    }
    if let Some(long) = delays
        .iter()
        .find(|d| **d > Duration::from_secs(7 * 86_400))
    {
        return Err(format!(
            "each delay must be at most 7d; {} is longer",
            humantime::format_duration(*long)
        ));
    }
    Ok(delays)
}

pub fn parse_cidrs(text: &str) -> Result<Vec<IpNet>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            part.parse::<IpNet>()
                .or_else(|_| part.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    format!("'{part}' is not a CIDR; write networks such as 127.0.0.0/8,10.0.0.0/8")
                })
        })
        .collect()
}

fn read_pem_bundle(path: &std::path::Path) -> Result<Vec<u8>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let certificates = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
        format!(
            "{} is not a PEM bundle of certificates: {e}",
            path.display()
        )
    })?;
    if certificates.is_empty() {
        return Err(format!(
            "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        ));
    }
    Ok(pem)
}

/// The export directory exists (or can be made) and is a directory.
fn check_export_dir(dir: &std::path::Path) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot make the directory {}: {e}", dir.display()))?;
    if !dir.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    Ok(dir.to_owned())
}

fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    text.trim().parse().map_err(|_| {
        format!("'{text}' is not an address to listen on; write IP:PORT such as 127.0.0.1:8080 or 0.0.0.0:8080")
    })
}

fn parse_public_url(text: &str) -> Result<String, String> {
    let url = url::Url::parse(text.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
        .ok_or_else(|| {
            format!("'{text}' is not an http(s) URL such as https://webhooks.example.com")
        })?;
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

impl DatabaseSettings {
    pub fn from_args(args: &DatabaseArgs) -> Result<Self, ConfigError> {
        let mut problems = Problems(Vec::new());
        let settings = parse_database(args, &mut problems);
        settings
            .filter(|_| problems.0.is_empty())
            .ok_or(ConfigError(problems.0))
    }
}

impl DispatchSettings {
    pub fn from_args(args: &DispatchArgs) -> Result<Self, ConfigError> {
        let mut problems = Problems(Vec::new());
        let settings = parse_dispatch(args, &mut problems);
        settings
            .filter(|_| problems.0.is_empty())
            .ok_or(ConfigError(problems.0))
    }
}

impl WorkerSettings {
    pub fn from_args(args: &WorkerArgs) -> Result<Self, ConfigError> {
        let mut problems = Problems(Vec::new());
        let listen = match &args.listen {
            None => Some(None),
            Some(text) => problems.check(
                "BIOTZ_WORKER_LISTEN (--listen)",
                parse_listen(text).map(Some),
            ),
        };
        problems.check(
            "BIOTZ_LOG_FORMAT (--log-format)",
            crate::telemetry::LogFormat::parse(&args.log.log_format),
        );
        let dispatch = parse_dispatch(&args.dispatch, &mut problems);
        let database = parse_database(&args.database, &mut problems);
        match (database, dispatch, listen) {
            (Some(database), Some(dispatch), Some(listen)) if problems.0.is_empty() => Ok(Self {
                database,
                dispatch,
                listen,
            }),
            _ => Err(ConfigError(problems.0)),
        }
    }
}

impl ServeSettings {
    pub fn from_args(args: &ServeArgs) -> Result<Self, ConfigError> {
        let mut problems = Problems(Vec::new());
        let listen = problems.check("BIOTZ_LISTEN (--listen)", parse_listen(&args.listen));
        let public_url = match &args.public_url {
            Some(url) => problems.check("BIOTZ_PUBLIC_URL (--public-url)", parse_public_url(url)),
            None => listen.map(default_public_url),
        };
        problems.check(
            "BIOTZ_LOG_FORMAT (--log-format)",
            crate::telemetry::LogFormat::parse(&args.log.log_format),
        );
        let dispatch = parse_dispatch(&args.dispatch, &mut problems);
        let database = parse_database(&args.database, &mut problems);
        let mqtt = crate::ingest_mqtt::settings::parse(&args.mqtt, listen.map_or(0, |l| l.port()))
            .map_err(|mqtt_problems| problems.0.extend(mqtt_problems))
            .ok()
            .flatten();
        let retain = problems.check(
            "BIOTZ_RETAIN (--retain)",
            crate::retention::parse_retain(&args.retain),
        );
        let export_dir = match &args.export_dir {
            None => Some(None),
            Some(dir) => problems.check(
                "BIOTZ_EXPORT_DIR (--export-dir)",
                check_export_dir(dir).map(Some),
            ),
        };
        let trusted_proxies = problems.check(
            "BIOTZ_TRUSTED_PROXIES (--trusted-proxies)",
            parse_cidrs(&args.trusted_proxies),
        );
        if !problems.0.is_empty() {
            return Err(ConfigError(problems.0));
        }
        match (
            database,
            dispatch,
            listen,
            public_url,
            retain,
            export_dir,
            trusted_proxies,
        ) {
            (
                Some(database),
                Some(dispatch),
                Some(listen),
                Some(public_url),
                Some(retain),
                Some(export_dir),
                Some(trusted_proxies),
            ) => Ok(Self {
                database,
                dispatch,
                listen,
                public_url,
                dispatcher: !args.no_dispatcher,
                mqtt,
                retention: crate::retention::RetentionSettings {
                    default: retain,
                    export_dir,
                },
                trusted_proxies,
            }),
            _ => Err(ConfigError(vec![
                "the configuration could not be read".into(),
            ])),
        }
    }
}

/// `http://` + the listen address, with `localhost` for an unspecified address.
fn default_public_url(listen: SocketAddr) -> String {
    if listen.ip().is_unspecified() {
        format!("http://localhost:{}", listen.port())
    } else {
        format!("http://{listen}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_schedules() {
        assert_eq!(parse_duration("15s"), Ok(Duration::from_secs(15)));
        assert_eq!(parse_duration("3d"), Ok(Duration::from_secs(3 * 86_400)));
        assert!(
            parse_duration("soon")
                .unwrap_err()
                .contains("such as 500ms")
        );
        let schedule = parse_schedule(DEFAULT_RETRY_SCHEDULE).unwrap();
        assert_eq!(schedule.len(), 10);
        assert_eq!(schedule[2], Duration::from_secs(120));
        assert_eq!(parse_schedule("none"), Ok(vec![]));
        assert!(parse_schedule("5s,8d").unwrap_err().contains("at most 7d"));
        assert!(parse_schedule("5s,,2m").is_err());
    }

    #[test]
    fn cidrs_and_addresses() {
        let nets = parse_cidrs("127.0.0.0/8, ::1, 10.0.0.0/8").unwrap();
        assert_eq!(nets.len(), 3);
        assert!(nets[1].contains(&"::1".parse::<std::net::IpAddr>().unwrap()));
        assert!(parse_cidrs("").unwrap().is_empty());
        assert!(parse_cidrs("localhost").unwrap_err().contains("not a CIDR"));
        assert!(parse_listen("8080").unwrap_err().contains("IP:PORT"));
        assert_eq!(
            default_public_url("0.0.0.0:9000".parse().unwrap()),
            "http://localhost:9000"
        );
        assert_eq!(
            parse_public_url("https://hooks.example.com/").unwrap(),
            "https://hooks.example.com"
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let args = ServeArgs {
            database: DatabaseArgs {
                database_url: "postgres://biotz@db/biotz".into(),
                master_key: None,
            },
            dispatch: DispatchArgs {
                retry_schedule: "5x".into(),
                delivery_timeout: "15s".into(),
                allow_private_targets: "".into(),
                extra_ca_certs: None,
                disable_after: "3d".into(),
                lease: Some("1s".into()),
            },
            log: LogArgs {
                log_format: "xml".into(),
            },
            mqtt: crate::ingest_mqtt::MqttArgs {
                mqtt_url: Some("amqp://broker".into()),
                ..Default::default()
            },
            retain: "36h".into(),
            export_dir: None,
            listen: "nowhere".into(),
            public_url: None,
            trusted_proxies: "10.0.0.0/8, proxy".into(),
            no_dispatcher: false,
            demo: false,
        };
        let error = ServeSettings::from_args(&args).unwrap_err().to_string();
        for needle in [
            "BIOTZ_LISTEN",
            "BIOTZ_RETRY_SCHEDULE",
            "BIOTZ_MASTER_KEY",
            "BIOTZ_LOG_FORMAT",
            "openssl rand -hex 32",
            "BIOTZ_LEASE",
            "BIOTZ_MQTT_URL",
            "BIOTZ_RETAIN",
            "BIOTZ_TRUSTED_PROXIES (--trusted-proxies): 'proxy' is not a CIDR",
        ] {
            assert!(error.contains(needle), "{needle} missing from: {error}");
        }
    }

    #[test]
    fn a_worker_listens_only_when_asked() {
        let args = |listen: Option<&str>| WorkerArgs {
            database: DatabaseArgs {
                database_url: "postgres://biotz@db/biotz".into(),
                master_key: Some("00".repeat(32)),
            },
            dispatch: DispatchArgs {
                retry_schedule: DEFAULT_RETRY_SCHEDULE.into(),
                delivery_timeout: "15s".into(),
                allow_private_targets: "".into(),
                extra_ca_certs: None,
                disable_after: "3d".into(),
                lease: None,
            },
            log: LogArgs {
                log_format: "json".into(),
            },
            listen: listen.map(Into::into),
        };
        assert_eq!(WorkerSettings::from_args(&args(None)).unwrap().listen, None);
        assert_eq!(
            WorkerSettings::from_args(&args(Some("0.0.0.0:9090")))
                .unwrap()
                .listen,
            Some("0.0.0.0:9090".parse().unwrap())
        );
        let error = WorkerSettings::from_args(&args(Some("9090")))
            .unwrap_err()
            .to_string();
        assert!(error.contains("BIOTZ_WORKER_LISTEN (--listen)"), "{error}");
    }

    #[test]
    fn key_file_sits_beside_the_database() {
        assert_eq!(
            key_file_for(std::path::Path::new("/data/biotz.db")),
            PathBuf::from("/data/biotz.db.key")
        );
        assert_eq!(
            key_file_for(std::path::Path::new("biotz.db")),
            PathBuf::from("biotz.db.key")
        );
    }
}
