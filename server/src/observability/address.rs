//! Where `/metrics` is served: `SEMREC_METRICS_ADDR`, a loopback address unless
//! the operator says otherwise, never the public port.

use std::net::SocketAddr;

/// The metrics address from the settings: `None` when disabled (empty or `off`);
/// an error line that says what to change for an unparsable or, without
/// `allow_public`, a non-loopback address.
pub fn metrics_addr(value: &str, allow_public: bool) -> Result<Option<SocketAddr>, String> {
    let value = value.trim();
    if value.is_empty() || value.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let addr: SocketAddr = value.parse().map_err(|_| {
        format!("SEMREC_METRICS_ADDR={value} is not an address: use IP:PORT such as 127.0.0.1:9464, or `off`")
    })?;
    if !addr.ip().is_loopback() && !allow_public {
        return Err(format!(
            "SEMREC_METRICS_ADDR={value} is not a loopback address: anyone who reaches it could read the metrics — use 127.0.0.1:PORT, or set SEMREC_METRICS_PUBLIC=true when a firewall decides who may scrape it"
        ));
    }
    Ok(Some(addr))
}

/// Binds the metrics listener, with the same one-line errors as the public port.
pub async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, String> {
    tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            format!(
                "metrics port {} is already in use: stop the other process, or set SEMREC_METRICS_ADDR to another address (or `off`)",
                addr.port()
            )
        } else {
            format!("cannot listen for metrics on {addr}: {e}")
        }
    })
}

/// Whether a `Host` header names this machine's loopback (an IP literal in
/// 127.0.0.0/8 or ::1, or `localhost`, with any port). A loopback metrics
/// address answers only those: a web page whose name an attacker re-points at
/// 127.0.0.1 (DNS rebinding) sends its own name and is refused.
pub fn loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        // [::1]:9464
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                name
            } else {
                host
            }
        }),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_by_default_off_by_choice_public_only_when_allowed() {
        assert_eq!(
            metrics_addr("127.0.0.1:9464", false),
            Ok(Some("127.0.0.1:9464".parse().unwrap()))
        );
        assert!(metrics_addr("[::1]:9464", false).unwrap().is_some());
        assert_eq!(metrics_addr("", false), Ok(None));
        assert_eq!(metrics_addr(" OFF ", false), Ok(None));
        let err = metrics_addr("0.0.0.0:9464", false).unwrap_err();
        assert!(err.contains("not a loopback address"), "{err}");
        assert!(err.contains("SEMREC_METRICS_PUBLIC"), "{err}");
        assert!(metrics_addr("0.0.0.0:9464", true).unwrap().is_some());
        let err = metrics_addr("localhost:9464", false).unwrap_err();
        assert!(err.contains("is not an address"), "{err}");
    }

    #[test]
    fn only_loopback_names_are_loopback_hosts() {
        for host in [
            "127.0.0.1:9464",
            "127.0.0.1",
            "localhost:9464",
            "[::1]:9464",
            "LOCALHOST",
        ] {
            assert!(loopback_host(host), "{host}");
        }
        for host in [
            "evil.example:9464",
            "10.0.0.1:9464",
            "127.0.0.1.evil.example",
            "[::2]:1",
            "",
        ] {
            assert!(!loopback_host(host), "{host}");
        }
    }
}
