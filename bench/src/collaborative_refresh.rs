//! The collaborative refresh benchmark: N items and M generated interactions
//! ([`crate::interaction_gen`]) COPY-loaded into a throwaway PostgreSQL + pgvector,
//! then the engine's own `Engine::refresh_collaborative`, timed as reading the pairs,
//! fitting and storing (from the engine's progress lines), with the stored neighbour
//! rows and the bench process's peak RSS against the 2 GiB bound of issue #16.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use engine::embed::{EmbedError, EmbeddingService, Input, ModelInfo};
use engine::item_neighbours::Algorithm;
use engine::{Engine, EngineSettings, Store};
use pg_local::LocalCluster;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::copy_load::{Tuple, HEADER, SEND_BYTES};
use crate::interaction_gen::generate;
use crate::log_capture;

/// Issue #16's bound on the refresh at 100k items and 1M interactions.
const RSS_BOUND_BYTES: u64 = 2 << 30;

#[derive(clap::Args, Debug, Clone)]
pub struct CollaborativeArgs {
    /// Items in the catalogue.
    #[arg(long, default_value_t = 100_000)]
    pub items: usize,
    /// Interactions (distinct user–item pairs) generated over them.
    #[arg(long, default_value_t = 1_000_000)]
    pub interactions: usize,
    /// `auto` (EASE up to the EASE item limit, item-kNN above), `ease` or `item_knn`.
    #[arg(long, default_value = "auto")]
    pub algorithm: Algorithm,
    /// EASE's λ; chosen on the data when absent (the product's default).
    #[arg(long)]
    pub ease_lambda: Option<f64>,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Where to write the Markdown report (also printed).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// The refresh reads no vectors and this benchmark embeds nothing: a stand-in model
/// keeps the real one's ~200 MB out of the measured process.
struct NoModel(ModelInfo);

impl engine::embed::Embed for NoModel {
    fn info(&self) -> &ModelInfo {
        &self.0
    }
    fn embed_batch(&self, inputs: &[Input<'_>]) -> std::result::Result<Vec<Vec<f32>>, EmbedError> {
        let mut unit = vec![0.0; self.0.dims];
        unit[0] = 1.0;
        Ok(vec![unit; inputs.len()])
    }
}

/// Peak resident set of this process so far (`getrusage`, Linux reports KiB).
pub fn peak_rss_bytes() -> u64 {
    // SAFETY: `rusage` is plain integers, for which all zero bytes are valid.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage only writes the struct it is given, which outlives the call.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return 0;
    }
    usage.ru_maxrss as u64 * 1024
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "?".into())
}

/// COPYs `n` items without vectors (the refresh never reads them); their ids in order.
async fn load_items(pool: &PgPool, n: usize) -> Result<Vec<i64>> {
    let mut conn = pool.acquire().await?;
    let mut copy = conn
        .copy_in_raw("COPY items (external_id, title, content_hash) FROM STDIN (FORMAT binary)")
        .await?;
    let mut buf = Vec::with_capacity(SEND_BYTES + (64 << 10));
    buf.extend_from_slice(HEADER);
    for i in 0..n {
        let external_id = format!("cf-{i}");
        let mut t = Tuple::start(&mut buf, 3);
        t.text(&external_id);
        t.text(&format!("Item {i}"));
        t.text(&hex::encode(Sha256::digest(external_id.as_bytes())));
        if buf.len() >= SEND_BYTES {
            copy.send(std::mem::take(&mut buf)).await?;
            buf.reserve(SEND_BYTES + (64 << 10));
        }
    }
    buf.extend_from_slice(&(-1i16).to_be_bytes());
    copy.send(buf).await?;
    copy.finish().await?;
    drop(conn);
    Ok(sqlx::query_scalar("SELECT id FROM items ORDER BY id")
        .fetch_all(pool)
        .await?)
}

/// What [`load_interactions`] loaded.
pub struct Loaded {
    pub users: usize,
    pub rows: u64,
    pub generate: Duration,
    pub copy: Duration,
}

