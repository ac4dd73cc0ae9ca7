//! Hardening against hostile input (issue #14), on the real router, a real
//! PostgreSQL + pgvector cluster and the real model: huge profiles are refused
//! at once while health checks keep answering, typed titles resolve to items on
//! both paths, malformed server-function arguments are 400, admin sessions end
//! when the password changes, and every API 4xx has the JSON error body, even
//! the ones hyper answers itself.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::Router;
use engine::history::HistoryRef;
use engine::profile::HistoryEntry;
use http::{header, HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use server::admission::Admission;
use server::api::ApiConfig;
use test_support::binary::form_encode;
use test_support::fixtures::fixture_jsonl;
use test_support::router::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

const REC: &str = "/api/v1/recommendations";

/// A server function's answer: status, headers and the body as text.
struct FnReply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl std::fmt::Debug for FnReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let end = self.body.len().min(300);
        write!(f, "{} {}", self.status, &self.body[..end])
    }
}

/// Calls a Leptos server function as the app's fetch does (form-encoded, JSON answer).
async fn call(r: &Router, endpoint: &str, cookie: Option<&str>, form: String) -> FnReply {
    call_as(
        r,
        endpoint,
        cookie,
        "application/x-www-form-urlencoded",
        form,
    )
    .await
}

async fn call_as(
    r: &Router,
    endpoint: &str,
    cookie: Option<&str>,
    content_type: &str,
    body: String,
) -> FnReply {
    let form = body;
    let mut req = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/{endpoint}"))
        .header(header::HOST, "127.0.0.1:3000")
        .header(header::ORIGIN, "http://127.0.0.1:3000")
        .header(header::ACCEPT, "application/json")
        .header(header::CONTENT_TYPE, content_type);
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    let res = r
        .clone()
        .oneshot(req.body(Body::from(form)).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    FnReply {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).to_string(),
    }
}

