//! The `biotz` command line.

mod accounts;
mod receive;
mod receive_secret;
mod verify;

use clap::{Parser, Subcommand};

use crate::config::{
    DatabaseArgs, DatabaseSettings, LogArgs, ServeArgs, ServeSettings, WorkerArgs, WorkerSettings,
};
use crate::startup::{Application, shutdown_signal};
use crate::telemetry::{self, LogFormat};

#[derive(Parser, Debug)]
#[command(
    name = "biotz",
    version,
    about = "Biotz IoT Webhooks: signed, retried, logged webhook delivery for IoT alarms"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Web UI + JSON API + dispatcher in one process (migrations are applied first)
    Serve(Box<ServeArgs>),
    /// The dispatcher alone, for scale-out on PostgreSQL (migrations are applied first);
    /// with --listen, also /metrics, /healthz and /readyz
    Worker(Box<WorkerArgs>),
    /// Apply the database migrations and exit
    Migrate {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        log: LogArgs,
    },
    /// Check one signed webhook body: exit 0 if valid, 1 with the reason if not
    Verify(verify::VerifyArgs),
    /// A development HTTPS receiver: verifies and prints each webhook request
    Receive(receive::ReceiveArgs),
    /// Manage users
    #[command(subcommand)]
    User(accounts::UserCommand),
    /// Manage API tokens
    #[command(subcommand)]
    Token(accounts::TokenCommand),
}

/// Runs the command; the exit code is the process's.
pub async fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Serve(args) => {
            let mut settings = ServeSettings::from_args(&args)?;
            telemetry::init(LogFormat::parse(&args.log.log_format).unwrap_or(LogFormat::Pretty));
            let demo = if args.demo {
                Some(crate::demo::prepare(&mut settings).await?)
            } else {
                None
            };
            let app = Application::build(settings).await?;
            tracing::info!(
                port = app.port(),
                database = app.store().backend(),
                "serving"
            );
            let app_url = format!("http://127.0.0.1:{}", app.port());
            if let Some(demo) = demo {
                let password = demo.start(app.store(), app_url.clone()).await?;
                println!(
                    "Demo: simulated devices are sending messages; alarms and signed deliveries follow."
                );
                println!(
                    "  Sign in at {app_url}/login as {} with the password {password}",
                    crate::demo::EMAIL
                );
                println!(
                    "  to land on the Overview: raised alarms, the last hour's deliveries, and one failing receiver retrying."
                );
            } else if let Some(link) = app.setup_link() {
                println!(
                    "No users yet. Open this one-time link to create the first organization and administrator:"
                );
                println!("  {link}");
            }
            app.run_until_stopped(shutdown_signal()).await?;
            Ok(0)
        }
        Command::Worker(args) => {
            let settings = WorkerSettings::from_args(&args)?;
            telemetry::init(LogFormat::parse(&args.log.log_format).unwrap_or(LogFormat::Pretty));
            crate::startup::run_worker(settings, shutdown_signal()).await?;
            Ok(0)
        }
        Command::Migrate { database, log } => {
            let settings = DatabaseSettings::from_args(&database)?;
            telemetry::init(
                LogFormat::parse(&log.log_format)
                    .map_err(|m| anyhow::anyhow!("BIOTZ_LOG_FORMAT (--log-format): {m}"))?,
            );
            let store = crate::startup::open_store(&settings).await?;
            println!(
                "migrations applied to {} ({})",
                settings.url,
                store.backend()
            );
            store.close().await;
            Ok(0)
        }
        Command::Verify(args) => verify::run(&args),
        Command::Receive(args) => {
            telemetry::init(LogFormat::Pretty);
            receive::run(args, shutdown_signal()).await
        }
        Command::User(command) => accounts::run_user(command).await,
        Command::Token(command) => accounts::run_token(command).await,
    }
}
