//! The scrape-time metrics: the in-flight limit, the embedding queue and its
//! batches, the database pools, the embedding cache, and the interaction rate
//! and drift signals. Each is read from where the server already keeps it.

use engine::drift::{DriftSignal, DriftState};
use engine::Engine;
use prometheus_client::registry::Registry;
use sqlx::PgPool;

use super::observed::{ObservedCounter, ObservedGauge, ObservedHistogram};
use super::signals::{self, Signals};
use crate::admission::Admission;

pub fn register(
    registry: &mut Registry,
    engine: &Engine,
    admission: &Admission,
    signals: &Signals,
) {
    register_admission(registry, admission);
    register_embedder(registry, engine);
    register_pools(
        registry,
        &[
            ("requests", engine.store.pool().clone()),
            ("jobs", engine.store.jobs().clone()),
        ],
    );
    register_cache(registry, engine);
    register_signals(registry, signals);
    super::replicas::register(registry, engine);
}

fn register_admission(registry: &mut Registry, admission: &Admission) {
    let a = admission.clone();
    registry.register(
        "semrec_ranking_in_flight",
        "Ranking requests (recommendations, similar items, search, ranking pages) being served now",
        ObservedGauge::new(move || a.in_flight() as f64),
    );
    let limit = admission.limit() as f64;
    registry.register(
        "semrec_ranking_in_flight_limit",
        "SEMREC_MAX_IN_FLIGHT: ranking requests served at once",
        ObservedGauge::new(move || limit),
    );
    let a = admission.clone();
    registry.register(
        "semrec_ranking_refused",
        "Ranking requests refused because SEMREC_MAX_IN_FLIGHT were in flight (429, or the 503 busy page)",
        ObservedCounter::new(move || a.refused()),
    );
}

fn register_embedder(registry: &mut Registry, engine: &Engine) {
    let e = engine.embedder.clone();
    registry.register(
        "semrec_embed_queue_depth",
        "Embedding requests waiting for the model now",
        ObservedGauge::new(move || e.stats().queued as f64),
    );
    let capacity = engine.embedder.stats().queue_capacity as f64;
    registry.register(
        "semrec_embed_queue_capacity",
        "SEMREC_EMBED_QUEUE: embedding requests that may wait; beyond it 429",
        ObservedGauge::new(move || capacity),
    );
    let e = engine.embedder.clone();
    registry.register(
        "semrec_embed_refused",
        "Embedding requests refused because the queue was full",
        ObservedCounter::new(move || e.stats().refused),
    );
    let e = engine.embedder.clone();
    registry.register(
        "semrec_embed_batch_texts",
        "Texts per forward pass of the model (requests coalesced up to SEMREC_EMBED_BATCH)",
        ObservedHistogram::new(move || {
            let s = e.stats();
            (s.texts as f64, s.batches, s.batch_buckets)
        }),
    );
}

