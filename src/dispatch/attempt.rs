//! One delivery attempt: sign afresh, POST the stored body, and classify what happened.

use std::error::Error as _;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::RETRY_AFTER;
use serde::Serialize;

use super::guard::{AddressGuard, BlockedAddress};
use super::retry::parse_retry_after;
use crate::domain::custom_header::{self, CustomHeader};
use crate::domain::time::{Millis, duration_ms, now_ms};
use crate::domain::webhook::Signing;

/// The first bytes of a response body kept in the attempt log.
pub const RESPONSE_BODY_LIMIT: usize = 4096;

/// What to send.
pub struct Outgoing<'a> {
    pub url: &'a str,
    pub body: Bytes,
    /// The current secret first, then older ones inside their rotation overlap.
    pub secrets: &'a [String],
    pub signing: Signing,
    /// The webhook's custom headers, sent first; their values are masked in the attempt log.
    pub headers: &'a [CustomHeader],
    pub event_id: &'a str,
    pub delivery_id: &'a str,
    pub attempt: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    Timeout,
    Connect,
    Tls,
    Dns,
    BlockedAddress,
    Redirect,
    HttpStatus,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Timeout => "timeout",
            ErrorKind::Connect => "connect",
            ErrorKind::Tls => "tls",
            ErrorKind::Dns => "dns",
            ErrorKind::BlockedAddress => "blocked_address",
            ErrorKind::Redirect => "redirect",
            ErrorKind::HttpStatus => "http_status",
        }
    }
}

/// What happened, as the attempt log records it.
#[derive(Debug, Clone)]
pub struct AttemptOutcome {
    pub started_at: Millis,
    pub duration_ms: Millis,
    pub signature_t: i64,
    pub response_status: Option<u16>,
    pub response_body: Option<Vec<u8>>,
    pub error_kind: Option<ErrorKind>,
    pub error_message: Option<String>,
    pub retry_after: Option<Duration>,
    /// The request's headers as sent, one `name: value` a line (the signature included).
    pub request_headers: String,
    /// The response's headers as received, when there was a response.
    pub response_headers: Option<String>,
}

impl AttemptOutcome {
    pub fn succeeded(&self) -> bool {
        self.error_kind.is_none()
    }

    /// 410 Gone: the receiver asks us to stop for good.
    pub fn gone(&self) -> bool {
        self.response_status == Some(410)
    }
}

/// Why the DNS lookup failed (kept apart from other connection errors).
#[derive(Debug, thiserror::Error)]
#[error("DNS lookup for {host} failed: {source}")]
pub struct DnsFailure {
    pub host: String,
    pub source: std::io::Error,
}

pub async fn send(
    client: &reqwest::Client,
    guard: &AddressGuard,
    outgoing: &Outgoing<'_>,
) -> AttemptOutcome {
    let started_at = now_ms();
    let clock = Instant::now();
    let t = started_at / 1000;
    let mut sent: Vec<(&str, String)> = vec![("Content-Type", "application/json".into())];
    sent.extend(signature_headers(outgoing, t));
    sent.extend([
        ("Biotz-IoT-Event-Id", outgoing.event_id.to_owned()),
        ("Biotz-IoT-Delivery-Id", outgoing.delivery_id.to_owned()),
        ("Biotz-IoT-Delivery-Attempt", outgoing.attempt.to_string()),
    ]);
    let custom = outgoing
        .headers
        .iter()
        .map(|header| (header.name.as_str(), custom_header::MASK));
    let request_headers = header_lines(
        custom
            .chain(std::iter::once(("User-Agent", super::client::USER_AGENT)))
            .chain(sent.iter().map(|(name, value)| (*name, value.as_str()))),
    );
    let finish = |status: Option<u16>,
                  body: Option<Vec<u8>>,
                  kind: Option<ErrorKind>,
                  message: Option<String>,
                  retry_after| {
        AttemptOutcome {
            started_at,
            duration_ms: duration_ms(clock.elapsed()),
            signature_t: t,
            response_status: status,
            response_body: body,
            error_kind: kind,
            error_message: message,
            retry_after,
            request_headers: request_headers.clone(),
            response_headers: None,
        }
    };
    // An IP literal is never resolved, so the guard checks it here.
    if let Some(ip) = literal_ip(outgoing.url)
        && !guard.permits(ip)
    {
        let blocked = BlockedAddress {
            host: ip.to_string(),
            addresses: ip.to_string(),
        };
        return finish(
            None,
            None,
            Some(ErrorKind::BlockedAddress),
            Some(blocked.to_string()),
            None,
        );
    }
    // The User-Agent comes from the client.
    let mut request = client.post(outgoing.url).body(outgoing.body.clone());
    for header in outgoing.headers {
        request = request.header(header.name.as_str(), header.value.as_str());
    }
    for (name, value) in &sent {
        request = request.header(*name, value.as_str());
    }
    let mut response = match request.send().await {
        Ok(response) => response,
        Err(error) => {
            let (kind, message) = classify(&error);
            return finish(None, None, Some(kind), Some(message), None);
        }
    };
    let status = response.status();
    let received = header_lines(
        response
            .headers()
            .iter()
            .map(|(name, value)| (name.as_str(), value.to_str().unwrap_or("(not text)"))),
    );
    let finish = |status, body, kind, message, retry_after| AttemptOutcome {
        response_headers: Some(received.clone()),
        ..finish(status, body, kind, message, retry_after)
    };
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, t))
        .filter(|_| matches!(status.as_u16(), 429 | 503));
    let mut body = Vec::new();
    let mut read_error = None;
    while body.len() < RESPONSE_BODY_LIMIT {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                body.extend_from_slice(&chunk[..chunk.len().min(RESPONSE_BODY_LIMIT - body.len())])
            }
            Ok(None) => break,
            Err(error) => {
                read_error = Some(error);
                break;
            }
        }
    }
    let body = Some(body);
    let code = Some(status.as_u16());
    if status.is_redirection() {
        let to = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("?");
        let message = format!(
            "answered {status} to {to}: redirects are never followed; update the callback URL"
        );
        return finish(code, body, Some(ErrorKind::Redirect), Some(message), None);
    }
    if !status.is_success() {
        return finish(
            code,
            body,
            Some(ErrorKind::HttpStatus),
            Some(format!("answered {status}")),
            retry_after,
        );
    }
    if let Some(error) = read_error.filter(|e| e.is_timeout()) {
        // The status arrived in time but the body did not: the attempt did not finish.
        return finish(
            code,
            body,
            Some(ErrorKind::Timeout),
            Some(format!("the response body timed out: {error}")),
            None,
        );
    }
    finish(code, body, None, None, None)
}

