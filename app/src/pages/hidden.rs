//! "Hidden": the items the signed-in user marked "Not interested", newest first,
//! each with a Restore button. Server-rendered plain forms (no island): Restore
//! posts to the server function, which redirects back here without JavaScript.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use crate::cards::urlencode;
use crate::error::user_message;
use crate::views::HiddenView;

/// The signed-in user's hidden items; `None` when nobody is signed in.
#[server(endpoint = "get_hidden")]
pub async fn get_hidden() -> Result<Option<Vec<HiddenView>>, ServerFnError> {
    use crate::error::engine_error;
    use crate::session::{current_user, state};
    let Some((user_id, _)) = current_user().await? else {
        return Ok(None);
    };
    let hidden = state()?
        .engine
        .hidden_items(user_id)
        .await
        .map_err(engine_error)?;
    Ok(Some(
        hidden
            .into_iter()
            .map(|h| HiddenView {
                id: h.item.external_id,
                title: h.item.title,
                hidden_on: h.hidden_at.format("%Y-%m-%d").to_string(),
            })
            .collect(),
    ))
}

/// Undoes "Not interested" for the signed-in user: the item may be recommended
/// again and no longer pushes similar items down. The toast's Undo and the
/// Hidden page's Restore.
#[server(endpoint = "restore_item")]
pub async fn restore_item(id: String) -> Result<(), ServerFnError> {
    use crate::error::engine_error;
    use crate::session::{require_user, state};
    let (user_id, _) = require_user().await?;
    state()?
        .engine
        .undo_dismiss(user_id, &id)
        .await
        .map(|_| ())
        .map_err(engine_error)
}

#[component]
pub fn HiddenPage() -> impl IntoView {
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match get_hidden().await {
                    Err(e) => view! {
                        <div class="state state-error" role="alert">
                            <p class="state-title">"Something went wrong"</p>
                            <p>{user_message(&e)}</p>
                        </div>
                    }.into_any(),
                    Ok(None) => view! {
                        <section class="panel">
                            <h1>"Hidden"</h1>
                            <p>"Sign in on the " <a href="/">"home page"</a> " to see what you hid."</p>
                        </section>
                    }.into_any(),
                    Ok(Some(items)) => view! { <HiddenList items/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn HiddenList(items: Vec<HiddenView>) -> impl IntoView {
    let count = items.len();
    view! {
        <section class="panel hidden-page" aria-labelledby="hidden-title">
            <h1 id="hidden-title">"Hidden"</h1>
            <p class="muted">"What you marked “Not interested”: it stays out of your recommendations and pushes similar items down. Restore brings it back."</p>
            {if count == 0 {
                view! { <p class="empty">"Nothing hidden."</p> }.into_any()
            } else {
                view! {
                    <ul class="hidden-list">
                        {items.into_iter().map(|h| {
                            let label = format!("Restore {}", h.title);
                            view! {
                                <li class="hidden-item" data-item=h.id.clone()>
                                    <a href=format!("/item/{}", urlencode(&h.id))>{h.title.clone()}</a>
                                    <span class="muted small">" hidden " {h.hidden_on.clone()}</span>
                                    <form method="post" action=RestoreItem::url() class="inline">
                                        <input type="hidden" name="id" value=h.id.clone()/>
                                        <button type="submit" class="secondary" aria-label=label>"Restore"</button>
                                    </form>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
            <p><a href="/">"Back to your recommendations"</a></p>
        </section>
    }
}
