//! The pipelined import (chunk n+1 embedded while chunk n is written) keeps the
//! import's promises: exact counts, and an import that fails midway keeps every
//! chunk it reported done, so a re-run embeds only the rest.

use engine::catalog::{ImportProgress, ItemInput, ParsedImport, IMPORT_CHUNK};

fn items(n: usize) -> ParsedImport {
    test_support::fixtures::note_items("p", n)
}

#[tokio::test]
async fn a_failed_chunk_keeps_the_committed_ones_and_a_rerun_resumes() {
    let db = test_support::db::engine().await;
    let e = &db.engine;
    let n = 3 * IMPORT_CHUNK + 10;
    // The third chunk holds an item the database refuses (its content hash
    // breaks a CHECK constraint): that chunk's transaction fails.
    let mut broken = items(n);
    broken.items[2 * IMPORT_CHUNK + 5].1.content_hash = "not-a-hash".into();
    let mut reports: Vec<ImportProgress> = Vec::new();
    let err = e
        .import_items(broken, |p| reports.push(p))
        .await
        .expect_err("the third chunk must fail");
    assert!(err.to_string().contains("check"), "{err}");
    let done: Vec<usize> = reports.iter().map(|p| p.done).collect();
    assert_eq!(done, vec![IMPORT_CHUNK, 2 * IMPORT_CHUNK]);
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM items")
        .fetch_one(e.store.pool())
        .await
        .unwrap();
    assert_eq!(
        stored as usize,
        2 * IMPORT_CHUNK,
        "what was reported done is kept"
    );

    // The re-run embeds only what is missing and counts exactly.
    let mut last = ImportProgress::default();
    let summary = e.import_items(items(n), |p| last = p).await.unwrap();
    assert_eq!(
        (summary.added, summary.updated, summary.unchanged),
        (n - 2 * IMPORT_CHUNK, 0, 2 * IMPORT_CHUNK)
    );
    assert_eq!((last.done, last.total), (n, n));
    assert_eq!(last.embedded, n - 2 * IMPORT_CHUNK);

    // One changed text among unchanged ones: exactly one re-embedded update.
    let mut changed = items(n);
    changed.items[IMPORT_CHUNK + 1].1 = ItemInput {
        id: format!("p{}", IMPORT_CHUNK + 1),
        title: "A different text".into(),
        ..Default::default()
    }
    .validate()
    .unwrap();
    let mut last = ImportProgress::default();
    let summary = e.import_items(changed, |p| last = p).await.unwrap();
    assert_eq!(
        (summary.added, summary.updated, summary.unchanged),
        (0, 1, n - 1)
    );
    assert_eq!(last.embedded, 1);
}

#[tokio::test]
async fn fields_that_move_within_the_same_embedded_text_are_written_without_re_embedding() {
    let db = test_support::db::engine().await;
    let e = &db.engine;
    let one = |description: &str, tags: Vec<String>| ParsedImport {
        items: vec![(
            1,
            ItemInput {
                id: "heat".into(),
                title: "Heat".into(),
                description: description.into(),
                tags,
                ..Default::default()
            }
            .validate()
            .unwrap(),
        )],
        rejected: vec![],
    };
    e.import_items(one("crime", vec![]), |_| {}).await.unwrap();
    // "Heat. crime" either way: the same text, so the same vector.
    let mut last = ImportProgress::default();
    let summary = e
        .import_items(one("", vec!["crime".into()]), |p| last = p)
        .await
        .unwrap();
    assert_eq!((summary.updated, summary.unchanged), (1, 0));
    assert_eq!(last.embedded, 0, "the vector stands");
    let item = e.item_by_external_id("heat").await.unwrap();
    assert_eq!(
        (item.description.as_str(), item.tags.clone()),
        ("", vec!["crime".to_string()])
    );
}
