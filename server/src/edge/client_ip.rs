//! The client's address: the TCP peer, or, when the peer is a reverse proxy
//! listed in `SEMREC_TRUSTED_PROXIES`, the nearest untrusted address in its
//! `X-Forwarded-For`. Anyone can send that header, so it is believed only from
//! proxies the operator named; otherwise a client could pick its own address
//! and escape every per-address limit.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use app::client::ClientIp;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderMap;

/// One address or network (`10.0.0.0/8`, `fd00::/8`, `192.0.2.1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl std::str::FromStr for Network {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("'{s}' is not an IP address or network (e.g. 10.0.0.1 or 10.0.0.0/8)");
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| bad())?)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let addr = addr.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(bad());
        }
        Ok(Self { addr, prefix })
    }
}

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Vec<Network>);

impl TrustedProxies {
    pub fn new(networks: Vec<Network>) -> Self {
        Self(networks)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(ip))
    }

    /// The client behind `peer`: walking `X-Forwarded-For` from the right (the
    /// entry the nearest proxy added), the first address that is not a trusted
    /// proxy. Entries further left were written by whoever sent the request.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.trusts(client) {
            return client;
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect();
        for hop in hops.iter().rev() {
            let hop = hop.trim();
            let Some(ip) = hop
                .parse::<IpAddr>()
                .ok()
                .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
            else {
                // Garbage: the last address a trusted proxy vouched for stands.
                break;
            };
            client = ip.to_canonical();
            if !self.trusts(client) {
                break;
            }
        }
        client
    }
}

/// The middleware: leaves the client's address in the request's extensions
/// (for the API's rate limit and the server functions' throttles).
pub async fn resolve(
    State(proxies): State<Arc<TrustedProxies>>,
    mut req: Request,
    next: Next,
) -> Response {
    if let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>().copied() {
        let ip = proxies.client(peer.ip(), req.headers());
        req.extensions_mut().insert(ClientIp(ip));
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xff(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", v.parse().unwrap());
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn networks_parse_and_match() {
        let n: Network = "10.0.0.0/8".parse().unwrap();
        assert!(n.contains(ip("10.200.1.1")));
        assert!(!n.contains(ip("11.0.0.1")));
        assert!(n.contains(ip("::ffff:10.0.0.1")));
        let one: Network = "192.0.2.1".parse().unwrap();
        assert!(one.contains(ip("192.0.2.1")) && !one.contains(ip("192.0.2.2")));
        let v6: Network = "fd00::/8".parse().unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        let all: Network = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("203.0.113.9")));
        assert!("10.0.0.0/33".parse::<Network>().is_err());
        assert!("proxy.local".parse::<Network>().is_err());
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxies = TrustedProxies::new(vec!["10.0.0.0/8".parse().unwrap()]);
        // An untrusted peer's header is ignored: it could name anyone.
        assert_eq!(
            proxies.client(ip("203.0.113.5"), &xff("198.51.100.1")),
            ip("203.0.113.5")
        );
        // A trusted proxy's is read from the right, past other trusted proxies.
        assert_eq!(
            proxies.client(ip("10.0.0.2"), &xff("198.51.100.1")),
            ip("198.51.100.1")
        );
        assert_eq!(
            proxies.client(ip("10.0.0.2"), &xff("1.2.3.4, 198.51.100.1, 10.0.0.3")),
            ip("198.51.100.1")
        );
        // No header, or garbage: the proxy itself (or the last trusted hop).
        assert_eq!(
            proxies.client(ip("10.0.0.2"), &HeaderMap::new()),
            ip("10.0.0.2")
        );
        assert_eq!(
            proxies.client(ip("10.0.0.2"), &xff("unknown")),
            ip("10.0.0.2")
        );
        // Nobody trusted: the peer, whatever the header says.
        let none = TrustedProxies::default();
        assert_eq!(
            none.client(ip("10.0.0.2"), &xff("198.51.100.1")),
            ip("10.0.0.2")
        );
    }
}