fn form(args: &[(&str, &str)]) -> String {
    args.iter()
        .map(|(k, v)| format!("{k}={}", form_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// "name=value" of the cookie a reply set.
fn set_cookie(reply: &FnReply, name: &str) -> String {
    reply
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie: {reply:?}"))
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

async fn sign_in(r: &Router, handle: &str) -> String {
    let reply = call(r, "sign_in", None, form(&[("handle", handle)])).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    set_cookie(&reply, "semrec_session")
}

async fn import_fixture(t: &TestApi) {
    let res = send_raw(
        &t.router,
        request(
            Method::POST,
            "/api/v1/items",
            Some(&t.write_key),
            Body::from(fixture_jsonl()),
        ),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
}

fn ids(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items: {list}"))
        .iter()
        .map(|i| i["item"]["id"].as_str().unwrap().to_string())
        .collect()
}

/// Sends two copies of a big request at once (as the issue did: two requests busy
/// both workers of a 2-core machine) while 20 `GET /api/v1/health/live` run beside
/// them; returns the big requests' statuses, the slower one's time and the
/// slowest health answer.
async fn beside_health(
    r: &Router,
    big: impl Fn() -> Request<Body>,
) -> (Vec<StatusCode>, Duration, Duration) {
    let started = Instant::now();
    let bigs: Vec<_> = (0..2)
        .map(|_| {
            let (r, req) = (r.clone(), big());
            tokio::spawn(async move {
                let res = r.oneshot(req).await.unwrap();
                let status = res.status();
                let _ = res.into_body().collect().await;
                (status, started.elapsed())
            })
        })
        .collect();
    let health: Vec<_> = (0..20)
        .map(|_| {
            let r = r.clone();
            tokio::spawn(async move {
                let t = Instant::now();
                let req = request(Method::GET, "/api/v1/health/live", None, Body::empty());
                let res = r.oneshot(req).await.unwrap();
                assert_eq!(res.status(), StatusCode::OK);
                t.elapsed()
            })
        })
        .collect();
    let mut slowest = Duration::ZERO;
    for h in health {
        slowest = slowest.max(h.await.unwrap());
    }
    let (mut statuses, mut took) = (Vec::new(), Duration::ZERO);
    for b in bigs {
        let (status, t) = b.await.unwrap();
        statuses.push(status);
        took = took.max(t);
    }
    (statuses, took, slowest)
}

fn json_post(path: &str, key: &str, body: String) -> Request<Body> {
    let mut req = request(Method::POST, path, Some(key), Body::from(body));
    req.headers_mut()
        .insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
    req
}

fn server_fn_post(endpoint: &str, cookie: &str, body: String) -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri(format!("/api/{endpoint}"))
        .header(header::HOST, "127.0.0.1:3000")
        .header(header::ACCEPT, "application/json")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, cookie)
        .body(Body::from(body))
        .unwrap()
}

// Two workers, as on the 2-core machine the issue was measured on: a request
// that held a worker for seconds starved the health checks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_megabyte_profiles_are_refused_at_once_while_health_answers() {
    let t = api().await;
    let r = &t.router;
    import_fixture(&t).await;
    let cookie = sign_in(r, "big-profile").await;

    // Each about 2 MB: 150,000 interests, or 150,000 history entries.
    let interests: Vec<String> = (0..150_000).map(|i| format!("int{i}")).collect();
    let api_interests =
        json!({"user": "never-created", "profile": {"interests": interests}}).to_string();
    let api_history = format!(
        r#"{{"profile": {{"history": [{}]}}}}"#,
        vec![r#"{"text":"a"}"#; 150_000].join(",")
    );
    let lines = |prefix: &str| {
        (0..150_000)
            .map(|i| format!("{prefix}{i}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let web_interests = form(&[
        ("interests", &lines("inter")),
        ("history", ""),
        ("classes", ""),
        ("about", ""),
    ]);
    let web_history = form(&[
        ("interests", ""),
        ("history", &lines("hist")),
        ("classes", ""),
        ("about", ""),
    ]);
    type Build<'a> = Box<dyn Fn() -> Request<Body> + 'a>;
    let cases: [(&str, usize, Build); 4] = [
        (
            "API, 150k interests",
            api_interests.len(),
            Box::new(|| json_post(REC, &t.write_key, api_interests.clone())),
        ),
        (
            "API, 150k history entries",
            api_history.len(),
            Box::new(|| json_post(REC, &t.write_key, api_history.clone())),
        ),
        (
            "app, 150k interests",
            web_interests.len(),
            Box::new(|| server_fn_post("save_profile", &cookie, web_interests.clone())),
        ),
        (
            "app, 150k history lines",
            web_history.len(),
            Box::new(|| server_fn_post("save_profile", &cookie, web_history.clone())),
        ),
    ];
    for (what, bytes, build) in cases {
        // Each is close to the 2 MiB body limit (beyond it: 413 before any parsing).
        assert!(
            (1_500_000..2_097_152).contains(&bytes),
            "{what}: {bytes} bytes"
        );
        let (statuses, took, slowest_health) = beside_health(r, build).await;
        eprintln!(
            "{what} ({bytes} bytes, two at once): {statuses:?} in {:.1} ms; slowest of 20 health checks beside them {:.1} ms",
            took.as_secs_f64() * 1e3,
            slowest_health.as_secs_f64() * 1e3
        );
        assert_eq!(statuses, [StatusCode::UNPROCESSABLE_ENTITY; 2], "{what}");
        // The issue's bounds are 250 ms and 100 ms (release build); this is a
        // debug build on a shared machine, so the bound here is loose but still
        // far below the 97 s the quadratic check took.
        assert!(took < Duration::from_secs(2), "{what}: {took:?}");
        assert!(
            slowest_health < Duration::from_secs(1),
            "{what}: {slowest_health:?}"
        );
    }
    // The refused inline profile created no user; the refused save changed nothing.
    let users: i64 =
        sqlx::query_scalar("SELECT count(*) FROM users WHERE handle = 'never-created'")
            .fetch_one(t.engine.store.pool())
            .await
            .unwrap();
    assert_eq!(users, 0, "a user was created for a refused profile");

    // The messages say what to fix.
    let e = send(
        r,
        Method::POST,
        REC,
        Some(&t.write_key),
        Some(json!({"profile": {"interests": vec!["x"; 201]}})),
    )
    .await;
    assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY, "{e:?}");
    assert!(e.message().contains("at most 50 interests"), "{e:?}");
    let e = send(
        r,
        Method::POST,
        REC,
        Some(&t.write_key),
        Some(json!({"profile": {"interests": ["x"], "history": vec![json!({"text": "b"}); 1001]}})),
    )
    .await;
    assert!(e.message().contains("at most 1000"), "{e:?}");
    let e = send(
        r,
        Method::POST,
        REC,
        Some(&t.write_key),
        Some(json!({"profile": {"interests": ["x"]}, "filters": {"tags": vec!["t"; 101]}})),
    )
    .await;
    assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY, "{e:?}");
    assert!(e.message().contains("filters.tags"), "{e:?}");
    // Duplicates still collapse: 60 entries naming 50 interests are accepted.
    let mut fifty: Vec<String> = (0..50).map(|i| format!("topic {i}")).collect();
    fifty.extend((0..10).map(|i| format!("TOPIC {i}")));
    let ok = send(
        r,
        Method::POST,
        REC,
        Some(&t.write_key),
        Some(json!({"profile": {"interests": fifty}, "k": 1})),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{ok:?}");
}

#[tokio::test]
async fn typed_titles_resolve_to_items_and_are_not_recommended() {
    let t = api().await;
    let r = &t.router;
    import_fixture(&t).await;
    // "planes" is titled "Wings over the Pacific"; typed in another case and spacing.
    let typed = "  wings OVER the   pacific ";

    // The JSON API: a text that names a title is that item, and it is excluded.
    let list = send(
        r,
        Method::POST,
        REC,
        Some(&t.write_key),
        Some(json!({"profile": {"interests": ["aircraft"], "history": [{"text": typed}, {"text": "a book outside the catalog"}]}, "k": 100})),
    )
    .await;
    assert_eq!(list.status, StatusCode::OK, "{list:?}");
    let got = ids(&list.json);
    assert!(!got.is_empty());
    assert!(!got.contains(&"planes".to_string()), "{got:?}");

    // The app: the same text typed into the history box.
    let cookie = sign_in(r, "typist").await;
    let saved = call(
        r,
        "save_profile",
        Some(&cookie),
        form(&[
            ("interests", "aircraft"),
            ("history", "text\tsome novel"),
            ("history_entry", typed),
            ("classes", ""),
            ("about", ""),
        ]),
    )
    .await;
    assert_eq!(saved.status, StatusCode::OK, "{saved:?}");
    let profile: Value = serde_json::from_str(
        &call(r, "get_profile", Some(&cookie), String::new())
            .await
            .body,
    )
    .unwrap();
    let chips = profile["history"].as_array().unwrap();
    // Most recent first, as sent: the chips, then the typed line.
    let titles: Vec<&str> = chips.iter().map(|c| c["title"].as_str().unwrap()).collect();
    assert_eq!(
        titles,
        ["some novel", "Wings over the Pacific"],
        "{profile}"
    );
    assert!(
        chips
            .iter()
            .any(|c| c["id"] == "planes" && c["title"] == "Wings over the Pacific"),
        "{profile}"
    );
    assert!(
        chips
            .iter()
            .any(|c| c["id"].is_null() && c["title"] == "some novel"),
        "{profile}"
    );
    let recs = call(
        r,
        "get_recommendations",
        Some(&cookie),
        form(&[("offset", "0"), ("language", ""), ("source", "")]),
    )
    .await;
    assert_eq!(recs.status, StatusCode::OK, "{recs:?}");
    let recs: Value = serde_json::from_str(&recs.body).unwrap();
    let got = ids(&recs);
    assert!(!got.is_empty());
    assert!(!got.contains(&"planes".to_string()), "{got:?}");

    // Several items with one title: the most consumed, then the oldest, every time.
    for id in ["twin-a", "twin-b"] {
        let put = send(
            r,
            Method::PUT,
            &format!("/api/v1/items/{id}"),
            Some(&t.write_key),
            Some(json!({"title": "Twin Title", "description": "the same title twice"})),
        )
        .await;
        assert_eq!(put.status, StatusCode::CREATED, "{put:?}");
    }
    let resolve = || {
        t.engine
            .resolve_history(vec![HistoryRef::Text("twin TITLE".into())])
    };
    let twin = |id: &str| HistoryEntry::Item {
        id: id.into(),
        title: "Twin Title".into(),
    };
    assert_eq!(resolve().await.unwrap(), vec![twin("twin-a")]);
    let fan = t.engine.user_by_handle("fan", true).await.unwrap();
    let p = engine::profile::Profile {
        history: vec![twin("twin-b")],
        ..Default::default()
    };
    t.engine.save_profile(fan.id, &p).await.unwrap();
    assert_eq!(resolve().await.unwrap(), vec![twin("twin-b")]);
    // Repeats keep their most recent place; unknown ids are refused.
    let both = t
        .engine
        .resolve_history(vec![
            HistoryRef::Item("twin-b".into()),
            HistoryRef::Text("Twin title".into()),
            HistoryRef::Text("x".into()),
            HistoryRef::Text("X".into()),
        ])
        .await
        .unwrap();
    assert_eq!(
        both,
        vec![twin("twin-b"), HistoryEntry::Text { text: "x".into() }]
    );
    let e = t
        .engine
        .resolve_history(vec![HistoryRef::Item("nope".into())])
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("history[0]: item 'nope' is not in the catalog"),
        "{e}"
    );
}

#[tokio::test]
async fn malformed_server_function_arguments_are_400_with_a_message() {
    let t = api().await;
    let r = &t.router;
    let cookie = sign_in(r, "sloppy").await;
    let cases = [
        ("get_recommendations", "language=&source=", "offset"),
        (
            "get_recommendations",
            "offset=-1&language=&source=",
            "whole number",
        ),
        (
            "get_recommendations",
            "offset=ten&language=&source=",
            "whole number",
        ),
        ("save_profile", "interests=a&history=&classes=", "about"),
        ("sign_in", "", "handle"),
    ];
    for (endpoint, body, says) in cases {
        let reply = call(r, endpoint, Some(&cookie), body.to_string()).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{endpoint} {body}: {reply:?}"
        );
        assert!(reply.body.contains(endpoint), "{reply:?}");
        assert!(reply.body.contains(says), "{endpoint} {body}: {reply:?}");
        eprintln!("{endpoint} {body:?} → {} {}", reply.status, reply.body);
    }
    // Well-formed calls are untouched, errors of the function itself included.
    let ok = call(
        r,
        "get_recommendations",
        Some(&cookie),
        form(&[("offset", "0"), ("language", ""), ("source", "")]),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{ok:?}");
    let unauthorized = call(r, "get_dashboard", None, String::new()).await;
    assert_eq!(
        unauthorized.status,
        StatusCode::UNAUTHORIZED,
        "{unauthorized:?}"
    );
}

/// The whole router with these admin credentials, over the same database: a
/// server restarted with another password.
fn router_with_admin(engine: engine::Engine, password: &str) -> Router {
    let site_root = std::env::temp_dir().join("semrec-api-test-site");
    let options = leptos::config::LeptosOptions::builder()
        .output_name("semrec")
        .site_root(site_root.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .env(leptos::config::Env::PROD)
        .build();
    let state = app::session::ServerState {
        engine,
        admin: app::session::AdminCredentials {
            user: "admin".into(),
            password: password.into(),
        },
        secure_cookies: false,
    };
    server::web::router(
        state,
        options,
        &site_root,
        &ApiConfig::default(),
        Admission::default(),
    )
}

async fn admin_sign_in(r: &Router, password: &str) -> String {
    let reply = call(
        r,
        "admin_sign_in",
        None,
        form(&[("user", "admin"), ("password", password)]),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let cookie = reply
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("semrec_admin="))
        .unwrap()
        .to_string();
    assert!(
        cookie.contains("Max-Age=28800"),
        "admin sessions last 8 h: {cookie}"
    );
    set_cookie(&reply, "semrec_admin")
}

#[tokio::test]
async fn admin_sessions_end_when_the_password_changes_and_expired_ones_are_swept() {
    let t = api().await;
    let first = router_with_admin(t.engine.clone(), "first-password-1");
    let cookie = admin_sign_in(&first, "first-password-1").await;
    let dashboard = |r: Router, cookie: String| async move {
        call(&r, "get_dashboard", Some(&cookie), String::new())
            .await
            .status
    };
    assert_eq!(
        dashboard(first.clone(), cookie.clone()).await,
        StatusCode::OK
    );
    let hours: f64 = sqlx::query_scalar(
        "SELECT extract(epoch FROM expires_at - now())::float8 / 3600 FROM sessions WHERE is_admin",
    )
    .fetch_one(t.engine.store.pool())
    .await
    .unwrap();
    assert!(
        (7.9..=8.0).contains(&hours),
        "admin session lasts {hours} h"
    );

    // Restarted with a new password: the old cookie is no longer an admin's.
    let second = router_with_admin(t.engine.clone(), "second-password-2");
    assert_eq!(
        dashboard(second.clone(), cookie.clone()).await,
        StatusCode::UNAUTHORIZED
    );
    let part = json!({"format": "jsonl", "first_line": 1, "content": ""}).to_string();
    let import = call_as(
        &second,
        "import_catalog",
        Some(&cookie),
        "application/json",
        part.clone(),
    )
    .await;
    assert_eq!(import.status, StatusCode::UNAUTHORIZED, "{import:?}");
    let wrong = call(
        &second,
        "admin_sign_in",
        None,
        form(&[("user", "admin"), ("password", "first-password-1")]),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let fresh = admin_sign_in(&second, "second-password-2").await;
    assert_eq!(
        dashboard(second.clone(), fresh.clone()).await,
        StatusCode::OK
    );
    let import = call_as(
        &second,
        "import_catalog",
        Some(&fresh),
        "application/json",
        part,
    )
    .await;
    assert_eq!(import.status, StatusCode::OK, "{import:?}");
    // A user's session is never an admin's.
    let user = sign_in(&second, "not-admin").await;
    let as_admin = user.replacen("semrec_session", "semrec_admin", 1);
    assert_eq!(
        dashboard(second.clone(), as_admin).await,
        StatusCode::UNAUTHORIZED
    );

    // Expired sessions of every kind go; live ones stay.
    let pool = t.engine.store.pool();
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, is_admin, expires_at)
         SELECT repeat('a', 64), NULL, true, now() - interval '1 minute'
         UNION ALL SELECT repeat('b', 64), (SELECT id FROM users LIMIT 1), false, now() - interval '1 day'",
    )
    .execute(pool)
    .await
    .unwrap();
    let live_before: i64 =
        sqlx::query_scalar("SELECT count(*) FROM sessions WHERE expires_at > now()")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(t.engine.sweep_expired_sessions().await.unwrap(), 2);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(left, live_before);
    assert_eq!(dashboard(second, fresh).await, StatusCode::OK);
}

/// Sends raw bytes to a served socket and returns status, headers and body text.
async fn raw_http(addr: std::net::SocketAddr, request: &[u8]) -> (u16, String, String) {
    let s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = s.into_split();
    // Hyper may answer (and close) before it read everything: write beside the
    // read, so the answer is read before a reset can discard it; write errors are expected.
    let request = request.to_vec();
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(&request).await;
        wr
    });
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), rd.read_to_end(&mut out)).await;
    drop(writer.await);
    let text = String::from_utf8_lossy(&out).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {text:.200}"));
    (status, head.to_string(), body.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_api_4xx_has_the_json_error_body_even_those_hyper_answers() {
    let t = api().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = t.router.clone();
    tokio::spawn(async move {
        // The production accept loop, which wraps every connection's IO.
        let options = server::edge::serve::ServeOptions {
            header_timeout: Duration::from_secs(10),
            grace: Duration::from_secs(1),
        };
        server::edge::serve::serve(listener, app, options, std::future::pending()).await;
    });
    let json_error = |status: u16, head: &str, body: &str, want: u16, code: &str| {
        eprintln!("{want} {code}: got {status} {body:.200}");
        assert_eq!(status, want, "{code}: {head}\n{body:.300}");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: application/json"),
            "{head}"
        );
        let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body:.300}"));
        assert_eq!(v["error"]["code"], code, "{v}");
        assert!(!v["error"]["message"].as_str().unwrap().is_empty(), "{v}");
    };
    let long_id = "a".repeat(100_000);
    let (s, h, b) = raw_http(
        addr,
        format!("GET /api/v1/items/{long_id} HTTP/1.1\r\nHost: 127.0.0.1:3000\r\n\r\n").as_bytes(),
    )
    .await;
    json_error(s, &h, &b, 414, "uri_too_long");
    // Well beyond hyper's ~400 KiB head buffer (its check is per read, so a head
    // just above it may still be parsed whole).
    let big_header = "x".repeat(1_500_000);
    let (s, h, b) = raw_http(
        addr,
        format!(
            "GET /api/v1/health/live HTTP/1.1\r\nHost: 127.0.0.1:3000\r\nConnection: close\r\nX-Big: {big_header}\r\n\r\n"
        )
        .as_bytes(),
    )
    .await;
    json_error(s, &h, &b, 431, "headers_too_large");
    let many: String = (0..150).map(|i| format!("X-H{i}: v\r\n")).collect();
    let (s, h, b) = raw_http(
        addr,
        format!("GET /api/v1/health/live HTTP/1.1\r\nHost: 127.0.0.1:3000\r\n{many}\r\n")
            .as_bytes(),
    )
    .await;
    json_error(s, &h, &b, 431, "headers_too_large");
    let (s, h, b) = raw_http(
        addr,
        b"GET /api/v1/health/live HTTP/1.1\r\nBad Header\r\n\r\n",
    )
    .await;
    json_error(s, &h, &b, 400, "bad_request");
    // Ordinary requests on the same kind of connection are untouched, keep-alive included.
    let (s, h, b) = raw_http(
        addr,
        b"GET /api/v1/health/live HTTP/1.1\r\nHost: 127.0.0.1:3000\r\n\r\nGET /api/v1/nope HTTP/1.1\r\nHost: 127.0.0.1:3000\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(s, 200, "{h}");
    assert!(b.contains("\"error\"") && b.contains("not_found"), "{b}");

    // The router's own 4xx: no route, wrong method, bad query, unknown key.
    let r = &t.router;
    let key = Some(t.write_key.as_str());
    for (method, path, key, want, code) in [
        (
            Method::GET,
            "/api/v1/nope",
            None,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            Method::GET,
            "/api/v1/",
            None,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            Method::GET,
            "/api/v1",
            None,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            Method::POST,
            "/api/v1/items/x/similar/extra",
            key,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            Method::PATCH,
            "/api/v1/items/x",
            key,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            Method::DELETE,
            "/api/v1/health/live",
            None,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            Method::GET,
            "/api/v1/metrics",
            None,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            Method::GET,
            "/api/v1/metrics",
            key,
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
    ] {
        let reply = send(r, method.clone(), path, key, None).await;
        assert_eq!(
            (reply.status, reply.code()),
            (want, code),
            "{method} {path}: {reply:?}"
        );
    }
    let bad_query = send(
        r,
        Method::GET,
        "/api/v1/metrics?from=yesterday",
        Some(&t.admin_key),
        None,
    )
    .await;
    assert_eq!(bad_query.status, StatusCode::BAD_REQUEST, "{bad_query:?}");
    assert_eq!(bad_query.code(), "bad_request");
}
