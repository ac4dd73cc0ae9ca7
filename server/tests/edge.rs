//! The HTTP edge over the real router, a real PostgreSQL and the real model:
//! the host allow-list and the Origin check against it, security headers with a
//! per-request CSP nonce, admission of server-rendered pages, throttled admin
//! sign-in and handle creation, and client addresses behind trusted proxies.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use engine::Engine;
use http::{header, HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use pg_local::LocalCluster;
use server::admission::Admission;
use server::api::ApiConfig;
use server::edge::{EdgeConfig, EventLimits, TrustedProxies};
use test_support::db::connect;
use test_support::fixtures::fixture_jsonl;
use test_support::model::embedder;
use tower::ServiceExt;

const HOST: &str = "127.0.0.1:3000";
const ADMIN_PASSWORD: &str = "edge-test-admin-password";

struct Edge {
    router: Router,
    engine: Engine,
    admission: Admission,
    _cluster: LocalCluster,
}

async fn edge_with(trusted_proxies: &str) -> Edge {
    edge_limiting(trusted_proxies, EventLimits::default()).await
}

async fn edge_limiting(trusted_proxies: &str, event_limits: EventLimits) -> Edge {
    let _ = embedder();
    let cluster = LocalCluster::temporary().await.expect("cluster");
    let engine = connect(&cluster).await;
    let admission = Admission::new(1);
    let site_root = std::env::temp_dir().join("semrec-edge-test-site");
    let options = leptos::config::LeptosOptions::builder()
        .output_name("semrec")
        .site_root(site_root.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .env(leptos::config::Env::PROD)
        .build();
    let state = app::session::ServerState {
        engine: engine.clone(),
        admin: app::session::AdminCredentials {
            user: "admin".into(),
            password: ADMIN_PASSWORD.into(),
        },
        secure_cookies: false,
    };
    let mut edge = EdgeConfig::loopback(3000);
    edge.event_limits = event_limits;
    edge.trusted_proxies = Arc::new(TrustedProxies::new(
        trusted_proxies
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().unwrap())
            .collect(),
    ));
    let router = server::web::router_with_edge(
        state,
        options,
        &site_root,
        &ApiConfig::default(),
        admission.clone(),
        &edge,
    );
    Edge {
        router,
        engine,
        admission,
        _cluster: cluster,
    }
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {:?} {}", self.status, self.headers, self.body)
    }
}

/// A request as a browser on `peer` would send it (Host 127.0.0.1:3000).
fn req(method: Method, path: &str, peer: &str) -> http::request::Builder {
    let peer: SocketAddr = format!("{peer}:50000").parse().unwrap();
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, HOST);
    b.extensions_mut().unwrap().insert(ConnectInfo(peer));
    b
}

fn form(path: &str, peer: &str, body: &str) -> Request<Body> {
    req(Method::POST, path, peer)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body.to_string()))
        .unwrap()
}

async fn send(router: &Router, req: Request<Body>) -> Answer {
    let res = router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).to_string(),
    }
}

