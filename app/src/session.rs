//! Server side of sign-in: the state handed to server functions, cookies, and
//! the checks every protected server function performs itself.

use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderValue, StatusCode};
use leptos::prelude::*;

use crate::error::{engine_error, fail};

pub const USER_COOKIE: &str = "semrec_session";
pub const ADMIN_COOKIE: &str = "semrec_admin";

/// Operator-set admin credentials (no default password exists).
#[derive(Clone, Debug)]
pub struct AdminCredentials {
    pub user: String,
    pub password: String,
}

impl AdminCredentials {
    /// What admin sessions are bound to: a session opened under another name or
    /// password is no longer an admin session.
    pub fn session_binding(&self) -> String {
        format!("{}\0{}", self.user, self.password)
    }
}

/// What every server function can reach through context.
#[derive(Clone)]
pub struct ServerState {
    pub engine: engine::Engine,
    pub admin: AdminCredentials,
    /// Add `Secure` to cookies (set when served over HTTPS).
    pub secure_cookies: bool,
}

pub fn state() -> Result<ServerState, ServerFnError> {
    use_context::<ServerState>()
        .ok_or_else(|| fail(StatusCode::INTERNAL_SERVER_ERROR, "server state missing"))
}

fn cookie(name: &str) -> Option<String> {
    cookie_in(&use_context::<http::request::Parts>()?.headers, name)
}

/// A cookie's value from request headers (also for plain axum handlers).
pub fn cookie_in(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Sets (or with `None`, clears) a session cookie: HttpOnly, SameSite=Lax.
pub fn set_cookie(name: &str, token: Option<&str>, secure: bool) {
    let Some(response) = use_context::<leptos_axum::ResponseOptions>() else {
        return;
    };
    let max_age = match token {
        None => 0,
        Some(_) if name == ADMIN_COOKIE => engine::sessions::ADMIN_SESSION_HOURS * 3_600,
        Some(_) => engine::sessions::SESSION_DAYS * 86_400,
    };
    let value = format!(
        "{name}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
        token.unwrap_or(""),
        if secure { "; Secure" } else { "" }
    );
    if let Ok(v) = HeaderValue::from_str(&value) {
        response.append_header(SET_COOKIE, v);
    }
}

/// The signed-in end user, if any: (user id, handle).
pub async fn current_user() -> Result<Option<(i64, String)>, ServerFnError> {
    let Some(token) = cookie(USER_COOKIE) else {
        return Ok(None);
    };
    let session = state()?
        .engine
        .session(&token)
        .await
        .map_err(engine_error)?;
    Ok(session.and_then(|s| Some((s.user_id?, s.handle?))))
}

pub async fn require_user() -> Result<(i64, String), ServerFnError> {
    current_user()
        .await?
        .ok_or_else(|| fail(StatusCode::UNAUTHORIZED, "Sign in with a handle first."))
}

/// Every admin server function calls this first: hiding a button is not access control.
pub async fn require_admin() -> Result<(), ServerFnError> {
    let token = cookie(ADMIN_COOKIE)
        .ok_or_else(|| fail(StatusCode::UNAUTHORIZED, "Admin sign-in required."))?;
    let st = state()?;
    if st
        .engine
        .admin_session_valid(&token, &st.admin.session_binding())
        .await
        .map_err(engine_error)?
    {
        Ok(())
    } else {
        Err(fail(StatusCode::UNAUTHORIZED, "Admin sign-in required."))
    }
}

pub fn admin_token() -> Option<String> {
    cookie(ADMIN_COOKIE)
}

pub fn user_token() -> Option<String> {
    cookie(USER_COOKIE)
}