/// Generates `n` interactions over `item_ids` from `seed` and COPYs them into
/// `interactions` as 'consumed' events of users `cf-user-{n}`, then ANALYZEs it.
pub async fn load_interactions(
    pool: &PgPool,
    item_ids: &[i64],
    n: usize,
    seed: u64,
) -> Result<Loaded> {
    let t = Instant::now();
    let generated = generate(item_ids.len(), n, seed);
    let generate_time = t.elapsed();
    let users = generated.last().map_or(0, |g| g.user as usize + 1);
    let t = Instant::now();
    let mut conn = pool.acquire().await?;
    let mut copy = conn
        .copy_in_raw("COPY interactions (user_ref, item_id, kind, ts) FROM STDIN (FORMAT binary)")
        .await?;
    let mut buf = Vec::with_capacity(SEND_BYTES + (64 << 10));
    buf.extend_from_slice(HEADER);
    for g in &generated {
        let mut t = Tuple::start(&mut buf, 4);
        t.text(&format!("cf-user-{}", g.user));
        t.int8(item_ids[g.item as usize]);
        t.text("consumed");
        t.timestamptz(g.unix);
        if buf.len() >= SEND_BYTES {
            copy.send(std::mem::take(&mut buf)).await?;
            buf.reserve(SEND_BYTES + (64 << 10));
        }
    }
    drop(generated);
    buf.extend_from_slice(&(-1i16).to_be_bytes());
    copy.send(buf).await?;
    let rows = copy.finish().await?;
    sqlx::query("ANALYZE interactions")
        .execute(&mut *conn)
        .await?;
    Ok(Loaded {
        users,
        rows,
        generate: generate_time,
        copy: t.elapsed(),
    })
}

/// Replaces the stored interactions with `n` generated over every stored item and
/// fits the collaborative model on them (the recommend benchmark's `--interactions`);
/// a one-line account of what was loaded and fitted.
pub async fn fit_generated(engine: &Engine, n: usize, seed: u64) -> Result<String> {
    // The jobs pool: loading 1M rows takes longer than a request's statement_timeout.
    let pool = engine.store.jobs();
    sqlx::query("TRUNCATE interactions").execute(pool).await?;
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM items ORDER BY id")
        .fetch_all(pool)
        .await?;
    tracing::info!(
        interactions = n,
        items = ids.len(),
        "loading generated interactions"
    );
    let loaded = load_interactions(pool, &ids, n, seed).await?;
    let t = Instant::now();
    let info = engine
        .refresh_collaborative()
        .await?
        .context("the refresh found nothing to fit")?;
    let refresh = t.elapsed();
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM item_neighbours")
        .fetch_one(pool)
        .await?;
    Ok(format!(
        "{} generated interactions (seed {seed}) of {} users over {} items, loaded in {:.1} s; \
         {} fitted on {} items in {:.1} s, {stored} neighbour rows stored.",
        loaded.rows,
        loaded.users,
        ids.len(),
        (loaded.generate + loaded.copy).as_secs_f64(),
        info.algorithm,
        info.items,
        refresh.as_secs_f64(),
    ))
}

fn since(events: &[log_capture::Captured], message: &str, from: Instant) -> Option<Duration> {
    events
        .iter()
        .find(|e| e.message.starts_with(message))
        .map(|e| e.at.saturating_duration_since(from))
}

pub async fn run(args: CollaborativeArgs) -> Result<()> {
    ensure!(args.items > 0, "--items must be at least 1");
    let started_utc = std::time::SystemTime::now();
    let load_before = load_average();
    tracing::info!("starting a throwaway PostgreSQL + pgvector cluster");
    let cluster = LocalCluster::temporary().await?;
    let result = measure(&args, cluster.database_url(), &load_before, started_utc).await;
    cluster.stop().await?;
    let report = result?;
    if let Some(out) = &args.out {
        std::fs::write(out, &report).with_context(|| format!("cannot write {}", out.display()))?;
    }
    println!("{report}");
    Ok(())
}

