//! The server's shared state. The JSON API's handlers take the parts they need
//! (`State<Engine>`) through axum's `FromRef`, so they do not depend on the
//! web app's types; the web app's server functions get their own view of it
//! (`app::session::ServerState`) through Leptos context.

use app::session::{AdminCredentials, ServerState};
use axum::extract::FromRef;
use engine::Engine;

#[derive(Clone)]
pub struct AppState {
    pub engine: Engine,
    pub admin: AdminCredentials,
    /// Add `Secure` to cookies (set when served over HTTPS).
    pub secure_cookies: bool,
}

impl AppState {
    /// What the web app's server functions find in their context.
    pub fn server_functions(&self) -> ServerState {
        ServerState {
            engine: self.engine.clone(),
            admin: self.admin.clone(),
            secure_cookies: self.secure_cookies,
        }
    }
}

impl From<ServerState> for AppState {
    fn from(s: ServerState) -> Self {
        Self {
            engine: s.engine,
            admin: s.admin,
            secure_cookies: s.secure_cookies,
        }
    }
}

impl FromRef<AppState> for Engine {
    fn from_ref(state: &AppState) -> Engine {
        state.engine.clone()
    }
}
