//! The admin's catalogue browser: search with embedding state, edits through the
//! import path (re-embedded only when the text changes, the rest kept).

use engine::catalogue_admin::EmbeddingState;

#[tokio::test]
async fn edits_re_embed_only_changed_text_and_keep_the_rest() {
    let db = test_support::db::engine().await;
    let e = &db.engine;
    e.import_items(test_support::fixtures::fixture_catalog(), |_| {})
        .await
        .unwrap();
    sqlx::query("UPDATE items SET metadata = '{\"genres\": [\"Documentary\"]}' WHERE external_id = 'planes'")
        .execute(e.store.pool())
        .await
        .unwrap();
    let vector = |id: &'static str| async move {
        let (v,): (String,) =
            sqlx::query_as("SELECT embedding::text FROM items WHERE external_id = $1")
                .bind(id)
                .fetch_one(e.store.pool())
                .await
                .unwrap();
        v
    };
    let before = vector("planes").await;
    let planes = e.catalogue_entry("planes").await.unwrap();
    assert_eq!(planes.embedding, EmbeddingState::Current);

    // The same text: nothing changes, no new vector.
    let same = e
        .edit_item_text(
            "planes",
            &planes.title,
            &planes.description,
            planes.tags.clone(),
        )
        .await
        .unwrap();
    assert!(!same.changed && !same.re_embedded, "{same:?}");

    // New text: a new vector; language, source and metadata kept.
    let edited = e
        .edit_item_text(
            "planes",
            "Bread baking for beginners",
            "Sourdough loaves and banana bread.",
            vec!["cooking".into()],
        )
        .await
        .unwrap();
    assert!(edited.changed && edited.re_embedded, "{edited:?}");
    assert_ne!(vector("planes").await, before);
    let after = e.catalogue_entry("planes").await.unwrap();
    assert_eq!(after.title, "Bread baking for beginners");
    assert_eq!(after.tags, vec!["cooking"]);
    assert_eq!(
        (after.language.as_str(), after.source.as_str()),
        ("en", "docs")
    );
    let (genres,): (serde_json::Value,) =
        sqlx::query_as("SELECT metadata->'genres' FROM items WHERE external_id = 'planes'")
            .fetch_one(e.store.pool())
            .await
            .unwrap();
    assert_eq!(genres, serde_json::json!(["Documentary"]));

    // Bad input: the import's own rules; unknown items: not found.
    let blank = e
        .edit_item_text("planes", "  ", "", vec![])
        .await
        .unwrap_err();
    assert!(
        matches!(blank, engine::EngineError::Invalid { .. }),
        "{blank}"
    );
    let missing = e.edit_item_text("nope", "x", "", vec![]).await.unwrap_err();
    assert!(
        matches!(missing, engine::EngineError::NotFound(_)),
        "{missing}"
    );
    assert_eq!(
        e.catalogue_entry("planes").await.unwrap().title,
        "Bread baking for beginners"
    );
}

#[tokio::test]
async fn browsing_finds_by_title_or_id_and_reports_stale_vectors() {
    let db = test_support::db::engine().await;
    let e = &db.engine;
    e.import_items(test_support::fixtures::fixture_catalog(), |_| {})
        .await
        .unwrap();
    let all = e.browse_catalogue("", 0, 100).await.unwrap();
    assert_eq!(all.total, all.entries.len() as i64);
    assert_eq!(all.needing_reindex, 0);
    // By title (any case) or exact id; paged.
    let jets = e.browse_catalogue("JET ENGINES", 0, 10).await.unwrap();
    assert_eq!(
        jets.entries
            .iter()
            .map(|x| x.external_id.as_str())
            .collect::<Vec<_>>(),
        vec!["jets"]
    );
    assert_eq!(
        e.browse_catalogue("banana", 0, 10).await.unwrap().entries[0].external_id,
        "banana"
    );
    let page = e.browse_catalogue("", 2, 2).await.unwrap();
    assert_eq!(page.entries.len(), 2);
    assert_eq!(page.entries[0].external_id, all.entries[2].external_id);
    // '%' is a plain character.
    assert_eq!(e.browse_catalogue("%", 0, 10).await.unwrap().total, 0);
    assert!(e.browse_catalogue(&"x".repeat(201), 0, 10).await.is_err());

    sqlx::query("UPDATE items SET model_id = 'old-model' WHERE external_id = 'jets'")
        .execute(e.store.pool())
        .await
        .unwrap();
    let jets = e.browse_catalogue("jets", 0, 10).await.unwrap();
    assert_eq!(
        jets.entries[0].embedding,
        EmbeddingState::OtherModel("old-model".into())
    );
    assert_eq!(jets.needing_reindex, 1);
}
