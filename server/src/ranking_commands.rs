//! The ranking's commands.
//! - `semrec recommend`: the list the engine would serve for a profile typed on the
//!   command line, through the same engine calls as the web app and the API (history
//!   resolved by [`Engine::resolve_history`], the list by the preview paths, which
//!   record no impression). The README's examples are its output.
//! - `semrec train`: what training the learned ranker online found.

use engine::history::HistoryRef;
use engine::profile::Profile;
use engine::recommend::online::{TrainingOutcome, TrainingReport};
use engine::recommend::{RecommendOptions, RecommendationList};
use engine::Engine;

use crate::config::RecommendArgs;

/// Widest title column; longer titles are cut with an ellipsis.
const TITLE_WIDTH: usize = 48;

/// The list for `args`, formatted (a table, or JSON with `--json`).
pub async fn run(engine: &Engine, args: &RecommendArgs) -> Result<String, engine::EngineError> {
    let before;
    let engine = if args.before {
        before = Engine {
            settings: engine::presets::before_hybrid(&engine.settings),
            ..engine.clone()
        };
        &before
    } else {
        engine
    };
    let opts = RecommendOptions {
        k: args.k,
        ..Default::default()
    };
    let list = match &args.similar {
        Some(id) => engine.preview_similar_items(id, &opts).await?,
        None => {
            let refs = args
                .history_items
                .iter()
                .map(|id| HistoryRef::Item(id.clone()))
                .chain(
                    args.history_texts
                        .iter()
                        .map(|t| HistoryRef::Text(t.clone())),
                )
                .collect();
            let profile = Profile {
                interests: args.interests.clone(),
                history: engine.resolve_history(refs).await?,
                not_interested: args.not_interested.clone(),
                ..Default::default()
            };
            engine.preview_for_profile(&profile, &opts).await?
        }
    };
    Ok(if args.json {
        let list = crate::api::recommendations::RecommendationList::from(list);
        serde_json::to_string_pretty(&list).unwrap_or_default() + "\n"
    } else {
        table(&list)
    })
}

/// One line per item: rank, shown score, id, title, and the profile element that
/// explains it.
pub fn table(list: &RecommendationList) -> String {
    let mut out = String::new();
    if let Some(w) = &list.warning {
        out.push_str(&format!("note: {}\n", w.message));
    }
    if list.items.is_empty() {
        out.push_str("(nothing to recommend)\n");
        return out;
    }
    let id_width = list
        .items
        .iter()
        .map(|r| r.item.external_id.chars().count())
        .max()
        .unwrap_or(2)
        .max(2);
    out.push_str(&format!(
        "{:>3}  {:>5}  {:<id_width$}  {:<TITLE_WIDTH$}  because\n",
        "#", "score", "id", "title"
    ));
    for r in &list.items {
        let because = r
            .explanation
            .as_ref()
            .map_or(String::new(), |x| x.label.clone());
        out.push_str(&format!(
            "{:>3}  {:>5.3}  {:<id_width$}  {:<TITLE_WIDTH$}  {because}\n",
            r.rank,
            r.score,
            r.item.external_id,
            cut(&r.item.title, TITLE_WIDTH)
        ));
    }
    out
}

/// `semrec train`'s report, and its exit code: 0 when a model was stored (activated
/// or not), 2 when there are too few clicks to train.
pub fn training_summary(outcome: &TrainingOutcome) -> (String, u8) {
    let describe = |r: &TrainingReport| {
        let w = &r.weights;
        format!(
            "fitted on {} lists, checked on the latest {} ({} clicks)\n\
             weights: semantic 1, semantic mean {}, lexical {}, collaborative {}, popularity {}, \
             scarcity {}\n\
             nDCG@10 of the clicks on the checked lists: new {:.4}, serving ({}) {:.4}",
            r.lists_fitted,
            r.lists_checked,
            r.clicks,
            w.semantic_mean,
            w.lexical,
            w.collaborative,
            w.popularity,
            w.scarcity,
            r.new_ndcg,
            r.serving_version
                .map_or("the settings' weights".to_string(), |v| format!(
                    "model {v}"
                )),
            r.serving_ndcg
        )
    };
    match outcome {
        TrainingOutcome::NotEnoughClicks { clicks, needed } => (
            format!(
                "not trained: {clicks} clicks on logged lists, {needed} needed \
                 (SEMREC_RANKER_MIN_CLICKS)"
            ),
            2,
        ),
        TrainingOutcome::Activated { version, report } => (
            format!("model {version} activated\n{}", describe(report)),
            0,
        ),
        TrainingOutcome::Rejected { version, report } => (
            format!(
                "model {version} stored, not activated: it does not beat the serving model\n{}",
                describe(report)
            ),
            0,
        ),
    }
}

fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_string()
    } else {
        text.chars().take(width - 1).chain(['…']).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_few_clicks_is_exit_code_2_and_says_how_many() {
        let (text, code) = training_summary(&TrainingOutcome::NotEnoughClicks {
            clicks: 12,
            needed: 1000,
        });
        assert_eq!(code, 2);
        assert!(
            text.contains("12 clicks") && text.contains("1000 needed"),
            "{text}"
        );
    }

    #[test]
    fn long_titles_are_cut_to_the_column() {
        assert_eq!(cut("short", 10), "short");
        let long = "x".repeat(60);
        let c = cut(&long, TITLE_WIDTH);
        assert_eq!(c.chars().count(), TITLE_WIDTH);
        assert!(c.ends_with('…'));
    }
}
