//! The learned ranker online, on a real PostgreSQL: logged lists and clicks, the
//! 1,000-click threshold, activation only when the new model beats the serving one,
//! the canary split, and served lists recording the version and their features.

use engine::events::{ImpressionContext, ShownItem};
use engine::fusion::Features;
use engine::profile::Profile;
use engine::recommend::online::{in_canary, OnlineSettings, TrainingOutcome};
use engine::recommend::RecommendOptions;
use engine::{Engine, EngineSettings};

/// Logs `n` lists of 10 items each whose click goes to the item with the best
/// collaborative feature, which the semantic feature (the shown order) puts low.
async fn log_lists(e: &Engine, ids: &[(i64, String)], n: usize, salt: usize) {
    for l in 0..n {
        let hit = 5 + (l + salt) % 5;
        let shown: Vec<ShownItem> = (0..10)
            .map(|r| {
                let (id, _) = &ids[(l + salt + r) % ids.len()];
                ShownItem {
                    item_id: *id,
                    rank: r + 1,
                    score: 0.9 - 0.05 * r as f32,
                    features: Some(Features {
                        semantic: 0.9 - 0.05 * r as f32,
                        semantic_mean: 0.5,
                        lexical: 0.0,
                        collaborative: if r == hit { 0.5 } else { 0.1 * (r % 3) as f32 },
                        popularity: 0.5,
                        scarcity: 0.0,
                    }),
                }
            })
            .collect();
        let imp = e
            .record_impression(None, ImpressionContext::Api, None, &shown)
            .await
            .unwrap();
        let (_, ext) = &ids[(l + salt + hit) % ids.len()];
        e.record_click(imp, ext, None).await.unwrap();
    }
}

fn with_online(e: &Engine, online: OnlineSettings) -> Engine {
    Engine {
        settings: EngineSettings {
            online,
            ..e.settings.clone()
        },
        ..e.clone()
    }
}

#[tokio::test]
async fn a_model_trained_on_clicks_is_activated_only_when_it_beats_the_serving_one() {
    let db = test_support::db::engine().await;
    // Serving weights set here, not the shipped model's: the test needs clicks that
    // follow the collaborative feature more than the serving weights do.
    let e = Engine {
        settings: EngineSettings {
            collaborative_weight: 0.2,
            ..db.engine.settings.clone()
        },
        ..db.engine.clone()
    };
    e.import_items(test_support::fixtures::note_items("n", 40), |_| {})
        .await
        .unwrap();
    let ids: Vec<(i64, String)> = sqlx::query_as("SELECT id, external_id FROM items ORDER BY id")
        .fetch_all(e.store.pool())
        .await
        .unwrap();

    // Under the threshold: nothing is trained or stored.
    log_lists(&e, &ids, 600, 0).await;
    assert_eq!(
        e.train_ranker().await.unwrap(),
        TrainingOutcome::NotEnoughClicks {
            clicks: 600,
            needed: 1000
        }
    );
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM ranker_models")
        .fetch_one(e.store.pool())
        .await
        .unwrap();
    assert_eq!(stored, 0);

    // Over it: the clicks follow the collaborative feature more than the serving
    // weights do (its lead of 0.3 × 0.2 loses to the semantic lead of ranks 1–5),
    // so a model that weighs it more wins on the latest lists.
    log_lists(&e, &ids, 600, 7).await;
    let TrainingOutcome::Activated { version, report } = e.train_ranker().await.unwrap() else {
        panic!("not activated")
    };
    assert_eq!(report.clicks, 1200);
    assert_eq!(report.lists_fitted + report.lists_checked, 1200);
    assert_eq!(report.lists_checked, 240, "the latest 20 %");
    assert!(report.weights.collaborative > 0.0, "{report:?}");
    assert!(report.new_ndcg > report.serving_ndcg, "{report:?}");
    assert_eq!(report.serving_version, None, "the settings' weights served");
    assert!((report.new_ndcg - 1.0).abs() < 1e-9, "{report:?}");

    // Canary: a new model ranks for its share of users only.
    let half = with_online(
        &e,
        OnlineSettings {
            canary_share: 0.5,
            ..Default::default()
        },
    );
    for user in 0..50 {
        let key = user.to_string();
        let got = half.ranker_for(&key).await.unwrap().map(|m| m.version);
        let want = in_canary(&key, 0.5).then_some(version);
        assert_eq!(got, want, "user {key}");
    }
    let everyone = with_online(
        &e,
        OnlineSettings {
            canary_share: 1.0,
            ..Default::default()
        },
    );
    assert_eq!(
        everyone.ranker_for("7").await.unwrap().map(|m| m.version),
        Some(version)
    );

    // A served list records the version and logs each item's features.
    let list = everyone
        .recommend_for_profile(
            None,
            &Profile {
                interests: vec!["gliders".into()],
                ..Default::default()
            },
            &RecommendOptions::default(),
            ImpressionContext::Api,
        )
        .await
        .unwrap();
    everyone.flush_impressions().await.unwrap();
    let (served_by, logged): (Option<i32>, i64) = sqlx::query_as(
        "SELECT im.ranker_version, count(ii.f_semantic) FROM impressions im
         JOIN impression_items ii ON ii.impression_id = im.id
         WHERE im.id = $1 GROUP BY im.ranker_version",
    )
    .bind(list.impression_id)
    .fetch_one(e.store.pool())
    .await
    .unwrap();
    assert_eq!(served_by, Some(version));
    assert_eq!(logged, list.items.len() as i64);
    // The dashboard puts the model's lists in a row of their own.
    let now = chrono::Utc::now();
    let d = e
        .dashboard(
            now - chrono::Duration::hours(1),
            now + chrono::Duration::hours(1),
        )
        .await
        .unwrap();
    let row = d
        .by_ranker
        .iter()
        .find(|r| r.key == format!("model {version}"))
        .expect("a row for the new model");
    assert_eq!((row.shown, row.clicked), (list.items.len() as i64, 0));
    let shipped = d.by_ranker.iter().find(|r| r.key == "shipped").unwrap();
    assert_eq!((shipped.shown, shipped.clicked), (12_000, 1200));

    // Trained again on the same lists, against the model now serving: no better,
    // so stored but not activated, and the serving model stays.
    let TrainingOutcome::Rejected {
        version: rejected,
        report,
    } = everyone.train_ranker().await.unwrap()
    else {
        panic!("activated a model no better than the serving one")
    };
    assert_eq!(report.serving_version, Some(version));
    assert!(rejected > version);
    assert_eq!(
        everyone.ranker_for("7").await.unwrap().map(|m| m.version),
        Some(version)
    );
}