async fn measure(
    args: &CollaborativeArgs,
    url: &str,
    load_before: &str,
    started_utc: std::time::SystemTime,
) -> Result<String> {
    let store = Store::connect(url, 4).await?;
    store.migrate().await?;
    let mut settings = EngineSettings::default();
    settings.collaborative.algorithm = args.algorithm;
    settings.collaborative.ease_lambda = args.ease_lambda;
    let model = NoModel(ModelInfo {
        id: "none".into(),
        dims: 384,
        max_seq_length: 256,
        query_prefix: String::new(),
        passage_prefix: String::new(),
    });
    let engine = Engine::new(store, EmbeddingService::start(model, 1, 1), settings);
    // The jobs pool: loading takes longer than a request's statement_timeout.
    let pool = engine.store.jobs().clone();

    tracing::info!(items = args.items, "loading items");
    let t = Instant::now();
    let item_ids = load_items(&pool, args.items).await?;
    let items_load = t.elapsed();
    ensure!(
        item_ids.len() == args.items,
        "loaded {} items",
        item_ids.len()
    );
    tracing::info!(interactions = args.interactions, "loading interactions");
    let loaded = load_interactions(&pool, &item_ids, args.interactions, args.seed).await?;
    ensure!(
        loaded.rows as usize == args.interactions,
        "COPY stored {} interactions, expected {}",
        loaded.rows,
        args.interactions
    );
    drop(item_ids);
    let rss_before = peak_rss_bytes();

    log_capture::take();
    let t0 = Instant::now();
    let info = engine
        .refresh_collaborative()
        .await?
        .context("the refresh found nothing to fit")?;
    let wall = t0.elapsed();
    let rss_after = peak_rss_bytes();
    let events = log_capture::take();
    let read = since(&events, "collaborative model: fitting", t0);
    let fitted = since(&events, "collaborative model: fitted", t0);
    let lambda = events
        .iter()
        .find(|e| e.message.contains("λ chosen"))
        .map(|e| {
            format!(
                "λ = {} chosen in {} s (held-out users {}; trials {})",
                e.field("lambda").unwrap_or("?"),
                e.field("secs").unwrap_or("?"),
                e.field("held_out_users").unwrap_or("?"),
                e.field("trials").unwrap_or("?")
            )
        });
    let stored_rows: i64 = sqlx::query_scalar("SELECT count(*) FROM item_neighbours")
        .fetch_one(&pool)
        .await?;
    let items_with_neighbours: i64 =
        sqlx::query_scalar("SELECT count(DISTINCT item_id) FROM item_neighbours")
            .fetch_one(&pool)
            .await?;
    let table_bytes: i64 = sqlx::query_scalar("SELECT pg_total_relation_size('item_neighbours')")
        .fetch_one(&pool)
        .await?;

    let secs = |d: Option<Duration>| d.map_or("?".into(), |d| format!("{:.1} s", d.as_secs_f64()));
    let diff = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };
    let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
    let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
    let started = chrono::DateTime::<chrono::Utc>::from(started_utc).format("%Y-%m-%d %H:%M:%S");
    let mut s = String::new();
    let _ = writeln!(
        s,
        "#### Collaborative refresh: {} items, {} interactions\n",
        args.items, args.interactions
    );
    let _ = writeln!(s, "- Started {started} UTC; CPU: {} ({} threads); load average {load_before} before, {} after.", cpu_model(), std::thread::available_parallelism().map_or(0, |n| n.get()), load_average());
    let _ = writeln!(s, "- Data (seed {}): {} users, {} interactions (Zipf item popularity, Pareto history lengths, taste clusters: `bench/src/interaction_gen.rs`); generated in {:.1} s, COPY + ANALYZE {:.1} s; items COPY {:.1} s (no vectors).", args.seed, loaded.users, loaded.rows, loaded.generate.as_secs_f64(), loaded.copy.as_secs_f64(), items_load.as_secs_f64());
    let _ = writeln!(
        s,
        "- Model: version {}, {}, fitted on {} users × {} items, {} pairs{}.\n",
        info.version,
        info.algorithm,
        info.users,
        info.items,
        info.pairs,
        lambda.map(|l| format!("; {l}")).unwrap_or_default()
    );
    let _ = writeln!(s, "| algorithm | read pairs (SQL) | fit | store | refresh wall | ModelInfo.seconds | stored rows | items with neighbours | item_neighbours size | peak RSS before / after the refresh | ≤ 2 GiB |");
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|---|");
    let _ = writeln!(
        s,
        "| {} | {} | {} | {} | {:.1} s | {:.1} s | {stored_rows} | {items_with_neighbours} | {:.0} MiB | {:.0} / {:.0} MiB | {} ({:.2} GiB) |",
        info.algorithm,
        secs(read),
        secs(diff(read, fitted)),
        secs(fitted.map(|f| wall.saturating_sub(f))),
        wall.as_secs_f64(),
        info.seconds,
        mib(table_bytes as u64),
        mib(rss_before),
        mib(rss_after),
        if rss_after <= RSS_BOUND_BYTES { "**pass**" } else { "**miss**" },
        gib(rss_after),
    );
    Ok(s)
}
