//! The recommend-path benchmark: for each catalog size the HNSW build (for one
//! or more index parameter sets), recall@10 against exact search over an
//! ef_search sweep, and p50/p99 of embed / SQL / end-to-end, all against a
//! throwaway PostgreSQL + pgvector. (Import vs embedding: `import_bench.rs`.)

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use engine::catalog::{ParsedImport, ValidItem};
use engine::embed::{EmbeddingService, SentenceEmbedder, TextKind};
use engine::events::ImpressionContext;
use engine::profile::Profile;
use engine::recommend::{Filters, PathTimings, RecommendOptions};
use engine::{Engine, EngineSettings, Store};
use pg_local::LocalCluster;
use sqlx::PgPool;

use sha2::{Digest, Sha256};

use crate::collaborative_refresh::fit_generated;
use crate::copy_load::append_items;
use crate::corpus::{query_profiles, read_catalog, Derivation, VectorDeriver};
use crate::stats::{fmt_ms, Samples};

const INDEX_NAME: &str = "items_embedding_hnsw";
const K: usize = 10;
/// Rows of one max-sim element scan for these profiles: the 200-candidate pool
/// shared by 4 elements.
const ELEMENT_LIMIT: usize = 50;
/// A returned item counts as a tie-aware hit when its distance is within this
/// of the 10th exact distance (as ann-benchmarks does).
const TIE_EPS: f64 = 1e-3;

/// HNSW build parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexParams {
    pub m: u32,
    pub ef_construction: u32,
}

impl std::str::FromStr for IndexParams {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let (m, efc) = s
            .split_once(':')
            .ok_or_else(|| format!("'{s}': expected m:ef_construction, e.g. 16:64"))?;
        let parse = |x: &str| x.trim().parse::<u32>().map_err(|e| format!("'{s}': {e}"));
        Ok(Self {
            m: parse(m)?,
            ef_construction: parse(efc)?,
        })
    }
}

#[derive(clap::Args, Debug, Clone)]
pub struct RecommendArgs {
    /// Catalog sizes to measure, ascending (items).
    #[arg(long, value_delimiter = ',', default_value = "10000,100000")]
    pub sizes: Vec<usize>,
    /// Query profiles per size (latency and recall are measured over all of them).
    #[arg(long, default_value_t = 200)]
    pub queries: usize,
    /// Fewer queries for the largest sizes, where exact search takes seconds each.
    #[arg(long, default_value_t = 100)]
    pub queries_1m: usize,
    /// ef_search values of the recall/latency sweep.
    #[arg(long, value_delimiter = ',', default_value = "40,100,200,400")]
    pub ef_sweep: Vec<u32>,
    /// HNSW parameter sets (m:ef_construction) to build and sweep at every size.
    /// The first is the one the other measurements use: keep it the migration's.
    #[arg(long, value_delimiter = ',', default_value = "16:64")]
    pub index: Vec<IndexParams>,
    /// How vectors beyond the real catalog are made.
    #[arg(long, value_enum, default_value_t = Derivation::Mix)]
    pub derive: Derivation,
    /// Expected norm of the Gaussian noise added to derived vectors
    /// (default 0.4 with --derive noise, 0.1 with --derive mix).
    #[arg(long)]
    pub noise: Option<f32>,
    /// Folder for the real catalog's vectors (keyed by model and texts), so a
    /// rerun does not embed the catalog again.
    #[arg(long, default_value = "target/bench")]
    pub vector_cache: PathBuf,
    /// Tag for the filtered query (tags && ARRAY[tag]).
    #[arg(long, default_value = "documentary")]
    pub filter_tag: String,
    /// The real catalog whose texts are embedded (import and base vectors).
    #[arg(long, default_value = "data/demo/catalog.jsonl")]
    pub catalog: PathBuf,
    #[arg(
        long,
        env = "SEMREC_MODEL_DIR",
        default_value = "models/all-MiniLM-L6-v2"
    )]
    pub model_dir: PathBuf,
    /// maintenance_work_mem for the HNSW build.
    #[arg(long, default_value = "1GB")]
    pub maintenance_work_mem: String,
    /// maintenance_work_mem for builds of 1M items and more: their graph (≈ 2 GB)
    /// does not fit in 1GB, and pgvector then switches to a much slower on-disk build.
    #[arg(long, default_value = "4GB")]
    pub maintenance_work_mem_1m: String,
    /// Where to write the Markdown report (also printed).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Interactions generated over each size's items (as `semrec-bench collaborative`
    /// does) and fitted with `Engine::refresh_collaborative` before the queries, so
    /// the collaborative channel reads real neighbours; the path is then also timed
    /// with the channel off (weight 0), in turns. 0 = no interactions.
    #[arg(long, default_value_t = 0)]
    pub interactions: usize,
}

