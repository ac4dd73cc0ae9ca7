//! Security headers on every response, with a fresh CSP nonce per request: the
//! pages' inline scripts (Leptos's hydration loader) carry it, so `script-src`
//! needs no `'unsafe-inline'` and an injected script does not run.

use std::sync::Arc;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::{header, HeaderValue, StatusCode};

/// The nonce of this request's CSP; the page renderer gives it to Leptos.
#[derive(Clone, Debug)]
pub struct CspNonce(pub Arc<str>);

/// What a 503 without its own `Retry-After` tells clients to wait, in seconds.
const UNAVAILABLE_RETRY_AFTER_SECS: u32 = 5;

/// The policy: own resources only; scripts also need the nonce (inline) and
/// `'wasm-unsafe-eval'` (compiling the WASM bundle). Inline `style` attributes
/// stay allowed (the dashboard's bars are sized by them); `<style>` elements are not.
pub fn content_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; style-src-attr 'unsafe-inline'; img-src 'self' data:; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    )
}

/// The middleware.
pub async fn security_headers(mut req: Request, next: Next) -> Response {
    let nonce = hex::encode(rand::random::<[u8; 16]>());
    req.extensions_mut().insert(CspNonce(nonce.as_str().into()));
    let mut res = next.run(req).await;
    let status = res.status();
    let headers = res.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&content_security_policy(&nonce)) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    // Every 503 says when to come back (database down, a timed-out request).
    if status == StatusCode::SERVICE_UNAVAILABLE && !headers.contains_key(header::RETRY_AFTER) {
        headers.insert(
            header::RETRY_AFTER,
            HeaderValue::from(UNAVAILABLE_RETRY_AFTER_SECS),
        );
    }
    res
}