/// One gauge family over the pools, `read` applied to each.
fn pool_gauge(pools: &[(&'static str, PgPool)], read: fn(&PgPool) -> f64) -> ObservedGauge {
    pools
        .iter()
        .fold(ObservedGauge::labelled(), |gauge, (name, pool)| {
            let pool = pool.clone();
            gauge.with(vec![("pool", *name)], move || read(&pool))
        })
}

fn register_pools(registry: &mut Registry, pools: &[(&'static str, PgPool)]) {
    registry.register(
        "semrec_db_pool_connections",
        "Open connections of the pool (in use and idle); requests: the request pool, jobs: imports, index builds, recounts",
        pool_gauge(pools, |p| f64::from(p.size())),
    );
    registry.register(
        "semrec_db_pool_idle",
        "Idle connections of the pool",
        pool_gauge(pools, |p| p.num_idle() as f64),
    );
    registry.register(
        "semrec_db_pool_max",
        "Most connections the pool opens (SEMREC_DB_POOL for requests)",
        pool_gauge(pools, |p| f64::from(p.options().get_max_connections())),
    );
}

fn register_cache(registry: &mut Registry, engine: &Engine) {
    let e = engine.clone();
    registry.register(
        "semrec_embedding_cache_hits",
        "Query embeddings answered from the in-process cache",
        ObservedCounter::new(move || e.embed_cache.stats().hits),
    );
    let e = engine.clone();
    registry.register(
        "semrec_embedding_cache_misses",
        "Query embeddings the cache did not hold (embedded by the model)",
        ObservedCounter::new(move || e.embed_cache.stats().misses),
    );
    let e = engine.clone();
    registry.register(
        "semrec_embedding_cache_hit_ratio",
        "Hits / lookups since start (NaN before the first lookup); rate() of the two counters gives it over a window",
        ObservedGauge::new(move || e.embed_cache.stats().hit_rate().unwrap_or(f64::NAN)),
    );
    let e = engine.clone();
    registry.register(
        "semrec_embedding_cache_entries",
        "Texts held by the embedding cache",
        ObservedGauge::new(move || e.embed_cache.stats().entries as f64),
    );
}

type Read = fn(&DriftState) -> Option<f64>;

/// One gauge family over `series` (label value, reader) of the cached drift snapshot.
fn drift_gauge(
    signals: &Signals,
    label: &'static str,
    series: &[(&'static str, Read)],
) -> ObservedGauge {
    series
        .iter()
        .fold(ObservedGauge::labelled(), |gauge, &(value, read)| {
            let s = signals.clone();
            gauge.with(vec![(label, value)], move || s.read(read))
        })
}

fn register_signals(registry: &mut Registry, signals: &Signals) {
    registry.register(
        "semrec_interaction_rate",
        "Clicked / shown items in the drift windows (recent: the last SEMREC_DRIFT_RECENT_DAYS; reference: the SEMREC_DRIFT_REFERENCE_DAYS before); recomputed at most every 30 s",
        drift_gauge(
            signals,
            "window",
            &[
                // No item shown: no rate (NaN), not a rate of 0.
                ("recent", |s| {
                    (s.rate.recent.shown > 0).then_some(s.rate.recent.rate)
                }),
                ("reference", |s| {
                    (s.rate.reference.shown > 0).then_some(s.rate.reference.rate)
                }),
            ],
        ),
    );
    registry.register(
        "semrec_items_shown",
        "Items shown in the drift windows",
        drift_gauge(
            signals,
            "window",
            &[
                ("recent", |s| Some(s.rate.recent.shown as f64)),
                ("reference", |s| Some(s.rate.reference.shown as f64)),
            ],
        ),
    );
    registry.register(
        "semrec_drift_top1_similarity",
        "Mean similarity of the first item of the lists served in each drift window",
        drift_gauge(
            signals,
            "window",
            &[
                ("recent", |s| s.embedding.top1.recent_mean),
                ("reference", |s| s.embedding.top1.reference_mean),
            ],
        ),
    );
    let s = signals.clone();
    registry.register(
        "semrec_drift_rate_z",
        "Two-proportion z of the interaction rate, recent against reference (below -SEMREC_DRIFT_RATE_Z alerts)",
        ObservedGauge::new(move || s.read(|d| d.rate.z)),
    );
    registry.register(
        "semrec_drift_centroid_distance",
        "Cosine distance between the recent and the reference window's mean embedding (above SEMREC_DRIFT_CENTROID_SHIFT alerts)",
        drift_gauge(
            signals,
            "embeddings",
            &[
                ("queries", |d| d.embedding.queries.distance),
                ("items", |d| d.embedding.items.distance),
            ],
        ),
    );
    registry.register(
        "semrec_drift_alert",
        "1 while the drift signal raises an alert (as on the dashboard), else 0",
        drift_gauge(
            signals,
            "signal",
            &[
                ("interaction_rate", |d| {
                    Some(signals::alert(d, DriftSignal::InteractionRate))
                }),
                ("query_centroid", |d| {
                    Some(signals::alert(d, DriftSignal::QueryCentroid))
                }),
                ("item_centroid", |d| {
                    Some(signals::alert(d, DriftSignal::ItemCentroid))
                }),
                ("top1_similarity", |d| {
                    Some(signals::alert(d, DriftSignal::Top1Similarity))
                }),
            ],
        ),
    );
    let s = signals.clone();
    registry.register(
        "semrec_drift_snapshot_age_seconds",
        "Age of the cached interaction-rate and drift values",
        ObservedGauge::new(move || s.age_seconds()),
    );
    let s = signals.clone();
    registry.register(
        "semrec_drift_refresh_failures",
        "Refreshes of the interaction-rate and drift values that failed or timed out",
        ObservedCounter::new(move || s.failures()),
    );
}
