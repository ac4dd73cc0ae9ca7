//! No pool stall (issue #14): on a cold server, 8 concurrent recommendation
//! requests for a brand-new user each answer within 5 s, also after clients that
//! gave up mid-request (a dropped request future). The stall was a transaction
//! left open on a pooled connection by a cancelled `BEGIN`: every later statement
//! on that connection joined it, and its row locks held the next requests for the
//! new user (their user upserts and impression inserts) until someone happened to
//! commit on it. Real router, PostgreSQL + pgvector and model.

use std::time::{Duration, Instant};

use axum::body::Body;
use engine::store::StoreOptions;
use engine::{Engine, EngineSettings, Store};
use http::{Method, StatusCode};
use pg_local::LocalCluster;
use serde_json::{json, Value};
use server::admission::Admission;
use server::api::ApiConfig;
use test_support::fixtures::fixture_jsonl;
use test_support::model::embedder;
use test_support::router::{request, router_admitting, send, send_raw};
use tower::ServiceExt;

const CLIENTS: usize = 8;
const IN_FLIGHT: u32 = 8;

fn body(user: &str) -> Value {
    json!({
        "user": user,
        "profile": {"interests": ["aircraft", "jazz"], "about": "I fly gliders"},
        "k": 5
    })
}

fn recommendation(key: &str, user: &str) -> http::Request<Body> {
    let mut req = request(
        Method::POST,
        "/api/v1/recommendations",
        Some(key),
        Body::from(body(user).to_string()),
    );
    req.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    req
}

/// Polls `request` at most `polls` times, then drops it (a client giving up);
/// false when it finished first.
async fn give_up_after<F: std::future::Future>(polls: usize, request: F) -> bool {
    let mut request = std::pin::pin!(request);
    let mut n = 0;
    std::future::poll_fn(|cx| {
        if n == polls {
            return std::task::Poll::Ready(true);
        }
        n += 1;
        request.as_mut().poll(cx).map(|_| false)
    })
    .await
}

/// Connections of this database that sit inside a transaction between statements.
async fn idle_in_transaction(store: &Store) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
          WHERE datname = current_database() AND state LIKE 'idle in transaction%'",
    )
    .fetch_one(store.jobs())
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_clients_and_a_new_user_never_stall() {
    let cluster = LocalCluster::temporary().await.expect("temporary cluster");
    // The server's pool arithmetic: every admitted request's scans get a connection.
    let store = Store::connect_with(
        cluster.database_url(),
        &StoreOptions::new(server::db_pool::minimum_request_pool(IN_FLIGHT, 2)),
    )
    .await
    .unwrap();
    store.migrate().await.unwrap();
    let engine = Engine::new(store.clone(), embedder(), EngineSettings::default());
    let key = store
        .create_api_key("load", engine::api_keys::Scope::Write)
        .await
        .unwrap()
        .secret;
    let config = ApiConfig {
        rate_per_second: 1e6,
        burst: 1_000_000,
    };
    let router = router_admitting(engine, &config, Admission::new(IN_FLIGHT as usize));
    let import = send_raw(
        &router,
        request(
            Method::POST,
            "/api/v1/items",
            Some(&key),
            Body::from(fixture_jsonl()),
        ),
    )
    .await;
    assert_eq!(import.status, StatusCode::OK, "{import:?}");

    // Clients that give up at every point of a request: the request's future is
    // dropped after 1, 2, 3, … polls, so every await in it (a BEGIN's round trip
    // among them) is where one of them gives up.
    let first = send(
        &router,
        Method::POST,
        "/api/v1/recommendations",
        Some(&key),
        Some(body("warm-up")),
    )
    .await;
    assert_eq!(first.status, StatusCode::OK, "{first:?}");
    let mut gave_up = 0;
    let mut leaked = 0;
    // A request takes about 20 polls, but fewer when its database answers are
    // already there at a poll (a loaded machine): sweep again until more than 10
    // points were given up at in all.
    'sweeps: for _ in 0..5 {
        for polls in 1..2000 {
            let request = router.clone().oneshot(recommendation(&key, "impatient"));
            if !give_up_after(polls, request).await {
                break;
            }
            gave_up += 1;
            // What the dropped request held goes back to the pool (dropped
            // transactions roll back first).
            tokio::time::sleep(Duration::from_millis(100)).await;
            leaked = idle_in_transaction(&store).await;
            if leaked > 0 {
                // Straight to the new user's requests, before another request
                // happens to commit on that connection.
                break 'sweeps;
            }
        }
        if gave_up > 10 {
            break;
        }
    }
    assert!(
        gave_up > 10 || leaked > 0,
        "the requests finished too early to be cancelled"
    );

    let user = format!("newcomer-{}", std::process::id());
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..CLIENTS {
        let (router, key, user) = (router.clone(), key.clone(), user.clone());
        clients.spawn(async move {
            let t = Instant::now();
            let reply = tokio::time::timeout(
                Duration::from_secs(5),
                send_raw(&router, recommendation(&key, &user)),
            )
            .await;
            (reply.map(|r| r.status), t.elapsed())
        });
    }
    let mut slowest = Duration::ZERO;
    while let Some(done) = clients.join_next().await {
        let (status, took) = done.unwrap();
        slowest = slowest.max(took);
        assert_eq!(
            status.ok(),
            Some(StatusCode::OK),
            "a request for the new user did not answer 200 within 5 s (took {took:?}; {leaked} connections were left inside a transaction by cancelled requests)"
        );
    }
    eprintln!("{gave_up} requests given up; 8 concurrent requests, slowest {slowest:?}");
    assert_eq!(
        leaked, 0,
        "cancelled requests left pooled connections inside a transaction"
    );
}

/// The cause itself, without HTTP: a transaction's start given up at each of its
/// awaits (and an impression write, which runs one) leaves no pooled connection
/// inside a transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_given_up_transaction_start_leaves_no_open_transaction() {
    let cluster = LocalCluster::temporary().await.expect("temporary cluster");
    let store = Store::connect(cluster.database_url(), 4).await.unwrap();
    store.migrate().await.unwrap();
    let engine = Engine::new(store.clone(), embedder(), EngineSettings::default());
    for polls in 1..8 {
        give_up_after(polls, engine::store::begin_on(store.pool())).await;
        give_up_after(
            polls,
            engine.record_impression(None, engine::events::ImpressionContext::Api, None, &[]),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let open = idle_in_transaction(&store).await;
        assert_eq!(
            open, 0,
            "giving up after {polls} polls left {open} pooled connections inside a transaction"
        );
    }
}
