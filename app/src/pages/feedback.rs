//! Explicit feedback on an item: 👍 (it joins the things you enjoyed), 👎 (a
//! negative element, like "Not interested") and "Seen it" (consumed, left out of
//! your lists). One form with a button per kind: without JavaScript it posts and
//! the server redirects back; on the home page's cards the island handles it.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;

/// Records the signed-in user's feedback (`liked`, `disliked` or `seen`) on an item.
#[server(endpoint = "item_feedback")]
pub async fn item_feedback(id: String, feedback: String) -> Result<(), ServerFnError> {
    use crate::error::{engine_error, fail};
    use crate::session::{require_user, state};
    let Some(kind) = engine::feedback::Feedback::parse(&feedback) else {
        return Err(fail(
            http::StatusCode::BAD_REQUEST,
            "Unknown feedback: send liked, disliked or seen.",
        ));
    };
    let (user_id, _) = require_user().await?;
    state()?
        .engine
        .give_feedback(user_id, &id, kind)
        .await
        .map_err(engine_error)
}

/// The three feedback buttons for one item. With `on_feedback` (the home page's
/// island) a click is handled in place; without it the form posts.
#[component]
pub fn FeedbackButtons(
    id: String,
    title: String,
    #[prop(default = None)] on_feedback: Option<Callback<(String, &'static str)>>,
) -> impl IntoView {
    let kinds: [(&'static str, &'static str, &'static str); 3] = [
        ("liked", "👍", "I liked"),
        ("disliked", "👎", "I did not like"),
        ("seen", "Seen it", "I've seen"),
    ];
    view! {
        <form method="post" action=ItemFeedback::url() class="inline feedback">
            <input type="hidden" name="id" value=id.clone()/>
            {kinds.into_iter().map(|(value, text, label)| {
                let label = format!("{label} {title}");
                let id = id.clone();
                view! {
                    <button type="submit" name="feedback" value=value class="secondary" aria-label=label.clone() title=label
                        on:click=move |ev| if let Some(cb) = on_feedback {
                            ev.prevent_default();
                            cb.run((id.clone(), value));
                        }>{text}</button>
                }
            }).collect_view()}
        </form>
    }
}
