//! Pages are slices of one list: on the default settings (every channel, the learned
//! ranker, fair share, exploration) and the demo's plots catalogue with its users'
//! ratings, a signed-in user's second page holds positions 11–20 of a 20-item list,
//! even though serving the first page recorded an impression in between, and right
//! after an import brought a language the catalogue did not have.

use engine::catalog::{parse_import, ImportFormat};
use engine::interactions::parse_interactions;
use engine::profile::Profile;
use engine::recommend::{RecommendOptions, RecommendationList};

fn ids(list: &RecommendationList) -> Vec<String> {
    list.items
        .iter()
        .map(|r| r.item.external_id.clone())
        .collect()
}

fn page(k: usize, offset: usize) -> RecommendOptions {
    RecommendOptions {
        k,
        offset,
        ..Default::default()
    }
}

#[tokio::test]
async fn a_second_page_continues_the_first_on_the_default_settings() {
    let db = test_support::db::real_engine().await;
    let e = db.engine.clone();
    let plots = test_support::paths::workspace().join("data/movielens/plots");
    let read = |name: &str| {
        let path = plots.join(name);
        std::fs::read(&path).unwrap_or_else(|err| {
            panic!(
                "{}: {err}: run scripts/fetch-demo-data.sh first",
                path.display()
            )
        })
    };
    let parsed = parse_import(
        std::io::Cursor::new(read("items.jsonl")),
        ImportFormat::Jsonl,
    )
    .unwrap();
    e.import_items(parsed, |_| {}).await.unwrap();
    let ratings = parse_interactions(
        std::io::Cursor::new(read("interactions.jsonl")),
        ImportFormat::Jsonl,
    )
    .unwrap();
    e.import_interactions(ratings, |_| {}).await.unwrap();
    e.refresh_collaborative().await.unwrap().expect("a model");

    // The e2e profile: two interests, no history.
    let u = e.user_by_handle("pager", true).await.unwrap();
    let profile = Profile {
        interests: vec!["aircraft".into(), "fighter pilots".into()],
        ..Default::default()
    };
    e.save_profile(u.id, &profile).await.unwrap();

    // A list served before another language arrives: the e2e's French import.
    let before = e.preview_for_user(u.id, &page(20, 0)).await.unwrap();
    assert_eq!(before.items.len(), 20);
    let french: String = (1..=3)
        .map(|i| {
            format!(
                r#"{{"id":"fr-{i}","title":"Les pilotes {i}","description":"Un film sur des pilotes d'avion de chasse et l'aviation, numéro {i}.","language":"fr","source":"cinematheque"}}"#
            ) + "\n"
        })
        .collect();
    let parsed = parse_import(std::io::Cursor::new(french), ImportFormat::Jsonl).unwrap();
    assert_eq!(e.import_items(parsed, |_| {}).await.unwrap().added, 3);

    let whole = ids(&e.preview_for_user(u.id, &page(20, 0)).await.unwrap());
    assert_eq!(whole.len(), 20);
    let first = ids(&e.recommend_for_user(u.id, &page(10, 0)).await.unwrap());
    let second = ids(&e.recommend_for_user(u.id, &page(10, 10)).await.unwrap());
    assert_eq!(first, whole[..10], "first page");
    assert_eq!(second, whole[10..], "second page");
}
