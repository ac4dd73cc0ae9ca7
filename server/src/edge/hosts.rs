//! The host allow-list: which `Host` headers semrec answers, and which origins
//! may send it state-changing browser requests. Checking `Host` defeats DNS
//! rebinding (a hostile name resolving to 127.0.0.1 makes the browser treat
//! semrec as that name's origin); checking `Origin` against the list, not
//! against the request's own `Host`, defeats cross-site request forgery even
//! when the attacker controls `Host`.

use std::net::SocketAddr;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{header, StatusCode};

use crate::api;

/// Paths answered whatever the `Host`: load balancers probe by address.
const HEALTH_PREFIX: &str = "/api/v1/health/";

#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    /// `http` or `https`; `None` = the list's default scheme.
    scheme: Option<String>,
    /// Lower case; IPv6 in brackets.
    host: String,
    /// `None` = any port.
    port: Option<u16>,
}

/// The host names (with or without port, optionally with scheme) that clients
/// reach semrec by.
#[derive(Clone, Debug)]
pub struct AllowedHosts {
    entries: Vec<Entry>,
    /// The scheme of entries without one: `https` when cookies are marked Secure
    /// (a TLS proxy in front), else `http`.
    default_scheme: &'static str,
}

fn default_port(scheme: &str) -> u16 {
    if scheme == "https" {
        443
    } else {
        80
    }
}

/// "host", "host:port", "[v6]", "[v6]:port" → (host, port); None when malformed.
fn split_authority(authority: &str) -> Option<(String, Option<u16>)> {
    let a = authority.trim().to_ascii_lowercase();
    if a.is_empty() || a.contains(['/', '@', ' ', '?', '#']) {
        return None;
    }
    if let Some(rest) = a.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?.parse().ok()?),
        };
        return Some((format!("[{host}]"), port));
    }
    match a.split_once(':') {
        Some((host, port)) if !host.is_empty() => {
            Some((host.to_string(), Some(port.parse().ok()?)))
        }
        Some(_) => None,
        None => Some((a, None)),
    }
}

/// "scheme://authority[/...]" → (scheme, authority); None for "null" and garbage.
fn split_origin(url: &str) -> Option<(String, &str)> {
    let (scheme, rest) = url.trim().split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some((scheme, &rest[..end])).filter(|(_, a)| !a.is_empty())
}

