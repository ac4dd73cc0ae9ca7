//! `semrec`: the server binary and command line.

use std::io::BufRead;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;
use engine::catalog::{parse_import, ImportFormat, ImportProgress};
use engine::import_history::{ImportKind, ImportVia};
use engine::seed::{SeedState, DEMO_CATALOG};
use engine::{Engine, EngineSettings};
use indicatif::{ProgressBar, ProgressStyle};
use leptos::config::LeptosOptions;

use server::config::{ApiKeyCommand, Cli, Command, Common, ImportArgs, ServeArgs};
use server::database::{Database, Role};
use server::edge::serve::ServeOptions;
use server::edge::{self, AllowedHosts, EdgeConfig, EventLimits, RequestTimeouts, TrustedProxies};
use server::{api, model, web};

fn main() -> ExitCode {
    // A process-wide allocator setting, so the binary makes it (the libraries
    // never do): freed inference buffers stay in the heap for the next pass.
    engine::embed::keep_freed_memory();
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SEMREC_LOG")
                .unwrap_or_else(|_| "info,sqlx=warn,tower_http=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("semrec: error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            // One line that says what to do; no panic trace.
            eprintln!("semrec: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command.unwrap_or(Command::Serve(Box::default())) {
        Command::Serve(args) => serve(&cli.common, *args).await.map(|()| ExitCode::SUCCESS),
        Command::Import(args) => import(&cli.common, args).await,
        Command::ImportInteractions(args) => import_interactions(&cli.common, args).await,
        Command::Reindex => reindex(&cli.common).await.map(|()| ExitCode::SUCCESS),
        Command::ApiKey(cmd) => api_key(&cli.common, cmd).await.map(|()| ExitCode::SUCCESS),
        Command::Recommend(args) => recommend(&cli.common, args).await,
        Command::Train => train(&cli.common).await,
    }
}

fn settings(common: &Common) -> EngineSettings {
    EngineSettings {
        ef_search: common.ef_search,
        scan_concurrency: common.scan_concurrency.into(),
        profile_strategy: common.profile_strategy,
        popularity_weight: common.popularity_weight,
        collaborative_weight: common.collaborative.collaborative_weight,
        lexical_weight: common.collaborative.lexical_weight,
        // Part of the shipped ranker model, not a setting of its own.
        semantic_mean_weight: engine::DEFAULT_SEMANTIC_MEAN_WEIGHT,
        collaborative: common.collaborative.settings(),
        drift: common.drift.settings(),
        rules: common.rules.settings(),
        online: common.ranker.settings(),
        ..EngineSettings::default()
    }
}

/// Opens the database and loads the model side by side.
async fn open_engine(
    common: &Common,
    role: Role,
    pools: &engine::store::StoreOptions,
) -> Result<(Engine, Database)> {
    let model = model::load(common);
    let db = Database::open(common, role, pools);
    let (model, db) = tokio::join!(model, db);
    let db = db?;
    let embedder = match model {
        Ok(m) => m,
        Err(e) => {
            db.close().await;
            return Err(e);
        }
    };
    let mut engine = Engine::new(db.store.clone(), embedder, settings(common));
    engine.embed_cache =
        engine::embedding_cache::EmbeddingCache::with_budget_mb(common.embed_cache_mb as usize);
    Ok((engine, db))
}

async fn serve(common: &Common, args: ServeArgs) -> Result<()> {
    // A bad admin password is refused before anything starts.
    server::admin::check_shared(args.expected_instances, args.admin_password.as_deref())?;
    let admin = server::admin::credentials(&args.admin_user, args.admin_password.as_deref())?;
    let pools = server::db_pool::server_pools(common, &args)?;
    // Bind first: a busy port is reported before anything slow happens.
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AddrInUse {
                anyhow::anyhow!(
                    "port {} is already in use: stop the other process or set SEMREC_ADDR",
                    args.addr.port()
                )
            } else {
                anyhow::anyhow!("cannot listen on {}: {e}", args.addr)
            }
        })?;
    let edge = edge_config(&args, listener.local_addr()?)?;
    let metrics_listener = match metrics_addr(&args)? {
        Some(addr) => Some(
            server::observability::address::bind(addr)
                .await
                .map_err(|e| anyhow::anyhow!(e))?,
        ),
        None => None,
    };
    let (mut engine, db) = open_engine(
        common,
        Role::Server {
            instances: args.expected_instances,
        },
        &pools,
    )
    .await?;
    engine.imports = engine::imports::ImportGate::new(args.max_imports as usize);
    let refresh = std::time::Duration::from_secs(common.collaborative.collaborative_refresh_secs);
    engine.start_impression_queue(args.impression_queue());
    let draining = engine.clone();
    let listeners = Listeners {
        public: listener,
        metrics: metrics_listener,
    };
    let result = serve_with(engine, admin, &args, listeners, edge, refresh).await;
    // Requests are done: the queued impressions go in before the pool closes.
    match tokio::time::timeout(DB_CLOSE_WITHIN, draining.drain_impressions()).await {
        Ok(Ok(n)) => tracing::info!(written = n, "queued impressions written"),
        Ok(Err(e)) => tracing::error!(
            lost = draining.impressions.len(),
            "writing the queued impressions at shutdown failed: {e}"
        ),
        Err(_) => tracing::error!(
            lost = draining.impressions.len(),
            "writing the queued impressions at shutdown took over {} s",
            DB_CLOSE_WITHIN.as_secs()
        ),
    }
    // Bounded: a background task still holding a connection must not keep the
    // process (and PostgreSQL) alive.
    db.close_within(Some(DB_CLOSE_WITHIN)).await;
    result
}

