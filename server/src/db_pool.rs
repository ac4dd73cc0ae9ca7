//! How many database connections the server opens, and the check that the
//! arithmetic cannot stall: every admitted ranking request may run
//! `SEMREC_SCAN_CONCURRENCY` statements at once, each on its own connection, so
//! the request pool holds at least `in-flight × scan concurrency` plus room for
//! background work and other requests. Imports and index builds have a pool of
//! their own ([`engine::store`]).

use std::time::Duration;

use anyhow::{bail, Result};
use engine::store::{ConnectionLimit, StoreOptions};
use engine::Store;

use crate::config::{Common, ServeArgs};

/// Request-pool connections the server's own background work may hold (the
/// readiness check, the session sweep, the job leases' statements).
pub const BACKGROUND: u32 = 2;
/// Spare request-pool connections for requests outside the in-flight limit
/// (events, items, pages): they take one connection at a time, briefly.
pub const SPARE: u32 = 2;
/// Connections left for CLI commands and an operator's psql beside the server.
pub const OTHER_CLIENTS: u32 = 10;
/// Request pool of a CLI command.
const COMMAND_POOL: u32 = 4;

/// The smallest request pool for these settings.
pub fn minimum_request_pool(max_in_flight: u32, scan_concurrency: u16) -> u32 {
    max_in_flight * u32::from(scan_concurrency) + BACKGROUND + SPARE
}

fn timeouts(common: &Common, request_connections: u32, job_connections: u32) -> StoreOptions {
    StoreOptions {
        request_connections,
        job_connections,
        statement_timeout: Duration::from_millis(common.statement_timeout_ms),
        lock_timeout: Duration::from_millis(common.lock_timeout_ms),
        ..StoreOptions::new(request_connections)
    }
}

/// The server's pools: the request pool from the in-flight limit (or
/// `SEMREC_DB_POOL`, refused when below the minimum), the jobs pool from the
/// import limit (three connections per running import, three for an index build).
pub fn server_pools(common: &Common, serve: &ServeArgs) -> Result<StoreOptions> {
    let minimum = minimum_request_pool(serve.max_in_flight, common.scan_concurrency);
    let requests = match serve.db_pool {
        Some(n) if n < minimum => bail!(
            "SEMREC_DB_POOL={n} is too small: SEMREC_MAX_IN_FLIGHT ({}) × SEMREC_SCAN_CONCURRENCY ({}) + {} needs {minimum} connections, or requests wait for each other's connections — raise SEMREC_DB_POOL or lower the other two",
            serve.max_in_flight,
            common.scan_concurrency,
            BACKGROUND + SPARE
        ),
        Some(n) => n,
        None => minimum,
    };
    Ok(StoreOptions {
        read_urls: serve.read_replicas.urls(),
        replica_max_lag_bytes: serve.read_replicas.max_lag_bytes,
        ..timeouts(common, requests, 3 * serve.max_imports + 3)
    })
}

/// A CLI command's pools.
pub fn command_pools(common: &Common) -> StoreOptions {
    timeouts(common, COMMAND_POOL, engine::store::DEFAULT_JOB_CONNECTIONS)
}

/// Connections `instances` servers with these pools may open together, with
/// room for other clients and PostgreSQL's superuser-reserved slots.
pub fn connections_needed(instances: u32, pools: &StoreOptions, reserved: u32) -> u32 {
    instances * (pools.request_connections + pools.job_connections) + OTHER_CLIENTS + reserved
}

