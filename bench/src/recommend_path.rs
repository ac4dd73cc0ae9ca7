//! The recommend-path benchmark: catalog import vs pure embedding, then for each
//! catalog size the HNSW build, recall@10 against exact search, and p50/p99 of
//! embed / SQL / end-to-end, all against a throwaway PostgreSQL + pgvector.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use engine::catalog::ParsedImport;
use engine::embed::{EmbeddingService, SentenceEmbedder, TextKind};
use engine::events::ImpressionContext;
use engine::postgres_cluster::LocalCluster;
use engine::profile::Profile;
use engine::recommend::{Filters, RecommendOptions};
use engine::{Engine, EngineSettings, Store};
use sqlx::PgPool;

use crate::copy_load::append_derived;
use crate::corpus::{query_profiles, read_catalog, VectorDeriver};
use crate::stats::{fmt_ms, Samples};

const INDEX_NAME: &str = "items_embedding_hnsw";
const K: usize = 10;

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
    #[arg(long, value_delimiter = ',', default_value = "40,100,200")]
    pub ef_sweep: Vec<u32>,
    /// Expected norm of the Gaussian noise added to real vectors to derive items.
    #[arg(long, default_value_t = 0.4)]
    pub noise: f32,
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
}

/// Throughput of embedding the catalog alone vs importing it.
struct ImportResult {
    texts: usize,
    one_call: Duration,
    chunked: Duration,
    import: Duration,
}

struct SizeResult {
    n: usize,
    maintenance_work_mem: String,
    load: Duration,
    build: Duration,
    index_bytes: i64,
    table_bytes: i64,
    hnsw_in_plan: bool,
    hnsw_in_filtered_plan: bool,
    queries: usize,
    embed: Samples,
    sql: Samples,
    sql_filtered: Samples,
    filtered_short: usize,
    total: Samples,
    exact: Samples,
    /// (ef_search, recall@10, latency)
    sweep: Vec<(u32, f64, Samples)>,
}