fn retry_after(a: &Answer) -> u64 {
    a.headers
        .get(header::RETRY_AFTER)
        .unwrap_or_else(|| panic!("no Retry-After: {a:?}"))
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn hosts_off_the_list_get_421_and_origins_are_checked_against_it() {
    let t = edge_with("").await;
    let r = &t.router;
    let with_host = |method: Method, path: &str, host: &str| {
        let mut r = req(method, path, "127.0.0.1").body(Body::empty()).unwrap();
        r.headers_mut().insert(header::HOST, host.parse().unwrap());
        r
    };
    // A page under a rebinding name, and the API, are refused before routing.
    let page = send(r, with_host(Method::GET, "/", "evil.example:3000")).await;
    assert_eq!(page.status, StatusCode::MISDIRECTED_REQUEST, "{page:?}");
    let api = send(
        r,
        with_host(Method::GET, "/api/v1/items/x", "evil.example:3000"),
    )
    .await;
    assert_eq!(api.status, StatusCode::MISDIRECTED_REQUEST, "{api:?}");
    assert!(api.body.contains("misdirected_request"), "{api:?}");
    // Health checks answer whatever the Host (load balancers probe by address).
    let live = send(r, with_host(Method::GET, "/api/v1/health/live", "10.1.2.3")).await;
    assert_eq!(live.status, StatusCode::OK, "{live:?}");
    // Two Host headers: which one would the next hop believe? Neither.
    let mut twice = with_host(Method::GET, "/", HOST);
    twice
        .headers_mut()
        .append(header::HOST, "evil.example:3000".parse().unwrap());
    assert_eq!(send(r, twice).await.status, StatusCode::MISDIRECTED_REQUEST);
    // The DNS-rebinding write of the attack matrix: Host and Origin agree, both foreign.
    let rebinding = form("/api/sign_in", "127.0.0.1", "handle=rebound");
    let (mut parts, body) = rebinding.into_parts();
    parts
        .headers
        .insert(header::HOST, "evil.example:3100".parse().unwrap());
    parts
        .headers
        .insert(header::ORIGIN, "http://evil.example:3100".parse().unwrap());
    let refused = send(r, Request::from_parts(parts, body)).await;
    assert_eq!(
        refused.status,
        StatusCode::MISDIRECTED_REQUEST,
        "{refused:?}"
    );
    // Our Host with a foreign Origin, or our host under another scheme: 403.
    for origin in ["http://evil.example:3000", "https://127.0.0.1:3000", "null"] {
        let mut write = form("/api/sign_in", "127.0.0.1", "handle=csrf-victim");
        write
            .headers_mut()
            .insert(header::ORIGIN, origin.parse().unwrap());
        let a = send(r, write).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{origin}: {a:?}");
        assert!(a.body.contains("cross_origin"), "{a:?}");
    }
    // Our own origin, by either loopback name, signs in.
    for origin in ["http://127.0.0.1:3000", "http://localhost:3000"] {
        let mut write = form("/api/sign_in", "127.0.0.1", "handle=own-origin");
        write
            .headers_mut()
            .insert(header::ORIGIN, origin.parse().unwrap());
        let a = send(r, write).await;
        assert_eq!(a.status, StatusCode::OK, "{origin}: {a:?}");
    }
    assert!(t.engine.user_by_handle("rebound", false).await.is_err());
    assert!(t.engine.user_by_handle("csrf-victim", false).await.is_err());
}

#[tokio::test]
async fn every_response_has_security_headers_and_pages_a_fresh_script_nonce() {
    let t = edge_with("").await;
    let r = &t.router;
    let mut nonces = Vec::new();
    for _ in 0..2 {
        let page = send(
            r,
            req(Method::GET, "/", "127.0.0.1")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(page.status, StatusCode::OK, "{page:?}");
        let csp = page.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        let script_src = csp
            .split(';')
            .map(str::trim)
            .find(|d| d.starts_with("script-src"))
            .unwrap_or_else(|| panic!("no script-src: {csp}"));
        assert!(!script_src.contains("unsafe-inline"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        let nonce = script_src
            .split_whitespace()
            .find_map(|s| s.strip_prefix("'nonce-")?.strip_suffix('\''))
            .unwrap_or_else(|| panic!("no nonce: {csp}"))
            .to_string();
        // Every inline script of the page carries this request's nonce.
        let scripts = page.body.matches("<script").count();
        assert!(scripts > 0, "{}", page.body);
        assert_eq!(
            page.body.matches(&format!("nonce=\"{nonce}\"")).count(),
            scripts,
            "{}",
            page.body
        );
        nonces.push(nonce);
    }
    assert_ne!(nonces[0], nonces[1], "a nonce must not be reused");
    for path in [
        "/",
        "/api/v1/health/live",
        "/no-such-page",
        "/api/v1/nothing",
    ] {
        let a = send(
            r,
            req(Method::GET, path, "127.0.0.1")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(a.headers[header::X_FRAME_OPTIONS], "DENY", "{path}");
        assert_eq!(
            a.headers[header::X_CONTENT_TYPE_OPTIONS],
            "nosniff",
            "{path}"
        );
        assert_eq!(
            a.headers[header::REFERRER_POLICY],
            "strict-origin-when-cross-origin",
            "{path}"
        );
        assert!(
            a.headers.contains_key(header::CONTENT_SECURITY_POLICY),
            "{path}"
        );
    }
}

#[tokio::test]
async fn ranking_pages_and_open_item_wait_for_a_place_in_flight() {
    let t = edge_with("").await;
    let r = &t.router;
    let report = t
        .engine
        .import_items(
            engine::catalog::parse_import(
                fixture_jsonl().as_bytes(),
                engine::catalog::ImportFormat::Jsonl,
            )
            .unwrap(),
            |_| {},
        )
        .await
        .unwrap();
    assert!(report.added > 0);
    let held = t.admission.try_admit().expect("the only place");
    let item = send(
        r,
        req(Method::GET, "/item/planes", "127.0.0.1")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(item.status, StatusCode::SERVICE_UNAVAILABLE, "{item:?}");
    assert_eq!(retry_after(&item), 1);
    assert!(item.body.contains("http-equiv=\"refresh\""), "{item:?}");
    assert!(item.body.contains("busy"), "{item:?}");
    assert!(item.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let signed_in_home = req(Method::GET, "/", "127.0.0.1")
        .header(header::COOKIE, "semrec_session=whatever")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send(r, signed_in_home).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let open = send(r, form("/api/open_item", "127.0.0.1", "id=planes")).await;
    assert_eq!(open.status, StatusCode::TOO_MANY_REQUESTS, "{open:?}");
    assert_eq!(retry_after(&open), 1);
    // The sign-in form ranks nothing and is served.
    let home = send(
        r,
        req(Method::GET, "/", "127.0.0.1")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(home.status, StatusCode::OK, "{home:?}");
    drop(held);
    let item = send(
        r,
        req(Method::GET, "/item/planes", "127.0.0.1")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(item.status, StatusCode::OK, "{item:?}");
    assert!(
        t.admission.try_admit().is_some(),
        "the page gave its place back"
    );
}

#[tokio::test]
async fn web_clicks_and_impressions_are_capped_per_client_address() {
    let t = edge_limiting("", EventLimits::new(1, 3)).await;
    let r = &t.router;
    let parsed = engine::catalog::parse_import(
        fixture_jsonl().as_bytes(),
        engine::catalog::ImportFormat::Jsonl,
    )
    .unwrap();
    t.engine.import_items(parsed, |_| {}).await.unwrap();
    let page = |peer: &'static str| {
        req(Method::GET, "/item/planes", peer)
            .body(Body::empty())
            .unwrap()
    };
    // The burst: each item page records the impression of its similar items.
    for n in 0..3 {
        let a = send(r, page("10.1.0.1")).await;
        assert_eq!(a.status, StatusCode::OK, "page {n}: {a:?}");
    }
    let shown = t.engine.store.pool().clone();
    let impressions = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM impressions")
            .fetch_one(&shown)
            .await
            .unwrap()
    };
    let before = impressions().await;
    let refused = send(r, page("10.1.0.1")).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "{refused:?}");
    assert!(retry_after(&refused) >= 1);
    assert!(refused.body.contains("slow down"), "{refused:?}");
    // The same address's server functions share the cap; nothing was recorded.
    let open = send(r, form("/api/open_item", "10.1.0.1", "id=planes")).await;
    assert_eq!(open.status, StatusCode::TOO_MANY_REQUESTS, "{open:?}");
    assert!(retry_after(&open) >= 1);
    assert_eq!(
        impressions().await,
        before,
        "a refused request records nothing"
    );
    // Another address has its own allowance; catalog search records nothing and is not capped.
    assert_eq!(send(r, page("10.1.0.2")).await.status, StatusCode::OK);
    let search = send(r, form("/api/search_catalog", "10.1.0.1", "query=plane")).await;
    assert_ne!(search.status, StatusCode::TOO_MANY_REQUESTS, "{search:?}");
}

async fn admin_sign_in(r: &Router, peer: &str, user: &str, password: &str) -> Answer {
    send(
        r,
        form(
            "/api/admin_sign_in",
            peer,
            &format!("user={user}&password={password}"),
        ),
    )
    .await
}

#[tokio::test]
async fn failed_admin_sign_ins_lock_the_address_with_doubling_waits_but_not_others() {
    let t = edge_with("").await;
    let r = &t.router;
    let attacker = "198.51.100.66";
    for n in 1..=5 {
        let a = admin_sign_in(r, attacker, "admin", "guess").await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "attempt {n}: {a:?}");
    }
    // The 6th comes too soon: 429, and the right password does not help.
    let locked = admin_sign_in(r, attacker, "admin", ADMIN_PASSWORD).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS, "{locked:?}");
    assert_eq!(retry_after(&locked), 1);
    assert!(
        locked.body.contains("Too many failed admin sign-ins"),
        "{locked:?}"
    );
    // The user name is locked too, but an address that never failed is not.
    let admin = admin_sign_in(r, "192.0.2.10", "admin", ADMIN_PASSWORD).await;
    assert_eq!(admin.status, StatusCode::OK, "{admin:?}");
    assert!(admin.headers.contains_key(header::SET_COOKIE));
    // After the wait one more guess, then twice the wait.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let a = admin_sign_in(r, attacker, "admin", "guess").await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{a:?}");
    let locked = admin_sign_in(r, attacker, "admin", "guess").await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS, "{locked:?}");
    assert_eq!(retry_after(&locked), 2);
    // Another address that fails once is held to the user name's lock from then on.
    let other = "203.0.113.7";
    let a = admin_sign_in(r, other, "admin", "typo").await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{a:?}");
    let a = admin_sign_in(r, other, "admin", ADMIN_PASSWORD).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS, "{a:?}");
    // Parallel guesses cannot outrun the count: of 20 at once from a fresh
    // address, 5 reach the password check, plus one per lock that ran out
    // meanwhile on a slow machine (1 s, then 2 s, ...).
    let burst = "198.51.100.99";
    let started = std::time::Instant::now();
    let answers =
        futures_util::future::join_all((0..20).map(|_| admin_sign_in(r, burst, "root", "guess")))
            .await;
    let expired_locks = (started.elapsed().as_secs_f64() + 1.0).log2().floor() as usize;
    let checked = answers
        .iter()
        .filter(|a| a.status == StatusCode::UNAUTHORIZED)
        .count();
    let refused = answers
        .iter()
        .filter(|a| a.status == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(
        (5..=5 + expired_locks).contains(&checked) && checked + refused == 20,
        "{checked} checked, {refused} refused: {answers:?}"
    );
}

#[tokio::test]
async fn pages_and_server_functions_say_when_to_retry_while_the_database_is_down() {
    let Edge {
        router,
        _cluster: cluster,
        ..
    } = edge_with("").await;
    cluster.stop().await.unwrap();
    let started = std::time::Instant::now();
    let page = send(
        &router,
        req(Method::GET, "/item/x", "127.0.0.1")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE, "{page:?}");
    assert!(retry_after(&page) >= 1);
    let first = started.elapsed();
    // Once the pool has failed to connect, the next ones fail fast (no 3 s wait).
    let started = std::time::Instant::now();
    let facets = send(&router, form("/api/get_facets", "127.0.0.1", "")).await;
    assert_eq!(facets.status, StatusCode::SERVICE_UNAVAILABLE, "{facets:?}");
    assert!(retry_after(&facets) >= 1);
    assert!(
        facets.body.contains("database is unavailable"),
        "{facets:?}"
    );
    let page = send(
        &router,
        req(Method::GET, "/item/y", "127.0.0.1")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE, "{page:?}");
    assert!(page.body.contains("http-equiv=\"refresh\""), "{page:?}");
    let api = send(
        &router,
        req(Method::GET, "/api/v1/items/x", "127.0.0.1")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(api.status, StatusCode::SERVICE_UNAVAILABLE, "{api:?}");
    assert!(retry_after(&api) >= 1);
    let fast = started.elapsed();
    assert!(
        fast < Duration::from_millis(500),
        "first {first:?}, then {fast:?} for three"
    );
    // Health checks are not gated.
    let live = send(
        &router,
        req(Method::GET, "/api/v1/health/live", "127.0.0.1")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(live.status, StatusCode::OK);
}

async fn sign_in(r: &Router, peer: &str, forwarded_for: Option<&str>, handle: &str) -> Answer {
    let mut request = form("/api/sign_in", peer, &format!("handle={handle}"));
    if let Some(xff) = forwarded_for {
        request
            .headers_mut()
            .insert("x-forwarded-for", xff.parse().unwrap());
    }
    send(r, request).await
}

#[tokio::test]
async fn new_handles_are_limited_per_client_address_behind_trusted_proxies_only() {
    let t = edge_with("10.0.0.0/8").await;
    let r = &t.router;
    let proxy = "10.0.0.2";
    // Through the trusted proxy, each forwarded client has its own 20 an hour.
    for n in 0..20 {
        let a = sign_in(r, proxy, Some("198.51.100.1"), &format!("client1-{n}")).await;
        assert_eq!(a.status, StatusCode::OK, "{n}: {a:?}");
    }
    let refused = sign_in(r, proxy, Some("198.51.100.1"), "client1-20").await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "{refused:?}");
    let wait = retry_after(&refused);
    assert!((3500..=3600).contains(&wait), "{wait}");
    assert!(refused.body.contains("Too many new handles"), "{refused:?}");
    // An existing handle still signs in; another client behind the proxy is not affected.
    assert_eq!(
        sign_in(r, proxy, Some("198.51.100.1"), "client1-0")
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        sign_in(r, proxy, Some("198.51.100.2"), "client2-0")
            .await
            .status,
        StatusCode::OK
    );
    // A peer that is not a trusted proxy cannot pick its address with the header.
    let direct = "203.0.113.50";
    for n in 0..20 {
        let xff = format!("192.0.2.{n}");
        let a = sign_in(r, direct, Some(&xff), &format!("direct-{n}")).await;
        assert_eq!(a.status, StatusCode::OK, "{n}: {a:?}");
    }
    let refused = sign_in(r, direct, Some("192.0.2.200"), "direct-20").await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "{refused:?}");
    assert!(t.engine.user_by_handle("direct-20", false).await.is_err());
}