/// One ef_search setting on one index.
struct SweepPoint {
    ef_search: u32,
    recall: f64,
    recall_ties: f64,
    latency: Samples,
}

/// One HNSW build and its sweep.
struct IndexResult {
    params: IndexParams,
    build: Duration,
    index_bytes: i64,
    /// For the profile queries (what users ask for).
    sweep: Vec<SweepPoint>,
    /// For real item vectors as queries ("more like this").
    item_sweep: Vec<SweepPoint>,
    /// The same item vectors for [`ELEMENT_LIMIT`] rows: a max-sim element scan.
    element_sweep: Vec<SweepPoint>,
}

/// Per-request parts of the default recommend path.
#[derive(Default)]
struct PathSamples {
    embed: Samples,
    profile_vectors: Samples,
    rank: Samples,
    record: Samples,
    total: Samples,
}

impl PathSamples {
    fn push(&mut self, t: &PathTimings) {
        self.embed.push(t.embed);
        self.profile_vectors.push(t.profile_vectors);
        self.rank.push(t.rank);
        self.record.push(t.record);
        self.total.push(t.total);
    }

    /// Share of the p50 end-to-end time spent in the database: the stored history
    /// vectors, the candidate query with the popularity lookup, the impression.
    fn database_share(&self) -> f64 {
        (self.profile_vectors.p50() + self.rank.p50() + self.record.p50()) / self.total.p50()
    }
}

struct SizeResult {
    n: usize,
    maintenance_work_mem: String,
    load: Duration,
    table_bytes: i64,
    hnsw_in_plan: bool,
    hnsw_in_filtered_plan: bool,
    queries: usize,
    embed: Samples,
    sql: Samples,
    sql_filtered: Samples,
    /// Filtered lists shorter than k with iterative scan on / off.
    filtered_short: usize,
    filtered_short_without_iterative: usize,
    total: Samples,
    /// The default path's own split (`Engine::recommend_for_profile_timed`).
    path: PathSamples,
    /// The same with a max-sim profile's element scans in one statement
    /// (`scan_concurrency` 1), timed alternately with the default.
    path_one_statement: PathSamples,
    /// The default with the collaborative channel off (only with `--interactions`).
    path_no_collaborative: PathSamples,
    /// What `--interactions` loaded and fitted.
    collaborative: Option<String>,
    exact: Samples,
    /// Median over queries of the exact 11th minus 10th distance (how close
    /// the top-10 boundary is to a tie), and of the 10th minus the 1st.
    gap_10_11: f64,
    spread_1_10: f64,
    /// Exact top-10 per query: ids, and the 10th distance.
    truth: Vec<(HashSet<i64>, f64)>,
    /// The query vectors (profile embeddings) the truth is for.
    vectors: Vec<Vec<f32>>,
    /// Real item vectors as queries, and their exact top-10.
    item_vectors: Vec<Vec<f32>>,
    item_truth: Vec<(HashSet<i64>, f64)>,
    /// Their exact top [`ELEMENT_LIMIT`].
    element_truth: Vec<(HashSet<i64>, f64)>,
    /// The first is the configuration the other columns were measured with.
    indexes: Vec<IndexResult>,
}

impl SizeResult {
    fn default_point(&self) -> Option<&SweepPoint> {
        let ef = EngineSettings::default().ef_search;
        self.indexes
            .first()
            .and_then(|i| i.sweep.iter().find(|p| p.ef_search == ef))
    }
}

pub async fn run(args: RecommendArgs) -> Result<()> {
    let mut sizes = args.sizes.clone();
    sizes.sort_unstable();
    sizes.dedup();
    ensure!(!sizes.is_empty(), "--sizes is empty");
    ensure!(!args.index.is_empty(), "--index is empty");
    let started = Instant::now();

    let parsed = read_catalog(&args.catalog)?;
    let base: Vec<_> = parsed.items.iter().map(|(_, i)| i.clone()).collect();
    ensure!(
        sizes[0] >= base.len(),
        "the smallest size ({}) must hold the real catalog ({} items)",
        sizes[0],
        base.len()
    );

    let model = SentenceEmbedder::load(&args.model_dir).with_context(|| {
        format!(
            "loading the model from {}: run scripts/fetch-model.sh",
            args.model_dir.display()
        )
    })?;
    let profiles = query_profiles(&base, args.queries.max(args.queries_1m), args.seed);
    let profile_tokens: Vec<usize> = profiles
        .iter()
        .map(|p| model.count_tokens(&p.as_text(), TextKind::Query))
        .collect::<Result<_, _>>()?;
    let dims = model.info().dims;
    let embedder = EmbeddingService::start(model, 64, 32);

    tracing::info!("starting a throwaway PostgreSQL + pgvector cluster");
    let cluster = LocalCluster::temporary().await?;
    // The report is rewritten after every size: a long 1M run that fails or is
    // stopped still leaves the smaller sizes' results.
    let write_report = |results: &[SizeResult]| -> Result<String> {
        let report = report(
            &args,
            base.len(),
            results,
            &profile_tokens,
            started.elapsed(),
        );
        if let Some(out) = &args.out {
            std::fs::write(out, &report)
                .with_context(|| format!("cannot write {}", out.display()))?;
        }
        Ok(report)
    };
    let result = measure(
        &args,
        &sizes,
        &parsed,
        &profiles,
        embedder,
        &cluster,
        dims,
        &write_report,
    )
    .await;
    cluster.stop().await?;
    let results = result?;
    println!("{}", write_report(&results)?);
    Ok(())
}

