//! The whole web router as `semrec serve` builds it, over a real throwaway
//! PostgreSQL + pgvector cluster and the real model, driven in process with
//! `oneshot`.

use axum::body::Body;
use axum::Router;
use engine::api_keys::Scope;
use engine::Engine;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use pg_local::LocalCluster;
use serde_json::Value;
use server::admission::Admission;
use server::api::ApiConfig;
use tower::ServiceExt;

/// The whole web router (pages, CSRF check, API) as `semrec serve` builds it.
pub fn router(engine: Engine, config: &ApiConfig) -> Router {
    router_admitting(engine, config, Admission::default())
}

/// The same with a given in-flight limit for ranking requests.
pub fn router_admitting(engine: Engine, config: &ApiConfig, admission: Admission) -> Router {
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
            password: "test-password-not-used".into(),
        },
        secure_cookies: false,
    };
    server::web::router(state, options, &site_root, config, admission)
}

pub struct TestApi {
    pub router: Router,
    pub engine: Engine,
    pub write_key: String,
    pub admin_key: String,
    /// Kept so the cluster lives as long as the test; stopped on drop.
    pub _cluster: LocalCluster,
}

pub async fn api_with(config: ApiConfig) -> TestApi {
    api_admitting(config, Admission::default()).await
}

pub async fn api_admitting(config: ApiConfig, admission: Admission) -> TestApi {
    let cluster = crate::db::cluster().await;
    let engine = crate::db::connect(&cluster).await;
    // As the server runs: impressions are queued and written in the background.
    engine.start_impression_queue(engine::impression_queue::QueueSettings::default());
    let write_key = engine
        .store
        .create_api_key("front end", Scope::Write)
        .await
        .unwrap()
        .secret;
    let admin_key = engine
        .store
        .create_api_key("ops", Scope::Admin)
        .await
        .unwrap()
        .secret;
    TestApi {
        router: router_admitting(engine.clone(), &config, admission),
        engine,
        write_key,
        admin_key,
        _cluster: cluster,
    }
}

pub async fn api() -> TestApi {
    api_with(ApiConfig {
        // High enough that only the rate-limit test ever meets it.
        rate_per_second: 1000.0,
        burst: 1000,
    })
    .await
}

/// A response, its body parsed as JSON (`Null` when empty).
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: Value,
}

impl Reply {
    /// The error code of an error response.
    pub fn code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or("")
    }
    pub fn message(&self) -> &str {
        self.json["error"]["message"].as_str().unwrap_or("")
    }
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.json)
    }
}

pub async fn send_raw(router: &Router, req: Request<Body>) -> Reply {
    let res = router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let json = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "{status}: body is not JSON ({e}): {}",
                String::from_utf8_lossy(&bytes)
            )
        })
    };
    Reply {
        status,
        headers,
        json,
    }
}

pub fn request(method: Method, path: &str, key: Option<&str>, body: Body) -> Request<Body> {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::HOST, "127.0.0.1:3000");
    if let Some(key) = key {
        req = req.header(http::header::AUTHORIZATION, format!("Bearer {key}"));
    }
    req.body(body).unwrap()
}

pub async fn send(
    router: &Router,
    method: Method,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let body = body.map_or(Body::empty(), |b| Body::from(b.to_string()));
    let mut req = request(method, path, key, body);
    req.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    send_raw(router, req).await
}
