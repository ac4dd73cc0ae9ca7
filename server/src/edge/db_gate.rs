//! Fail fast while the database is down: once a request has come back 503 with
//! no connection left in the pool, the next requests that would need the
//! database are answered 503 (with `Retry-After`) at once, instead of each
//! waiting out the pool's acquire timeout; a background probe reopens the gate
//! as soon as the database answers again. Health checks and static files pass.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use engine::Store;
use http::{header, HeaderValue, StatusCode};
use leptos::prelude::ServerFnError;
use leptos::server_fn::error::FromServerFnError;

use crate::api;

/// What a client is told to wait, in seconds; also the probe's period.
const RETRY_AFTER_SECS: u64 = 2;
const READY: &str = "/api/v1/health/ready";
const MESSAGE: &str = "The database is unavailable right now, try again shortly.";

#[derive(Clone, Debug)]
pub struct DatabaseGate {
    store: Store,
    down: Arc<AtomicBool>,
}

impl DatabaseGate {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            down: Arc::default(),
        }
    }

    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Acquire)
    }

    /// Closes the gate and probes until the database answers (one probe at a time).
    fn mark_down(&self) {
        if self.down.swap(true, Ordering::AcqRel) {
            return;
        }
        tracing::warn!("the database is unreachable: answering 503 at once until it is back");
        let gate = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(RETRY_AFTER_SECS)).await;
                if gate.store.ping().await.is_ok() {
                    gate.down.store(false, Ordering::Release);
                    tracing::info!("the database answers again");
                    return;
                }
            }
        });
    }
}

fn needs_no_database(path: &str) -> bool {
    path.starts_with("/api/v1/health/")
        || path.starts_with("/pkg/")
        || path == "/api/v1/openapi.json"
}

fn unavailable(path: &str) -> Response {
    let mut res = if path.starts_with(api::PREFIX) {
        api::error_response(StatusCode::SERVICE_UNAVAILABLE, "unavailable", MESSAGE).into_response()
    } else if path.starts_with("/api/") {
        // A server function: its client decodes this encoding into the error it shows.
        let error: ServerFnError = ServerFnError::ServerError(MESSAGE.into());
        let body = error.ser();
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            body,
        )
            .into_response()
    } else {
        let html = format!(
            r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="{RETRY_AFTER_SECS}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Unavailable — semrec</title></head>
<body><main><h1>The database is unavailable</h1>
<p>{MESSAGE} This page retries by itself.</p></main></body></html>"#
        );
        (StatusCode::SERVICE_UNAVAILABLE, Html(html)).into_response()
    };
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    res
}

/// The middleware.
pub async fn gate(State(gate): State<DatabaseGate>, req: Request, next: Next) -> Response {
    if req.uri().path() == READY {
        // Readiness pings the database itself: a success reopens the gate at once.
        let res = next.run(req).await;
        if res.status() == StatusCode::OK {
            gate.down.store(false, Ordering::Release);
        }
        return res;
    }
    if needs_no_database(req.uri().path()) {
        return next.run(req).await;
    }
    if gate.is_down() {
        return unavailable(req.uri().path());
    }
    let res = next.run(req).await;
    // A 503 with an empty pool: the pool could not open a connection. (A busy
    // or timed-out request leaves connections in the pool.)
    if res.status() == StatusCode::SERVICE_UNAVAILABLE && gate.store.pool().size() == 0 {
        gate.mark_down();
    }
    res
}