fn noise(args: &RecommendArgs) -> f32 {
    args.noise.unwrap_or(match args.derive {
        Derivation::Noise => 0.4,
        Derivation::Mix => 0.1,
    })
}

#[allow(clippy::too_many_arguments)]
async fn measure(
    args: &RecommendArgs,
    sizes: &[usize],
    parsed: &ParsedImport,
    profiles: &[Profile],
    embedder: EmbeddingService,
    cluster: &LocalCluster,
    dims: usize,
    on_size: &dyn Fn(&[SizeResult]) -> Result<String>,
) -> Result<Vec<SizeResult>> {
    let store = Store::connect(cluster.database_url(), 4).await?;
    store.migrate().await?;
    let engine = Engine::new(store, embedder, EngineSettings::default());
    // The jobs pool (no statement_timeout): COPY-loading 100k items and building the
    // index take longer than a request may; the engine's own calls use its pools.
    let pool = engine.store.jobs().clone();

    let base: Vec<ValidItem> = parsed.items.iter().map(|(_, i)| i.clone()).collect();
    let base_vectors = real_vectors(&engine, &base, &args.vector_cache).await?;

    let mut deriver = VectorDeriver::new(args.derive, noise(args), dims, args.seed);
    let mut results = Vec::new();
    let mut have: usize = count(&pool).await?;
    for &n in sizes {
        tracing::info!(n, "loading items");
        sqlx::query(&format!("DROP INDEX IF EXISTS {INDEX_NAME}"))
            .execute(&pool)
            .await?;
        let t = Instant::now();
        if n > have {
            append_items(
                &pool,
                &base,
                &base_vectors,
                engine.model_id(),
                &mut deriver,
                have,
                n,
            )
            .await?;
        }
        sqlx::query("VACUUM ANALYZE items").execute(&pool).await?;
        let load = t.elapsed();
        have = count(&pool).await?;
        ensure!(have == n, "items table holds {have} rows, expected {n}");
        let mwm = if n >= 1_000_000 {
            &args.maintenance_work_mem_1m
        } else {
            &args.maintenance_work_mem
        };

        let mut main: Option<SizeResult> = None;
        for (i, params) in args.index.iter().enumerate() {
            tracing::info!(n, ?params, "building the HNSW index");
            let (build, index_bytes) = build_index(&pool, *params, mwm).await?;
            tracing::info!(n, build_s = build.as_secs_f64(), "index built");
            if i == 0 {
                let q = if n >= 1_000_000 {
                    args.queries_1m
                } else {
                    args.queries
                };
                let collaborative = if args.interactions > 0 {
                    Some(fit_generated(&engine, args.interactions, args.seed).await?)
                } else {
                    None
                };
                let mut r = measure_queries(&engine, &pool, &profiles[..q], args).await?;
                r.collaborative = collaborative;
                // "More like this" queries: every (len/q)-th real item's own vector.
                r.item_vectors = (0..q)
                    .map(|i| base_vectors[i * base_vectors.len() / q].clone())
                    .collect();
                r.item_truth = exact_truth(&engine, &pool, &r.item_vectors, K).await?.0;
                r.element_truth = exact_truth(&engine, &pool, &r.item_vectors, ELEMENT_LIMIT)
                    .await?
                    .0;
                r.n = n;
                r.maintenance_work_mem = mwm.clone();
                r.load = load;
                r.table_bytes = sqlx::query_scalar("SELECT pg_table_size('items')")
                    .fetch_one(&pool)
                    .await?;
                main = Some(r);
            }
            let Some(r) = main.as_mut() else {
                bail!("no measurement for the first index");
            };
            let sweep_profiles =
                sweep(&engine, &pool, &r.vectors, &r.truth, &args.ef_sweep, K).await?;
            let item_sweep = sweep(
                &engine,
                &pool,
                &r.item_vectors,
                &r.item_truth,
                &args.ef_sweep,
                K,
            )
            .await?;
            let element_sweep = sweep(
                &engine,
                &pool,
                &r.item_vectors,
                &r.element_truth,
                &args.ef_sweep,
                ELEMENT_LIMIT,
            )
            .await?;
            r.indexes.push(IndexResult {
                params: *params,
                build,
                index_bytes,
                sweep: sweep_profiles,
                item_sweep,
                element_sweep,
            });
        }
        results.extend(main);
        on_size(&results)?;
    }
    Ok(results)
}