/// The documented rule: `SEMREC_EXPECTED_INSTANCES` × (request pool + jobs
/// pool) plus [`OTHER_CLIENTS`] plus `superuser_reserved_connections` must not
/// exceed `max_connections`. The error is one line that says what to change.
pub fn fits_connection_limit(
    limit: ConnectionLimit,
    instances: u32,
    pools: &StoreOptions,
) -> Result<(), String> {
    let needed = connections_needed(instances, pools, limit.superuser_reserved);
    if needed <= limit.max_connections {
        return Ok(());
    }
    let (requests, jobs) = (pools.request_connections, pools.job_connections);
    Err(format!(
        "PostgreSQL's max_connections is {max}, but SEMREC_EXPECTED_INSTANCES ({instances}) × {per} connections \
         per instance (request pool {requests} + jobs pool {jobs}) + {OTHER_CLIENTS} for other clients \
         + {reserved} superuser_reserved_connections needs {needed}: raise max_connections to at least {needed}, \
         or lower SEMREC_EXPECTED_INSTANCES, SEMREC_DB_POOL (SEMREC_MAX_IN_FLIGHT × SEMREC_SCAN_CONCURRENCY) \
         or SEMREC_MAX_IMPORTS",
        max = limit.max_connections,
        per = requests + jobs,
        reserved = limit.superuser_reserved,
    ))
}

/// Refuses to start when PostgreSQL allows fewer connections than the pools of
/// every expected instance may open (then requests would fail to connect under
/// load instead of queueing).
pub async fn check_connection_limit(
    store: &Store,
    pools: &StoreOptions,
    instances: u32,
) -> Result<()> {
    let limit = store.connection_limit().await?;
    fits_connection_limit(limit, instances, pools).map_err(|e| anyhow::anyhow!(e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> (Common, ServeArgs) {
        let cli = crate::config::Cli::parse_from(args);
        let serve = match cli.command {
            Some(crate::config::Command::Serve(s)) => *s,
            _ => unreachable!(),
        };
        (cli.common, serve)
    }

    #[test]
    fn the_pool_covers_every_admitted_request_scans() {
        let (common, serve) = parse(&[
            "semrec",
            "--scan-concurrency",
            "3",
            "serve",
            "--max-in-flight",
            "10",
        ]);
        let pools = server_pools(&common, &serve).unwrap();
        assert_eq!(pools.request_connections, 10 * 3 + 4);
        assert_eq!(pools.job_connections, 6);
        assert_eq!(pools.statement_timeout, Duration::from_secs(5));
        let (common, mut serve) = parse(&["semrec", "serve", "--max-in-flight", "10"]);
        serve.db_pool = Some(23);
        let err = server_pools(&common, &serve).unwrap_err().to_string();
        assert!(err.contains("SEMREC_DB_POOL=23 is too small"), "{err}");
        assert!(err.contains("needs 24"), "{err}");
        serve.db_pool = Some(40);
        assert_eq!(
            server_pools(&common, &serve).unwrap().request_connections,
            40
        );
    }

    #[test]
    fn every_expected_instance_pools_must_fit_max_connections() {
        let (common, serve) = parse(&["semrec", "serve", "--max-in-flight", "16"]);
        let pools = server_pools(&common, &serve).unwrap();
        // 16 × 2 + 4 request connections, 3 × 1 + 3 job connections.
        assert_eq!(pools.request_connections + pools.job_connections, 42);
        let limit = |max| ConnectionLimit {
            max_connections: max,
            superuser_reserved: 3,
        };
        assert_eq!(connections_needed(1, &pools, 3), 42 + 10 + 3);
        assert_eq!(connections_needed(3, &pools, 3), 3 * 42 + 10 + 3);
        assert!(fits_connection_limit(limit(55), 1, &pools).is_ok());
        assert!(fits_connection_limit(limit(54), 1, &pools).is_err());
        assert!(fits_connection_limit(limit(300), 6, &pools).is_ok());
        let err = fits_connection_limit(limit(300), 7, &pools).unwrap_err();
        assert!(
            err.starts_with("PostgreSQL's max_connections is 300"),
            "{err}"
        );
        assert!(err.contains("SEMREC_EXPECTED_INSTANCES (7) × 42"), "{err}");
        assert!(err.contains("needs 307"), "{err}");
        assert!(
            err.contains("raise max_connections to at least 307"),
            "{err}"
        );
        assert!(!err.contains('\n'), "one line: {err}");
    }
}
