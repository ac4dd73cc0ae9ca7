//! semrec's web app: routes, pages and the server functions they call.
//! Server-only code sits behind `cfg(feature = "ssr")`; the same components
//! render on the server and hydrate in the browser.
// The dashboard's view types nest deeply; the default limit (128) is too low to lay them out.
#![recursion_limit = "256"]

pub mod cards;
pub mod chart;
pub mod chips;
pub mod error;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod session;
pub mod views;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes, A};
use leptos_router::path;

/// The HTML document around the app (server-side only).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
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
    view! {
        <Stylesheet id="leptos" href="/pkg/semrec.css"/>
        <Title text="semrec — recommendations by meaning"/>
        <Router>
            <header class="topbar">
                <A href="/" attr:class="brand">"semrec"</A>
                <nav>
                    <A href="/">"For you"</A>
                    <A href="/admin">"Admin"</A>
                </nav>
            </header>
            <main>
                <Routes fallback=|| view! { <p class="empty">"Page not found."</p> }>
                    <Route path=path!("/") view=pages::home::HomePage/>
                    <Route path=path!("/item/:id") view=pages::item::ItemPage/>
                    <Route path=path!("/admin") view=pages::admin::AdminPage/>
                </Routes>
            </main>
            <footer class="footer">
                "Demo catalog: MovieLens ml-latest-small (GroupLens, F. M. Harper & J. A. Konstan, 2015; research use) "
                "with film summaries from Wikipedia (CC BY-SA). Embeddings: all-MiniLM-L6-v2 (Apache-2.0)."
            </footer>
        </Router>
    }
}
