//! Embedding drift on a hand-made log: the query centroid moves, the top-1
//! similarity falls, newly imported items differ from the old catalog.

use chrono::{Duration, TimeZone, Utc};
use engine::drift::{DriftSettings, DriftSignal};
use engine::events::{ImpressionContext, ShownItem};
use engine::EngineSettings;

fn axis(i: usize) -> Vec<f32> {
    let mut v = vec![0.0f32; 384];
    v[i] = 1.0;
    v
}

#[tokio::test]
async fn centroid_shift_and_falling_top1_similarity_raise_alerts() {
    let db = test_support::db::engine_with(EngineSettings {
        drift: DriftSettings {
            min_samples: 3,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let e = &db.engine;
    e.import_items(test_support::fixtures::fixture_catalog(), |_| {})
        .await
        .unwrap();
    let item: i64 = sqlx::query_scalar("SELECT min(id) FROM items")
        .fetch_one(e.store.pool())
        .await
        .unwrap();
    let now = Utc.with_ymd_and_hms(2026, 6, 30, 12, 0, 0).unwrap();
    let pool = e.store.pool();

    // Reference window (8–35 days ago): queries along axis 0, best match 0.8.
    // Recent window (last 7 days): queries along axis 1, best match 0.5.
    let mut log = Vec::new();
    for d in [10, 12, 15, 20] {
        log.push((now - Duration::days(d), axis(0), 0.8f32));
    }
    for d in [1, 2, 3] {
        log.push((now - Duration::days(d), axis(1), 0.5f32));
    }
    // "More like this" lists are not what users ask for: ignored by the query signals.
    let similar = e
        .record_impression(
            None,
            ImpressionContext::Similar,
            Some(&axis(2)),
            &[ShownItem {
                item_id: item,
                rank: 1,
                score: 0.1,
                features: None,
            }],
        )
        .await
        .unwrap();
    for (when, q, score) in &log {
        let imp = e
            .record_impression(
                None,
                ImpressionContext::Profile,
                Some(q),
                &[ShownItem {
                    item_id: item,
                    rank: 1,
                    score: *score,
                    features: None,
                }],
            )
            .await
            .unwrap();
        sqlx::query("UPDATE impressions SET created_at = $2 WHERE id = $1")
            .bind(imp)
            .bind(when)
            .execute(pool)
            .await
            .unwrap();
    }
    sqlx::query("UPDATE impressions SET created_at = $2 WHERE id = $1")
        .bind(similar)
        .bind(now - Duration::days(1))
        .execute(pool)
        .await
        .unwrap();
    // Every item was imported long ago, so no new items: that signal is not judged.
    sqlx::query("UPDATE items SET created_at = $1")
        .bind(now - Duration::days(100))
        .execute(pool)
        .await
        .unwrap();

    let d = e.embedding_drift(now).await.unwrap();
    assert_eq!((d.queries.recent_count, d.queries.reference_count), (3, 4));
    // Centroids along two orthogonal axes: cosine distance 1.
    assert!((d.queries.distance.unwrap() - 1.0).abs() < 1e-6);
    assert!(d.queries.alert);
    assert_eq!(d.items.recent_count, 0);
    assert!(!d.items.judged && !d.items.alert);
    assert_eq!(d.top1.daily.len(), 7);
    assert!((d.top1.recent_mean.unwrap() - 0.5).abs() < 1e-6);
    assert!((d.top1.reference_mean.unwrap() - 0.8).abs() < 1e-6);
    assert!(d.top1.slope_per_day.unwrap() < 0.0);
    assert!(d.top1.alert);
    let signals: Vec<DriftSignal> = d.alerts().iter().map(|a| a.signal).collect();
    assert_eq!(
        signals,
        vec![DriftSignal::QueryCentroid, DriftSignal::Top1Similarity]
    );

    // Re-date three items as newly imported: they are judged against the rest.
    sqlx::query(
        "UPDATE items SET created_at = $1 WHERE id IN (SELECT id FROM items ORDER BY id LIMIT 3)",
    )
    .bind(now - Duration::days(1))
    .execute(pool)
    .await
    .unwrap();
    let d = e.embedding_drift(now).await.unwrap();
    assert_eq!((d.items.recent_count, d.items.reference_count), (3, 9));
    assert!(d.items.judged);
    assert!(d.items.distance.unwrap() > 0.0);

    // The dashboard carries the same alerts.
    let dash = e.dashboard(now - Duration::days(90), now).await.unwrap();
    assert!(dash
        .alerts
        .iter()
        .any(|a| a.signal == DriftSignal::Top1Similarity));
}
