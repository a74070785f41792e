//! The one outbound HTTP client every attempt shares: rustls with the public roots plus
//! `BIOTZ_EXTRA_CA_CERTS`, connections kept alive, HTTP/1.1 and HTTP/2, no redirects, no proxy,
//! a 5 s connect timeout, the whole attempt bounded by `BIOTZ_DELIVERY_TIMEOUT`, and every
//! address resolved through the guard.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use super::guard::{AddressGuard, GuardedResolver};
use crate::config::DispatchSettings;

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub const USER_AGENT: &str = concat!("Biotz-IoT-Webhooks/", env!("CARGO_PKG_VERSION"));

pub fn build(settings: &DispatchSettings, guard: &AddressGuard) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(CONNECT_TIMEOUT.min(settings.delivery_timeout))
        .timeout(settings.delivery_timeout)
        .tcp_nodelay(true)
        .pool_idle_timeout(Duration::from_secs(90))
        .dns_resolver(Arc::new(GuardedResolver {
            guard: guard.clone(),
        }));
    if let Some(pem) = &settings.extra_ca_certs {
        let certificates =
            reqwest::Certificate::from_pem_bundle(pem).context("reading BIOTZ_EXTRA_CA_CERTS")?;
        builder = builder.tls_certs_merge(certificates);
    }
    builder.build().context("building the delivery HTTP client")
}
