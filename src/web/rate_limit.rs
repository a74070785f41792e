//! Failed sign-ins, counted in the database so every node shares the counts. Three kinds of key:
//!
//! - the client's address (the peer, or what a trusted proxy says; IPv6 by its /64): one client
//!   that fails too often is refused, for every account, and nobody else is;
//! - the account, for clients without a known-device cookie for it: many addresses spraying one
//!   account are refused together once the account has had too many failures;
//! - the account on one known device (a signed cookie given at a successful sign-in): its owner
//!   keeps signing in from there while the account is under attack from elsewhere.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use ipnet::{IpNet, Ipv6Net};

use super::{AppState, WebSettings};
use crate::domain::random;
use crate::store::{Store, StoreResult, token_hash};

pub const DEVICE_COOKIE: &str = "biotz_device";
const DEVICE_COOKIE_DAYS: i64 = 90;

pub struct SignInLimiter {
    max: i64,
    window: Duration,
    trusted_proxies: Vec<IpNet>,
}

impl SignInLimiter {
    pub fn new(max: i64, window: Duration, trusted_proxies: Vec<IpNet>) -> Self {
        Self {
            max,
            window,
            trusted_proxies,
        }
    }

    fn trusted(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(&ip))
    }

    /// The client's address: the peer, unless the peer is a trusted proxy, in which case the
    /// nearest address its forwarding chain names that is not itself a trusted proxy.
    pub fn client_address(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusted(peer) {
            return peer;
        }
        let chain = forwarded_chain(headers);
        let mut client = peer;
        for hop in chain.iter().rev() {
            match hop {
                Some(ip) if self.trusted(*ip) => client = *ip,
                Some(ip) => return *ip,
                // An entry that is not an address: nothing before it can be believed.
                None => return client,
            }
        }
        client
    }

    /// The keys one attempt counts against.
    pub fn keys(&self, client: IpAddr, email: &str, device: Option<&str>) -> Vec<String> {
        let address = match client {
            IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => Ipv6Net::new(v6, 64)
                .map(|net| net.trunc().to_string())
                .unwrap_or_else(|_| v6.to_string()),
            IpAddr::V6(v6) => v6
                .to_ipv4_mapped()
                .map_or(v6.to_string(), |v4| v4.to_string()),
            IpAddr::V4(v4) => v4.to_string(),
        };
        let email = token_hash(email);
        let account = match device {
            Some(device) => format!("device:{email}:{device}"),
            None => format!("account:{email}"),
        };
        vec![format!("address:{address}"), account]
    }

    /// `Err(wait)` when any of the keys has used up its failures for now.
    pub async fn check(&self, store: &Store, keys: &[String]) -> StoreResult<Result<(), Duration>> {
        let now = crate::domain::time::now_ms();
        let wait = store
            .sign_in_failures(keys)
            .await?
            .into_iter()
            .filter(|(failures, _)| *failures >= self.max)
            .map(|(_, ends)| Duration::from_millis((ends - now).max(0) as u64))
            .max();
        Ok(wait.map_or(Ok(()), Err))
    }

    pub async fn record_failure(&self, store: &Store, keys: &[String]) -> StoreResult<()> {
        store
            .record_sign_in_failure(keys, self.window.as_millis() as i64)
            .await
    }

    /// After a successful sign-in only the device's own count is forgotten: signing in to one
    /// account must not reset an address's count, nor the account's count elsewhere.
    pub async fn succeeded(&self, store: &Store, keys: &[String]) -> StoreResult<()> {
        for key in keys.iter().filter(|k| k.starts_with("device:")) {
            store.clear_sign_in_failures(key).await?;
        }
        Ok(())
    }
}

/// The addresses in `Forwarded: for=…` (preferred) or `X-Forwarded-For`, client first; `None`
/// for an entry that is not an address (`unknown`, an obfuscated name, garbage).
fn forwarded_chain(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let values = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|v| v.trim().to_owned())
            .collect()
    };
    let forwarded = values("forwarded");
    if !forwarded.is_empty() {
        return forwarded
            .iter()
            .filter_map(|element| {
                element.split(';').find_map(|pair| {
                    let (name, value) = pair.trim().split_once('=')?;
                    name.eq_ignore_ascii_case("for").then(|| parse_node(value))
                })
            })
            .collect();
    }
    values("x-forwarded-for")
        .iter()
        .map(|v| parse_node(v))
        .collect()
}