/// Requests in flight at shutdown may run this long; then their connections close.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Time for releasing the job leases at shutdown.
const RELEASE_WITHIN: Duration = Duration::from_secs(1);
/// After the grace: time for the queued impressions to be written, then for the pool
/// to close before PostgreSQL is stopped regardless.
const DB_CLOSE_WITHIN: Duration = Duration::from_secs(2);

/// Decides, before serving, whether the demo catalog is to be loaded: into an
/// empty catalog, or to finish a load an earlier start began (it was stopped
/// mid-import). Marks it started, so readiness waits for it from the first request.
async fn demo_catalog_to_load(
    engine: &Engine,
    demo_catalog: &std::path::Path,
) -> Result<Option<std::path::PathBuf>> {
    let resume = match engine.seed_state(DEMO_CATALOG).await? {
        SeedState::Completed => return Ok(None),
        SeedState::Started => true,
        // A catalog of the operator's own (or one from before seeds were recorded).
        SeedState::NotStarted if engine.catalog_size().await? > 0 => return Ok(None),
        SeedState::NotStarted => false,
    };
    if !demo_catalog.exists() {
        if resume {
            // Nothing to resume from: serve what the earlier start imported.
            tracing::warn!(
                "the demo catalog load an earlier start began cannot be finished: {} is missing; serving the {} items it imported",
                demo_catalog.display(),
                engine.catalog_size().await?
            );
            engine.mark_seed_completed(DEMO_CATALOG).await?;
        } else {
            tracing::warn!(
                "the catalog is empty and {} does not exist: run scripts/fetch-demo-data.sh or `semrec import FILE`",
                demo_catalog.display()
            );
        }
        return Ok(None);
    }
    if resume {
        tracing::info!(
            "resuming the demo catalog import an earlier start did not finish ({})",
            demo_catalog.display()
        );
    } else {
        tracing::info!(
            "empty catalog: importing the demo catalog {} while serving",
            demo_catalog.display()
        );
    }
    engine.mark_seed_started(DEMO_CATALOG).await?;
    Ok(Some(demo_catalog.to_path_buf()))
}