/// Drops and rebuilds the HNSW index with `params`; its build time and size.
async fn build_index(pool: &PgPool, params: IndexParams, mwm: &str) -> Result<(Duration, i64)> {
    let mut conn = pool.acquire().await?;
    sqlx::query(&format!("DROP INDEX IF EXISTS {INDEX_NAME}"))
        .execute(&mut *conn)
        .await?;
    sqlx::query(&format!(
        "SET maintenance_work_mem = '{}'",
        mwm.replace('\'', "")
    ))
    .execute(&mut *conn)
    .await?;
    let t = Instant::now();
    sqlx::query(&format!(
        "CREATE INDEX {INDEX_NAME} ON items USING hnsw (embedding vector_cosine_ops) WITH (m = {}, ef_construction = {})",
        params.m, params.ef_construction
    ))
    .execute(&mut *conn)
    .await?;
    let build = t.elapsed();
    sqlx::query("RESET maintenance_work_mem")
        .execute(&mut *conn)
        .await?;
    let bytes: i64 = sqlx::query_scalar("SELECT pg_relation_size($1::regclass)")
        .bind(INDEX_NAME)
        .fetch_one(&mut *conn)
        .await?;
    Ok((build, bytes))
}

async fn count(pool: &PgPool) -> Result<usize> {
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM items")
        .fetch_one(pool)
        .await?;
    Ok(n as usize)
}

/// The real catalog's vectors, embedded by the real model once and then read
/// from `cache` (a file named by the hash of the model id and the texts).
async fn real_vectors(engine: &Engine, base: &[ValidItem], cache: &Path) -> Result<Vec<Vec<f32>>> {
    let texts: Vec<String> = base.iter().map(|i| i.embedding_text()).collect();
    let dims = engine.embedder.info().dims;
    let mut h = Sha256::new();
    h.update(engine.model_id().as_bytes());
    for t in &texts {
        h.update([0x1f]);
        h.update(t.as_bytes());
    }
    let file = cache.join(format!(
        "base-vectors-{}.f32",
        &hex::encode(h.finalize())[..16]
    ));
    if let Ok(bytes) = std::fs::read(&file) {
        if bytes.len() == texts.len() * dims * 4 {
            tracing::info!(file = %file.display(), "real vectors from the cache");
            let floats: Vec<f32> = bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            return Ok(floats.chunks(dims).map(<[f32]>::to_vec).collect());
        }
    }
    tracing::info!(texts = texts.len(), "embedding the real catalog");
    let vectors = engine.embedder.embed(texts, TextKind::Passage).await?;
    std::fs::create_dir_all(cache).with_context(|| format!("cannot create {}", cache.display()))?;
    let bytes: Vec<u8> = vectors
        .iter()
        .flatten()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    std::fs::write(&file, bytes).with_context(|| format!("cannot write {}", file.display()))?;
    Ok(vectors)
}

/// How a query is run.
#[derive(Clone, Copy)]
struct Mode<'a> {
    ef_search: u32,
    tag: Option<&'a str>,
    /// Sequential scan: the exact answer.
    exact: bool,
    iterative_scan: bool,
    limit: usize,
}

impl Mode<'_> {
    fn hnsw(ef_search: u32) -> Self {
        Self {
            ef_search,
            tag: None,
            exact: false,
            iterative_scan: true,
            limit: K,
        }
    }
}

/// The engine's recommendation query (engine/src/recommend.rs, `nearest`) with
/// the same settings, timed as the engine runs it: one transaction. Returns
/// ids with their exact distances (computed in the select list).
async fn nearest_ids(
    pool: &PgPool,
    query: &[f32],
    model_id: &str,
    mode: Mode<'_>,
) -> Result<(Vec<(i64, f64)>, Duration)> {
    let t = Instant::now();
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT set_config('hnsw.ef_search', $1, true), set_config('hnsw.iterative_scan', $2, true)")
        .bind(mode.ef_search.to_string())
        .bind(if mode.iterative_scan { "relaxed_order" } else { "off" })
        .execute(&mut *tx)
        .await?;
    if mode.exact {
        sqlx::query("SET LOCAL enable_indexscan = off")
            .execute(&mut *tx)
            .await?;
    }
    let tags: Option<Vec<String>> = mode.tag.map(|t| vec![t.to_string()]);
    let rows: Vec<(i64, f64)> = sqlx::query_as(NEAREST_SQL)
        .bind(pgvector::Vector::from(query.to_vec()))
        .bind(model_id)
        .bind(None::<Vec<String>>)
        .bind(None::<Vec<String>>)
        .bind(tags)
        .bind(Vec::<i64>::new())
        .bind(None::<i64>)
        .bind(mode.limit as i64)
        .bind(0i64)
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok((rows, t.elapsed()))
}

