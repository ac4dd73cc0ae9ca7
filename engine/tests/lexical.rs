//! The lexical channel on a real PostgreSQL: the generated `tsvector` stems with the
//! configuration of each item's language ('simple' for languages PostgreSQL has
//! none for), and a profile's terms (its texts, or its history's terms) find the
//! items that contain them.

use engine::catalog::{ItemInput, ParsedImport};
use engine::profile::{HistoryEntry, Profile};
use engine::recommend::RecommendOptions;
use engine::EngineSettings;

fn items(list: &[(&str, &str, &str, &str)]) -> ParsedImport {
    ParsedImport {
        items: list
            .iter()
            .enumerate()
            .map(|(n, (id, language, title, description))| {
                let item = ItemInput {
                    id: id.to_string(),
                    title: title.to_string(),
                    description: description.to_string(),
                    language: Some(language.to_string()),
                    ..Default::default()
                }
                .validate()
                .unwrap();
                (n + 1, item)
            })
            .collect(),
        rejected: vec![],
    }
}

async fn lexemes(e: &engine::Engine, id: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT t.lexeme FROM items, unnest(items.lexical) t WHERE external_id = $1 ORDER BY 1",
    )
    .bind(id)
    .fetch_all(e.store.pool())
    .await
    .unwrap()
}

#[tokio::test]
async fn items_are_stemmed_in_their_own_language() {
    let db = test_support::db::real_engine().await;
    let e = &db.engine;
    e.import_items(
        items(&[
            ("en", "en", "Running dogs", "The dogs were running home"),
            ("de", "de-AT", "Häuser", "Die Häuser der Stadt"),
            ("xx", "tlh", "Running dogs", ""),
        ]),
        |_| {},
    )
    .await
    .unwrap();
    // English: stemmed, stop words gone.
    assert_eq!(lexemes(e, "en").await, vec!["dog", "home", "run"]);
    // German (the region subtag is ignored): "Häuser" -> "haus", "die"/"der" gone.
    let de = lexemes(e, "de").await;
    assert!(de.contains(&"haus".to_string()), "{de:?}");
    assert!(!de.contains(&"die".to_string()), "{de:?}");
    // No configuration for Klingon: 'simple' keeps the words as they are.
    assert_eq!(lexemes(e, "xx").await, vec!["dogs", "running"]);
}

#[tokio::test]
async fn the_lexical_channel_finds_the_profiles_words() {
    let db = test_support::db::real_engine_with(EngineSettings {
        popularity_weight: 0.0,
        collaborative_weight: 0.0,
        lexical_weight: 2.0,
        ..EngineSettings::default()
    })
    .await;
    let e = &db.engine;
    let mut list: Vec<(String, String, String)> = (0..30)
        .map(|i| {
            (
                format!("n{i}"),
                format!("Field note {i} on coastal birds"),
                "Gulls, terns and cormorants seen along the shore.".to_string(),
            )
        })
        .collect();
    list.push((
        "quokka".into(),
        "A marsupial sighting".into(),
        "A quokka photographed on Rottnest Island.".into(),
    ));
    let rows: Vec<(&str, &str, &str, &str)> = list
        .iter()
        .map(|(id, t, d)| (id.as_str(), "en", t.as_str(), d.as_str()))
        .collect();
    e.import_items(items(&rows), |_| {}).await.unwrap();
    assert!(e.refresh_lexical_terms().await.unwrap() > 0);

    let user = e.user_by_handle("walker", true).await.unwrap();
    e.save_profile(
        user.id,
        &Profile {
            interests: vec!["quokkas on islands".into()],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let opts = RecommendOptions {
        k: 5,
        ..Default::default()
    };
    // Every candidate carries its lexical score: 1 for the one item with the words
    // ("quokkas" and "islands" stem to what the item holds), 0 for the others.
    let pool = e.candidate_features_for_user(user.id, &opts).await.unwrap();
    for (id, f) in &pool {
        let expected = if id == "quokka" { 1.0 } else { 0.0 };
        assert_eq!(f.lexical, expected, "{id}: {f:?}");
    }
    let first = |l: engine::recommend::RecommendationList| l.items[0].item.external_id.clone();
    assert_eq!(
        first(e.preview_for_user(user.id, &opts).await.unwrap()),
        "quokka"
    );

    // A history's terms: the gull notes share "gull", "tern", "cormor"... with the
    // history item, the marsupial note shares nothing.
    e.save_profile(
        user.id,
        &Profile {
            history: vec![HistoryEntry::Item {
                id: "n0".into(),
                title: "Field note 0 on coastal birds".into(),
            }],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let pool = e.candidate_features_for_user(user.id, &opts).await.unwrap();
    assert!(pool
        .iter()
        .any(|(id, f)| id.starts_with('n') && f.lexical > 0.5));
    assert!(pool
        .iter()
        .all(|(id, f)| id != "quokka" || f.lexical == 0.0));
}

/// The channel searches with the rarest terms only, while they are held by at most
/// `CHANNEL_MAX_DOCUMENTS` items: "note", held by every item of a catalogue larger
/// than that, is left out of the search (it would make the channel rank them all)
/// but still scores the candidates.
#[tokio::test]
async fn the_channel_searches_with_its_rarest_terms_on_a_large_catalogue() {
    use engine::recommend::lexical::{LexicalQuery, CHANNEL_MAX_DOCUMENTS};
    let db = test_support::db::engine().await;
    let e = &db.engine;
    e.import_items(
        items(&[("z1", "en", "Zebra note", ""), ("z2", "en", "Zebras", "")]),
        |_| {},
    )
    .await
    .unwrap();
    e.refresh_lexical_terms().await.unwrap();
    let texts = vec!["note zebra".to_string()];
    // A small catalogue: the whole query is searched.
    let small = e.lexical_query(&texts, &[]).await.unwrap().unwrap();
    assert_eq!(small.channel.as_deref(), Some(small.all.as_str()));

    let n = CHANNEL_MAX_DOCUMENTS as usize + 50;
    e.import_items(test_support::fixtures::note_items("n", n), |_| {})
        .await
        .unwrap();
    e.refresh_lexical_terms().await.unwrap();
    let large = e.lexical_query(&texts, &[]).await.unwrap().unwrap();
    assert_eq!(
        large,
        LexicalQuery {
            all: "'note' | 'zebra'".into(),
            channel: Some("'zebra'".into()),
        }
    );
    // The item holding both terms still leads the list.
    let list = e
        .preview_for_profile(&profile_of(&texts), &RecommendOptions::default())
        .await
        .unwrap();
    let ids: Vec<&str> = list
        .items
        .iter()
        .map(|r| r.item.external_id.as_str())
        .collect();
    assert_eq!(ids[0], "z1", "{ids:?}");
}

fn profile_of(interests: &[String]) -> Profile {
    Profile {
        interests: interests.to_vec(),
        ..Default::default()
    }
}
