//! Popularity integrity (issue #14, row 6): clicks in a loop must not push an item
//! into everyone's lists. Anonymous clicks count for nobody, and one signed-in
//! user counts once however often they click, and alone moves nothing. Real
//! PostgreSQL + pgvector and the real model.

use engine::catalog::{ItemInput, ParsedImport};
use engine::events::{ImpressionContext, ShownItem};
use engine::profile::Profile;
use engine::recommend::RecommendOptions;
use engine::{Engine, EngineSettings};

const TOPICS: [&str; 60] = [
    "volcanoes and lava flows",
    "baroque harpsichord music",
    "sourdough bread baking",
    "deep sea creatures",
    "medieval castle sieges",
    "jazz saxophone improvisation",
    "rocket engines and spaceflight",
    "alpine mountaineering",
    "origami paper folding",
    "honeybee colonies",
    "chess endgame technique",
    "tropical rainforest birds",
    "vintage steam locomotives",
    "quantum computing basics",
    "japanese tea ceremony",
    "arctic sled dogs",
    "renaissance oil painting",
    "urban vegetable gardening",
    "formula one racing",
    "ancient egyptian pyramids",
    "coral reef snorkelling",
    "stand-up comedy writing",
    "desert survival skills",
    "opera singing technique",
    "wild mushroom foraging",
    "submarine warfare history",
    "knitting wool sweaters",
    "black holes and galaxies",
    "surfing big waves",
    "cheese making at home",
    "samurai sword fighting",
    "hot air ballooning",
    "crime noir detectives",
    "pottery on the wheel",
    "marathon running training",
    "gothic horror novels",
    "beekeeping equipment",
    "viking longships",
    "electric guitar solos",
    "bonsai tree care",
    "antarctic expeditions",
    "street food in bangkok",
    "cyberpunk hacker thrillers",
    "classical ballet",
    "fly fishing for trout",
    "roman gladiators",
    "home espresso brewing",
    "tornado storm chasing",
    "wooden boat building",
    "romantic comedies in paris",
    "dinosaur fossils",
    "hip hop beat making",
    "wine tasting in bordeaux",
    "space station life",
    "cowboys in the wild west",
    "robot vacuum cleaners",
    "butterfly migration",
    "poker tournament strategy",
    "lighthouse keepers",
    "zombie apocalypse survival",
];

fn catalog() -> ParsedImport {
    ParsedImport {
        items: TOPICS
            .iter()
            .enumerate()
            .map(|(i, topic)| {
                let item = ItemInput {
                    id: format!("t{i}"),
                    title: format!("All about {topic}"),
                    description: format!("A film about {topic}."),
                    ..Default::default()
                }
                .validate()
                .unwrap();
                (i + 1, item)
            })
            .collect(),
        rejected: vec![],
    }
}

/// The control user's list, as other users would see theirs.
async fn control_list(engine: &Engine, control: i64, k: usize) -> Vec<String> {
    engine
        .preview_for_user(
            control,
            &RecommendOptions {
                k,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|r| r.item.external_id)
        .collect()
}

/// One loop of the attack: the item shown in a list (an item page's "more like
/// this", say), then its link followed with `?imp=`.
async fn click_loop(engine: &Engine, user: Option<i64>, item_id: i64, external_id: &str) {
    let impression = engine
        .record_impression(
            user,
            ImpressionContext::Similar,
            None,
            &[ShownItem {
                item_id,
                rank: 1,
                score: 0.5,
                features: None,
            }],
        )
        .await
        .unwrap();
    engine
        .record_click(impression, external_id, user)
        .await
        .unwrap();
}

fn rank_of(list: &[String], id: &str) -> Option<usize> {
    list.iter().position(|x| x == id).map(|i| i + 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn click_loops_do_not_push_an_item_into_other_users_lists() {
    // The product default weighs the prior 0 (the collaborative channel took its
    // place); deployments that turn it on must still be safe from click loops.
    let db = test_support::db::engine_with(EngineSettings {
        popularity_weight: 0.7,
        ..EngineSettings::default()
    })
    .await;
    let engine = &db.engine;
    engine
        .import_items(catalog(), |_| {})
        .await
        .expect("import");
    let control = engine.user_by_handle("control", true).await.unwrap();
    engine
        .save_profile(
            control.id,
            &Profile {
                interests: vec!["jazz".into(), "space exploration".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let before = control_list(engine, control.id, 40).await;
    let target = before[24].clone();
    assert_eq!(rank_of(&before, &target), Some(25));
    let target_id = engine.item_by_external_id(&target).await.unwrap().id;

    for _ in 0..50 {
        click_loop(engine, None, target_id, &target).await;
    }
    let after_anonymous = control_list(engine, control.id, 40).await;
    let rank = rank_of(&after_anonymous, &target);
    assert!(
        rank.is_none_or(|r| r > 10),
        "50 anonymous clicks moved '{target}' from rank 25 to {rank:?}"
    );

    let clicker = engine.user_by_handle("clicker", true).await.unwrap();
    for _ in 0..50 {
        click_loop(engine, Some(clicker.id), target_id, &target).await;
    }
    let after_one_handle = control_list(engine, control.id, 40).await;
    let rank = rank_of(&after_one_handle, &target);
    assert!(
        rank.is_none_or(|r| r > 10),
        "50 clicks by one handle moved '{target}' from rank 25 to {rank:?}"
    );
    let users: i32 = sqlx::query_scalar("SELECT users FROM item_popularity WHERE item_id = $1")
        .bind(target_id)
        .fetch_one(engine.store.pool())
        .await
        .unwrap();
    assert_eq!(users, 1, "one signed-in user, counted once");

    // The prior still works: many distinct users do lift the item, so the
    // assertions above would have seen a rise.
    for i in 0..30 {
        let user = engine
            .user_by_handle(&format!("fan-{i}"), true)
            .await
            .unwrap();
        click_loop(engine, Some(user.id), target_id, &target).await;
    }
    let after_fans = control_list(engine, control.id, 40).await;
    let rank = rank_of(&after_fans, &target);
    assert!(
        rank.is_some_and(|r| r <= 10),
        "31 distinct users should lift '{target}' into the top 10, got {rank:?}"
    );
    // A full recount agrees with the incremental counts.
    engine.rebuild_popularity().await.unwrap();
    let users: i32 = sqlx::query_scalar("SELECT users FROM item_popularity WHERE item_id = $1")
        .bind(target_id)
        .fetch_one(engine.store.pool())
        .await
        .unwrap();
    assert_eq!(users, 31);
}
