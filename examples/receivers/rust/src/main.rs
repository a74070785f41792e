//! A minimal Biotz IoT webhook receiver: axum + tokio, verifying with `biotz-signature`.
//!
//! Run (from the repository root):
//!
//! ```text
//! BIOTZ_WEBHOOK_SECRET=whsec_... PORT=8000 cargo run -p biotz-receiver-example
//! ```
//!
//! Then POST to `http://127.0.0.1:$PORT/webhook`. It listens on 127.0.0.1 only; Biotz calls
//! `https://` URLs alone, so in production put a TLS-terminating proxy in front of it.
//! What each request goes through is in `lib.rs`.

use std::process::ExitCode;

use biotz_receiver_example::Receiver;
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> ExitCode {
    let Ok(secret) = std::env::var("BIOTZ_WEBHOOK_SECRET") else {
        eprintln!("set BIOTZ_WEBHOOK_SECRET to the webhook's secret (whsec_...)");
        return ExitCode::FAILURE;
    };
    let port = std::env::var("PORT").unwrap_or_else(|_| "8000".into());
    let Ok(port) = port.parse::<u16>() else {
        eprintln!("PORT must be a port number, not {port:?}");
        return ExitCode::FAILURE;
    };
    let listener = match TcpListener::bind(("127.0.0.1", port)).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("cannot listen on 127.0.0.1:{port}: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!("listening on http://127.0.0.1:{port}/webhook");
    if let Err(error) = axum::serve(listener, Receiver::new(secret).router()).await {
        eprintln!("server stopped: {error}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