/// Same WHERE and ORDER BY as the engine; the select list fetches what it fetches.
const NEAREST_SQL: &str = "SELECT id, (embedding <=> $1)::float8 AS distance, external_id, title, description, language, source, tags, url, embedding
     FROM items
     WHERE embedding IS NOT NULL AND model_id = $2
       AND ($3::text[] IS NULL OR language = ANY($3))
       AND ($4::text[] IS NULL OR source = ANY($4))
       AND ($5::text[] IS NULL OR tags && $5)
       AND NOT (id = ANY($6))
       AND ($7::bigint IS NULL OR NOT EXISTS (
            SELECT 1 FROM profile_history h WHERE h.user_id = $7 AND h.item_id = items.id
            UNION ALL SELECT 1 FROM dismissals d WHERE d.user_id = $7 AND d.item_id = items.id
            UNION ALL SELECT 1 FROM clicks c JOIN impressions i ON i.id = c.impression_id
                      WHERE i.user_id = $7 AND c.item_id = items.id))
     ORDER BY embedding <=> $1 ASC
     LIMIT $8 OFFSET $9";

/// Whether the planner uses the HNSW index for the query (generic plan, as sqlx
/// prepares it).
async fn plan_uses_hnsw(
    pool: &PgPool,
    query: &[f32],
    model_id: &str,
    tag: Option<&str>,
) -> Result<bool> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET LOCAL hnsw.iterative_scan = relaxed_order")
        .execute(&mut *tx)
        .await?;
    let tags: Option<Vec<String>> = tag.map(|t| vec![t.to_string()]);
    let plan: Vec<(String,)> = sqlx::query_as(&format!("EXPLAIN {NEAREST_SQL}"))
        .bind(pgvector::Vector::from(query.to_vec()))
        .bind(model_id)
        .bind(None::<Vec<String>>)
        .bind(None::<Vec<String>>)
        .bind(tags)
        .bind(Vec::<i64>::new())
        .bind(None::<i64>)
        .bind(K as i64)
        .bind(0i64)
        .fetch_all(&mut *tx)
        .await?;
    tx.rollback().await?;
    Ok(plan.iter().any(|(line,)| line.contains(INDEX_NAME)))
}

type Truth = (Vec<(HashSet<i64>, f64)>, Samples, Vec<f64>, Vec<f64>);

