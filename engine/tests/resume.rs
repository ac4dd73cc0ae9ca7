//! Going back keeps your place (`engine::resume`), on a real PostgreSQL: the same
//! request within the window gets the same list back (impression id, order,
//! explanations, a clicked item still in it) and records nothing; another profile,
//! a dismissal, another page or filter gets a new list; a second instance on the
//! same database resumes a list the first served, even while the first still holds
//! it in its impression queue.

use std::time::Duration;

use engine::events::ImpressionContext;
use engine::impression_queue::QueueSettings;
use engine::profile::Profile;
use engine::recommend::{Filters, RecommendOptions, RecommendationList};
use engine::{Engine, Store};

fn jazz() -> Profile {
    Profile {
        interests: vec!["jazz".into()],
        ..Default::default()
    }
}

fn page(offset: usize) -> RecommendOptions {
    RecommendOptions {
        k: 3,
        offset,
        ..Default::default()
    }
}

async fn list(e: &Engine, user: i64, p: &Profile, opts: &RecommendOptions) -> RecommendationList {
    e.recommend_resumable(user, p, opts, ImpressionContext::Profile)
        .await
        .unwrap()
        .0
}

fn order(l: &RecommendationList) -> Vec<(usize, String)> {
    l.items
        .iter()
        .map(|r| (r.rank, r.item.external_id.clone()))
        .collect()
}

async fn impressions(e: &Engine) -> i64 {
    e.flush_impressions().await.unwrap();
    sqlx::query_scalar("SELECT count(*) FROM impressions")
        .fetch_one(e.store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn the_same_request_gets_the_same_list_and_counts_once() {
    let db = test_support::db::engine().await;
    let e = &db.engine;
    e.import_items(test_support::fixtures::fixture_catalog(), |_| {})
        .await
        .unwrap();
    // Queued impressions: resuming must find a list not yet written.
    e.start_impression_queue(QueueSettings {
        capacity: 100,
        flush_interval: Duration::from_secs(3600),
    });
    let user = e.user_by_handle("ada", true).await.unwrap().id;
    let first = list(e, user, &jazz(), &page(0)).await;
    assert_eq!(first.items.len(), 3);
    assert!(first.items.iter().any(|r| r.explanation.is_some()));
    // Opening the first item records a click, which leaves it out of new lists…
    let opened = first.items[0].item.external_id.clone();
    e.record_click(first.impression_id, &opened, Some(user))
        .await
        .unwrap();
    // …but going back shows the list as it was, with nothing recorded.
    let back = list(e, user, &jazz(), &page(0)).await;
    assert_eq!(back.impression_id, first.impression_id);
    assert_eq!(order(&back), order(&first));
    assert_eq!(back.items, first.items, "scores and explanations as served");
    assert_eq!(impressions(e).await, 1);

    // A second page is another request, and so resumable by itself.
    let second = list(e, user, &jazz(), &page(3)).await;
    assert_ne!(second.impression_id, first.impression_id);
    assert_eq!(
        list(e, user, &jazz(), &page(3)).await.impression_id,
        second.impression_id
    );
    // Other filters, another profile: new lists, without the opened item.
    let filtered = RecommendOptions {
        filters: Filters {
            languages: vec!["en".into()],
            ..Default::default()
        },
        ..page(0)
    };
    let other = list(e, user, &jazz(), &filtered).await;
    assert_ne!(other.impression_id, first.impression_id);
    let mut more = jazz();
    more.interests.push("piano".into());
    let changed = list(e, user, &more, &page(0)).await;
    assert_ne!(changed.impression_id, first.impression_id);
    assert!(changed.items.iter().all(|r| r.item.external_id != opened));
    assert_eq!(impressions(e).await, 4);

    // A dismissal changes the request: the dismissed item is gone from the next list.
    let dismissed = first.items[1].item.external_id.clone();
    e.dismiss(user, &dismissed).await.unwrap();
    let after = list(e, user, &jazz(), &page(0)).await;
    assert_ne!(after.impression_id, first.impression_id);
    assert!(after.items.iter().all(|r| r.item.external_id != dismissed));
    // Another user never gets someone else's list.
    let bob = e.user_by_handle("bob", true).await.unwrap().id;
    assert_ne!(
        list(e, bob, &jazz(), &page(0)).await.impression_id,
        after.impression_id
    );
    // Older than the window: a new list.
    e.flush_impressions().await.unwrap();
    sqlx::query("UPDATE impressions SET created_at = now() - interval '31 minutes'")
        .execute(e.store.pool())
        .await
        .unwrap();
    assert_ne!(
        list(e, user, &jazz(), &page(0)).await.impression_id,
        after.impression_id
    );
}

#[tokio::test]
async fn another_instance_on_the_database_resumes_the_list() {
    let db = test_support::db::engine().await;
    let a = &db.engine;
    a.import_items(test_support::fixtures::fixture_catalog(), |_| {})
        .await
        .unwrap();
    let b_store = Store::connect(db._cluster.database_url(), 8).await.unwrap();
    let b = Engine::new(
        b_store,
        test_support::model::fake_embedder(),
        engine::EngineSettings::default(),
    );
    let user = a.user_by_handle("ada", true).await.unwrap().id;
    let served = list(a, user, &jazz(), &page(0)).await;
    let resumed = list(&b, user, &jazz(), &page(0)).await;
    assert_eq!(resumed.impression_id, served.impression_id);
    assert_eq!(order(&resumed), order(&served));
    assert_eq!(impressions(a).await, 1);
}
