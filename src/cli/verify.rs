//! `biotz verify`: checks one signed body, as a receiver would.

use std::io::Read;
use std::path::PathBuf;

use anyhow::Context;
use biotz_signature::{Tolerance, verify};
use clap::Args;

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The webhook secret (whsec_…)
    #[arg(long, env = "BIOTZ_WEBHOOK_SECRET", hide_env_values = true)]
    pub secret: String,
    /// The Biotz-IoT-Signature header value (t=…,v1=…)
    #[arg(long)]
    pub header: String,
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
    match verify(&args.secret, &args.header, &body, now, tolerance) {
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
