//! The collaborative path end to end on a real PostgreSQL + pgvector and the real
//! model: interactions import (idempotent, bad lines with their numbers), the
//! background fit stored as neighbours, and the collaborative channel in the lists.

use engine::catalog::ImportFormat;
use engine::interactions::parse_interactions;
use engine::profile::{HistoryEntry, Profile};
use engine::recommend::RecommendOptions;
use engine::EngineSettings;

fn jsonl(lines: &[String]) -> engine::interactions::ParsedInteractions {
    parse_interactions(std::io::Cursor::new(lines.join("\n")), ImportFormat::Jsonl).unwrap()
}

fn event(user: &str, item: &str, ts: i64) -> String {
    format!("{{\"user\":\"{user}\",\"item\":\"{item}\",\"ts\":{ts}}}")
}

#[tokio::test]
async fn interactions_import_is_idempotent_and_reports_unknown_items() {
    let db = test_support::db::engine().await;
    let e = &db.engine;
    e.import_items(test_support::fixtures::note_items("n", 8), |_| {})
        .await
        .unwrap();
    let lines = vec![
        event("alice", "n0", 1),
        event("alice", "n1", 2),
        event("bob", "missing", 3),
        "{\"user\":\"bob\"}".to_string(),
        event("bob", "n1", 4),
    ];
    let first = e.import_interactions(jsonl(&lines), |_| {}).await.unwrap();
    assert_eq!(first.added, 3);
    assert_eq!(
        first.rejected.iter().map(|r| r.line).collect::<Vec<_>>(),
        vec![3, 4]
    );
    assert!(first.rejected[0].reason.contains("unknown item 'missing'"));
    // The same file again adds nothing: a re-run after a stop resumes, never doubles.
    let again = e.import_interactions(jsonl(&lines), |_| {}).await.unwrap();
    assert_eq!((again.added, again.unchanged), (0, 3));
    assert_eq!(e.interaction_count().await.unwrap(), 3);
    // Imported interactions are not impressions or clicks.
    let impressions: i64 = sqlx::query_scalar("SELECT count(*) FROM impressions")
        .fetch_one(e.store.pool())
        .await
        .unwrap();
    assert_eq!(impressions, 0);
}

#[tokio::test]
async fn the_collaborative_channel_brings_what_similar_users_had() {
    // The collaborative channel alone beside the semantic score: the other features
    // (lexical terms, mean similarity) would favour the glider notes by design.
    let db = test_support::db::engine_with(EngineSettings {
        popularity_weight: 0.0,
        collaborative_weight: 1.0,
        lexical_weight: 0.0,
        semantic_mean_weight: 0.0,
        ..EngineSettings::default()
    })
    .await;
    let mut e = db.engine.clone();
    // Four topics, 40 notes: n0, n4, n8, ... are on gliders, n1, n5, ... on sourdough.
    e.import_items(test_support::fixtures::note_items("n", 40), |_| {})
        .await
        .unwrap();
    // Twenty users each had the glider note n0 and the sourdough note n1: the two
    // go together although their texts have nothing in common.
    let mut lines = Vec::new();
    for u in 0..20 {
        lines.push(event(&format!("u{u}"), "n0", 10));
        lines.push(event(&format!("u{u}"), "n1", 20));
    }
    let s = e.import_interactions(jsonl(&lines), |_| {}).await.unwrap();
    assert_eq!(s.added, 40);
    assert!(e.collaborative_is_stale().await.unwrap());
    let model = e.refresh_collaborative().await.unwrap().expect("a model");
    assert_eq!(model.algorithm, "ease");
    assert_eq!((model.users, model.items), (20, 2));
    assert!(!e.collaborative_is_stale().await.unwrap());

    let user = e.user_by_handle("reader", true).await.unwrap();
    e.save_profile(
        user.id,
        &Profile {
            history: vec![HistoryEntry::Item {
                id: "n0".into(),
                title: "Note 0 on gliders".into(),
            }],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let opts = RecommendOptions {
        k: 5,
        ..Default::default()
    };
    async fn list(e: &engine::Engine, user: i64, opts: &RecommendOptions) -> Vec<String> {
        e.preview_for_user(user, opts)
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|r| r.item.external_id)
            .collect()
    }
    async fn similar(e: &engine::Engine, opts: &RecommendOptions) -> Vec<String> {
        e.preview_similar_items("n0", opts)
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|r| r.item.external_id)
            .collect()
    }
    let with = list(&e, user.id, &opts).await;
    assert_eq!(with[0], "n1", "the co-consumed note leads: {with:?}");
    // "More like this" n0 too: its collaborative neighbour beside the glider notes.
    let like = similar(&e, &opts).await;
    assert_eq!(like[0], "n1", "{like:?}");
    // Its shown score is its cosine to n0, not a perfect match, also when only the
    // collaborative channel found it (a semantic pool of 5 holds glider notes only):
    // such a candidate has no distance of its own.
    let mut narrow = e.clone();
    narrow.settings.candidate_pool = 5;
    let shown = narrow.preview_similar_items("n0", &opts).await.unwrap();
    assert_eq!(shown.items[0].item.external_id, "n1");
    assert!(shown.items[0].score < 0.9, "{:?}", shown.items[0]);
    assert!(!like.contains(&"n0".to_string()));
    // Off, the list is pure text similarity: other glider notes lead, n1 is not near.
    e.settings.collaborative_weight = 0.0;
    let without = list(&e, user.id, &opts).await;
    assert!(!without.contains(&"n1".to_string()), "{without:?}");
    let like = similar(&e, &opts).await;
    assert!(!like.contains(&"n1".to_string()), "{like:?}");
    assert!(without.iter().all(|id| {
        let n: usize = id[1..].parse().unwrap();
        matches!(n % 4, 0)
    }));
}
