//! The JSON API against the real router, a real PostgreSQL + pgvector cluster
//! and the real model: auth, validation, limits, the click path into metrics,
//! the OpenAPI document, and a database outage with recovery.

use axum::body::Body;
use engine::api_keys::Scope;
use http::{Method, StatusCode};
use pg_local::{ClusterOptions, LocalCluster};
use serde_json::{json, Value};
use server::admission::Admission;
use server::api::ApiConfig;
use test_support::db::connect;
use test_support::fixtures::fixture_jsonl;
use test_support::router::*;
use test_support::scratch::Scratch;

const ITEMS: &str = "/api/v1/items";

#[tokio::test]
async fn keys_are_required_and_scopes_enforced() {
    let t = api().await;
    let r = &t.router;

    // Public: health and the document.
    assert_eq!(
        send(r, Method::GET, "/api/v1/health/live", None, None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        send(r, Method::GET, "/api/v1/health/ready", None, None)
            .await
            .status,
        StatusCode::OK
    );

    let none = send(r, Method::GET, "/api/v1/items/planes", None, None).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED, "{none:?}");
    assert_eq!(none.code(), "unauthorized");
    assert!(none.message().contains("Authorization: Bearer"), "{none:?}");
    assert!(none.headers.contains_key(http::header::WWW_AUTHENTICATE));

    let unknown = send(
        r,
        Method::GET,
        "/api/v1/items/planes",
        Some("semrec_0000"),
        None,
    )
    .await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED, "{unknown:?}");
    assert!(unknown.message().contains("unknown or revoked"));

    let mut basic = request(Method::GET, "/api/v1/items/planes", None, Body::empty());
    basic.headers_mut().insert(
        http::header::AUTHORIZATION,
        "Basic YWRtaW46eA==".parse().unwrap(),
    );
    assert_eq!(send_raw(r, basic).await.status, StatusCode::UNAUTHORIZED);

    // A write key may not read metrics; an admin key may do everything.
    let forbidden = send(r, Method::GET, "/api/v1/metrics", Some(&t.write_key), None).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN, "{forbidden:?}");
    assert_eq!(forbidden.code(), "forbidden");
    assert!(
        forbidden.message().contains("scope 'admin'"),
        "{forbidden:?}"
    );
    assert_eq!(
        send(r, Method::GET, "/api/v1/metrics", Some(&t.admin_key), None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        send(
            r,
            Method::GET,
            "/api/v1/items/planes",
            Some(&t.admin_key),
            None
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );

    // Revoked keys stop working at once; usage is recorded.
    let keys = t.engine.store.list_api_keys().await.unwrap();
    let admin = keys.iter().find(|k| k.scope == Scope::Admin).unwrap();
    assert!(admin.last_used_at.is_some());
    assert!(keys
        .iter()
        .all(|k| !k.prefix.is_empty() && t.admin_key.starts_with(&k.prefix[..7])));
    t.engine.store.revoke_api_key("ops").await.unwrap();
    let revoked = send(r, Method::GET, "/api/v1/metrics", Some(&t.admin_key), None).await;
    assert_eq!(revoked.status, StatusCode::UNAUTHORIZED);
    // Only the hash is stored.
    let stored: Vec<String> = sqlx::query_scalar("SELECT key_hash FROM api_keys")
        .fetch_all(t.engine.store.pool())
        .await
        .unwrap();
    assert!(stored
        .iter()
        .all(|h| h.len() == 64 && !h.contains(&t.write_key[7..])));
}

#[tokio::test]
async fn bad_requests_get_clear_json_errors() {
    let t = api().await;
    let (r, key) = (&t.router, Some(t.write_key.as_str()));
    let rec = "/api/v1/recommendations";

    let mut bad_json = request(Method::POST, rec, key, Body::from("{\"user\": "));
    bad_json.headers_mut().insert(
        http::header::CONTENT_TYPE,
        "application/json".parse().unwrap(),
    );
    let e = send_raw(r, bad_json).await;
    assert_eq!(e.status, StatusCode::BAD_REQUEST, "{e:?}");
    assert_eq!(e.code(), "bad_request");
    assert!(e.message().contains("not valid JSON"), "{e:?}");

    let profile = json!({"interests": ["aviation"]});
    let e = send(
        r,
        Method::POST,
        rec,
        key,
        Some(json!({"profile": profile, "k": 0})),
    )
    .await;
    assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY, "{e:?}");
    assert_eq!(e.code(), "invalid");
    assert!(
        e.message().contains("k: must be between 1 and 100"),
        "{e:?}"
    );

    let e = send(
        r,
        Method::POST,
        rec,
        key,
        Some(json!({"profile": profile, "kk": 3})),
    )
    .await;
    assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY, "{e:?}");
    assert!(e.message().contains("unknown field `kk`"), "{e:?}");

    let e = send(
        r,
        Method::POST,
        rec,
        key,
        Some(json!({"profile": profile, "diversity": 2.0})),
    )
    .await;
    assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY, "{e:?}");
    assert!(e.message().contains("diversity"), "{e:?}");

    let e = send(r, Method::POST, rec, key, None).await;
    assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY, "{e:?}");
    assert!(e.message().contains("'user'"), "{e:?}");

    let e = send(r, Method::POST, rec, key, Some(json!({"user": "nobody"}))).await;
    assert_eq!(e.status, StatusCode::NOT_FOUND, "{e:?}");
    assert_eq!(e.message(), "user 'nobody' not found");

    let e = send(r, Method::POST, rec, key, Some(json!({"profile": {}}))).await;
    assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY, "{e:?}");
    assert!(e.message().contains("profile is empty"), "{e:?}");

    let e = send(
        r,
        Method::PUT,
        &format!("{ITEMS}/a1"),
        key,
        Some(json!({"title": "A", "language": "English"})),
    )
    .await;
    assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY, "{e:?}");
    assert!(e.message().contains("language"), "{e:?}");

    let e = send(
        r,
        Method::PUT,
        &format!("{ITEMS}/a1"),
        key,
        Some(json!({"id": "a2", "title": "A"})),
    )
    .await;
    assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY, "{e:?}");
    assert!(e.message().contains("differs"), "{e:?}");

    let e = send(r, Method::GET, &format!("{ITEMS}/missing"), key, None).await;
    assert_eq!((e.status, e.code()), (StatusCode::NOT_FOUND, "not_found"));
    assert_eq!(e.message(), "item 'missing' not found");
    let e = send(r, Method::DELETE, &format!("{ITEMS}/missing"), key, None).await;
    assert_eq!(e.status, StatusCode::NOT_FOUND);
    let e = send(
        r,
        Method::POST,
        &format!("{ITEMS}/missing/similar"),
        key,
        None,
    )
    .await;
    assert_eq!(e.status, StatusCode::NOT_FOUND);

    // Unknown endpoints and methods answer in the same JSON shape.
    let e = send(r, Method::GET, "/api/v1/nothing-here", key, None).await;
    assert_eq!((e.status, e.code()), (StatusCode::NOT_FOUND, "not_found"));
    let e = send(r, Method::PATCH, &format!("{ITEMS}/a1"), key, None).await;
    assert_eq!(
        (e.status, e.code()),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
        "{e:?}"
    );

    let e = send(
        r,
        Method::GET,
        "/api/v1/metrics?from=yesterday",
        Some(&t.admin_key),
        None,
    )
    .await;
    assert_eq!(e.status, StatusCode::BAD_REQUEST, "{e:?}");
    let e = send(
        r,
        Method::GET,
        "/api/v1/metrics/drift?recent_days=0",
        Some(&t.admin_key),
        None,
    )
    .await;
    assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY, "{e:?}");
}

