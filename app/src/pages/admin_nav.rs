//! What every admin page shares: the navigation between them and the answer
//! to a visitor without an admin session (each page's server functions check
//! the session themselves).

use leptos::prelude::*;

use crate::error::user_message;

/// The admin pages, in the navigation's order.
const PAGES: [(&str, &str); 5] = [
    ("/admin", "Dashboard"),
    ("/admin/api-keys", "API keys"),
    ("/admin/imports", "Import history"),
    ("/admin/users", "Users"),
    ("/admin/catalogue", "Catalogue"),
];

#[component]
pub fn AdminNav(current: &'static str) -> impl IntoView {
    view! {
        <nav class="admin-nav" aria-label="Admin pages">
            {PAGES
                .iter()
                .map(|(href, label)| {
                    view! { <a href=*href aria-current=(*href == current).then_some("page")>{*label}</a> }
                })
                .collect_view()}
        </nav>
    }
}

/// True when a server function refused for want of an admin session.
pub fn needs_sign_in(e: &ServerFnError) -> bool {
    user_message(e).contains("Admin sign-in required")
}

/// The page for a failed load: a link to sign in, or the error.
#[component]
pub fn AdminLoadError(error: ServerFnError, what: &'static str) -> impl IntoView {
    if needs_sign_in(&error) {
        view! {
            <div class="state" role="alert">
                <p class="state-title">"Admin sign-in required"</p>
                <p><a href="/admin">"Sign in on the dashboard"</a>", then come back."</p>
            </div>
        }
        .into_any()
    } else {
        view! {
            <div class="state state-error" role="alert">
                <p class="state-title">{format!("The {what} could not be loaded")}</p>
                <p>{user_message(&error)}</p>
            </div>
        }
        .into_any()
    }
}

/// A timestamp as admin pages show it (UTC, to the minute).
#[cfg(feature = "ssr")]
pub fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}
