//! The WASM entry point. The app runs in islands mode: pages are rendered on
//! the server and only the `#[island]` components of the `app` crate hydrate
//! here. The body is marked once they have, so tests (and scripts) know the
//! page is interactive.

// Links the app crate: its islands are the hydration functions this module exports.
extern crate app;

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
    // Leptos' island script calls each island's hydration function right after this
    // returns, in one chain of microtasks; a timeout runs after that chain.
    leptos::prelude::set_timeout(
        || {
            if let Some(body) = leptos::prelude::document().body() {
                let _ = body.set_attribute("data-hydrated", "true");
            }
        },
        std::time::Duration::ZERO,
    );
}