#[tokio::test]
async fn oversize_bodies_get_413_and_imports_have_a_larger_limit() {
    let t = api().await;
    let (r, key) = (&t.router, Some(t.write_key.as_str()));
    let big = json!({"user": "ada", "profile": {"about": "x".repeat(3 * 1024 * 1024)}});
    let e = send(r, Method::POST, "/api/v1/recommendations", key, Some(big)).await;
    assert_eq!(e.status, StatusCode::PAYLOAD_TOO_LARGE, "{e:?}");
    assert_eq!(e.code(), "payload_too_large");
    assert!(e.message().contains("2097152 bytes"), "{e:?}");

    // 3 MB is fine for an import: the oversize line is rejected, the good one imported.
    let body = format!(
        "{{\"id\":\"huge\",\"title\":\"{}\"}}\n{{\"id\":\"ok\",\"title\":\"A small item\"}}\n",
        "y".repeat(3 * 1024 * 1024)
    );
    let res = send_raw(r, request(Method::POST, ITEMS, key, Body::from(body))).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(res.json["added"], 1);
    assert_eq!(res.json["rejected"][0]["line"], 1);
    assert!(res.json["rejected"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("larger than"));
}

#[tokio::test]
async fn rate_limit_answers_429_per_key_and_per_address() {
    let t = api_with(ApiConfig {
        rate_per_second: 0.01,
        burst: 3,
    })
    .await;
    let r = &t.router;
    let path = format!("{ITEMS}/missing");
    for _ in 0..3 {
        let ok = send(r, Method::GET, &path, Some(&t.write_key), None).await;
        assert_eq!(ok.status, StatusCode::NOT_FOUND, "{ok:?}");
    }
    let limited = send(r, Method::GET, &path, Some(&t.write_key), None).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS, "{limited:?}");
    assert_eq!(limited.code(), "rate_limited");
    let retry: u64 = limited.headers[http::header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1, "{retry}");
    // Another key has its own bucket.
    let other = send(r, Method::GET, &path, Some(&t.admin_key), None).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);

    // Without a valid key, the client's address is limited.
    let from = |ip: [u8; 4]| {
        let mut req = request(Method::GET, &path, None, Body::empty());
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
                ip, 40000,
            ))));
        req
    };
    for _ in 0..3 {
        assert_eq!(
            send_raw(r, from([10, 0, 0, 1])).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        send_raw(r, from([10, 0, 0, 1])).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        send_raw(r, from([10, 0, 0, 2])).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn ranking_requests_beyond_the_in_flight_limit_get_429_before_any_work() {
    let admission = Admission::new(1);
    let t = api_admitting(
        ApiConfig {
            rate_per_second: 1000.0,
            burst: 1000,
        },
        admission.clone(),
    )
    .await;
    let (r, key) = (&t.router, Some(t.write_key.as_str()));
    import_fixture(r, key).await;
    let wanted = json!({"user": "ada", "profile": {"interests": ["aircraft"]}, "k": 3});
    let rec = "/api/v1/recommendations";
    let similar = format!("{ITEMS}/planes/similar");

    // Another request holds the only place.
    let held = admission.try_admit().expect("a free place");
    for (path, body) in [(rec, wanted.clone()), (similar.as_str(), json!({"k": 3}))] {
        let e = send(r, Method::POST, path, key, Some(body)).await;
        assert_eq!(e.status, StatusCode::TOO_MANY_REQUESTS, "{path}: {e:?}");
        assert_eq!(e.code(), "busy");
        assert_eq!(e.headers["retry-after"], "1");
    }
    // Refused before anything else is looked at, the key included.
    let e = send(
        r,
        Method::POST,
        rec,
        Some("not-a-key"),
        Some(wanted.clone()),
    )
    .await;
    assert_eq!(e.status, StatusCode::TOO_MANY_REQUESTS, "{e:?}");
    // The web app's server function gets the error in the encoding its client decodes.
    let mut req = request(
        Method::POST,
        "/api/get_recommendations",
        None,
        Body::from("offset=0&language=&source="),
    );
    req.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    let res = tower::ServiceExt::oneshot(r.clone(), req).await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()["retry-after"], "1");
    let body = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(
        &body[..],
        b"ServerError|The server is busy, try again in a moment."
    );
    // Other requests are not limited.
    let item = send(r, Method::GET, &format!("{ITEMS}/planes"), key, None).await;
    assert_eq!(item.status, StatusCode::OK, "{item:?}");
    // Nothing was served, so nothing was recorded.
    let dashboard = send(r, Method::GET, "/api/v1/metrics", Some(&t.admin_key), None).await;
    assert_eq!(dashboard.status, StatusCode::OK, "{dashboard:?}");
    assert_eq!(
        dashboard.json["overview"]["impressions"], 0,
        "{dashboard:?}"
    );

    drop(held);
    let list = send(r, Method::POST, rec, key, Some(wanted)).await;
    assert_eq!(list.status, StatusCode::OK, "{list:?}");
    assert_eq!(ids(&list.json).len(), 3);
    let again = admission.try_admit();
    assert!(again.is_some(), "the served request gave its place back");
}

#[tokio::test]
async fn items_import_upsert_and_delete() {
    let t = api().await;
    let (r, key) = (&t.router, Some(t.write_key.as_str()));
    let good = fixture_jsonl();
    let n_good = good.lines().filter(|l| !l.trim().is_empty()).count();
    let body = format!(
        "{good}not json\n{{\"id\":\"no-title\"}}\n{{\"id\":\"planes\",\"title\":\"Duplicate\"}}\n"
    );
    let res = send_raw(r, request(Method::POST, ITEMS, key, Body::from(body))).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(res.json["added"], n_good);
    assert_eq!(
        (res.json["updated"].clone(), res.json["unchanged"].clone()),
        (json!(0), json!(0))
    );
    let lines: Vec<u64> = res.json["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert_eq!(
        lines,
        vec![n_good as u64 + 1, n_good as u64 + 2, n_good as u64 + 3]
    );
    assert!(res.json["rejected"][2]["reason"]
        .as_str()
        .unwrap()
        .contains("duplicate id"));

    // Re-import: nothing re-embedded.
    let res = send_raw(r, request(Method::POST, ITEMS, key, Body::from(good))).await;
    assert_eq!(res.json["unchanged"], n_good, "{res:?}");

    // CSV, chosen by Content-Type.
    let mut csv = request(
        Method::POST,
        ITEMS,
        key,
        Body::from("id,title,tags,year\ncsv1,Gliders and thermals,aviation|sport,2001\ncsv2,,,\n"),
    );
    csv.headers_mut()
        .insert(http::header::CONTENT_TYPE, "text/csv".parse().unwrap());
    let res = send_raw(r, csv).await;
    assert_eq!(
        (
            res.json["added"].clone(),
            res.json["rejected"][0]["line"].clone()
        ),
        (json!(1), json!(3)),
        "{res:?}"
    );

    let path = format!("{ITEMS}/new-1");
    let item = json!({"title": "Sailplanes", "description": "Flying without an engine", "tags": ["Aviation"]});
    let res = send(r, Method::PUT, &path, key, Some(item.clone())).await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    assert_eq!(
        res.json,
        json!({"id": "new-1", "outcome": "added", "embedded": true})
    );
    let res = send(r, Method::PUT, &path, key, Some(item.clone())).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json["outcome"], "unchanged");
    assert_eq!(res.json["embedded"], false);
    let mut with_url = item.clone();
    with_url["url"] = json!("https://example.org/sailplanes");
    let res = send(r, Method::PUT, &path, key, Some(with_url.clone())).await;
    assert_eq!(
        (res.json["outcome"].clone(), res.json["embedded"].clone()),
        (json!("updated"), json!(false))
    );
    // PUT replaces the whole item: fields left out are cleared.
    let mut retitled = with_url;
    retitled["title"] = json!("Sailplanes and gliders");
    let res = send(r, Method::PUT, &path, key, Some(retitled)).await;
    assert_eq!(
        (res.json["outcome"].clone(), res.json["embedded"].clone()),
        (json!("updated"), json!(true))
    );

    let got = send(r, Method::GET, &path, key, None).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.json["title"], "Sailplanes and gliders");
    assert_eq!(got.json["tags"], json!(["aviation"]));
    assert_eq!(got.json["url"], "https://example.org/sailplanes");

    assert_eq!(
        send(r, Method::DELETE, &path, key, None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        send(r, Method::GET, &path, key, None).await.status,
        StatusCode::NOT_FOUND
    );
}