/// `192.0.2.1`, `192.0.2.1:4711`, `"[2001:db8::1]:4711"`, `2001:db8::1`.
fn parse_node(text: &str) -> Option<IpAddr> {
    let text = text.trim().trim_matches('"');
    if let Ok(ip) = text.parse() {
        return Some(ip);
    }
    if let Ok(socket) = text.parse::<SocketAddr>() {
        return Some(socket.ip());
    }
    text.strip_prefix('[')?.split(']').next()?.parse().ok()
}

/// The address a sign-in comes from, as `SignInLimiter::client_address` decides.
pub struct ClientAddress(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |info| info.0.ip());
        Ok(Self(
            state
                .web
                .sign_in_limiter
                .client_address(peer, &parts.headers),
        ))
    }
}

/// The device id a known-device cookie for `email` carries.
pub fn known_device(jar: &CookieJar, web: &WebSettings, email: &str) -> Option<String> {
    let cookie = jar.get(DEVICE_COOKIE)?;
    let payload = web.cookie_key.verify(DEVICE_COOKIE, cookie.value())?;
    let (account, device) = payload.split_once('.')?;
    (account == &token_hash(email)[..16]).then(|| device.to_owned())
}

/// Marks this browser as a known device of `email` (after a successful sign-in).
pub fn remember_device(jar: CookieJar, web: &WebSettings, email: &str) -> CookieJar {
    let device = known_device(&jar, web, email).unwrap_or_else(|| random::token()[..22].to_owned());
    let payload = format!("{}.{device}", &token_hash(email)[..16]);
    let cookie = Cookie::build((DEVICE_COOKIE, web.cookie_key.sign(DEVICE_COOKIE, &payload)))
        .path("/login")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(web.secure_cookies)
        .max_age(time::Duration::days(DEVICE_COOKIE_DAYS))
        .build();
    jar.add(cookie)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(trusted: &str) -> SignInLimiter {
        SignInLimiter::new(
            10,
            Duration::from_secs(60),
            crate::config::parse_cidrs(trusted).unwrap(),
        )
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn forwarded_headers_count_only_from_a_trusted_proxy() {
        let spoofed = headers(&[("x-forwarded-for", "198.51.100.7")]);
        assert_eq!(
            limiter("").client_address(ip("203.0.113.9"), &spoofed),
            ip("203.0.113.9")
        );
        let proxies = limiter("10.0.0.0/8");
        assert_eq!(
            proxies.client_address(ip("203.0.113.9"), &spoofed),
            ip("203.0.113.9")
        );
        assert_eq!(
            proxies.client_address(ip("10.0.0.2"), &spoofed),
            ip("198.51.100.7")
        );
        // The client may prepend anything; the entry the trusted proxies added is used.
        let chain = headers(&[("x-forwarded-for", "1.2.3.4, 198.51.100.7, 10.0.0.5")]);
        assert_eq!(
            proxies.client_address(ip("10.0.0.2"), &chain),
            ip("198.51.100.7")
        );
        let standard = headers(&[(
            "forwarded",
            "for=1.2.3.4, for=\"[2001:db8::7]:4711\";proto=https",
        )]);
        assert_eq!(
            proxies.client_address(ip("10.0.0.2"), &standard),
            ip("2001:db8::7")
        );
        let garbage = headers(&[("x-forwarded-for", "nonsense")]);
        assert_eq!(
            proxies.client_address(ip("10.0.0.2"), &garbage),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let limiter = limiter("");
        assert_eq!(
            limiter.keys(ip("2001:db8:1:2:aaaa::1"), "a@b.c", None)[0],
            limiter.keys(ip("2001:db8:1:2:bbbb::9"), "a@b.c", None)[0]
        );
        assert_ne!(
            limiter.keys(ip("2001:db8:1:3::1"), "a@b.c", None)[0],
            limiter.keys(ip("2001:db8:1:2::1"), "a@b.c", None)[0]
        );
    }
}
