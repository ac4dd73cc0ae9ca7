//! Metrics on a hand-made event log whose numbers are worked out by hand.

use chrono::{Duration, TimeZone, Utc};
use engine::events::{ImpressionContext, ShownItem};

#[tokio::test]
async fn interaction_rates_match_a_hand_checked_log() {
    let db = test_support::db::engine().await;
    let e = &db.engine;
    e.import_items(test_support::fixtures::fixture_catalog(), |_| {})
        .await
        .unwrap();
    let ids: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, external_id FROM items ORDER BY external_id")
            .fetch_all(e.store.pool())
            .await
            .unwrap();
    let id = |ext: &str| ids.iter().find(|(_, x)| x == ext).unwrap().0;
    let ann = e.user_by_handle("ann", true).await.unwrap().id;
    let bob = e.user_by_handle("bob", true).await.unwrap().id;
    let q = vec![0.0f32; 384];
    let day1 = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    let day2 = day1 + Duration::days(1);

    // Log:
    //   day 1, ann: shown [jazz, piano, chess]   clicked jazz, piano
    //   day 1, bob: shown [jazz, banana]         clicked nothing
    //   day 2, bob: shown [planes, jets, glider, space, banana]  clicked planes
    // shown = 10, clicked = 3 → rate 0.3
    // per user: ann 2/3, bob 1/7 → mean (2/3 + 1/7) / 2 = 17/42
    // coverage: distinct shown {jazz, piano, chess, banana, planes, jets, glider, space} = 8 of 12
    // by rank: rank 1: 3 shown (jazz, jazz, planes), 2 clicked; rank 2: 3 shown (piano, banana, jets), 1 clicked
    type Entry<'a> = (i64, chrono::DateTime<Utc>, Vec<&'a str>, Vec<&'a str>);
    let log: Vec<Entry> = vec![
        (
            ann,
            day1,
            vec!["jazz", "piano", "chess"],
            vec!["jazz", "piano"],
        ),
        (bob, day1, vec!["jazz", "banana"], vec![]),
        (
            bob,
            day2,
            vec!["planes", "jets", "glider", "space", "banana"],
            vec!["planes"],
        ),
    ];
    for (user, when, shown, clicked) in &log {
        let items: Vec<ShownItem> = shown
            .iter()
            .enumerate()
            .map(|(i, ext)| ShownItem {
                item_id: id(ext),
                rank: i + 1,
                score: 0.5,
                features: None,
            })
            .collect();
        let imp = e
            .record_impression(Some(*user), ImpressionContext::Profile, Some(&q), &items)
            .await
            .unwrap();
        sqlx::query("UPDATE impressions SET created_at = $2 WHERE id = $1")
            .bind(imp)
            .bind(when)
            .execute(e.store.pool())
            .await
            .unwrap();
        for ext in clicked {
            e.record_click(imp, ext, Some(*user)).await.unwrap();
        }
    }

    let d = e
        .dashboard(day1 - Duration::days(1), day2 + Duration::days(1))
        .await
        .unwrap();
    let o = &d.overview;
    assert_eq!((o.impressions, o.shown, o.clicks, o.users), (3, 10, 3, 2));
    assert!((o.interaction_rate - 0.3).abs() < 1e-12);
    assert!(
        (o.per_user_rate - 17.0 / 42.0).abs() < 1e-12,
        "{}",
        o.per_user_rate
    );
    assert!((o.coverage - 8.0 / 12.0).abs() < 1e-12);
    assert_eq!(o.catalog_size, 12);

    let daily: Vec<(String, i64, i64)> = d
        .daily
        .iter()
        .map(|r| (r.day.to_string(), r.shown, r.clicked))
        .collect();
    assert_eq!(
        daily,
        vec![("2026-03-01".into(), 5, 2), ("2026-03-02".into(), 5, 1)]
    );
    let rank: Vec<(String, i64, i64)> = d
        .by_rank
        .iter()
        .map(|r| (r.key.clone(), r.shown, r.clicked))
        .collect();
    assert_eq!(&rank[..2], &[("1".into(), 3, 2), ("2".into(), 3, 1)]);
    // Every list was a profile's, ranked by the shipped weights.
    let whole = |rows: &[engine::metrics::Rate]| {
        rows.iter()
            .map(|r| (r.key.clone(), r.shown, r.clicked))
            .collect::<Vec<_>>()
    };
    assert_eq!(whole(&d.by_surface), vec![("profile".into(), 10, 3)]);
    assert_eq!(whole(&d.by_ranker), vec![("shipped".into(), 10, 3)]);
    assert_eq!(d.top_clicked[0].external_id, "jazz");
    assert!(d
        .never_clicked
        .iter()
        .any(|i| i.external_id == "banana" && i.shown == 2));

    // A window that excludes day 1 sees only day 2.
    let only2 = e
        .dashboard(day2 - Duration::hours(1), day2 + Duration::days(1))
        .await
        .unwrap();
    assert_eq!((only2.overview.shown, only2.overview.clicks), (5, 1));
}
