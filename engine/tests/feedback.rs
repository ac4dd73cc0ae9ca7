//! Explicit feedback and the Hidden list (`engine::feedback`), on a real
//! PostgreSQL: 👍 puts the item first in the profile's history (and ends its
//! dismissal), 👎 hides it (listed as hidden, a dismissal) and takes it out of the
//! history, "seen" keeps it out of the lists without a profile element; each lands
//! in the interactions store; restoring a hidden item empties the list.

use engine::events::ImpressionContext;
use engine::feedback::Feedback;
use engine::profile::{HistoryEntry, Profile};
use engine::recommend::RecommendOptions;
use engine::Engine;

async fn ids(e: &Engine, user: i64) -> Vec<String> {
    let profile = e.load_profile(user).await.unwrap();
    e.recommend_for_profile(
        Some(user),
        &profile,
        &RecommendOptions {
            k: 20,
            ..Default::default()
        },
        ImpressionContext::Profile,
    )
    .await
    .unwrap()
    .items
    .into_iter()
    .map(|r| r.item.external_id)
    .collect()
}

async fn kinds(e: &Engine, item: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT x.kind FROM interactions x JOIN items i ON i.id = x.item_id
         WHERE x.user_ref = 'ada' AND i.external_id = $1 ORDER BY x.kind",
    )
    .bind(item)
    .fetch_all(e.store.pool())
    .await
    .unwrap()
}

#[tokio::test]
async fn thumbs_and_seen_feed_the_profile_the_lists_and_the_interactions() {
    let db = test_support::db::engine().await;
    let e = &db.engine;
    e.import_items(test_support::fixtures::fixture_catalog(), |_| {})
        .await
        .unwrap();
    let user = e.user_by_handle("ada", true).await.unwrap().id;
    e.save_profile(
        user,
        &Profile {
            interests: vec!["jazz".into()],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let first = ids(e, user).await;
    let (liked, disliked, seen) = (first[0].clone(), first[1].clone(), first[2].clone());

    // 👍 after a dismissal: the dismissal ends, the item heads the history.
    e.dismiss(user, &liked).await.unwrap();
    e.give_feedback(user, &liked, Feedback::Liked)
        .await
        .unwrap();
    e.give_feedback(user, &liked, Feedback::Liked)
        .await
        .unwrap();
    let history = e.load_profile(user).await.unwrap().history;
    assert!(
        matches!(history.as_slice(), [HistoryEntry::Item { id, .. }] if *id == liked),
        "{history:?}"
    );
    assert!(e.hidden_items(user).await.unwrap().is_empty());
    assert_eq!(kinds(e, &liked).await, ["consumed"]);

    // 👎: hidden (listed, a dismissal), and out of the history.
    e.give_feedback(user, &liked, Feedback::Disliked)
        .await
        .unwrap();
    assert!(e.load_profile(user).await.unwrap().history.is_empty());
    e.give_feedback(user, &disliked, Feedback::Disliked)
        .await
        .unwrap();
    let hidden: Vec<String> = e
        .hidden_items(user)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.item.external_id)
        .collect();
    assert_eq!(hidden, [disliked.clone(), liked.clone()], "newest first");
    assert_eq!(kinds(e, &disliked).await, ["dismissed"]);

    // Seen: out of the lists, not in the profile, consumed in the store.
    e.give_feedback(user, &seen, Feedback::Seen).await.unwrap();
    e.give_feedback(user, &seen, Feedback::Seen).await.unwrap();
    assert!(e.load_profile(user).await.unwrap().history.is_empty());
    assert_eq!(kinds(e, &seen).await, ["consumed"]);
    let now = ids(e, user).await;
    for gone in [&liked, &disliked, &seen] {
        assert!(!now.contains(gone), "{gone} still listed: {now:?}");
    }

    // Restoring both empties the Hidden list; the restored items may come back.
    for item in [&liked, &disliked] {
        assert!(e.undo_dismiss(user, item).await.unwrap());
    }
    assert!(e.hidden_items(user).await.unwrap().is_empty());
    assert!(ids(e, user).await.contains(&disliked));
    // Unknown items are refused.
    assert!(e
        .give_feedback(user, "no-such-item", Feedback::Seen)
        .await
        .is_err());
}
