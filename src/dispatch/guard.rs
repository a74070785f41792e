//! The outbound address guard: callbacks may reach public addresses only, unless
//! `BIOTZ_ALLOW_PRIVATE_TARGETS` covers them. The resolver below is the only way the delivery
//! client finds addresses, and it returns only the addresses it checked, so the connection goes
//! where the check said (DNS rebinding between check and connect is impossible).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Why an address may not be reached.
#[derive(Debug, thiserror::Error)]
#[error(
    "{host} resolves only to addresses that are not public ({addresses}); allow them with BIOTZ_ALLOW_PRIVATE_TARGETS if this is intended"
)]
pub struct BlockedAddress {
    pub host: String,
    pub addresses: String,
}

#[derive(Debug, Clone, Default)]
pub struct AddressGuard {
    allowed: Arc<Vec<IpNet>>,
}

impl AddressGuard {
    pub fn new(allowed: Vec<IpNet>) -> Self {
        Self {
            allowed: Arc::new(allowed),
        }
    }

    pub fn permits(&self, ip: IpAddr) -> bool {
        is_public(ip) || self.allowed.iter().any(|net| net.contains(&ip))
    }

    /// Keeps the permitted addresses; an error when none is.
    pub fn filter(
        &self,
        host: &str,
        addresses: Vec<SocketAddr>,
    ) -> Result<Vec<SocketAddr>, BlockedAddress> {
        let (allowed, refused): (Vec<_>, Vec<_>) =
            addresses.into_iter().partition(|a| self.permits(a.ip()));
        if allowed.is_empty() {
            Err(BlockedAddress {
                host: host.to_owned(),
                addresses: refused
                    .iter()
                    .map(|a| a.ip().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        } else {
            Ok(allowed)
        }
    }
}

/// Whether an address is globally reachable: not loopback, private, link-local, CGNAT, multicast,
/// documentation, benchmarking, reserved or unspecified. Every block of IANA's special-purpose
/// registries is refused (a test checks them, `tests/data/iana-*.csv`), also the few the
/// registries mark globally reachable: anycast services, DNS sinks and relays are never a
/// webhook receiver.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            is_public_v6(v6)
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    const BLOCKED: &[(u32, u8)] = &[
        (0x0000_0000, 8),  // 0.0.0.0/8 "this network"
        (0x0A00_0000, 8),  // 10.0.0.0/8 private
        (0x6440_0000, 10), // 100.64.0.0/10 CGNAT
        (0x7F00_0000, 8),  // 127.0.0.0/8 loopback
        (0xA9FE_0000, 16), // 169.254.0.0/16 link-local
        (0xAC10_0000, 12), // 172.16.0.0/12 private
        (0xC000_0000, 24), // 192.0.0.0/24 IETF protocol assignments
        (0xC000_0200, 24), // 192.0.2.0/24 documentation
        (0xC01F_C400, 24), // 192.31.196.0/24 AS112-v4 DNS sink
        (0xC034_C100, 24), // 192.52.193.0/24 AMT relays
        (0xC058_6300, 24), // 192.88.99.0/24 6to4 relay
        (0xC0A8_0000, 16), // 192.168.0.0/16 private
        (0xC0AF_3000, 24), // 192.175.48.0/24 AS112 direct delegation DNS sink
        (0xC612_0000, 15), // 198.18.0.0/15 benchmarking
        (0xC633_6400, 24), // 198.51.100.0/24 documentation
        (0xCB00_7100, 24), // 203.0.113.0/24 documentation
        (0xE000_0000, 4),  // 224.0.0.0/4 multicast
        (0xF000_0000, 4),  // 240.0.0.0/4 reserved, and broadcast
    ];
    let bits = u32::from(ip);
    !BLOCKED
        .iter()
        .any(|(net, len)| bits >> (32 - len) == net >> (32 - len))
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    let blocked = (segments[0] & 0xe000) != 0x2000 // outside 2000::/3, the only global unicast space
        || ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (segments[0] & 0xfe00) == 0xfc00 // fc00::/7 unique local
        || (segments[0] & 0xffc0) == 0xfe80 // fe80::/10 link-local
        || (segments[0] & 0xffc0) == 0xfec0 // fec0::/10 site-local (deprecated)
        || (segments[0] == 0x2001 && segments[1] == 0x0db8) // 2001:db8::/32 documentation
        || (segments[0] == 0x2001 && segments[1] < 0x0200) // 2001::/23 IETF protocol assignments (Teredo…)
        || (segments[0] == 0x0064 && segments[1] == 0xff9b) // 64:ff9b::/96 NAT64: an IPv4 in disguise
        || (segments[0] == 0x0100 && segments[1..4] == [0, 0, 0]) // 100::/64 discard
        || segments[0] == 0x2002 // 2002::/16 6to4: an IPv4 in disguise
        || (segments[0] == 0x3fff && segments[1] < 0x1000) // 3fff::/20 documentation
        || segments[..3] == [0x2620, 0x004f, 0x8000] // 2620:4f:8000::/48 AS112 DNS sink
        || segments[..6] == [0; 6]; // ::/96, IPv4-compatible (deprecated)
    !blocked
}

/// The delivery client's resolver: the system resolver, then the guard.
#[derive(Clone)]
pub struct GuardedResolver {
    pub guard: AddressGuard,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = self.guard.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|source| super::attempt::DnsFailure {
                    host: host.clone(),
                    source,
                })?
                .collect();
            let allowed = guard.filter(&host, found)?;
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn non_public_addresses_are_refused() {
        for text in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.10",
            "198.18.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2001:db8::1",
            "2002:a00:1::",
        ] {
            assert!(!is_public(ip(text)), "{text} should not be public");
        }
    }

