//! The import history: rows as recorded, newest first, paged; a browser
//! import's parts add to one row, and only to a recent browser row.

use engine::import_history::{ImportCounts, ImportKind, ImportVia};

fn counts(added: u64, updated: u64, unchanged: u64, rejected: u64) -> ImportCounts {
    ImportCounts {
        added,
        updated,
        unchanged,
        rejected,
    }
}

#[tokio::test]
async fn imports_are_listed_newest_first_paged_and_parts_add_up() {
    let db = test_support::db::engine().await;
    let store = &db.engine.store;
    let empty = store.list_imports(0, 10).await.unwrap();
    assert_eq!((empty.records.len(), empty.total), (0, 0));

    let cli = store
        .record_import(
            ImportVia::Cli,
            "CLI",
            ImportKind::Catalogue,
            counts(3, 0, 1, 2),
        )
        .await
        .unwrap();
    let api = store
        .record_import(
            ImportVia::Api,
            "API key shop",
            ImportKind::Interactions,
            counts(5, 0, 0, 1),
        )
        .await
        .unwrap();
    // A browser import in two parts is one row with the sums.
    let web = store
        .add_import_part(None, "admin", counts(100, 0, 0, 1))
        .await
        .unwrap();
    let same = store
        .add_import_part(Some(web), "admin", counts(50, 2, 3, 4))
        .await
        .unwrap();
    assert_eq!(same, web);
    // A part naming another kind of row starts a row of its own: history is not rewritten.
    let other = store
        .add_import_part(Some(cli), "admin", counts(1, 0, 0, 0))
        .await
        .unwrap();
    assert_ne!(other, cli);

    let page = store.list_imports(0, 10).await.unwrap();
    assert_eq!(page.total, 4);
    let ids: Vec<i64> = page.records.iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![other, web, api, cli], "newest first");
    let w = &page.records[1];
    assert_eq!(
        (w.via, w.kind, w.actor.as_str()),
        (ImportVia::Web, ImportKind::Catalogue, "admin")
    );
    assert_eq!(w.counts, counts(150, 2, 3, 5));
    let a = &page.records[2];
    assert_eq!(
        (a.via, a.kind, a.actor.as_str()),
        (ImportVia::Api, ImportKind::Interactions, "API key shop")
    );
    assert_eq!(page.records[3].counts, counts(3, 0, 1, 2));

    // Pages: two at a time, the total unchanged; out-of-range values are clamped.
    let second = store.list_imports(2, 2).await.unwrap();
    assert_eq!(
        second.records.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![api, cli]
    );
    assert_eq!(second.total, 4);
    assert_eq!(store.list_imports(-5, 0).await.unwrap().records.len(), 1);
    assert!(store
        .list_imports(100, 10)
        .await
        .unwrap()
        .records
        .is_empty());
}

#[tokio::test]
async fn an_import_through_the_engine_is_recorded_with_its_counts() {
    let db = test_support::db::engine().await;
    let e = &db.engine;
    let summary = e
        .import_items(test_support::fixtures::fixture_catalog(), |_| {})
        .await
        .unwrap();
    let id = e
        .store
        .note_import(ImportVia::Cli, "CLI", ImportKind::Catalogue, &summary)
        .await
        .unwrap();
    let page = e.store.list_imports(0, 1).await.unwrap();
    assert_eq!(page.records[0].id, id);
    assert_eq!(page.records[0].counts.added, summary.added as u64);
    assert!(summary.added > 0);
}
