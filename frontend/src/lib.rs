//! The WASM entry point: hydrates the server-rendered page, then marks the
//! body so tests (and scripts) know the page is interactive.
// The dashboard's view types nest deeply; the default limit (128) is too low to lay them out.
#![recursion_limit = "256"]

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
    if let Some(body) = leptos::prelude::document().body() {
        let _ = body.set_attribute("data-hydrated", "true");
    }
}
