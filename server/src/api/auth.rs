//! API key authentication and scope checks, with the rate limit applied per
//! key (and per client IP to requests without a valid key).

use std::net::SocketAddr;

use app::client::ClientIp;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use engine::api_keys::{ApiKey, Scope};
use engine::Store;

use super::error::ApiError;
use super::limits::{Client, RateLimiter};

/// What the guard of a group of routes needs.
#[derive(Clone)]
pub struct Guard {
    pub store: Store,
    pub limiter: RateLimiter,
    /// The scope every route behind this guard requires.
    pub scope: Scope,
}

/// The client's address as the edge resolved it (`X-Forwarded-For` from a
/// trusted proxy), else the peer's.
fn client_ip(req: &Request) -> Client {
    if let Some(ClientIp(ip)) = req.extensions().get::<ClientIp>() {
        return Client::Ip(*ip);
    }
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(Client::Unknown, |c| Client::Ip(c.0.ip()))
}

/// The key from `Authorization: Bearer <key>`; Err when the header is there but malformed.
fn bearer(req: &Request) -> Result<Option<&str>, ()> {
    let Some(value) = req.headers().get(http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| ())?;
    let (scheme, key) = value.trim().split_once(' ').ok_or(())?;
    if !scheme.eq_ignore_ascii_case("bearer") || key.trim().is_empty() {
        return Err(());
    }
    Ok(Some(key.trim()))
}

/// Refuses a request without a live key of the guard's scope; counts it against
/// the key's rate limit. The key is left in the request's extensions.
pub async fn guard(
    State(guard): State<Guard>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let key: Option<ApiKey> = match bearer(&req) {
        Ok(Some(secret)) => guard.store.verify_api_key(secret).await?,
        Ok(None) => {
            guard
                .limiter
                .check(client_ip(&req))
                .map_err(|s| ApiError::RateLimited {
                    retry_after_secs: s,
                })?;
            return Err(ApiError::Unauthorized(
                "this endpoint needs an API key: send 'Authorization: Bearer <key>' (an operator creates keys with `semrec api-key create`)".into(),
            ));
        }
        Err(()) => None,
    };
    let Some(key) = key else {
        // Unknown keys count against the client's address: guessing is throttled.
        guard
            .limiter
            .check(client_ip(&req))
            .map_err(|s| ApiError::RateLimited {
                retry_after_secs: s,
            })?;
        return Err(ApiError::Unauthorized(
            "the API key is malformed, unknown or revoked: send 'Authorization: Bearer <key>' with a live key".into(),
        ));
    };
    guard
        .limiter
        .check(Client::Key(key.id))
        .map_err(|s| ApiError::RateLimited {
            retry_after_secs: s,
        })?;
    if !key.scope.allows(guard.scope) {
        return Err(ApiError::Forbidden(format!(
            "this endpoint needs an API key with scope '{}'; key '{}' has scope '{}'",
            guard.scope, key.name, key.scope
        )));
    }
    req.extensions_mut().insert(key);
    Ok(next.run(req).await)
}