/// Loads the demo catalog and then its interactions (the demo users' ratings) and
/// fits the collaborative model on them (in the background: pages are served
/// meanwhile, and /health/ready answers 503 `starting` until the catalog is in).
async fn load_demo_catalog(
    engine: &Engine,
    demo_catalog: &std::path::Path,
    demo_interactions: &std::path::Path,
) -> Result<()> {
    let file = std::fs::File::open(demo_catalog)
        .with_context(|| format!("cannot read {}", demo_catalog.display()))?;
    let parsed = parse_import(std::io::BufReader::new(file), ImportFormat::Jsonl)?;
    let summary = engine.import_items(parsed, progress_logger()).await?;
    let first_start = "first start (demo catalogue)";
    engine
        .store
        .note_import(
            ImportVia::Start,
            first_start,
            ImportKind::Catalogue,
            &summary,
        )
        .await;
    if demo_interactions.exists() {
        // Idempotent: a resumed first start adds only what is missing.
        let s = server::collaborative::import_file(engine, demo_interactions).await?;
        engine
            .store
            .note_import(ImportVia::Start, first_start, ImportKind::Interactions, &s)
            .await;
        tracing::info!(
            added = s.added,
            unchanged = s.unchanged,
            rejected = s.rejected.len(),
            "demo interactions imported"
        );
        engine.refresh_collaborative().await?;
    } else {
        tracing::warn!(
            "{} does not exist: the collaborative channel has no signal until interactions are imported",
            demo_interactions.display()
        );
    }
    engine.mark_seed_completed(DEMO_CATALOG).await?;
    tracing::info!(
        added = summary.added,
        unchanged = summary.unchanged,
        rejected = summary.rejected.len(),
        "demo catalog imported"
    );
    Ok(())
}

/// The metrics address, checked before anything slow starts.
fn metrics_addr(args: &ServeArgs) -> Result<Option<std::net::SocketAddr>> {
    server::observability::address::metrics_addr(&args.metrics_addr, args.metrics_public)
        .map_err(|e| anyhow::anyhow!(e))
}

/// The public listener, and the metrics one unless metrics are off.
struct Listeners {
    public: tokio::net::TcpListener,
    metrics: Option<tokio::net::TcpListener>,
}

/// The edge settings, checked before anything slow starts: a public listen
/// address without SEMREC_ALLOWED_HOSTS is refused here.
fn edge_config(args: &ServeArgs, listen: std::net::SocketAddr) -> Result<EdgeConfig> {
    let allowed_hosts =
        AllowedHosts::from_settings(&args.allowed_hosts, listen, args.secure_cookies)
            .map_err(|e| anyhow::anyhow!(e))?;
    Ok(EdgeConfig {
        allowed_hosts: Arc::new(allowed_hosts),
        trusted_proxies: Arc::new(TrustedProxies::new(
            args.trusted_proxies.iter().flatten().copied().collect(),
        )),
        timeouts: RequestTimeouts {
            default: Duration::from_secs(args.request_timeout),
            import: Duration::from_secs(args.import_timeout),
        },
        event_limits: EventLimits::new(args.event_rate, args.event_burst),
        http_metrics: Default::default(),
    })
}

