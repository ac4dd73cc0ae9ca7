//! Validation-split tuning on the tuning catalogue: the profile-construction and
//! prior grids, the fusion grid, the learned ranker's training, and what they chose.

use super::*;

/// What validation chose on the tuning catalogue (means over the rating modes).
pub(crate) struct Choice {
    /// Best variant and its mean nDCG@10 per item text.
    pub(crate) best_per_text: Vec<(ItemText, Variant, f64)>,
    /// The product's settings and its mean nDCG@10 (product text).
    pub(crate) product: (Variant, f64),
    /// Steps from the previous default to the product default (label, mean nDCG@10).
    pub(crate) steps: Vec<(String, f64)>,
    pub(crate) tfidf: TfidfOptions,
    pub(crate) tfidf_scores: Vec<(TfidfOptions, f64)>,
    /// The fusion weights with the best mean nDCG@10 over the modes.
    pub(crate) fusion: Option<(engine::fusion::FusionWeights, f64)>,
    /// The ranker trained on validation.
    pub(crate) learned: Option<learned::Trained>,
}

/// The learned ranker's section: cross-validation, weights, and validation nDCG@10
/// per mode (in-sample) next to the shipped model's.
pub(crate) fn learned_text(t: &learned::Trained, training: &[learned::TrainingSet]) -> String {
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
         popularity {}, scarcity {}. Shipped model (`engine/src/ranking/trained.rs`, {}): \
         semantic mean {}, lexical {}, collaborative {}, popularity {}, scarcity {}.\n\n",
        t.method.label(),
        w.semantic_mean,
        w.lexical,
        w.collaborative,
        w.popularity,
        w.scarcity,
        engine::ranking::trained::VERSION,
        engine::DEFAULT_SEMANTIC_MEAN_WEIGHT,
        engine::DEFAULT_LEXICAL_WEIGHT,
        engine::DEFAULT_COLLABORATIVE_WEIGHT,
        engine::DEFAULT_POPULARITY_WEIGHT,
        engine::DEFAULT_SCARCITY_WEIGHT,
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
pub(crate) fn fusion_matrix(
    grid: &[engine::fusion::FusionWeights],
    results: &[Vec<UserResult>],
) -> String {
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
pub(crate) async fn tune(
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
        let mut rows = if args.no_test && !args.validation_rows {
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
pub(crate) fn matrix(grid: &[Variant], results: &[Vec<UserResult>]) -> String {
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

pub(crate) fn choice_text(c: &Choice, modes: usize) -> String {
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
