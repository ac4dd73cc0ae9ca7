//! `POST /api/v1/interactions` against the real router, PostgreSQL + pgvector and
//! model: one at a time and in bulk, idempotent, bad lines by number, documented.

use axum::body::Body;
use http::{Method, StatusCode};
use serde_json::json;
use test_support::fixtures::fixture_jsonl;
use test_support::router::*;

const PATH: &str = "/api/v1/interactions";

async fn bulk(api: &TestApi, body: &str, content_type: &'static str) -> Reply {
    let mut req = request(
        Method::POST,
        PATH,
        Some(&api.write_key),
        Body::from(body.to_string()),
    );
    req.headers_mut()
        .insert(http::header::CONTENT_TYPE, content_type.parse().unwrap());
    send_raw(&api.router, req).await
}

#[tokio::test]
async fn interactions_one_at_a_time_and_in_bulk() {
    let api = api().await;
    let (r, key) = (&api.router, Some(api.write_key.as_str()));
    let res = bulk(&api, &fixture_jsonl(), "application/x-ndjson").await;
    // Posting the catalog to the interactions endpoint is all bad lines, not a 500.
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(res.json["added"], 0);
    let mut items = request(
        Method::POST,
        "/api/v1/items",
        key,
        Body::from(fixture_jsonl()),
    );
    items.headers_mut().insert(
        http::header::CONTENT_TYPE,
        "application/x-ndjson".parse().unwrap(),
    );
    assert_eq!(send_raw(r, items).await.status, StatusCode::OK);

    // One at a time: 201, then 200 for the same event.
    let one = json!({"user": "alice", "item": "banana", "ts": 1714564800, "rating": 4.5});
    let res = send(r, Method::POST, PATH, key, Some(one.clone())).await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    assert_eq!(res.json["added"], 1);
    let res = send(r, Method::POST, PATH, key, Some(one)).await;
    assert_eq!(
        (res.status, res.json["unchanged"].clone()),
        (StatusCode::OK, json!(1))
    );
    // Invalid: 422 saying what to fix; unknown item: 404.
    let res = send(
        r,
        Method::POST,
        PATH,
        key,
        Some(json!({"user": "alice", "item": "banana", "ts": "yesterday"})),
    )
    .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{res:?}");
    assert!(res.message().contains("RFC 3339"), "{res:?}");
    let res = send(
        r,
        Method::POST,
        PATH,
        key,
        Some(json!({"user": "alice", "item": "nope", "ts": 1})),
    )
    .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{res:?}");

    // Bulk JSON Lines and CSV: bad lines by number, the rest stored.
    let lines = concat!(
        "{\"user\":\"bob\",\"item\":\"banana\",\"ts\":1}\n",
        "{\"user\":\"bob\",\"item\":\"sourdough\"}\n",
        "{\"user\":\"bob\",\"item\":\"ghost\",\"ts\":2}\n",
        "{\"user\":\"bob\",\"item\":\"sourdough\",\"ts\":3,\"kind\":\"dismissed\"}\n",
    );
    let res = bulk(&api, lines, "application/x-ndjson").await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(res.json["added"], 2);
    let bad: Vec<u64> = res.json["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert_eq!(bad, vec![2, 3]);
    let res = bulk(
        &api,
        "user,item,ts\ncarol,banana,5\ncarol,jazz\n",
        "text/csv",
    )
    .await;
    assert_eq!(
        (
            res.json["added"].clone(),
            res.json["rejected"][0]["line"].clone()
        ),
        (json!(1), json!(3)),
        "{res:?}"
    );
    assert_eq!(api.engine.interaction_count().await.unwrap(), 4);
    // Not impressions or clicks: the dashboard's rates do not see them.
    let shown: i64 = sqlx::query_scalar("SELECT count(*) FROM impressions")
        .fetch_one(api.engine.store.pool())
        .await
        .unwrap();
    assert_eq!(shown, 0);

    // Documented, and behind a key.
    let doc = send(r, Method::GET, "/api/v1/openapi.json", None, None).await;
    assert!(
        doc.json["paths"][PATH]["post"].is_object(),
        "{:?}",
        doc.json["paths"]
    );
    let res = send(r, Method::POST, PATH, None, Some(json!({}))).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}
