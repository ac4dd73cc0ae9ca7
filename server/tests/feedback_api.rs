//! Feedback through the JSON API, against the real router, PostgreSQL + pgvector and
//! model: "not interested in" in an inline profile, dismissing and undoing through
//! `/api/v1/users/{user}/dismissals/{item}`, the list's warning and shown score.

use axum::body::Body;
use http::{Method, StatusCode};
use serde_json::{json, Value};
use test_support::fixtures::fixture_jsonl;
use test_support::router::*;

async fn import_fixture(api: &TestApi) {
    let mut items = request(
        Method::POST,
        "/api/v1/items",
        Some(&api.write_key),
        Body::from(fixture_jsonl()),
    );
    items.headers_mut().insert(
        http::header::CONTENT_TYPE,
        "application/x-ndjson".parse().unwrap(),
    );
    assert_eq!(send_raw(&api.router, items).await.status, StatusCode::OK);
}

fn ids(res: &Reply) -> Vec<String> {
    res.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["item"]["id"].as_str().unwrap().to_string())
        .collect()
}

fn scores(res: &Reply) -> Vec<f64> {
    res.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["score"].as_f64().unwrap())
        .collect()
}

#[tokio::test]
async fn not_interested_dismissals_and_warnings_over_the_api() {
    let api = api().await;
    import_fixture(&api).await;
    let (r, key) = (&api.router, Some(api.write_key.as_str()));
    let rec = |body: Value| send(r, Method::POST, "/api/v1/recommendations", key, Some(body));

    // "aviation": planes, jets and the glider lead; not interested in gliders and
    // engines pushes the glider and the jet engine lesson below the rest.
    let plain = rec(json!({"profile": {"interests": ["aviation"]}, "k": 12})).await;
    assert_eq!(plain.status, StatusCode::OK, "{plain:?}");
    let plain_ids = ids(&plain);
    assert!(
        plain.json["warning"].is_null(),
        "{:?}",
        plain.json["warning"]
    );
    let s = scores(&plain);
    assert!(s.windows(2).all(|w| w[1] <= w[0]), "{s:?}");
    let negative = rec(json!({
        "profile": {"interests": ["aviation"], "not_interested": ["gliders and soaring"]},
        "k": 12
    }))
    .await;
    assert_eq!(negative.status, StatusCode::OK, "{negative:?}");
    let pos = |list: &[String], id: &str| list.iter().position(|x| x == id).unwrap();
    assert!(
        pos(&ids(&negative), "glider") > pos(&plain_ids, "glider") + 2,
        "{plain_ids:?} → {:?}",
        ids(&negative)
    );
    // Limits as for interests: 422 naming the field.
    let many: Vec<String> = (0..51).map(|i| format!("topic {i}")).collect();
    let res = rec(json!({"profile": {"interests": ["x"], "not_interested": many}})).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{res:?}");
    assert!(res.message().contains("not-interested"), "{res:?}");

    // Dismiss through the API: the item leaves ada's lists; undo brings it back.
    let path = "/api/v1/users/ada/dismissals/planes";
    let res = send(r, Method::PUT, path, key, None).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{res:?}");
    let stored = json!({"user": "ada", "profile": {"interests": ["aviation"]}, "k": 12});
    assert!(!ids(&rec(stored.clone()).await).contains(&"planes".to_string()));
    let res = send(r, Method::DELETE, path, key, None).await;
    assert_eq!(
        (res.status, res.json["undone"].clone()),
        (StatusCode::OK, json!(true))
    );
    assert!(ids(&rec(stored).await).contains(&"planes".to_string()));
    let res = send(r, Method::DELETE, path, key, None).await;
    assert_eq!(res.json["undone"], json!(false));
    // Unknown item: 404; unknown user on undo: 404; no key: 401.
    let res = send(
        r,
        Method::PUT,
        "/api/v1/users/ada/dismissals/nope",
        key,
        None,
    )
    .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{res:?}");
    let res = send(
        r,
        Method::DELETE,
        "/api/v1/users/nobody/dismissals/planes",
        key,
        None,
    )
    .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{res:?}");
    let res = send(r, Method::PUT, path, None, None).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);

    // A German profile with the English-only model: the list says so.
    let german = rec(json!({"profile": {"interests": ["Weltraum und Raketen"]}})).await;
    assert_eq!(german.status, StatusCode::OK);
    assert_eq!(
        german.json["warning"]["code"], "unsupported_language",
        "{:?}",
        german.json
    );
    assert!(german.json["warning"]["message"]
        .as_str()
        .unwrap()
        .contains("multilingual"));
}