impl AllowedHosts {
    /// From `SEMREC_ALLOWED_HOSTS` when given, else the listen address's own
    /// names; a non-loopback listen address needs the setting.
    pub fn from_settings(
        list: &[String],
        listen: SocketAddr,
        secure: bool,
    ) -> Result<Self, String> {
        let default_scheme = if secure { "https" } else { "http" };
        let given: Vec<&str> = list
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .collect();
        if given.is_empty() {
            return Self::for_loopback(listen, default_scheme);
        }
        let entries = given
            .iter()
            .map(|s| parse_entry(s))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            entries,
            default_scheme,
        })
    }

    /// `127.0.0.1:port` (or `[::1]:port`) and `localhost:port`.
    pub fn for_loopback(listen: SocketAddr, default_scheme: &'static str) -> Result<Self, String> {
        if !listen.ip().is_loopback() {
            return Err(format!(
                "SEMREC_ADDR {listen} is not a loopback address: set SEMREC_ALLOWED_HOSTS to the host names clients use to reach semrec (e.g. rec.example.com,rec.example.com:3000)"
            ));
        }
        let port = Some(listen.port());
        let ip = match listen {
            SocketAddr::V4(a) => a.ip().to_string(),
            SocketAddr::V6(a) => format!("[{}]", a.ip()),
        };
        let entry = |host: String| Entry {
            scheme: None,
            host,
            port,
        };
        Ok(Self {
            entries: vec![entry(ip), entry("localhost".into())],
            default_scheme,
        })
    }

    fn port_matches(&self, entry: &Entry, port: Option<u16>, scheme: &str) -> bool {
        entry.port.is_none() || entry.port == Some(port.unwrap_or_else(|| default_port(scheme)))
    }

    /// Whether a `Host` header names this server.
    pub fn allows_host(&self, host: &str) -> bool {
        let Some((name, port)) = split_authority(host) else {
            return false;
        };
        self.entries.iter().any(|e| {
            let scheme = e.scheme.as_deref().unwrap_or(self.default_scheme);
            e.host == name && self.port_matches(e, port, scheme)
        })
    }

    /// Whether an `Origin` (or `Referer`) is this server, scheme included.
    pub fn allows_origin(&self, origin: &str) -> bool {
        let Some((scheme, authority)) = split_origin(origin) else {
            return false;
        };
        let Some((name, port)) = split_authority(authority) else {
            return false;
        };
        self.entries.iter().any(|e| {
            e.scheme.as_deref().unwrap_or(self.default_scheme) == scheme
                && e.host == name
                && self.port_matches(e, port, &scheme)
        })
    }

    /// The list as an operator wrote it, for the start-up log.
    pub fn describe(&self) -> String {
        self.entries
            .iter()
            .map(|e| {
                let scheme = e
                    .scheme
                    .as_deref()
                    .map(|s| format!("{s}://"))
                    .unwrap_or_default();
                let port = e.port.map(|p| format!(":{p}")).unwrap_or_default();
                format!("{scheme}{}{port}", e.host)
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}

fn parse_entry(s: &str) -> Result<Entry, String> {
    let bad = || {
        format!(
            "SEMREC_ALLOWED_HOSTS: '{s}' is not a host name, host:port or http(s)://host[:port]"
        )
    };
    let (scheme, authority) = match s.split_once("://") {
        Some((scheme, rest)) => {
            let scheme = scheme.to_ascii_lowercase();
            if scheme != "http" && scheme != "https" {
                return Err(bad());
            }
            (Some(scheme), rest.trim_end_matches('/'))
        }
        None => (None, s),
    };
    let (host, port) = split_authority(authority).ok_or_else(bad)?;
    Ok(Entry { scheme, host, port })
}

/// The middleware: 421 for a `Host` not on the list, before any routing.
pub async fn check_host(
    State(hosts): State<std::sync::Arc<AllowedHosts>>,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path();
    if path.starts_with(HEALTH_PREFIX) {
        return next.run(req).await;
    }
    // HTTP/1.1 requires Host; an absolute-form request target carries it in the URI.
    // Two Host headers are refused: proxies and semrec might each believe another.
    let mut hosts_sent = req.headers().get_all(header::HOST).iter();
    let host = match (hosts_sent.next(), hosts_sent.next()) {
        (Some(h), None) => h.to_str().ok(),
        (None, _) => req.uri().authority().map(|a| a.as_str()),
        (Some(_), Some(_)) => None,
    };
    if host.is_some_and(|h| hosts.allows_host(h)) {
        return next.run(req).await;
    }
    let shown: String = host.unwrap_or("(none)").chars().take(100).collect();
    tracing::debug!(host = %shown, "refused a request for a host not on SEMREC_ALLOWED_HOSTS");
    let message = format!(
        "this server does not answer for host '{shown}': use one of the names in SEMREC_ALLOWED_HOSTS"
    );
    if path.starts_with(api::PREFIX) {
        api::error_response(
            StatusCode::MISDIRECTED_REQUEST,
            "misdirected_request",
            &message,
        )
        .into_response()
    } else {
        (StatusCode::MISDIRECTED_REQUEST, message).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(s: &[&str], secure: bool) -> AllowedHosts {
        let s: Vec<String> = s.iter().map(|x| x.to_string()).collect();
        AllowedHosts::from_settings(&s, "0.0.0.0:3000".parse().unwrap(), secure).unwrap()
    }

    #[test]
    fn defaults_are_the_loopback_names_with_the_port() {
        let h = AllowedHosts::from_settings(&[], "127.0.0.1:3100".parse().unwrap(), false).unwrap();
        assert!(h.allows_host("127.0.0.1:3100"));
        assert!(h.allows_host("LOCALHOST:3100"));
        assert!(!h.allows_host("127.0.0.1:3101"));
        assert!(!h.allows_host("evil.example:3100"));
        assert!(!h.allows_host("127.0.0.1"));
        assert!(h.allows_origin("http://127.0.0.1:3100"));
        assert!(h.allows_origin("http://localhost:3100/admin?x"));
        assert!(!h.allows_origin("https://127.0.0.1:3100"));
        assert!(!h.allows_origin("http://evil.example:3100"));
        assert!(!h.allows_origin("null"));
        let v6 = AllowedHosts::from_settings(&[], "[::1]:3000".parse().unwrap(), false).unwrap();
        assert!(v6.allows_host("[::1]:3000"));
        assert!(v6.allows_origin("http://[::1]:3000"));
        assert_eq!(v6.describe(), "[::1]:3000,localhost:3000");
    }

    #[test]
    fn a_public_listen_address_needs_the_setting() {
        let e =
            AllowedHosts::from_settings(&[], "0.0.0.0:3000".parse().unwrap(), false).unwrap_err();
        assert!(e.contains("SEMREC_ALLOWED_HOSTS"), "{e}");
        let e =
            AllowedHosts::from_settings(&["a b".into()], "0.0.0.0:3000".parse().unwrap(), false)
                .unwrap_err();
        assert!(e.contains("'a b'"), "{e}");
    }

    #[test]
    fn entries_without_port_match_any_port_and_schemes_are_checked() {
        let h = list(&["rec.example.com", "https://other.example"], false);
        assert!(h.allows_host("rec.example.com"));
        assert!(h.allows_host("rec.example.com:8080"));
        assert!(h.allows_host("other.example"));
        assert!(!h.allows_host("example.com"));
        assert!(h.allows_origin("http://rec.example.com:8080"));
        // The default scheme is http without Secure cookies.
        assert!(!h.allows_origin("https://rec.example.com"));
        assert!(h.allows_origin("https://other.example"));
        assert!(!h.allows_origin("http://other.example"));
        let secure = list(&["rec.example.com:443"], true);
        assert!(secure.allows_origin("https://rec.example.com"));
        assert!(secure.allows_host("rec.example.com"));
        assert!(!secure.allows_origin("http://rec.example.com"));
    }
}
