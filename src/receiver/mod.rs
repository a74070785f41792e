//! Receiving webhooks locally over HTTPS: a certificate authority made on the spot, and a
//! server that uses it. `biotz receive`, the test receivers and the benchmark use this.

pub mod tls;

pub use tls::{LocalTls, serve_https};
