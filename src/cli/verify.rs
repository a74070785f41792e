//! `biotz verify`: checks one signed body, as a receiver would.

use std::io::Read;
use std::path::PathBuf;

use anyhow::Context;
use biotz_signature::{Tolerance, standard, verify};
use clap::Args;

use crate::domain::webhook::Signing;

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The webhook secret (whsec_…)
    #[arg(long, env = "BIOTZ_WEBHOOK_SECRET", hide_env_values = true)]
    pub secret: String,
    /// The signature header's value: Biotz-IoT-Signature (t=…,v1=…), or with
    /// `--scheme standard` the webhook-signature header (v1,… v1,…)
    #[arg(long)]
    pub header: String,
    /// How the webhook signs: biotz (the default) or standard (Standard Webhooks)
    #[arg(long, default_value = "biotz", value_parser = Signing::parse)]
    pub scheme: Signing,
    /// With `--scheme standard`: the webhook-id header (the event id)
    #[arg(long, required_if_eq("scheme", "standard"))]
    pub id: Option<String>,
    /// With `--scheme standard`: the webhook-timestamp header (unix seconds)
    #[arg(long, required_if_eq("scheme", "standard"))]
    pub timestamp: Option<String>,
    /// Seconds the timestamp may be from now; 0 accepts any age (to check an old capture)
    #[arg(long, default_value_t = biotz_signature::DEFAULT_TOLERANCE_SECS)]
    pub tolerance: u64,
    /// Check as if the time were this (unix seconds) instead of now
    #[arg(long)]
    pub at: Option<i64>,
    /// The raw body: a file, or - (the default) for stdin
    #[arg(default_value = "-")]
    pub file: PathBuf,
}

pub fn run(args: &VerifyArgs) -> anyhow::Result<i32> {
    let body = if args.file.as_os_str() == "-" {
        let mut body = Vec::new();
        std::io::stdin()
            .read_to_end(&mut body)
            .context("reading the body from stdin")?;
        body
    } else {
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?
    };
    let now = args
        .at
        .unwrap_or_else(|| crate::domain::time::now_ms() / 1000);
    let tolerance = match args.tolerance {
        0 => Tolerance::Unlimited,
        seconds => Tolerance::Seconds(seconds),
    };
    let checked = match args.scheme {
        Signing::Biotz => verify(&args.secret, &args.header, &body, now, tolerance),
        Signing::Standard => standard::verify(
            &args.secret,
            args.id.as_deref().unwrap_or_default(),
            args.timestamp.as_deref().unwrap_or_default(),
            &args.header,
            &body,
            now,
            tolerance,
        ),
    };
    match checked {
        Ok(()) => {
            println!("valid");
            Ok(0)
        }
        Err(error) => {
            println!("invalid: {error}");
            Ok(1)
        }
    }
}