    /// First, middle and last address of every block in a registry copy.
    fn registry_blocks(csv: &str) -> Vec<(String, Vec<IpAddr>)> {
        csv.lines()
            .skip(1)
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                let block = line.split(',').next().unwrap();
                let net: IpNet = block.parse().unwrap();
                let (first, last) = (net.network(), net.broadcast());
                let middle = match (first, last) {
                    (IpAddr::V4(a), IpAddr::V4(b)) => {
                        IpAddr::V4((u32::from(a) / 2 + u32::from(b) / 2).into())
                    }
                    (IpAddr::V6(a), IpAddr::V6(b)) => {
                        IpAddr::V6((u128::from(a) / 2 + u128::from(b) / 2).into())
                    }
                    _ => unreachable!(),
                };
                (block.to_owned(), vec![first, middle, last])
            })
            .collect()
    }

    #[test]
    fn every_block_of_the_iana_special_purpose_registries_is_refused() {
        let v4 = registry_blocks(include_str!(
            "../../tests/data/iana-ipv4-special-registry.csv"
        ));
        let v6 = registry_blocks(include_str!(
            "../../tests/data/iana-ipv6-special-registry.csv"
        ));
        assert!(
            v4.len() >= 25 && v6.len() >= 25,
            "the registry copies are incomplete"
        );
        for (block, addresses) in v4.iter().chain(&v6) {
            for ip in addresses {
                assert!(!is_public(*ip), "{ip} (in {block}) should be refused");
            }
        }
    }

    #[test]
    fn the_blocks_added_from_the_registries_are_refused() {
        for text in [
            "192.31.196.1",
            "192.52.193.1",
            "192.175.48.1",
            "3fff::1",
            "3fff:fff:ffff::1",
            "5f00::1",
            "100:0:0:1::1",
            "2620:4f:8000::1",
        ] {
            assert!(!is_public(ip(text)), "{text} should not be public");
        }
        for text in ["3fff:1000::1", "2620:4f:8001::1", "192.31.197.1"] {
            assert!(is_public(ip(text)), "{text} should be public");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for text in [
            "93.184.216.34",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(ip(text)), "{text} should be public");
        }
    }

    #[test]
    fn the_allow_list_opens_chosen_networks() {
        let guard = AddressGuard::new(vec!["127.0.0.0/8".parse().unwrap()]);
        assert!(guard.permits(ip("127.0.0.1")));
        assert!(!guard.permits(ip("10.0.0.1")));
        let mixed = vec![
            "10.0.0.1:443".parse().unwrap(),
            "127.0.0.1:443".parse().unwrap(),
        ];
        assert_eq!(
            guard.filter("h", mixed).unwrap(),
            vec!["127.0.0.1:443".parse::<SocketAddr>().unwrap()]
        );
        let error = AddressGuard::default()
            .filter("internal.example", vec!["10.0.0.1:443".parse().unwrap()])
            .unwrap_err();
        assert!(error.to_string().contains(
            "internal.example resolves only to addresses that are not public (10.0.0.1)"
        ));
    }
}