/// Exact top-10 (ids and 10th distance) per query by sequential scan, the
/// scan's latency, and per query d₁₁ − d₁₀ and d₁₀ − d₁.
async fn exact_truth(
    engine: &Engine,
    pool: &PgPool,
    vectors: &[Vec<f32>],
    k: usize,
) -> Result<Truth> {
    let exact_mode = Mode {
        exact: true,
        limit: k + 1,
        ..Mode::hnsw(engine.settings.ef_search)
    };
    let mut exact = Samples::default();
    let mut truth = Vec::with_capacity(vectors.len());
    let (mut gaps, mut spreads) = (Vec::new(), Vec::new());
    for v in vectors {
        let (rows, d) = nearest_ids(pool, v, engine.model_id(), exact_mode).await?;
        ensure!(
            rows.len() == k + 1,
            "exact search returned {} rows",
            rows.len()
        );
        exact.push(d);
        gaps.push(rows[k].1 - rows[k - 1].1);
        spreads.push(rows[k - 1].1 - rows[0].1);
        truth.push((
            rows[..k].iter().map(|r| r.0).collect::<HashSet<i64>>(),
            rows[k - 1].1,
        ));
    }
    Ok((truth, exact, gaps, spreads))
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

async fn measure_queries(
    engine: &Engine,
    pool: &PgPool,
    profiles: &[Profile],
    args: &RecommendArgs,
) -> Result<SizeResult> {
    let model_id = engine.model_id().to_string();
    let ef = engine.settings.ef_search;
    let opts = RecommendOptions {
        k: K,
        filters: Filters::default(),
        ..Default::default()
    };
    // Query vectors first (also the embed timings); a few untimed warm-up rounds.
    let mut embed = Samples::default();
    let mut vectors = Vec::with_capacity(profiles.len());
    for p in profiles.iter().take(5) {
        let v = engine.profile_query(p).await?.vector;
        nearest_ids(pool, &v, &model_id, Mode::hnsw(ef)).await?;
        engine
            .recommend_for_profile(None, p, &opts, ImpressionContext::Profile)
            .await?;
    }
    for p in profiles {
        let t = Instant::now();
        vectors.push(engine.profile_query(p).await?.vector);
        embed.push(t.elapsed());
    }
    let hnsw_in_plan = plan_uses_hnsw(pool, &vectors[0], &model_id, None).await?;
    let hnsw_in_filtered_plan =
        plan_uses_hnsw(pool, &vectors[0], &model_id, Some(&args.filter_tag)).await?;

    let filtered = Mode {
        tag: Some(&args.filter_tag),
        ..Mode::hnsw(ef)
    };
    let mut sql = Samples::default();
    let mut sql_filtered = Samples::default();
    let mut filtered_short = 0;
    let mut filtered_short_without_iterative = 0;
    let mut total = Samples::default();
    let mut path = PathSamples::default();
    let mut path_one_statement = PathSamples::default();
    let mut path_no_collaborative = PathSamples::default();
    let no_collaborative = Engine {
        settings: EngineSettings {
            collaborative_weight: 0.0,
            ..engine.settings.clone()
        },
        ..engine.clone()
    };
    let one_statement = Engine {
        settings: EngineSettings {
            scan_concurrency: 1,
            ..engine.settings.clone()
        },
        ..engine.clone()
    };
    for (i, (p, v)) in profiles.iter().zip(&vectors).enumerate() {
        let (_, d) = nearest_ids(pool, v, &model_id, Mode::hnsw(ef)).await?;
        sql.push(d);
        let (ids, d) = nearest_ids(pool, v, &model_id, filtered).await?;
        sql_filtered.push(d);
        if ids.len() < K {
            filtered_short += 1;
        }
        let without = Mode {
            iterative_scan: false,
            ..filtered
        };
        if nearest_ids(pool, v, &model_id, without).await?.0.len() < K {
            filtered_short_without_iterative += 1;
        }
        // The variants take turns going first: the first call of a profile finds fewer
        // of its index pages cached (at 1M the index is larger than shared_buffers).
        let variants = if args.interactions > 0 { 3 } else { 2 };
        let mut list = None;
        for v in (0..variants).map(|v| (v + i) % variants) {
            let (engine, samples) = match v {
                0 => (engine, &mut path),
                1 => (&one_statement, &mut path_one_statement),
                _ => (&no_collaborative, &mut path_no_collaborative),
            };
            let t = Instant::now();
            let (l, timings) = engine
                .recommend_for_profile_timed(None, p, &opts, ImpressionContext::Profile)
                .await?;
            if v == 0 {
                total.push(t.elapsed());
                list = Some(l);
            }
            samples.push(&timings);
        }
        let list = list.context("the default variant did not run")?;
        if list.items.len() != K {
            bail!(
                "recommend_for_profile returned {} items, expected {K}",
                list.items.len()
            );
        }
    }

    tracing::info!(queries = vectors.len(), "exact search for recall");
    let (truth, exact, gaps, spreads) = exact_truth(engine, pool, &vectors, K).await?;
    Ok(SizeResult {
        n: 0,
        maintenance_work_mem: String::new(),
        load: Duration::ZERO,
        table_bytes: 0,
        hnsw_in_plan,
        hnsw_in_filtered_plan,
        queries: vectors.len(),
        embed,
        sql,
        sql_filtered,
        filtered_short,
        filtered_short_without_iterative,
        total,
        path,
        path_one_statement,
        path_no_collaborative,
        collaborative: None,
        exact,
        gap_10_11: median(gaps),
        spread_1_10: median(spreads),
        truth,
        vectors,
        item_vectors: Vec::new(),
        item_truth: Vec::new(),
        element_truth: Vec::new(),
        indexes: Vec::new(),
    })
}

/// Recall@10 (strict ids, and tie-aware) and SQL latency per ef_search on the
/// index as it is now.
async fn sweep(
    engine: &Engine,
    pool: &PgPool,
    vectors: &[Vec<f32>],
    truth: &[(HashSet<i64>, f64)],
    efs: &[u32],
    limit: usize,
) -> Result<Vec<SweepPoint>> {
    let model_id = engine.model_id();
    let mut out = Vec::new();
    for &ef_search in efs {
        let mut latency = Samples::default();
        let (mut hits, mut tie_hits) = (0usize, 0usize);
        for (v, (ids, d10)) in vectors.iter().zip(truth) {
            let mode = Mode {
                limit,
                ..Mode::hnsw(ef_search)
            };
            let (rows, d) = nearest_ids(pool, v, model_id, mode).await?;
            latency.push(d);
            hits += rows.iter().filter(|r| ids.contains(&r.0)).count();
            tie_hits += rows
                .iter()
                .filter(|r| r.1 <= d10 + TIE_EPS)
                .count()
                .min(limit);
        }
        let n = (limit * vectors.len()) as f64;
        out.push(SweepPoint {
            ef_search,
            recall: hits as f64 / n,
            recall_ties: tie_hits as f64 / n,
            latency,
        });
    }
    Ok(out)
}

fn pass(ok: bool) -> &'static str {
    if ok {
        "**pass**"
    } else {
        "**miss**"
    }
}