async fn serve_with(
    engine: Engine,
    admin: app::session::AdminCredentials,
    args: &ServeArgs,
    listeners: Listeners,
    mut edge: EdgeConfig,
    collaborative_refresh: std::time::Duration,
) -> Result<()> {
    let listener = listeners.public;
    // An import killed mid-way leaves the vector index to be built again
    // (engine::bulk_load); queries are exact scans until it is back.
    let rebuilding = engine.clone();
    tokio::spawn(async move {
        if let Err(e) = rebuilding.rebuild_deferred_indexes().await {
            tracing::warn!("rebuilding the vector index: {e}");
        }
    });
    // A failed demo load ends the server with its error, as a failed import at
    // start always did; the next start resumes it.
    let load_failure = Arc::new(std::sync::Mutex::new(None::<String>));
    let load_failed = Arc::new(tokio::sync::Notify::new());
    let loading = match demo_catalog_to_load(&engine, &args.demo_catalog).await? {
        Some(demo) => {
            let (engine, failure, failed) =
                (engine.clone(), load_failure.clone(), load_failed.clone());
            let interactions = args.demo_interactions.clone();
            Some(tokio::spawn(async move {
                if let Err(e) = load_demo_catalog(&engine, &demo, &interactions).await {
                    *failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(format!("{e:#}"));
                    failed.notify_one();
                }
            }))
        }
        None => None,
    };
    // Periodic jobs run on the one instance holding their lease (engine::leases).
    let holder = engine::leases::new_holder_id();
    let lease_ttl = Duration::from_secs(args.job_lease_secs);
    let sweeper = server::session_sweeper::spawn(engine.clone(), &holder, lease_ttl);
    // The demo load fits the model itself; this keeps it fresh afterwards.
    let refreshing = server::collaborative::spawn_refresh(
        engine.clone(),
        engine::leased_job::LeasedJob::new(
            server::collaborative::JOB,
            &holder,
            lease_ttl,
            collaborative_refresh,
        ),
    );
    let leases = engine.store.clone();
    let state = server::state::AppState {
        engine,
        admin,
        secure_cookies: args.secure_cookies,
    };
    let addr = listener.local_addr()?;
    let bundle = server::static_files::bundle_name(&args.site_root);
    if bundle.is_none() {
        tracing::warn!(
            "{} has no built front end (bundle.txt): pages render but won't hydrate; build with scripts/build.sh",
            args.site_root.display()
        );
    }
    let options = LeptosOptions::builder()
        .output_name(bundle.unwrap_or_else(|| server::static_files::UNHASHED_BUNDLE.into()))
        .site_root(args.site_root.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .env(leptos::config::Env::PROD)
        .build();
    let api_config = api::ApiConfig {
        rate_per_second: args.api_rate,
        burst: args.api_burst,
    };
    let admission = server::admission::Admission::new(args.max_in_flight as usize);
    let metrics = server::observability::Metrics::new(&state.engine, &admission);
    edge.http_metrics = metrics.http.clone();
    let metrics_server = listeners
        .metrics
        .map(|l| server::observability::spawn(l, metrics));
    let app = web::router_with_edge(
        state,
        options,
        &args.site_root,
        &api_config,
        admission,
        &edge,
    );
    tracing::info!("answering for hosts {}", edge.allowed_hosts.describe());
    tracing::info!("semrec listening on http://{addr}");
    let serve_options = ServeOptions {
        header_timeout: Duration::from_secs(args.header_timeout),
        grace: SHUTDOWN_GRACE,
    };
    edge::serve::serve(listener, app, serve_options, async move {
        tokio::select! {
            _ = shutdown_signal() => {}
            _ = load_failed.notified() => {}
        }
        tracing::info!(
            "shutting down: requests in flight get {} s",
            SHUTDOWN_GRACE.as_secs()
        );
    })
    .await;
    tracing::info!("shutting down");
    if let Some(m) = metrics_server {
        m.abort();
    }
    sweeper.abort();
    refreshing.abort();
    let _ = tokio::join!(sweeper, refreshing);
    // Another instance takes the jobs over at its next try, not after the expiry.
    // Bounded: with the database gone the leases simply expire.
    match tokio::time::timeout(RELEASE_WITHIN, leases.release_leases(&holder)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::warn!("releasing the job leases: {e}"),
        Err(_) => tracing::warn!("releasing the job leases timed out; they expire by themselves"),
    }
    if let Some(loading) = loading {
        // Its connections must be back before the pool closes; a stopped load is
        // resumed by the next start.
        loading.abort();
        let _ = loading.await;
    }
    if let Some(e) = load_failure
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
    {
        anyhow::bail!("loading the demo catalog failed: {e} (the next start resumes it)");
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

fn progress_logger() -> impl FnMut(ImportProgress) {
    let start = Instant::now();
    let mut last = Instant::now();
    move |p| {
        if last.elapsed().as_secs() >= 5 || p.done == p.total {
            last = Instant::now();
            let rate = p.embedded as f64 / start.elapsed().as_secs_f64().max(1e-3);
            tracing::info!(
                "imported {}/{} items ({rate:.0} embedded/s)",
                p.done,
                p.total
            );
        }
    }
}

/// A progress bar on stderr (items/s and ETA), updated after each committed chunk.
/// The total comes with the first report, so reindex (which counts first) can use it too.
fn progress_bar() -> impl FnMut(ImportProgress) {
    let bar = Arc::new(ProgressBar::new(0));
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} items  {per_sec}  ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    move |p| {
        bar.set_length(p.total as u64);
        bar.set_position(p.done as u64);
        if p.done == p.total {
            bar.finish_and_clear();
        }
    }
}

/// Who the import history names for imports run from the command line.
const CLI_ACTOR: &str = "CLI";

async fn import(common: &Common, args: ImportArgs) -> Result<ExitCode> {
    let name = args.file.to_string_lossy().to_string();
    let format = match args.format.as_deref() {
        Some("csv") => ImportFormat::Csv,
        Some(_) => ImportFormat::Jsonl,
        None => ImportFormat::from_name(&name),
    };
    let reader: Box<dyn BufRead> = if name == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(&args.file).with_context(|| format!("cannot open {name}"))?,
        ))
    };
    let parsed = parse_import(reader, format).with_context(|| format!("cannot read {name}"))?;
    for r in &parsed.rejected {
        eprintln!(
            "{name}:{}: {}{}",
            r.line,
            r.id.as_ref().map(|i| format!("[{i}] ")).unwrap_or_default(),
            r.reason
        );
    }
    let (summary, elapsed) = if args.dry_run {
        println!(
            "dry run: {} valid, {} rejected (nothing written)",
            parsed.items.len(),
            parsed.rejected.len()
        );
        return Ok(if parsed.rejected.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(2)
        });
    } else {
        let (engine, db) = open_engine(
            common,
            Role::Command,
            &server::db_pool::command_pools(common),
        )
        .await?;
        let started = Instant::now();
        let result = engine.import_items(parsed, progress_bar()).await;
        if let Ok(summary) = &result {
            engine
                .store
                .note_import(ImportVia::Cli, CLI_ACTOR, ImportKind::Catalogue, summary)
                .await;
        }
        db.close().await;
        (result?, started.elapsed())
    };
    let items = summary.added + summary.updated + summary.unchanged;
    println!(
        "added {}, updated {}, unchanged {}, rejected {} ({items} items in {:.1} s, {:.1} items/s{})",
        summary.added,
        summary.updated,
        summary.unchanged,
        summary.rejected.len(),
        elapsed.as_secs_f64(),
        items as f64 / elapsed.as_secs_f64().max(1e-3),
        if summary.vector_index_rebuilt {
            ", vector index built once at the end"
        } else {
            ""
        }
    );
    // Exit code 2: the import ran but some lines were rejected.
    Ok(if summary.rejected.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

async fn import_interactions(common: &Common, args: ImportArgs) -> Result<ExitCode> {
    let name = args.file.to_string_lossy().to_string();
    let format = match args.format.as_deref() {
        Some("csv") => ImportFormat::Csv,
        Some(_) => ImportFormat::Jsonl,
        None => ImportFormat::from_name(&name),
    };
    let reader: Box<dyn BufRead> = if name == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(&args.file).with_context(|| format!("cannot open {name}"))?,
        ))
    };
    let parsed = engine::interactions::parse_interactions(reader, format)
        .with_context(|| format!("cannot read {name}"))?;
    let report = |rejected: &[engine::catalog::Rejection]| {
        for r in rejected {
            eprintln!(
                "{name}:{}: {}{}",
                r.line,
                r.id.as_ref().map(|i| format!("[{i}] ")).unwrap_or_default(),
                r.reason
            );
        }
    };
    if args.dry_run {
        report(&parsed.rejected);
        println!(
            "dry run: {} valid, {} rejected (nothing written; items are not looked up)",
            parsed.interactions.len(),
            parsed.rejected.len()
        );
        return Ok(if parsed.rejected.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(2)
        });
    }
    let (engine, db) = open_engine(
        common,
        Role::Command,
        &server::db_pool::command_pools(common),
    )
    .await?;
    let started = Instant::now();
    let result = async {
        let bar = progress_bar();
        let mut bar = bar;
        let summary = engine
            .import_interactions(parsed, |p| {
                bar(ImportProgress {
                    done: p.done,
                    total: p.total,
                    embedded: 0,
                })
            })
            .await?;
        engine
            .store
            .note_import(
                ImportVia::Cli,
                CLI_ACTOR,
                ImportKind::Interactions,
                &summary,
            )
            .await;
        let model = if summary.added > 0 || engine.collaborative_is_stale().await? {
            engine.refresh_collaborative().await?
        } else {
            None
        };
        Ok::<_, engine::EngineError>((summary, model))
    }
    .await;
    db.close().await;
    let (summary, model) = result?;
    report(&summary.rejected);
    println!(
        "added {}, unchanged {}, rejected {} in {:.1} s{}",
        summary.added,
        summary.unchanged,
        summary.rejected.len(),
        started.elapsed().as_secs_f64(),
        model
            .map(|m| format!(
                "; collaborative model {} refitted ({} users, {} items, {:.1} s)",
                m.algorithm, m.users, m.items, m.seconds
            ))
            .unwrap_or_default()
    );
    Ok(if summary.rejected.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

async fn reindex(common: &Common) -> Result<()> {
    let (engine, db) = open_engine(
        common,
        Role::Command,
        &server::db_pool::command_pools(common),
    )
    .await?;
    let result = engine.reindex(progress_bar()).await;
    db.close().await;
    let n = result?;
    println!("re-embedded {n} items with {}", engine.model_id());
    Ok(())
}

async fn api_key(common: &Common, cmd: ApiKeyCommand) -> Result<()> {
    let db = Database::open(
        common,
        Role::Command,
        &server::db_pool::command_pools(common),
    )
    .await?;
    let result = api_key_with(&db.store, cmd).await;
    db.close().await;
    result
}

async fn api_key_with(store: &engine::Store, cmd: ApiKeyCommand) -> Result<()> {
    match cmd {
        ApiKeyCommand::Create { name, scope } => {
            let new = store.create_api_key(&name, scope).await?;
            eprintln!(
                "created API key '{}' (id {}, scope {}); it is shown only now:",
                new.key.name, new.key.id, new.key.scope
            );
            println!("{}", new.secret);
        }
        ApiKeyCommand::List => {
            println!(
                "  id  name                     scope  prefix        last used            revoked"
            );
            let when = |t: Option<chrono::DateTime<chrono::Utc>>| {
                t.map_or("-".to_string(), |t| t.format("%Y-%m-%d %H:%M").to_string())
            };
            for k in store.list_api_keys().await? {
                println!(
                    "{:>4}  {:<24} {:<6} {:<13} {:<20} {:<20}",
                    k.id,
                    k.name,
                    k.scope,
                    format!("{}…", k.prefix),
                    when(k.last_used_at),
                    when(k.revoked_at)
                );
            }
        }
        ApiKeyCommand::Revoke { name_or_id } => {
            let k = store.revoke_api_key(&name_or_id).await?;
            println!("revoked API key '{}' (id {})", k.name, k.id);
        }
    }
    Ok(())
}

async fn recommend(common: &Common, args: server::config::RecommendArgs) -> Result<ExitCode> {
    let (engine, db) = open_engine(
        common,
        Role::Command,
        &server::db_pool::command_pools(common),
    )
    .await?;
    let result = server::ranking_commands::run(&engine, &args).await;
    db.close().await;
    let text = result?;
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

async fn train(common: &Common) -> Result<ExitCode> {
    let (engine, db) = open_engine(
        common,
        Role::Command,
        &server::db_pool::command_pools(common),
    )
    .await?;
    let result = engine.train_ranker().await;
    db.close().await;
    let (text, code) = server::ranking_commands::training_summary(&result?);
    println!("{text}");
    Ok(ExitCode::from(code))
}
