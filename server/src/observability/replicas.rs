//! The read replicas (`DATABASE_READ_URL`): their lag and health as last
//! measured, and where the reads that may use them went.

use engine::read_pool::{Fallback, Health, ReadPool};
use engine::Engine;
use prometheus_client::registry::Registry;

use super::observed::{ObservedCounter, ObservedGauge};

/// Label values live as long as the registry: a replica's name, leaked once at
/// start (a handful of short strings).
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// One gauge over the replicas, `read` applied to the `i`-th one's health.
fn replica_gauge(
    reads: &ReadPool,
    read: impl Fn(Health) -> f64 + Copy + Send + Sync + 'static,
) -> ObservedGauge {
    reads
        .replicas()
        .into_iter()
        .enumerate()
        .fold(ObservedGauge::labelled(), |gauge, (i, r)| {
            let reads = reads.clone();
            gauge.with(vec![("replica", leak(r.name))], move || {
                reads.replicas().get(i).map_or(f64::NAN, |r| read(r.health))
            })
        })
}

pub fn register(registry: &mut Registry, engine: &Engine) {
    let reads = engine.store.reads().clone();
    let r = reads.clone();
    registry.register(
        "semrec_replica_reads",
        "Candidate scans, facets and dashboard reads served by a read replica",
        ObservedCounter::new(move || r.replica_reads()),
    );
    let r = reads.clone();
    registry.register(
        "semrec_primary_reads",
        "Candidate scans, facets and dashboard reads served by the primary (all of them without DATABASE_READ_URL)",
        ObservedCounter::new(move || r.primary_reads()),
    );
    let mut fallbacks = ObservedCounter::labelled();
    for reason in Fallback::ALL {
        let r = reads.clone();
        fallbacks = fallbacks.with(vec![("reason", reason.label())], move || {
            r.fallbacks(reason)
        });
    }
    registry.register(
        "semrec_replica_fallbacks",
        "Reads sent to the primary although replicas are configured: no replica usable (lagging over SEMREC_REPLICA_MAX_LAG_BYTES, down, not yet checked), a recovery conflict (SQLSTATE 40001) or a failed replica connection, each run again on the primary",
        fallbacks,
    );
    if !reads.has_replicas() {
        return;
    }
    registry.register(
        "semrec_replica_lag_bytes",
        "Bytes of WAL the replica had not replayed at the last check (primary's pg_current_wal_lsn() minus the replica's pg_last_wal_replay_lsn()); NaN when it did not answer",
        replica_gauge(&reads, |h| match h {
            Health::Lag(bytes) => bytes as f64,
            Health::Down | Health::Unknown => f64::NAN,
        }),
    );
    let max = reads.max_lag_bytes();
    registry.register(
        "semrec_replica_usable",
        "1 while the replica serves reads (answering, within SEMREC_REPLICA_MAX_LAG_BYTES), else 0",
        replica_gauge(&reads, move |h| match h {
            Health::Lag(bytes) if bytes <= max => 1.0,
            _ => 0.0,
        }),
    );
}