/// Imports the fixture catalog through the API.
async fn import_fixture(r: &axum::Router, key: Option<&str>) {
    let res = send_raw(
        r,
        request(Method::POST, ITEMS, key, Body::from(fixture_jsonl())),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
}

fn ids(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["item"]["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn recommend_click_and_metrics() {
    let t = api().await;
    let (r, key) = (&t.router, Some(t.write_key.as_str()));
    import_fixture(r, key).await;

    let list = send(
        r,
        Method::POST,
        "/api/v1/recommendations",
        key,
        Some(json!({"user": "ada", "profile": {"interests": ["aircraft"], "history": [{"text": "Top Gun"}]}, "k": 3})),
    )
    .await;
    assert_eq!(list.status, StatusCode::OK, "{list:?}");
    // Server-Timing: every part present, each a duration, the parts within the total.
    let timing = list.headers["server-timing"].to_str().unwrap().to_string();
    let durations: Vec<(String, f64)> = timing
        .split(", ")
        .map(|part| {
            let (name, dur) = part
                .split_once(";dur=")
                .unwrap_or_else(|| panic!("{timing}"));
            (
                name.to_string(),
                dur.parse().unwrap_or_else(|_| panic!("{timing}")),
            )
        })
        .collect();
    let names: Vec<&str> = durations.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["embed", "history", "rank", "record", "total"],
        "{timing}"
    );
    let (parts, total) = durations.split_at(4);
    assert!(
        parts.iter().all(|(_, d)| *d >= 0.0) && total[0].1 > 0.0,
        "{timing}"
    );
    assert!(
        parts.iter().map(|(_, d)| d).sum::<f64>() <= total[0].1 + 0.05,
        "{timing}"
    );
    let shown = ids(&list.json);
    assert_eq!(shown.len(), 3);
    assert!(shown.contains(&"planes".to_string()), "{shown:?}");
    let first = &list.json["items"][0];
    assert_eq!(first["rank"], 1);
    assert!(first["score"].as_f64().unwrap() > 0.0);
    assert!(
        ["interest", "history"].contains(&first["explanation"]["kind"].as_str().unwrap()),
        "{first}"
    );
    let impression = list.json["impression_id"].as_str().unwrap().to_string();

    let click = |item: &str| json!({"impression_id": impression, "item_id": item, "user": "ada"});
    let c = send(
        r,
        Method::POST,
        "/api/v1/events/clicks",
        key,
        Some(click(&shown[0])),
    )
    .await;
    assert_eq!(c.status, StatusCode::CREATED, "{c:?}");
    let again = send(
        r,
        Method::POST,
        "/api/v1/events/clicks",
        key,
        Some(click(&shown[0])),
    )
    .await;
    assert_eq!(
        (again.status, again.code()),
        (StatusCode::CONFLICT, "already_clicked"),
        "{again:?}"
    );
    let unserved = send(
        r,
        Method::POST,
        "/api/v1/events/clicks",
        key,
        Some(click("banana")),
    )
    .await;
    assert!(!shown.contains(&"banana".to_string()));
    assert_eq!(
        unserved.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{unserved:?}"
    );
    assert!(unserved.message().contains("was not shown"), "{unserved:?}");
    let bad_id = send(
        r,
        Method::POST,
        "/api/v1/events/clicks",
        key,
        Some(json!({"impression_id": "nope", "item_id": "planes"})),
    )
    .await;
    assert_eq!(
        bad_id.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{bad_id:?}"
    );

    // A list the front end rendered itself, then a click on it.
    let own = send(
        r,
        Method::POST,
        "/api/v1/events/impressions",
        key,
        Some(json!({"user": "bob", "items": [{"id": "banana", "score": 0.5}, {"id": "jets"}]})),
    )
    .await;
    assert_eq!(own.status, StatusCode::CREATED, "{own:?}");
    let own_id = own.json["impression_id"].as_str().unwrap();
    let c = send(
        r,
        Method::POST,
        "/api/v1/events/clicks",
        key,
        Some(json!({"impression_id": own_id, "item_id": "jets"})),
    )
    .await;
    assert_eq!(c.status, StatusCode::CREATED, "{c:?}");
    let e = send(
        r,
        Method::POST,
        "/api/v1/events/impressions",
        key,
        Some(json!({"items": [{"id": "nope"}]})),
    )
    .await;
    assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(e.message().contains("not in the catalog"), "{e:?}");

    // The stored profile path, and more-like-this (the item itself left out).
    t.engine
        .save_profile(
            t.engine.user_by_handle("carol", true).await.unwrap().id,
            &engine::profile::Profile {
                interests: vec!["baking".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let stored = send(
        r,
        Method::POST,
        "/api/v1/recommendations",
        key,
        Some(json!({"user": "carol", "k": 2})),
    )
    .await;
    assert_eq!(stored.status, StatusCode::OK, "{stored:?}");
    // Both baking items match "baking" in meaning and in words; either may lead.
    assert!(
        ["banana", "sourdough"].contains(&ids(&stored.json)[0].as_str()),
        "{stored:?}"
    );
    let similar = send(
        r,
        Method::POST,
        &format!("{ITEMS}/planes/similar"),
        key,
        Some(json!({"k": 4})),
    )
    .await;
    assert_eq!(similar.status, StatusCode::OK, "{similar:?}");
    assert_eq!(ids(&similar.json).len(), 4);
    assert!(!ids(&similar.json).contains(&"planes".to_string()));

    // Shown: 3 (ada) + 2 (bob) + 2 (carol) + 4 (similar) = 11; clicks: 2.
    let m = send(r, Method::GET, "/api/v1/metrics", Some(&t.admin_key), None).await;
    assert_eq!(m.status, StatusCode::OK, "{m:?}");
    let o = &m.json["overview"];
    assert_eq!(
        (
            o["impressions"].clone(),
            o["shown"].clone(),
            o["clicks"].clone()
        ),
        (json!(4), json!(11), json!(2)),
        "{o}"
    );
    assert!((o["interaction_rate"].as_f64().unwrap() - 2.0 / 11.0).abs() < 1e-9);
    // Profiles were embedded: the query-embedding cache has answered lookups.
    let hit_rate = o["embedding_cache_hit_rate"].as_f64();
    assert!(hit_rate.is_some_and(|r| (0.0..=1.0).contains(&r)), "{o}");
    let rank1 = m.json["by_rank"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["key"] == "1")
        .unwrap();
    assert_eq!(
        (rank1["shown"].clone(), rank1["clicked"].clone()),
        (json!(4), json!(1))
    );
    let drift = send(
        r,
        Method::GET,
        "/api/v1/metrics/drift?recent_days=7&reference_days=28",
        Some(&t.admin_key),
        None,
    )
    .await;
    assert_eq!(drift.status, StatusCode::OK, "{drift:?}");
    assert_eq!(drift.json["interaction_rate"]["recent"]["shown"], 11);
}

#[tokio::test]
async fn inline_profiles_filters_and_texts_are_checked_like_stored_ones() {
    let t = api().await;
    let (r, key) = (&t.router, Some(t.write_key.as_str()));
    import_fixture(r, key).await;
    let all: Vec<String> = fixture_jsonl()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let recommend = |body: Value| send(r, Method::POST, "/api/v1/recommendations", key, Some(body));

    // Consumed items beyond the history window (10) are not recommended back either.
    let (consumed, rest) = all.split_at(11);
    let history: Vec<Value> = consumed.iter().map(|id| json!({"item": id})).collect();
    let list =
        recommend(json!({"profile": {"interests": ["aircraft"], "history": history}, "k": 100}))
            .await;
    assert_eq!(list.status, StatusCode::OK, "{list:?}");
    assert_eq!(
        ids(&list.json),
        rest.to_vec(),
        "only the unconsumed item is left"
    );

    // Filters match whatever case and spacing the client sends.
    let lower = recommend(json!({"profile": {"interests": ["aircraft"]}, "k": 100, "filters": {"languages": ["fr"], "tags": ["aviation"]}})).await;
    let upper = recommend(json!({"profile": {"interests": ["aircraft"]}, "k": 100, "filters": {"languages": [" FR "], "tags": ["AVIATION"]}})).await;
    assert_eq!(ids(&lower.json), vec!["avions".to_string()], "{lower:?}");
    assert_eq!(ids(&upper.json), ids(&lower.json), "{upper:?}");

    // Texts: empty free-text history, NUL characters, pages past the last stored rank.
    let empty = recommend(json!({"profile": {"history": [{"text": "  "}]}})).await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY, "{empty:?}");
    assert!(empty.message().contains("history[0]"), "{empty:?}");
    let nul = send(
        r,
        Method::PUT,
        &format!("{ITEMS}/x"),
        key,
        Some(json!({"title": "a\u{0}b"})),
    )
    .await;
    assert_eq!(nul.status, StatusCode::UNPROCESSABLE_ENTITY, "{nul:?}");
    assert!(nul.message().contains("NUL"), "{nul:?}");
    let nul_filter =
        recommend(json!({"profile": {"interests": ["x"]}, "filters": {"tags": ["a\u{0}"]}})).await;
    assert_eq!(
        nul_filter.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{nul_filter:?}"
    );
    let deep = recommend(json!({"profile": {"interests": ["x"]}, "k": 100, "offset": 901})).await;
    assert_eq!(deep.status, StatusCode::UNPROCESSABLE_ENTITY, "{deep:?}");
    assert!(deep.message().contains("offset"), "{deep:?}");
}

#[tokio::test]
async fn ready_waits_for_the_demo_catalog_to_be_loaded() {
    let t = api().await;
    let r = &t.router;
    let ready = || send(r, Method::GET, "/api/v1/health/ready", None, None);
    assert_eq!(ready().await.status, StatusCode::OK);
    // What a first start does before it loads the demo catalog in the background.
    t.engine
        .mark_seed_started(engine::seed::DEMO_CATALOG)
        .await
        .unwrap();
    let starting = ready().await;
    assert_eq!(
        (starting.status, starting.code()),
        (StatusCode::SERVICE_UNAVAILABLE, "starting"),
        "{starting:?}"
    );
    assert!(starting.headers.contains_key("retry-after"), "{starting:?}");
    t.engine
        .mark_seed_completed(engine::seed::DEMO_CATALOG)
        .await
        .unwrap();
    assert_eq!(ready().await.status, StatusCode::OK);
}

fn axis(i: usize) -> Vec<f32> {
    let mut v = vec![0.0f32; 384];
    v[i] = 1.0;
    v
}

/// The dashboard's drift panel over the API: on a hand-made log whose
/// interaction rate collapsed, whose queries moved and whose best matches got
/// worse, an admin key reads the three alerts; the windows are parameters.
#[tokio::test]
async fn drift_state_and_alerts_are_readable_with_an_admin_key() {
    use chrono::{Duration, Utc};
    use engine::events::{ImpressionContext, ShownItem};

    let t = api().await;
    let e = &t.engine;
    let parsed = engine::catalog::parse_import(
        std::io::Cursor::new(fixture_jsonl()),
        engine::catalog::ImportFormat::Jsonl,
    )
    .unwrap();
    e.import_items(parsed, |_| {}).await.unwrap();
    let pool = e.store.pool();
    let (item, external): (i64, String) =
        sqlx::query_as("SELECT id, external_id FROM items ORDER BY id LIMIT 1")
            .fetch_one(pool)
            .await
            .unwrap();
    // 20 lists per window (the default minimum to judge a signal). Reference
    // window (10 days ago): queries along axis 0, best match 0.8, every list
    // clicked. Recent window (2 days ago): axis 1, best match 0.5, no click.
    let now = Utc::now();
    for (days_ago, dim, score, clicked) in [(10, 0, 0.8f32, true), (2, 1, 0.5, false)] {
        for _ in 0..20 {
            let imp = e
                .record_impression(
                    None,
                    ImpressionContext::Api,
                    Some(&axis(dim)),
                    &[ShownItem {
                        item_id: item,
                        rank: 1,
                        score,
                        features: None,
                    }],
                )
                .await
                .unwrap();
            if clicked {
                e.record_click(imp, &external, None).await.unwrap();
            }
            // Stored now, so its time can be moved back.
            e.flush_impressions().await.unwrap();
            sqlx::query("UPDATE impressions SET created_at = $2 WHERE id = $1")
                .bind(imp)
                .bind(now - Duration::days(days_ago))
                .execute(pool)
                .await
                .unwrap();
        }
    }

    let path = "/api/v1/metrics/drift";
    let d = send(&t.router, Method::GET, path, Some(&t.admin_key), None).await;
    assert_eq!(d.status, StatusCode::OK, "{d:?}");
    let signals: Vec<&str> = d.json["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["signal"].as_str().unwrap())
        .collect();
    assert_eq!(
        signals,
        ["interaction_rate", "query_centroid", "top1_similarity"],
        "{d:?}"
    );
    assert!(d.json["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["message"].as_str().is_some_and(|m| m.len() > 20)));
    let rate = &d.json["interaction_rate"];
    assert_eq!(
        (
            rate["recent"]["shown"].clone(),
            rate["recent"]["clicked"].clone(),
            rate["reference"]["shown"].clone(),
            rate["reference"]["clicked"].clone(),
            rate["alert"].clone(),
        ),
        (json!(20), json!(0), json!(20), json!(20), json!(true)),
        "{rate}"
    );
    let emb = &d.json["embedding"];
    assert_eq!(emb["queries"]["recent_count"], 20);
    assert_eq!(emb["queries"]["reference_count"], 20);
    // Centroids along two orthogonal axes: cosine distance 1.
    assert!((emb["queries"]["distance"].as_f64().unwrap() - 1.0).abs() < 1e-6);
    assert!((emb["top1"]["recent_mean"].as_f64().unwrap() - 0.5).abs() < 1e-6);
    assert!((emb["top1"]["reference_mean"].as_f64().unwrap() - 0.8).abs() < 1e-6);
    // Every item was imported just now: nothing older to compare them with.
    assert_eq!(emb["items"]["judged"], false);

    // The dashboard carries the same alerts.
    let m = send(
        &t.router,
        Method::GET,
        "/api/v1/metrics",
        Some(&t.admin_key),
        None,
    )
    .await;
    assert_eq!(m.status, StatusCode::OK, "{m:?}");
    assert_eq!(m.json["alerts"], d.json["alerts"]);
    assert_eq!(m.json["embedding_drift"]["queries"], emb["queries"]);

    // A 1-day recent window holds no list: nothing is judged, nothing raised.
    let narrow = send(
        &t.router,
        Method::GET,
        &format!("{path}?recent_days=1&reference_days=20"),
        Some(&t.admin_key),
        None,
    )
    .await;
    assert_eq!(narrow.status, StatusCode::OK, "{narrow:?}");
    assert_eq!(narrow.json["alerts"], json!([]), "{narrow:?}");
    assert_eq!(narrow.json["interaction_rate"]["reference"]["shown"], 40);
    assert_eq!(narrow.json["embedding"]["recent_days"], 1);

    // Drift is admin-only.
    let w = send(&t.router, Method::GET, path, Some(&t.write_key), None).await;
    assert_eq!(w.status, StatusCode::FORBIDDEN, "{w:?}");
}

#[tokio::test]
async fn bearer_requests_skip_the_origin_check_but_cookie_requests_do_not() {
    let t = api().await;
    let path = format!("{ITEMS}/x1");
    let body = || Body::from(json!({"title": "Cross origin"}).to_string());
    let mut req = request(Method::PUT, &path, Some(&t.write_key), body());
    req.headers_mut().insert(
        http::header::ORIGIN,
        "https://other.example".parse().unwrap(),
    );
    assert_eq!(send_raw(&t.router, req).await.status, StatusCode::CREATED);
    let mut req = request(Method::PUT, &path, Some(&t.write_key), body());
    req.headers_mut().insert(
        http::header::ORIGIN,
        "https://other.example".parse().unwrap(),
    );
    req.headers_mut()
        .insert(http::header::COOKIE, "semrec_admin=abc".parse().unwrap());
    let refused = send_raw(&t.router, req).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::FORBIDDEN, "cross_origin")
    );
}

#[tokio::test]
async fn openapi_document_is_valid_and_matches_the_routes() {
    let t = api().await;
    let res = send(&t.router, Method::GET, "/api/v1/openapi.json", None, None).await;
    assert_eq!(res.status, StatusCode::OK);
    let text = res.json.to_string();
    let spec = oas3::from_json(&text).expect("a valid OpenAPI 3.1 document");
    assert!(spec.openapi.starts_with("3."), "{}", spec.openapi);
    let paths = spec.paths.clone().unwrap_or_default();
    assert!(paths.len() >= 10, "{:?}", paths.keys());

    let all = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
    ];
    let mut documented = 0;
    for (path, item) in &paths {
        assert!(path.starts_with("/api/v1/"), "{path}");
        let concrete = path.replace("{id}", "planes");
        let methods: Vec<Method> = item
            .methods()
            .into_iter()
            .map(|(m, _)| Method::from_bytes(m.as_str().as_bytes()).unwrap())
            .collect();
        for m in &all {
            if methods.contains(m) {
                let r = send(&t.router, m.clone(), &concrete, None, None).await;
                documented += 1;
                assert!(
                    r.status != StatusCode::NOT_FOUND && r.status != StatusCode::METHOD_NOT_ALLOWED,
                    "documented {m} {path} is not routed: {r:?}"
                );
                // Everything but health and this document needs a key.
                let public = path.starts_with("/api/v1/health") || path.ends_with("openapi.json");
                assert_eq!(
                    public,
                    item.methods()
                        .into_iter()
                        .all(|(_, op)| op.security.is_empty()),
                    "{path}"
                );
            } else {
                // With a key, so that the method check is reached behind the key check.
                let r = send(&t.router, m.clone(), &concrete, Some(&t.admin_key), None).await;
                assert_eq!(
                    r.status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "undocumented {m} {path} answers: {r:?}"
                );
            }
        }
    }
    assert_eq!(documented, 16, "documented operations");
}

/// Stops the database under a running router: requests get 503 with a clear
/// message; once the database is back the same router answers again.
#[tokio::test]
async fn database_outage_gives_503_and_recovers_without_restart() {
    let scratch = Scratch::new("api-outage");
    let opts = ClusterOptions::new(scratch.pgdata());
    let cluster = LocalCluster::start(opts.clone()).await.expect("cluster");
    let port = cluster.port();
    let engine = connect(&cluster).await;
    let key = engine
        .store
        .create_api_key("k", Scope::Admin)
        .await
        .unwrap()
        .secret;
    let router = router(engine.clone(), &ApiConfig::default());
    let put = |title: &str| json!({"title": title});
    let r = send(
        &router,
        Method::PUT,
        &format!("{ITEMS}/a"),
        Some(&key),
        Some(put("Gliders")),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");

    cluster.stop().await.unwrap();
    let ready = send(&router, Method::GET, "/api/v1/health/ready", None, None).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE, "{ready:?}");
    assert_eq!(ready.code(), "unavailable");
    assert_eq!(
        ready.message(),
        "The database is unavailable, retry shortly."
    );
    assert!(ready.headers.contains_key(http::header::RETRY_AFTER));
    let get = send(
        &router,
        Method::GET,
        &format!("{ITEMS}/a"),
        Some(&key),
        None,
    )
    .await;
    assert_eq!(
        (get.status, get.code()),
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        "{get:?}"
    );
    let live = send(&router, Method::GET, "/api/v1/health/live", None, None).await;
    assert_eq!(live.status, StatusCode::OK);

    let mut again = opts;
    again.port = port;
    let cluster = LocalCluster::start(again).await.expect("restart");
    let ready = send(&router, Method::GET, "/api/v1/health/ready", None, None).await;
    assert_eq!(ready.status, StatusCode::OK, "{ready:?}");
    let get = send(
        &router,
        Method::GET,
        &format!("{ITEMS}/a"),
        Some(&key),
        None,
    )
    .await;
    assert_eq!(
        (get.status, get.json["title"].clone()),
        (StatusCode::OK, json!("Gliders")),
        "{get:?}"
    );
    engine.store.pool().close().await;
    cluster.stop().await.unwrap();
}
