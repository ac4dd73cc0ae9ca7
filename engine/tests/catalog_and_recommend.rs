//! Integration tests against a real PostgreSQL + pgvector, with the fake embedder
//! except where a test asserts meaning (then the real model).

use engine::catalog::{parse_import, ImportFormat};
use engine::events::{ClickOutcome, ImpressionContext};
use engine::profile::{HistoryEntry, Profile};
use engine::recommend::{Exclusions, Filters, RecommendOptions};
use engine::EngineError;
use std::time::Duration;

fn profile(interests: &[&str]) -> Profile {
    Profile {
        interests: interests.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

#[tokio::test]
async fn import_reports_bad_lines_keeps_good_ones_and_reimport_embeds_nothing() {
    let db = test_support::db::engine().await;
    let input = concat!(
        r#"{"id":"a","title":"Alpha","description":"first"}"#,
        "\n",
        "{broken json\n",
        r#"{"id":"b","description":"no title"}"#,
        "\n",
        r#"{"id":"c","title":"Gamma"}"#,
        "\n",
        r#"{"id":"a","title":"Alpha again"}"#,
        "\n",
    );
    let parse = || parse_import(std::io::Cursor::new(input), ImportFormat::Jsonl).unwrap();
    let summary = db.engine.import_items(parse(), |_| {}).await.unwrap();
    assert_eq!(
        (summary.added, summary.updated, summary.unchanged),
        (2, 0, 0)
    );
    let lines: Vec<usize> = summary.rejected.iter().map(|r| r.line).collect();
    assert_eq!(lines, vec![2, 3, 5]);
    assert_eq!(db.engine.catalog_size().await.unwrap(), 2);

    // Same input again: nothing re-embedded, nothing changed.
    let mut embedded = usize::MAX;
    let again = db
        .engine
        .import_items(parse(), |p| embedded = p.embedded)
        .await
        .unwrap();
    assert_eq!((again.added, again.updated, again.unchanged), (0, 0, 2));
    assert_eq!(embedded, 0);

    // A changed text is re-embedded; a changed URL is an update without re-embedding.
    let changed = concat!(
        r#"{"id":"a","title":"Alpha","description":"first, revised"}"#,
        "\n",
        r#"{"id":"c","title":"Gamma","url":"https://example.org/c"}"#,
        "\n",
    );
    let mut embedded = 0;
    let third = db
        .engine
        .import_items(
            parse_import(std::io::Cursor::new(changed), ImportFormat::Jsonl).unwrap(),
            |p| embedded = p.embedded,
        )
        .await
        .unwrap();
    assert_eq!((third.added, third.updated, third.unchanged), (0, 2, 0));
    assert_eq!(embedded, 1);
    let c = db.engine.item_by_external_id("c").await.unwrap();
    assert_eq!(c.url.as_deref(), Some("https://example.org/c"));
}

#[tokio::test]
async fn recommendations_follow_meaning_filters_exclusions_and_k() {
    // Asserts meaning ("aircraft" finds "planes"): the real model.
    let db = test_support::db::real_engine().await;
    let e = &db.engine;
    let summary = e
        .import_items(test_support::fixtures::fixture_catalog(), |_| {})
        .await
        .unwrap();
    assert_eq!(summary.added, 12);

    // "aircraft" shares no word with the aviation items, yet they rank first.
    let (list, timings) = e
        .recommend_for_profile_timed(
            None,
            &profile(&["aircraft"]),
            &RecommendOptions {
                k: 3,
                ..Default::default()
            },
            ImpressionContext::Api,
        )
        .await
        .unwrap();
    // The parts are measured, not derived, and account for the whole.
    assert!(
        timings.embed > Duration::ZERO && timings.rank > Duration::ZERO,
        "{timings:?}"
    );
    assert!(timings.record > Duration::ZERO, "{timings:?}");
    let parts = timings.embed + timings.profile_vectors + timings.rank + timings.record;
    assert!(parts <= timings.total, "{timings:?}");
    let ids: Vec<&str> = list
        .items
        .iter()
        .map(|r| r.item.external_id.as_str())
        .collect();
    assert_eq!(ids.len(), 3);
    assert!(ids.contains(&"planes"), "{ids:?}");
    assert!(
        !ids.contains(&"banana") && !ids.contains(&"chess"),
        "{ids:?}"
    );
    // Smallest distance first: scores never increase down the list.
    assert!(
        list.items.windows(2).all(|w| w[0].score >= w[1].score),
        "{:?}",
        list.items
    );
    assert_eq!(list.items[0].rank, 1);
    let why = list.items[0].explanation.as_ref().unwrap();
    assert_eq!(why.label, "aircraft");

    // Filters: only French items, and only from a source.
    let fr = RecommendOptions {
        k: 5,
        filters: Filters {
            languages: vec!["fr".into()],
            ..Default::default()
        },
        ..Default::default()
    };
    let list = e
        .recommend_for_profile(None, &profile(&["aircraft"]), &fr, ImpressionContext::Api)
        .await
        .unwrap();
    assert_eq!(list.items.len(), 1);
    assert_eq!(list.items[0].item.external_id, "avions");
    let blog = RecommendOptions {
        k: 4,
        filters: Filters {
            sources: vec!["blog".into()],
            ..Default::default()
        },
        ..Default::default()
    };
    let list = e
        .recommend_for_profile(None, &profile(&["aircraft"]), &blog, ImpressionContext::Api)
        .await
        .unwrap();
    assert_eq!(
        list.items.len(),
        4,
        "a filter must not starve the list when enough rows exist"
    );
    assert!(list.items.iter().all(|r| r.item.source == "blog"));

    // Consumed items are excluded for a stored user.
    let user = e.user_by_handle("pilot", true).await.unwrap();
    let mut p = profile(&["aircraft"]);
    p.history = vec![HistoryEntry::Item {
        id: "planes".into(),
        title: "Wings over the Pacific".into(),
    }];
    e.save_profile(user.id, &p).await.unwrap();
    let list = e
        .recommend_for_user(
            user.id,
            &RecommendOptions {
                k: 12,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(list.items.len(), 11);
    assert!(list.items.iter().all(|r| r.item.external_id != "planes"));

    // Dismissed items are excluded too.
    e.dismiss(user.id, "jets").await.unwrap();
    let list = e
        .recommend_for_user(
            user.id,
            &RecommendOptions {
                k: 12,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(list.items.len(), 10);
    assert!(list.items.iter().all(|r| r.item.external_id != "jets"));

    // k is validated.
    let err = e
        .recommend_for_user(
            user.id,
            &RecommendOptions {
                k: 0,
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::Invalid { .. }));
}

#[tokio::test]
async fn similar_items_exclude_the_item_itself() {
    let db = test_support::db::engine().await;
    db.engine
        .import_items(test_support::fixtures::fixture_catalog(), |_| {})
        .await
        .unwrap();
    let list = db
        .engine
        .similar_items(
            None,
            "jazz",
            &RecommendOptions {
                k: 3,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(list.items[0].item.external_id, "piano");
    assert!(list.items.iter().all(|r| r.item.external_id != "jazz"));
}

/// The engine's own candidate statements (not a simplified copy), with the
/// parameters and settings of real requests, are planned on the HNSW index once
/// the catalog is big enough for the planner to choose: plain, filtered, with a
/// user's exclusions, and one scan per max-sim profile element.
#[tokio::test]
async fn the_candidate_queries_use_the_hnsw_index() {
    let db = test_support::db::engine().await;
    let pool = db.engine.store.pool();
    // 12,000 items with random vectors (the planner's choice depends on the table's
    // size, not on meaning; below ≈ 10k rows it rightly prefers an exact scan), a
    // tenth of them tagged. The index is rebuilt from the migrations' own definition
    // after the load, which is much faster than growing it row by row.
    let (index_def,): (String,) =
        sqlx::query_as("SELECT indexdef FROM pg_indexes WHERE indexname = 'items_embedding_hnsw'")
            .fetch_one(pool)
            .await
            .unwrap();
    sqlx::query("DROP INDEX items_embedding_hnsw")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO items (external_id, title, content_hash, model_id, embedding, tags)
         SELECT 'synthetic-' || g, 'Synthetic ' || g, repeat('0', 64), $1,
                (SELECT array_agg(random() - 0.5)::vector(384) FROM generate_series(1, 384) WHERE g > 0),
                CASE WHEN g % 10 = 0 THEN ARRAY['documentary'] ELSE '{}' END
         FROM generate_series(1, 12000) g",
    )
    .bind(db.engine.model_id())
    .execute(db.engine.store.jobs())
    .await
    .unwrap();
    // An index build is a job: the request pool's statement_timeout would cut it.
    sqlx::query(&index_def)
        .execute(db.engine.store.jobs())
        .await
        .unwrap();
    sqlx::query("ANALYZE items").execute(pool).await.unwrap();
    let user = db.engine.user_by_handle("explain", true).await.unwrap().id;

    let query = vec![0.05f32; 384];
    let other = vec![-0.05f32; 384];
    let elements: Vec<&[f32]> = vec![&query, &other];
    let tagged = Filters {
        tags: vec!["documentary".into()],
        ..Default::default()
    };
    for (what, filters, exclusions) in [
        ("plain", Filters::default(), Exclusions::default()),
        ("filtered by tag", tagged.clone(), Exclusions::default()),
        (
            "a user's exclusions",
            Filters::default(),
            Exclusions {
                user_id: Some(user),
                item_ids: vec![1, 2, 3],
            },
        ),
    ] {
        let plans = db
            .engine
            .explain_candidate_queries(&query, 10, &elements, 100, &filters, &exclusions)
            .await
            .unwrap();
        for (statement, plan) in [
            ("single vector", &plans.single),
            ("per element", &plans.per_element),
        ] {
            assert!(
                !plan.contains("Seq Scan on items"),
                "{what}, {statement}: full scan\n{plan}"
            );
            // A selective filter may rightly be served by its own index and an exact
            // sort of the few rows it leaves; otherwise the HNSW index must be used.
            let exact_over_filter = what == "filtered by tag" && plan.contains("items_tags");
            assert!(
                plan.contains("Index Scan using items_embedding_hnsw") || exact_over_filter,
                "{what}, {statement}:\n{plan}"
            );
        }
    }

    // While a bulk load rebuilds the index the statements are exact scans, costed
    // far above jit_above_cost; JIT-compiling them took 220 ms for an 8 ms query.
    let jit: bool =
        sqlx::query_scalar("SELECT pg_jit_available() AND current_setting('jit')::bool")
            .fetch_one(pool)
            .await
            .unwrap();
    let load = db.engine.begin_bulk_load().await.unwrap();
    let user_exclusions = Exclusions {
        user_id: Some(user),
        item_ids: vec![1, 2, 3],
    };
    let plans = db
        .engine
        .explain_candidate_queries(
            &query,
            10,
            &elements,
            100,
            &Filters::default(),
            &user_exclusions,
        )
        .await
        .unwrap();
    db.engine.end_bulk_load(load).await.unwrap();
    for plan in [&plans.single, &plans.per_element] {
        assert!(
            plan.contains("Seq Scan on items"),
            "exact while the index is gone\n{plan}"
        );
        assert!(!plan.contains("JIT"), "JIT available: {jit}\n{plan}");
    }
}

#[tokio::test]
async fn clicks_must_reference_a_served_item_and_count_once() {
    let db = test_support::db::engine().await;
    let e = &db.engine;
    e.import_items(test_support::fixtures::fixture_catalog(), |_| {})
        .await
        .unwrap();
    let list = e
        .recommend_for_profile(
            None,
            &profile(&["jazz"]),
            &RecommendOptions {
                k: 2,
                ..Default::default()
            },
            ImpressionContext::Api,
        )
        .await
        .unwrap();
    let shown = &list.items[0].item.external_id;
    let not_shown = ["banana", "chess", "football"]
        .into_iter()
        .find(|id| list.items.iter().all(|r| r.item.external_id != *id))
        .unwrap();

    assert_eq!(
        e.record_click(list.impression_id, shown, None)
            .await
            .unwrap(),
        ClickOutcome::Recorded
    );
    assert_eq!(
        e.record_click(list.impression_id, shown, None)
            .await
            .unwrap(),
        ClickOutcome::AlreadyRecorded
    );
    let err = e
        .record_click(list.impression_id, not_shown, None)
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::Invalid { .. }), "{err:?}");
    let err = e
        .record_click(uuid::Uuid::new_v4(), shown, None)
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::Invalid { .. }), "{err:?}");
}
