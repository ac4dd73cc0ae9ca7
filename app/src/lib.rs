//! semrec's web app: routes, pages and the server functions they call.
//! Server-only code sits behind `cfg(feature = "ssr")`. Leptos runs in islands
//! mode: every page is rendered on the server, and only the `#[island]`
//! components (the signed-in workspace of the home page, the dashboard's import
//! panel) are compiled to WASM and hydrated; links and plain forms do the rest.
// The dashboard's view types nest deeply; the default limit (128) is too low to lay them out.
#![recursion_limit = "256"]

pub mod cards;
pub mod chart;
pub mod chips;
#[cfg(feature = "ssr")]
pub mod client;
pub mod error;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod session;
pub mod views;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes, A};
use leptos_router::{path, SsrMode};

/// The HTML document around the app (server-side only).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                // An inline icon: no /favicon.ico request answered with a 404 on every page.
                <link rel="icon" href="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Ccircle cx='8' cy='8' r='7' fill='%232f5bd3'/%3E%3C/svg%3E"/>
                // The bundle's name carries its content hash (scripts/build.sh): the
                // stylesheet shares it with the scripts.
                <link rel="stylesheet" id="leptos" href=format!("/pkg/{}.css", options.output_name)/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options islands=true/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Pages are personal and change with every save: never keep them. Without this,
    // going back after a save showed the page as first loaded (an empty profile).
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.insert_header(
            http::header::CACHE_CONTROL,
            http::HeaderValue::from_static("no-store"),
        );
    }
    view! {
        <Title text="semrec — recommendations by meaning"/>
        <Router>
            <header class="topbar">
                <A href="/" attr:class="brand">"semrec"</A>
                <nav>
                    <A href="/">"For you"</A>
                    <A href="/hidden">"Hidden"</A>
                    <A href="/admin">"Admin"</A>
                </nav>
            </header>
            <main>
                // Async SSR: the server resolves every resource before it sends the page, so the
                // browser hydrates complete HTML. Out-of-order streaming of these nested
                // <Suspense/>s raced the WASM start-up after a reload (an intermittent hydration
                // failure), and these pages are worth nothing without their data anyway.
                <Routes fallback=|| view! { <p class="empty">"Page not found."</p> }>
                    <Route path=path!("/") view=pages::home::HomePage ssr=SsrMode::Async/>
                    <Route path=path!("/item/:id") view=pages::item::ItemPage ssr=SsrMode::Async/>
                    <Route path=path!("/hidden") view=pages::hidden::HiddenPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin") view=pages::admin::AdminPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/api-keys") view=pages::api_keys::ApiKeysPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/imports") view=pages::import_history::ImportHistoryPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/users") view=pages::users::UsersPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/catalogue") view=pages::catalogue::CataloguePage ssr=SsrMode::Async/>
                </Routes>
            </main>
            <footer class="footer">
                "Demo catalog: MovieLens ml-latest-small (GroupLens, F. M. Harper & J. A. Konstan, 2015; research use) "
                "with film summaries from Wikipedia (CC BY-SA). Embeddings: all-MiniLM-L6-v2 (Apache-2.0)."
            </footer>
        </Router>
    }
}