/// Headers as `name: value` lines, as a log shows them.
/// The headers that sign this attempt under the webhook's scheme, signed afresh at `t`.
fn signature_headers(outgoing: &Outgoing<'_>, t: i64) -> Vec<(&'static str, String)> {
    match outgoing.signing {
        Signing::Biotz => vec![(
            biotz_signature::HEADER,
            biotz_signature::sign_header(outgoing.secrets, t, &outgoing.body),
        )],
        Signing::Standard => {
            use biotz_signature::standard;
            // A standard webhook's current secret always decodes (switching to the scheme
            // requires it); older ones that do not are left out.
            let signature =
                standard::sign_header(outgoing.secrets, outgoing.event_id, t, &outgoing.body)
                    .unwrap_or_default();
            vec![
                (standard::ID_HEADER, outgoing.event_id.to_owned()),
                (standard::TIMESTAMP_HEADER, t.to_string()),
                (standard::SIGNATURE_HEADER, signature),
            ]
        }
    }
}

fn header_lines<'a>(headers: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let lines: Vec<String> = headers
        .into_iter()
        .map(|(name, value)| format!("{name}: {value}"))
        .collect();
    lines.join("\n")
}

fn literal_ip(url: &str) -> Option<std::net::IpAddr> {
    match url::Url::parse(url).ok()?.host()? {
        url::Host::Ipv4(ip) => Some(ip.into()),
        url::Host::Ipv6(ip) => Some(ip.into()),
        url::Host::Domain(_) => None,
    }
}

/// Whether an I/O error carries a TLS error, however deeply the layers below wrapped it.
fn wraps_tls_error(io: &std::io::Error) -> bool {
    match io.get_ref() {
        Some(inner) if inner.is::<rustls::Error>() => true,
        Some(inner) => inner
            .downcast_ref::<std::io::Error>()
            .is_some_and(wraps_tls_error),
        None => false,
    }
}

/// The error kind and a readable cause chain.
fn classify(error: &reqwest::Error) -> (ErrorKind, String) {
    let mut chain = Vec::new();
    let mut kind = None;
    let mut source: Option<&(dyn std::error::Error + 'static)> = error.source();
    while let Some(cause) = source {
        if cause.is::<BlockedAddress>() {
            kind = kind.or(Some(ErrorKind::BlockedAddress));
        } else if cause.is::<DnsFailure>() {
            kind = kind.or(Some(ErrorKind::Dns));
        } else if cause.is::<rustls::Error>() {
            kind = kind.or(Some(ErrorKind::Tls));
        } else if let Some(io) = cause.downcast_ref::<std::io::Error>()
            && wraps_tls_error(io)
        {
            kind = kind.or(Some(ErrorKind::Tls));
        }
        chain.push(cause.to_string());
        source = cause.source();
    }
    chain.dedup();
    let kind = kind.unwrap_or(if error.is_timeout() {
        ErrorKind::Timeout
    } else {
        ErrorKind::Connect
    });
    let message = if chain.is_empty() {
        error.to_string()
    } else {
        chain.join(": ")
    };
    (kind, message)
}