fn mib(bytes: i64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn human_n(n: usize) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

fn derivation_text(args: &RecommendArgs, real: usize) -> String {
    let noise = noise(args);
    match args.derive {
        Derivation::Noise => format!(
            "The first {real} items are the real demo catalog with the real model's vectors; item i beyond them is real item i mod {real} \
             plus isotropic Gaussian noise of expected norm {noise} (cosine ≈ {:.2} to its source), re-normalised (`--derive noise`): \
             every real item gets N/{real} noisy near-copies.",
            1.0 / (1.0 + noise * noise).sqrt()
        ),
        Derivation::Mix => format!(
            "The first {real} items are the real demo catalog with the real model's vectors; item i beyond them is \
             t·a + (1−t)·b of real item a = i mod {real} and a real item b drawn at random, t uniform in [0, 1], \
             plus isotropic Gaussian noise of expected norm {noise}, re-normalised (`--derive mix`): new vectors lie between real ones \
             instead of in clusters of near-copies."
        ),
    }
}

fn report(
    args: &RecommendArgs,
    real: usize,
    results: &[SizeResult],
    profile_tokens: &[usize],
    elapsed: Duration,
) -> String {
    let mut s = String::new();
    let defaults = EngineSettings::default();
    let tokens = profile_tokens.iter().sum::<usize>() as f64 / profile_tokens.len().max(1) as f64;
    let first = args.index[0];
    let _ = writeln!(s, "#### Recommend path per catalog size\n");
    let _ = writeln!(
        s,
        "Data: {} Engine defaults: k = {K}, `hnsw.ef_search` = {}, `hnsw.iterative_scan = relaxed_order`, profile strategy {:?}; \
         index m = {}, ef_construction = {}. \
         Query profiles: {} deterministic profiles of two genres + two liked titles (≈ {tokens:.0} tokens as concatenated text); \
         embed = `Engine::profile_query`, SQL = the engine's recommendation query in its transaction, end-to-end = `Engine::recommend_for_profile` incl. recording the impression. \
         Filtered query: `tags && ARRAY['{}']`; short = lists with fewer than {K} rows with iterative scan on / off.\n",
        derivation_text(args, real),
        defaults.ef_search,
        defaults.profile_strategy,
        first.m,
        first.ef_construction,
        profile_tokens.len(),
        args.filter_tag,
    );
    let _ = writeln!(s, "| items | embed p50 / p99 ms | SQL p50 / p99 ms | SQL filtered p50 / p99 ms | filtered short (iterative on / off) | end-to-end p50 / p99 ms | SQL share of end-to-end (p50) | exact p50 / p99 ms | HNSW speed-up (p50) | recall@10 (ef {}) | HNSW build | index size | table size | HNSW in plan (plain / filtered) |", defaults.ef_search);
    let _ = writeln!(
        s,
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for r in results {
        let recall = r
            .default_point()
            .map(|p| format!("{:.3}", p.recall))
            .unwrap_or_else(|| "–".into());
        let idx = &r.indexes[0];
        let _ = writeln!(
            s,
            "| {} | {} / {} | {} / {} | {} / {} | {} / {} | {} / {} | {:.1}% | {} / {} | {:.0}× | {} | {:.1} s | {} | {} | {} / {} |",
            human_n(r.n),
            fmt_ms(r.embed.p50()),
            fmt_ms(r.embed.p99()),
            fmt_ms(r.sql.p50()),
            fmt_ms(r.sql.p99()),
            fmt_ms(r.sql_filtered.p50()),
            fmt_ms(r.sql_filtered.p99()),
            r.filtered_short,
            r.filtered_short_without_iterative,
            fmt_ms(r.total.p50()),
            fmt_ms(r.total.p99()),
            100.0 * r.sql.p50() / r.total.p50(),
            fmt_ms(r.exact.p50()),
            fmt_ms(r.exact.p99()),
            r.exact.p50() / r.sql.p50(),
            recall,
            idx.build.as_secs_f64(),
            mib(idx.index_bytes),
            mib(r.table_bytes),
            if r.hnsw_in_plan { "yes" } else { "no" },
            if r.hnsw_in_filtered_plan { "yes" } else { "no" },
        );
    }
    let _ = writeln!(s, "\n#### Where the default path's time goes (p50 per part, `Engine::recommend_for_profile_timed`)\n");
    let _ = writeln!(s, "The same end-to-end calls as above, timed inside the engine: embed = the profile's texts through the embedding queue; history vectors = loading the liked items' stored vectors (SQL); rank = the candidate query (one HNSW scan per profile element for max-sim) with the popularity lookup (SQL) and the scoring; record = writing the impression (SQL). Element scans: split over {} concurrent statements (the default, `SEMREC_SCAN_CONCURRENCY`) or all in one statement, both timed for each profile, taking turns to go first (with `--interactions`, also the default with the collaborative channel off, `collaborative_weight` 0, in the same turns).\n", EngineSettings::default().scan_concurrency);
    let _ = writeln!(s, "| items | element scans | embed | history vectors | rank (candidate SQL) | record | total | candidate SQL share | all database work share |");
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|");
    for r in results {
        for (scans, p) in [
            ("concurrent (default)", &r.path),
            ("one statement", &r.path_one_statement),
            (
                "concurrent, collaborative channel off",
                &r.path_no_collaborative,
            ),
        ] {
            if p.total.is_empty() {
                continue;
            }
            let _ = writeln!(
                s,
                "| {} | {scans} | {} | {} | {} | {} | {} | {:.1}% | {:.1}% |",
                human_n(r.n),
                fmt_ms(p.embed.p50()),
                fmt_ms(p.profile_vectors.p50()),
                fmt_ms(p.rank.p50()),
                fmt_ms(p.record.p50()),
                fmt_ms(p.total.p50()),
                100.0 * p.rank.p50() / p.total.p50(),
                100.0 * p.database_share(),
            );
        }
    }
    for r in results {
        if let Some(c) = &r.collaborative {
            let _ = writeln!(s, "\nCollaborative channel at {}: {c}", human_n(r.n));
        }
    }
    let _ = writeln!(s, "\n#### Index parameters and ef_search (SQL only, unfiltered; recall@10 against exact search over the same queries)\n");
    let _ = writeln!(s, "Queries: `profiles` = the query profiles' vectors (as above); `items` = {} real catalog items' own vectors (\"more like this\"). `items, 50 rows` = the same item vectors asking for 50 rows, as one max-sim element scan does (recall@50 against the exact top 50). Speed-up = exact p50 of the profile queries / this p50.\n", results.first().map_or(0, |r| r.item_vectors.len()));
    let _ = writeln!(s, "Tie-aware recall counts a returned item as a hit when its distance is within {TIE_EPS} of the exact 10th distance (ann-benchmarks' rule).\n");
    let _ = writeln!(
        s,
        "| items | m | ef_construction | build | index size | queries | ef_search | recall@10 | recall@10 (ties) | SQL p50 ms | SQL p99 ms | speed-up vs exact (p50) |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in results {
        for idx in &r.indexes {
            let kinds = [
                ("profiles", &idx.sweep),
                ("items", &idx.item_sweep),
                ("items, 50 rows (recall@50)", &idx.element_sweep),
            ];
            for (kind, p) in kinds
                .iter()
                .flat_map(|(k, v)| v.iter().map(move |p| (k, p)))
            {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {:.1} s | {} | {kind} | {} | {:.3} | {:.3} | {} | {} | {:.0}× |",
                    human_n(r.n),
                    idx.params.m,
                    idx.params.ef_construction,
                    idx.build.as_secs_f64(),
                    mib(idx.index_bytes),
                    p.ef_search,
                    p.recall,
                    p.recall_ties,
                    fmt_ms(p.latency.p50()),
                    fmt_ms(p.latency.p99()),
                    r.exact.p50() / p.latency.p50()
                );
            }
        }
    }
    let _ = writeln!(s, "\n#### Loading and the data's neighbourhoods\n");
    let _ = writeln!(
        s,
        "| items | COPY + VACUUM ANALYZE | maintenance_work_mem | queries measured | median exact d₁₁ − d₁₀ | median exact d₁₀ − d₁ |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|");
    for r in results {
        let _ = writeln!(
            s,
            "| {} | {:.1} s | {} | {} | {:.4} | {:.4} |",
            human_n(r.n),
            r.load.as_secs_f64(),
            r.maintenance_work_mem,
            r.queries,
            r.gap_10_11,
            r.spread_1_10
        );
    }

    let _ = writeln!(s, "\n#### Targets\n");
    if let Some(r) = results.iter().find(|r| r.n == 100_000) {
        for idx in &r.indexes {
            for p in &idx.sweep {
                let sp = r.exact.p50() / p.latency.p50();
                let _ = writeln!(
                    s,
                    "- HNSW ≥ 50× faster than exact at 100k with recall@10 ≥ 0.98, m = {}, ef_construction = {}, ef_search {}: {sp:.0}× at recall {:.3} → {}",
                    idx.params.m,
                    idx.params.ef_construction,
                    p.ef_search,
                    p.recall,
                    pass(sp >= 50.0 && p.recall >= 0.98)
                );
            }
        }
    }
    for r in results {
        let share = r.path.database_share();
        let _ = writeln!(
            s,
            "- SQL ≤ 25% of end-to-end at {} (all database work of the default path, p50): {:.1}% → {}",
            human_n(r.n),
            100.0 * share,
            pass(share <= 0.25)
        );
    }
    let _ = writeln!(
        s,
        "\nRun time of the whole benchmark: {:.0} s.",
        elapsed.as_secs_f64()
    );
    s
}