pub async fn run(args: RecommendArgs) -> Result<()> {
    let mut sizes = args.sizes.clone();
    sizes.sort_unstable();
    sizes.dedup();
    ensure!(!sizes.is_empty(), "--sizes is empty");
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
    let write_report = |import: &ImportResult, results: &[SizeResult]| -> Result<String> {
        let report = report(&args, import, results, &profile_tokens, started.elapsed());
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
    let (import, results) = result?;
    println!("{}", write_report(&import, &results)?);
    Ok(())
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
    on_size: &dyn Fn(&ImportResult, &[SizeResult]) -> Result<String>,
) -> Result<(ImportResult, Vec<SizeResult>)> {
    let store = Store::connect(cluster.database_url(), 4).await?;
    store.migrate().await?;
    let engine = Engine::new(store, embedder, EngineSettings::default());
    let pool = engine.store.pool().clone();

    let (import, base_vectors) = import_vs_embedding(&engine, parsed).await?;
    let base: Vec<_> = parsed.items.iter().map(|(_, i)| i.clone()).collect();

    let index_def: String =
        sqlx::query_scalar("SELECT indexdef FROM pg_indexes WHERE indexname = $1")
            .bind(INDEX_NAME)
            .fetch_one(&pool)
            .await
            .context("the migrations define no HNSW index")?;
    let mut deriver = VectorDeriver::new(args.noise, dims, args.seed);
    let mut results = Vec::new();
    let mut have: usize = count(&pool).await?;
    for &n in sizes {
        tracing::info!(n, "loading derived items");
        sqlx::query(&format!("DROP INDEX {INDEX_NAME}"))
            .execute(&pool)
            .await?;
        let t = Instant::now();
        if n > have {
            append_derived(
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

        tracing::info!(n, "building the HNSW index");
        let build = {
            let mut conn = pool.acquire().await?;
            let mwm = if n >= 1_000_000 {
                &args.maintenance_work_mem_1m
            } else {
                &args.maintenance_work_mem
            };
            sqlx::query(&format!(
                "SET maintenance_work_mem = '{}'",
                mwm.replace('\'', "")
            ))
            .execute(&mut *conn)
            .await?;
            let t = Instant::now();
            sqlx::query(&index_def).execute(&mut *conn).await?;
            let d = t.elapsed();
            sqlx::query("RESET maintenance_work_mem")
                .execute(&mut *conn)
                .await?;
            d
        };
        let (index_bytes, table_bytes): (i64, i64) =
            sqlx::query_as("SELECT pg_relation_size($1::regclass), pg_table_size('items')")
                .bind(INDEX_NAME)
                .fetch_one(&pool)
                .await?;
        tracing::info!(
            n,
            build_s = build.as_secs_f64(),
            "index built; measuring queries"
        );
        let q = if n >= 1_000_000 {
            args.queries_1m
        } else {
            args.queries
        };
        let mut r = measure_queries(&engine, &pool, &profiles[..q], args).await?;
        r.n = n;
        r.maintenance_work_mem = if n >= 1_000_000 {
            args.maintenance_work_mem_1m.clone()
        } else {
            args.maintenance_work_mem.clone()
        };
        r.load = load;
        r.build = build;
        r.index_bytes = index_bytes;
        r.table_bytes = table_bytes;
        results.push(r);
        on_size(&import, &results)?;
    }
    Ok((import, results))
}

async fn count(pool: &PgPool) -> Result<usize> {
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM items")
        .fetch_one(pool)
        .await?;
    Ok(n as usize)
}

/// Embeds the catalog texts alone (one call; then in import-sized chunks), then
/// imports the same items through `Engine::import_items` into the empty catalog.
async fn import_vs_embedding(
    engine: &Engine,
    parsed: &ParsedImport,
) -> Result<(ImportResult, Vec<Vec<f32>>)> {
    let texts: Vec<String> = parsed
        .items
        .iter()
        .map(|(_, i)| i.embedding_text())
        .collect();
    tracing::info!(
        texts = texts.len(),
        "embedding the catalog texts alone (one call)"
    );
    // Warm-up: first inference allocates buffers.
    engine
        .embedder
        .embed(texts[..32.min(texts.len())].to_vec(), TextKind::Passage)
        .await?;
    let t = Instant::now();
    let vectors = engine
        .embedder
        .embed(texts.clone(), TextKind::Passage)
        .await?;
    let one_call = t.elapsed();
    tracing::info!(
        secs = one_call.as_secs_f64(),
        "embedding in import-sized chunks"
    );
    let t = Instant::now();
    for chunk in texts.chunks(engine::catalog::IMPORT_CHUNK) {
        engine
            .embedder
            .embed(chunk.to_vec(), TextKind::Passage)
            .await?;
    }
    let chunked = t.elapsed();
    tracing::info!(
        secs = chunked.as_secs_f64(),
        "importing through Engine::import_items"
    );
    let items = ParsedImport {
        items: parsed.items.clone(),
        rejected: vec![],
    };
    let t = Instant::now();
    let summary = engine.import_items(items, |_| {}).await?;
    let import = t.elapsed();
    ensure!(
        summary.added == texts.len(),
        "import added {} of {} items",
        summary.added,
        texts.len()
    );
    Ok((
        ImportResult {
            texts: texts.len(),
            one_call,
            chunked,
            import,
        },
        vectors,
    ))
}

/// The engine's recommendation query (engine/src/recommend.rs, `nearest`) with
/// the same settings, timed as the engine runs it: one transaction.
async fn nearest_ids(
    pool: &PgPool,
    query: &[f32],
    model_id: &str,
    ef_search: u32,
    tag: Option<&str>,
    exact: bool,
) -> Result<(Vec<i64>, Duration)> {
    let t = Instant::now();
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT set_config('hnsw.ef_search', $1, true), set_config('hnsw.iterative_scan', 'relaxed_order', true)")
        .bind(ef_search.to_string())
        .execute(&mut *tx)
        .await?;
    if exact {
        sqlx::query("SET LOCAL enable_indexscan = off")
            .execute(&mut *tx)
            .await?;
    }
    let tags: Option<Vec<String>> = tag.map(|t| vec![t.to_string()]);
    let rows: Vec<(i64, f64)> = sqlx::query_as(NEAREST_SQL)
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
    tx.commit().await?;
    Ok((rows.into_iter().map(|r| r.0).collect(), t.elapsed()))
}

/// Same WHERE and ORDER BY as the engine; the select list fetches what it fetches.
const NEAREST_SQL: &str = "SELECT id, embedding <=> $1 AS distance, external_id, title, description, language, source, tags, url, embedding
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
        nearest_ids(pool, &v, &model_id, ef, None, false).await?;
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

    let mut sql = Samples::default();
    let mut sql_filtered = Samples::default();
    let mut filtered_short = 0;
    let mut total = Samples::default();
    for (p, v) in profiles.iter().zip(&vectors) {
        let (_, d) = nearest_ids(pool, v, &model_id, ef, None, false).await?;
        sql.push(d);
        let (ids, d) = nearest_ids(pool, v, &model_id, ef, Some(&args.filter_tag), false).await?;
        sql_filtered.push(d);
        if ids.len() < K {
            filtered_short += 1;
        }
        let t = Instant::now();
        let list = engine
            .recommend_for_profile(None, p, &opts, ImpressionContext::Profile)
            .await?;
        total.push(t.elapsed());
        if list.items.len() != K {
            bail!(
                "recommend_for_profile returned {} items, expected {K}",
                list.items.len()
            );
        }
    }

    tracing::info!(queries = vectors.len(), "exact search for recall");
    let mut exact = Samples::default();
    let mut truth: Vec<HashSet<i64>> = Vec::with_capacity(vectors.len());
    for v in &vectors {
        let (ids, d) = nearest_ids(pool, v, &model_id, ef, None, true).await?;
        exact.push(d);
        truth.push(ids.into_iter().collect());
    }
    let mut sweep = Vec::new();
    for &ef_search in &args.ef_sweep {
        let mut lat = Samples::default();
        let mut hits = 0usize;
        for (v, t) in vectors.iter().zip(&truth) {
            let (ids, d) = nearest_ids(pool, v, &model_id, ef_search, None, false).await?;
            lat.push(d);
            hits += ids.iter().filter(|id| t.contains(id)).count();
        }
        sweep.push((ef_search, hits as f64 / (K * vectors.len()) as f64, lat));
    }
    Ok(SizeResult {
        n: 0,
        maintenance_work_mem: String::new(),
        load: Duration::ZERO,
        build: Duration::ZERO,
        index_bytes: 0,
        table_bytes: 0,
        hnsw_in_plan,
        hnsw_in_filtered_plan,
        queries: vectors.len(),
        embed,
        sql,
        sql_filtered,
        filtered_short,
        total,
        exact,
        sweep,
    })
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

fn report(
    args: &RecommendArgs,
    import: &ImportResult,
    results: &[SizeResult],
    profile_tokens: &[usize],
    elapsed: Duration,
) -> String {
    let mut s = String::new();
    let tokens = profile_tokens.iter().sum::<usize>() as f64 / profile_tokens.len().max(1) as f64;
    let _ = writeln!(s, "#### Recommend path per catalog size\n");
    let _ = writeln!(
        s,
        "Engine defaults: k = {K}, `hnsw.ef_search` = {}, `hnsw.iterative_scan = relaxed_order`, profile strategy concat. \
         Query profiles: {} deterministic profiles of two genres + two liked titles (≈ {tokens:.0} tokens as concatenated text; \
         the concat strategy embeds each of the 4 elements and the whole text: 5 texts in one batch; embed = `Engine::profile_query`, SQL = the engine's recommendation query in its transaction, end-to-end = `Engine::recommend_for_profile` incl. recording the impression). \
         Filtered query: `tags && ARRAY['{}']`.\n",
        EngineSettings::default().ef_search,
        profile_tokens.len(),
        args.filter_tag,
    );
    let _ = writeln!(s, "| items | embed p50 / p99 ms | SQL p50 / p99 ms | SQL filtered p50 / p99 ms | end-to-end p50 / p99 ms | SQL share of end-to-end (p50) | exact p50 / p99 ms | HNSW speed-up (p50) | recall@10 (ef {}) | HNSW build | index size | table size | HNSW in plan (plain / filtered) |", EngineSettings::default().ef_search);
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in results {
        let default_recall = r
            .sweep
            .iter()
            .find(|(ef, ..)| *ef == EngineSettings::default().ef_search)
            .map(|(_, rec, _)| format!("{rec:.3}"))
            .unwrap_or_else(|| "–".into());
        let _ = writeln!(
            s,
            "| {} | {} / {} | {} / {} | {} / {}{} | {} / {} | {:.1}% | {} / {} | {:.0}× | {} | {:.1} s | {} | {} | {} / {} |",
            human_n(r.n),
            fmt_ms(r.embed.p50()),
            fmt_ms(r.embed.p99()),
            fmt_ms(r.sql.p50()),
            fmt_ms(r.sql.p99()),
            fmt_ms(r.sql_filtered.p50()),
            fmt_ms(r.sql_filtered.p99()),
            if r.filtered_short > 0 { format!(" ({} short)", r.filtered_short) } else { String::new() },
            fmt_ms(r.total.p50()),
            fmt_ms(r.total.p99()),
            100.0 * r.sql.p50() / r.total.p50(),
            fmt_ms(r.exact.p50()),
            fmt_ms(r.exact.p99()),
            r.exact.p50() / r.sql.p50(),
            default_recall,
            r.build.as_secs_f64(),
            mib(r.index_bytes),
            mib(r.table_bytes),
            if r.hnsw_in_plan { "yes" } else { "no" },
            if r.hnsw_in_filtered_plan { "yes" } else { "no" },
        );
    }
    let _ = writeln!(s, "\n#### ef_search sweep (SQL only, unfiltered; recall@10 against exact search over the same queries)\n");
    let _ = writeln!(
        s,
        "| items | ef_search | recall@10 | SQL p50 ms | SQL p99 ms | speed-up vs exact (p50) |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|");
    for r in results {
        for (ef, recall, lat) in &r.sweep {
            let _ = writeln!(
                s,
                "| {} | {ef} | {recall:.3} | {} | {} | {:.0}× |",
                human_n(r.n),
                fmt_ms(lat.p50()),
                fmt_ms(lat.p99()),
                r.exact.p50() / lat.p50()
            );
        }
    }
    let _ = writeln!(s, "\n#### Loading\n");
    let _ = writeln!(
        s,
        "| items | COPY + VACUUM ANALYZE of the added rows | HNSW build | maintenance_work_mem | queries measured |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|");
    for r in results {
        let _ = writeln!(
            s,
            "| {} | {:.1} s | {:.1} s | {} | {} |",
            human_n(r.n),
            r.load.as_secs_f64(),
            r.build.as_secs_f64(),
            r.maintenance_work_mem,
            r.queries
        );
    }
    let rate = |d: Duration| import.texts as f64 / d.as_secs_f64();
    let _ = writeln!(
        s,
        "\n#### Import vs pure embedding ({} demo-catalog texts, same model, same process)\n",
        import.texts
    );
    let _ = writeln!(s, "| what | time | items/s | import as share of it |");
    let _ = writeln!(s, "|---|---|---|---|");
    let _ = writeln!(s, "| embedder alone, one call (the embedder sorts all texts by length) | {:.1} s | {:.0} | {:.0}% |", import.one_call.as_secs_f64(), rate(import.one_call), 100.0 * rate(import.import) / rate(import.one_call));
    let _ = writeln!(
        s,
        "| embedder alone, chunks of {} (as the import sends them) | {:.1} s | {:.0} | {:.0}% |",
        engine::catalog::IMPORT_CHUNK,
        import.chunked.as_secs_f64(),
        rate(import.chunked),
        100.0 * rate(import.import) / rate(import.chunked)
    );
    let _ = writeln!(s, "| `Engine::import_items` into the empty catalog (HNSW index present) | {:.1} s | {:.0} | – |", import.import.as_secs_f64(), rate(import.import));

    let _ = writeln!(s, "\n#### Targets\n");
    if let Some(r) = results.iter().find(|r| r.n == 100_000) {
        let rec = r
            .sweep
            .iter()
            .find(|(ef, ..)| *ef == EngineSettings::default().ef_search)
            .map(|x| x.1)
            .unwrap_or(f64::NAN);
        let speedup = r.exact.p50() / r.sql.p50();
        let _ = writeln!(s, "- HNSW ≥ 50× faster than exact at 100k with recall@10 ≥ 0.98: {:.0}× at recall {rec:.3} (ef_search {}) → {}", speedup, EngineSettings::default().ef_search, pass(speedup >= 50.0 && rec >= 0.98));
        for (ef, recall, lat) in &r.sweep {
            let sp = r.exact.p50() / lat.p50();
            let _ = writeln!(
                s,
                "  - ef_search {ef}: {sp:.0}× at recall {recall:.3} → {}",
                pass(sp >= 50.0 && *recall >= 0.98)
            );
        }
    }
    for r in results {
        let share = r.sql.p50() / r.total.p50();
        let _ = writeln!(
            s,
            "- SQL ≤ 25% of end-to-end at {}: {:.1}% → {}",
            human_n(r.n),
            100.0 * share,
            pass(share <= 0.25)
        );
    }
    let share_best = rate(import.import) / rate(import.one_call);
    let share_chunked = rate(import.import) / rate(import.chunked);
    let _ = writeln!(s, "- import ≥ 90% of pure embedding throughput: {:.0}% of the embedder's best (one call) → {}; {:.0}% of the same chunking → {}", 100.0 * share_best, pass(share_best >= 0.9), 100.0 * share_chunked, pass(share_chunked >= 0.9));
    let _ = writeln!(s, "\nThe first {} items are the real demo catalog, embedded by the real model; every further item is one of those vectors plus isotropic Gaussian noise of expected norm {} (cosine ≈ {:.2} to its source), re-normalised, with the source's text fields (`semrec-bench` `corpus.rs`). Run time of the whole benchmark: {:.0} s.", import.texts, args.noise, 1.0 / (1.0 + args.noise * args.noise).sqrt(), elapsed.as_secs_f64());
    s
}
