//! Ranking beyond plain nearest neighbours: the popularity prior (counted from saved
//! histories and clicks) and max-similarity profiles, against a real PostgreSQL +
//! pgvector and the real model.

use engine::events::ImpressionContext;
use engine::profile::{ElementKind, HistoryEntry, Profile, ProfileStrategy};
use engine::recommend::{Filters, RecommendOptions};
use engine::{Engine, EngineSettings};

fn item(id: &str) -> HistoryEntry {
    HistoryEntry::Item {
        id: id.into(),
        title: id.into(),
    }
}

async fn popularity_of(e: &Engine, external_id: &str) -> i32 {
    sqlx::query_scalar(
        "SELECT COALESCE((SELECT p.users FROM item_popularity p WHERE p.item_id = i.id), 0)
         FROM items i WHERE i.external_id = $1",
    )
    .bind(external_id)
    .fetch_one(e.store.pool())
    .await
    .unwrap()
}

fn ids(list: &engine::recommend::RecommendationList) -> Vec<String> {
    list.items
        .iter()
        .map(|r| r.item.external_id.clone())
        .collect()
}

fn k(k: usize) -> RecommendOptions {
    RecommendOptions {
        k,
        ..Default::default()
    }
}

#[tokio::test]
async fn popularity_counts_distinct_users_and_lifts_popular_items() {
    // Asserts meaning (the aviation items are "aircraft"'s nearest): the real model.
    let db = test_support::db::real_engine_with(EngineSettings {
        profile_strategy: ProfileStrategy::Centroid,
        popularity_weight: 0.0,
        // Similarity and the prior alone: the other features are tested elsewhere.
        lexical_weight: 0.0,
        semantic_mean_weight: 0.0,
        ..EngineSettings::default()
    })
    .await;
    let mut e = db.engine.clone();
    e.import_items(test_support::fixtures::fixture_catalog(), |_| {})
        .await
        .unwrap();

    // Three bakers consumed the banana bread; one of them also the sourdough.
    for (n, history) in [
        vec![item("banana"), item("sourdough")],
        vec![item("banana")],
        vec![item("banana")],
    ]
    .into_iter()
    .enumerate()
    {
        let u = e.user_by_handle(&format!("baker{n}"), true).await.unwrap();
        e.save_profile(
            u.id,
            &Profile {
                history,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }
    assert_eq!(popularity_of(&e, "banana").await, 3);
    assert_eq!(popularity_of(&e, "sourdough").await, 1);
    assert_eq!(popularity_of(&e, "planes").await, 0);

    // A saved profile that drops an item stops counting for it.
    let b1 = e.user_by_handle("baker1", true).await.unwrap();
    e.save_profile(
        b1.id,
        &Profile {
            history: vec![item("sourdough")],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(popularity_of(&e, "banana").await, 2);
    assert_eq!(popularity_of(&e, "sourdough").await, 2);
    // Two more bakers of both: 4 users each (the prior counts the 3 beyond the
    // first; one user alone moves nothing).
    for n in 3..5 {
        let u = e.user_by_handle(&format!("baker{n}"), true).await.unwrap();
        e.save_profile(
            u.id,
            &Profile {
                history: vec![item("banana"), item("sourdough")],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }

    // Pure similarity: an aviation fan sees no baking in the top 3.
    let pilot = Profile {
        interests: vec!["aircraft".into()],
        ..Default::default()
    };
    let plain = e
        .recommend_for_profile(None, &pilot, &k(3), ImpressionContext::Api)
        .await
        .unwrap();
    assert!(!ids(&plain).contains(&"banana".to_string()), "{plain:?}");

    // A strong prior lifts the two most popular items (4 users each, a prior of 0.91 at weight 2) above
    // the aviation items; the shown score is the cosine similarity capped by the
    // item above (so it never rises down the list), and the explanation the closest
    // element.
    e.settings.popularity_weight = 2.0;
    let blended = e
        .recommend_for_profile(None, &pilot, &k(3), ImpressionContext::Api)
        .await
        .unwrap();
    let mut top2 = ids(&blended)[..2].to_vec();
    top2.sort();
    assert_eq!(top2, vec!["banana", "sourdough"], "{blended:?}");
    assert_eq!(ids(&blended)[2], "planes", "{blended:?}");
    // "planes" is closer to "aircraft" than the baking items, but is shown below
    // them, so its shown score is capped at theirs.
    assert!(
        blended.items[2].score <= blended.items[1].score,
        "{blended:?}"
    );
    assert_eq!(
        blended.items[0].explanation.as_ref().unwrap().label,
        "aircraft"
    );

    // A click counts its user once: clicking an item and later saving it in the
    // history is one user, not two.
    let fan = e.user_by_handle("fan", true).await.unwrap();
    e.save_profile(fan.id, &pilot).await.unwrap();
    let list = e.recommend_for_user(fan.id, &k(12)).await.unwrap();
    assert!(ids(&list).contains(&"planes".to_string()));
    e.record_click(list.impression_id, "planes", Some(fan.id))
        .await
        .unwrap();
    assert_eq!(popularity_of(&e, "planes").await, 1);
    let again = e.recommend_for_user(fan.id, &k(12)).await.unwrap();
    assert!(
        !ids(&again).contains(&"planes".to_string()),
        "a clicked item is excluded for its user"
    );
    e.save_profile(
        fan.id,
        &Profile {
            history: vec![item("planes")],
            ..pilot.clone()
        },
    )
    .await
    .unwrap();
    assert_eq!(popularity_of(&e, "planes").await, 1);

    // A full recount agrees with the maintained counts.
    let before: Vec<(i64, i32)> =
        sqlx::query_as("SELECT item_id, users FROM item_popularity WHERE users > 0 ORDER BY 1")
            .fetch_all(e.store.pool())
            .await
            .unwrap();
    e.rebuild_popularity().await.unwrap();
    let after: Vec<(i64, i32)> =
        sqlx::query_as("SELECT item_id, users FROM item_popularity WHERE users > 0 ORDER BY 1")
            .fetch_all(e.store.pool())
            .await
            .unwrap();
    assert_eq!(before, after);
}

#[tokio::test]
async fn max_sim_serves_every_taste_with_its_own_explanation_and_pages_consistently() {
    let db = test_support::db::engine_with(EngineSettings {
        profile_strategy: ProfileStrategy::MaxSim,
        popularity_weight: 0.0,
        // Max-sim alone (no lexical or mean-similarity feature) and equal weights:
        // the order is then the shown similarity's.
        lexical_weight: 0.0,
        semantic_mean_weight: 0.0,
        recency_half_life: None,
        ..EngineSettings::default()
    })
    .await;
    let e = db.engine.clone();
    e.import_items(test_support::fixtures::fixture_catalog(), |_| {})
        .await
        .unwrap();
    let u = e.user_by_handle("two-tastes", true).await.unwrap();
    // Two unrelated tastes: aviation and jazz.
    e.save_profile(
        u.id,
        &Profile {
            history: vec![item("planes"), item("jazz")],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let list = e.recommend_for_user(u.id, &k(10)).await.unwrap();
    let got = ids(&list);
    assert_eq!(got.len(), 10, "12 items minus the 2 consumed");
    assert!(!got.contains(&"planes".to_string()) && !got.contains(&"jazz".to_string()));
    // The nearest neighbour of each taste is near the top; each is explained by its own taste.
    let pos = |id: &str| got.iter().position(|g| g == id).unwrap();
    assert!(pos("piano") < 3, "{got:?}");
    assert!(pos("jets").min(pos("glider")) < 3, "{got:?}");
    let why = |id: &str| {
        let r = &list.items[pos(id)];
        let x = r.explanation.as_ref().unwrap();
        assert_eq!(x.kind, ElementKind::History);
        x.label.clone()
    };
    assert_eq!(why("piano"), "A night of bebop");
    assert_eq!(why("jets"), "Wings over the Pacific");
    // Scores are the similarity to the explaining element: max-sim order, no prior.
    assert!(list.items.windows(2).all(|w| w[0].score >= w[1].score));
    // The element scans run as concurrent statements (one per element here); one
    // statement for all gives the same list.
    assert_eq!(e.settings.scan_concurrency, 2);
    let one_statement = Engine {
        settings: EngineSettings {
            scan_concurrency: 1,
            ..e.settings.clone()
        },
        ..e.clone()
    };
    let again = one_statement.preview_for_user(u.id, &k(10)).await.unwrap();
    assert_eq!(ids(&again), got);

    // Pages are slices of one order.
    let first = e
        .preview_for_user(
            u.id,
            &RecommendOptions {
                k: 4,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let second = e
        .preview_for_user(
            u.id,
            &RecommendOptions {
                k: 4,
                offset: 4,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let paged: Vec<String> = ids(&first).into_iter().chain(ids(&second)).collect();
    assert_eq!(paged, got[..8].to_vec());
    assert_eq!(second.items[0].rank, 5);

    // Filters apply to every element's neighbours.
    let fr = e
        .preview_for_user(
            u.id,
            &RecommendOptions {
                k: 5,
                filters: Filters {
                    languages: vec!["fr".into()],
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(ids(&fr), vec!["avions"]);

    // Diversity still works on the max-sim pool.
    let diverse = e
        .preview_for_user(
            u.id,
            &RecommendOptions {
                k: 4,
                diversity_lambda: Some(0.3),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(diverse.items.len(), 4);
}

/// Builds a small HNSW graph over what the test wrote (the migration's takes long
/// for 20,000 rows), refreshes the statistics, and gives options for five French
/// items from source "b". `jobs` is the engine's jobs pool: an index build is a
/// job, which the request pool's statement_timeout (5 s) cuts on a busy machine.
async fn small_graph_and_french_from_b(jobs: &sqlx::PgPool) -> RecommendOptions {
    sqlx::query(
        "CREATE INDEX items_embedding_hnsw ON items USING hnsw (embedding vector_cosine_ops)
         WITH (m = 8, ef_construction = 16)",
    )
    .execute(jobs)
    .await
    .unwrap();
    sqlx::query("ANALYZE items").execute(jobs).await.unwrap();
    RecommendOptions {
        k: 5,
        filters: Filters {
            languages: vec!["fr".into()],
            sources: vec!["b".into()],
            ..Default::default()
        },
        ..Default::default()
    }
}

#[tokio::test]
async fn a_selective_filter_still_returns_every_match_when_the_index_scan_gives_up() {
    // Two filters that are common alone and rare together: half of 20,000 items
    // are French, the other half from source "b", and only five are both. The
    // planner multiplies the two (a quarter of the catalog) and takes the HNSW
    // scan, whose iterative search, allowed only a few index tuples, gives up long
    // before it reaches the five: they point away from every query.
    let db = test_support::db::engine_with(EngineSettings {
        ef_search: 10,
        candidate_pool: 5,
        max_scan_tuples: 50,
        ..EngineSettings::default()
    })
    .await;
    let e = &db.engine;
    // Test data written on the jobs pool (no statement timeout): 20,000 rows, each
    // with its generated full-text document, take seconds on a busy machine.
    let pool = e.store.jobs();
    let query = e
        .embedder
        .embed_one("chess openings".into(), engine::embed::TextKind::Query)
        .await
        .unwrap();
    let away: Vec<f32> = query.iter().map(|x| -x).collect();
    // Vectors written directly (embedding 20,000 texts would take minutes): random
    // ones, and a small graph, which is all the planner and the scan need here.
    sqlx::query("DROP INDEX items_embedding_hnsw")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO items (external_id, title, language, source, embedding, model_id, content_hash)
         SELECT 'n' || g, 'Note ' || g, CASE WHEN g % 2 = 0 THEN 'fr' ELSE 'en' END,
                CASE WHEN g % 2 = 0 THEN 'a' ELSE 'b' END,
                (SELECT array_agg(random() - 0.5) FROM generate_series(1, 384) WHERE g > 0)::vector(384),
                $1, md5(g::text) || md5(g::text)
           FROM generate_series(1, 20000) g",
    )
    .bind(e.model_id())
    .execute(e.store.jobs())
    .await
    .unwrap();
    let rare: Vec<String> = (0..5).map(|i| format!("rare{i}")).collect();
    for id in &rare {
        sqlx::query(
            "INSERT INTO items (external_id, title, language, source, embedding, model_id, content_hash)
             VALUES ($1, $1, 'fr', 'b', $2, $3, md5($1) || md5($1))",
        )
        .bind(id)
        .bind(pgvector::Vector::from(away.clone()))
        .bind(e.model_id())
        .execute(pool)
        .await
        .unwrap();
    }
    let opts = small_graph_and_french_from_b(e.store.jobs()).await;
    // The premise: both statements take the HNSW scan.
    let plans = e
        .explain_candidate_queries(&query, 5, &[&query], 5, &opts.filters, &Default::default())
        .await
        .unwrap();
    for plan in [&plans.single, &plans.per_element] {
        assert!(
            plan.contains("Index Scan using items_embedding_hnsw"),
            "{plan}"
        );
    }
    let profile = Profile {
        interests: vec!["chess openings".into()],
        ..Default::default()
    };
    let list = e
        .recommend_for_profile(None, &profile, &opts, ImpressionContext::Api)
        .await
        .unwrap();
    let mut got = ids(&list);
    got.sort();
    assert_eq!(got, rare, "max-sim element scans");
    let similar = e.similar_items(None, "n2", &opts).await.unwrap();
    let mut got = ids(&similar);
    got.sort();
    assert_eq!(got, rare, "single-vector scan");
}

/// A unit vector in the plane of axes `a` and `b`: cos·e_a + sin·e_b.
fn planar(a: usize, b: usize, cos: f32) -> Vec<f32> {
    let mut v = vec![0.0f32; 384];
    v[a] = cos;
    v[b] = (1.0 - cos * cos).sqrt();
    v
}

#[tokio::test]
async fn one_profile_element_whose_filtered_scan_gives_up_is_still_searched_exactly() {
    // Two history items are the profile's elements, along axes 0 and 1. Around the
    // first, 20,000 items the filter rejects; behind them, five matching items at
    // similarity 0.5. Around the second, nothing but a hundred matching items at 0.3.
    // The second element's scan finds its five at once; the first one's gives up in
    // the crowd. By max-sim the first five (0.5) must win.
    let db = test_support::db::engine_with(EngineSettings {
        ef_search: 10,
        candidate_pool: 5,
        max_scan_tuples: 15,
        // Both elements in one statement: each must be checked on its own.
        scan_concurrency: 1,
        // The max-sim order itself is checked, not the rules that rearrange it
        // (fair share would give the second element one of the five places).
        rules: engine::rules::RulesSettings {
            fair_share: false,
            exploration: engine::rules::exploration::ExplorationSettings {
                share: 0.0,
                ..Default::default()
            },
            ..Default::default()
        },
        ..EngineSettings::default()
    })
    .await;
    let e = &db.engine;
    // Test data written on the jobs pool (no statement timeout): 20,000 rows, each
    // with its generated full-text document, take seconds on a busy machine.
    let pool = e.store.jobs();
    sqlx::query("DROP INDEX items_embedding_hnsw")
        .execute(pool)
        .await
        .unwrap();
    // The crowd: axis 0 plus a little noise (similarity about 0.95), English, source "a".
    sqlx::query(
        "INSERT INTO items (external_id, title, language, source, embedding, model_id, content_hash)
         SELECT 'crowd' || g, 'Crowd ' || g, 'en', 'a',
                (ARRAY[1.0::real] || (SELECT array_agg(((random() - 0.5) * 0.02)::real)
                                        FROM generate_series(2, 384) WHERE g > 0))::vector(384),
                $1, md5(g::text) || md5(g::text)
           FROM generate_series(1, 20000) g",
    )
    .bind(e.model_id())
    .execute(e.store.jobs())
    .await
    .unwrap();
    let insert = |id: String, language: &'static str, source: &'static str, v: Vec<f32>| async move {
        sqlx::query(
            "INSERT INTO items (external_id, title, language, source, embedding, model_id, content_hash)
             VALUES ($1, $1, $2, $3, $4, $5, md5($1) || md5($1))",
        )
        .bind(&id)
        .bind(language)
        .bind(source)
        .bind(pgvector::Vector::from(v))
        .bind(e.model_id())
        .execute(pool)
        .await
        .unwrap();
    };
    insert("e1".into(), "en", "a", planar(0, 10, 1.0)).await;
    insert("e2".into(), "en", "a", planar(1, 10, 1.0)).await;
    let mut near_first = Vec::new();
    for i in 0..5 {
        near_first.push(format!("first{i}"));
        insert(format!("first{i}"), "fr", "b", planar(0, 20 + i, 0.5)).await;
    }
    for i in 0..100 {
        // Similarity 0.3 to the second element and -0.6 to the first: the last
        // items the first element's scan would come to.
        let mut v = planar(1, 30 + i, 0.3);
        v[0] = -0.6;
        v[30 + i] = (1.0f32 - 0.09 - 0.36).sqrt();
        insert(format!("second{i}"), "fr", "b", v).await;
    }
    // Half French, half from "b": the planner expects a quarter of the catalog to
    // match and takes the HNSW scan.
    sqlx::query(
        "UPDATE items SET language = 'fr' WHERE external_id LIKE 'crowd%' AND substr(external_id, 6)::int % 2 = 0",
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE items SET source = 'b' WHERE external_id LIKE 'crowd%' AND substr(external_id, 6)::int % 2 = 1",
    )
    .execute(pool)
    .await
    .unwrap();
    let opts = small_graph_and_french_from_b(e.store.jobs()).await;
    let profile = Profile {
        history: vec![item("e1"), item("e2")],
        ..Default::default()
    };
    let list = e
        .recommend_for_profile(None, &profile, &opts, ImpressionContext::Api)
        .await
        .unwrap();
    let mut got = ids(&list);
    got.sort();
    assert_eq!(got, near_first);
}
