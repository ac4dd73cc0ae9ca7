//! The admin's users page: search by handle, and a user's list previewed with
//! reasons and features, recording nothing.

use engine::profile::Profile;
use engine::recommend::RecommendOptions;

async fn impressions(e: &engine::Engine) -> i64 {
    e.flush_impressions().await.unwrap();
    sqlx::query_scalar("SELECT count(*) FROM impressions")
        .fetch_one(e.store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn users_are_found_by_handle_and_previews_record_nothing() {
    let db = test_support::db::engine().await;
    let e = &db.engine;
    e.import_items(test_support::fixtures::fixture_catalog(), |_| {})
        .await
        .unwrap();
    let pilot = e.user_by_handle("pilot-ann", true).await.unwrap();
    e.user_by_handle("baker_bob", true).await.unwrap();
    e.user_by_handle("annex", true).await.unwrap();
    e.save_profile(
        pilot.id,
        &Profile {
            interests: vec!["fighter planes and jet engines".into()],
            ..Default::default()
        },
    )
    .await
    .unwrap();

    // Substring, any case; where the match starts orders the results.
    let found: Vec<String> = e
        .store
        .search_users("ANN", 50)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.handle)
        .collect();
    assert_eq!(found, vec!["annex", "pilot-ann"]);
    // '%' and '_' are plain characters, not patterns.
    assert!(e.store.search_users("%", 50).await.unwrap().is_empty());
    let underscore = e.store.search_users("_", 50).await.unwrap();
    assert_eq!(underscore.len(), 1);
    assert_eq!(underscore[0].handle, "baker_bob");
    // Empty: the newest users; the limit holds.
    assert_eq!(e.store.search_users("", 2).await.unwrap().len(), 2);
    // A query no handle can match is refused before the database sees it.
    let long = e.store.search_users(&"a".repeat(41), 50).await.unwrap_err();
    assert!(long.to_string().contains("at most 40"), "{long}");

    let before = impressions(e).await;
    let preview = e
        .preview_user("Pilot-Ann", &RecommendOptions::default())
        .await
        .unwrap();
    assert_eq!(preview.user.handle, "pilot-ann");
    assert_eq!(
        preview.profile.interests,
        vec!["fighter planes and jet engines"]
    );
    assert!(!preview.items.is_empty());
    let top: Vec<&str> = preview
        .items
        .iter()
        .take(2)
        .map(|i| i.recommendation.item.external_id.as_str())
        .collect();
    assert!(top.contains(&"planes") || top.contains(&"jets"), "{top:?}");
    let first = &preview.items[0];
    assert_eq!(
        first.recommendation.explanation.as_ref().unwrap().label,
        "fighter planes and jet engines"
    );
    let f = first
        .features
        .expect("the first item came from the candidate pool");
    assert!(f.semantic > 0.0);
    assert_eq!(
        impressions(e).await,
        before,
        "a preview records no impression"
    );

    let unknown = e
        .preview_user("nobody-here", &RecommendOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(unknown, engine::EngineError::NotFound(_)),
        "{unknown}"
    );
}
