//! The home page's list of cards: the first page (and any asked for in the
//! URL), pages added by "Show more", minus dismissed ones. Part of the
//! [`Workspace`](crate::pages::home::Workspace) island.

use leptos::either::Either;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use crate::cards::Card;
use crate::error::user_message;
use crate::pages::feedback::item_feedback;
use crate::pages::hidden::{restore_item, RestoreItem};
use crate::pages::home::{dismiss_item, get_recommendations, MAX_PAGES};
use crate::views::{RecommendationCard, RecommendationsView};

/// Moves keyboard focus to the first element matching `selector` once the page
/// has caught up (a removed card's focus would otherwise fall to the body).
pub(crate) fn focus_later(selector: String) {
    request_animation_frame(move || {
        if let Ok(Some(el)) = document().query_selector(&selector) {
            use leptos::wasm_bindgen::JsCast;
            let _ = el.unchecked_into::<leptos::web_sys::HtmlElement>().focus();
        }
    });
}

fn title_of(rank: usize) -> String {
    format!("#rank-{rank} .card-title")
}

/// The loaded cards: the first page, then pages added by "Show more", minus dismissed ones.
#[component]
pub(crate) fn RecList(
    first: RecommendationsView,
    more: Vec<RecommendationsView>,
    filtered: bool,
    catalog_empty: bool,
    usual_language: Option<String>,
    language: String,
    source: String,
) -> impl IntoView {
    let usual_language = StoredValue::new(usual_language);
    let imp = first.impression_id.clone();
    let warning = first.warning.clone();
    let has_more = RwSignal::new(more.last().map_or(first.has_more, |p| p.has_more));
    let pages = RwSignal::new(1 + more.len());
    let mut initial: Vec<(String, RecommendationCard)> =
        first.items.into_iter().map(|c| (imp.clone(), c)).collect();
    for page in more {
        for c in page.items {
            if !initial.iter().any(|(_, x)| x.item.id == c.item.id) {
                initial.push((page.impression_id.clone(), c));
            }
        }
    }
    let cards = RwSignal::new(initial);
    // What the "Show more" form asks for without JavaScript: these filters, one more page.
    let (language_field, source_field) = (language.clone(), source.clone());
    let more = Action::new(move |offset: &usize| {
        get_recommendations(*offset, language.clone(), source.clone())
    });
    Effect::new(move |_| {
        if let Some(Ok(Some(page))) = more.value().get() {
            let imp = page.impression_id.clone();
            cards.update(|list| {
                for c in page.items {
                    if !list.iter().any(|(_, x)| x.item.id == c.item.id) {
                        list.push((imp.clone(), c));
                    }
                }
            });
            has_more.set(page.has_more);
            pages.update(|p| *p += 1);
        }
    });
    let dismiss_failed = RwSignal::new(None::<String>);
    // The card acted on last, where it was, and what was done ("dismiss" or a
    // feedback kind): the toast says it, and its Undo puts a hidden card back.
    type Done = (usize, (String, RecommendationCard), &'static str);
    let last_hidden = RwSignal::new(None::<Done>);
    // "Not interested" and the feedback buttons: the card goes at once and focus
    // moves to the one taking its place (else the one before it, else the
    // heading); if the server does not take it, it comes back where it was, with
    // the reason.
    let act = move |id: String, kind: &'static str| {
        let mut removed = None;
        let mut next = None;
        cards.update(|list| {
            if let Some(pos) = list.iter().position(|(_, c)| c.item.id == id) {
                next = list
                    .get(pos + 1)
                    .or_else(|| pos.checked_sub(1).and_then(|p| list.get(p)))
                    .map(|(_, c)| title_of(c.rank));
                removed = Some((pos, list.remove(pos)));
            }
        });
        focus_later(next.unwrap_or_else(|| "#recs-title".to_string()));
        leptos::task::spawn_local(async move {
            let result = if kind == "dismiss" {
                dismiss_item(id).await
            } else {
                item_feedback(id, kind.to_string()).await
            };
            match result {
                Ok(()) => {
                    dismiss_failed.set(None);
                    last_hidden.set(removed.map(|(pos, entry)| (pos, entry, kind)));
                }
                Err(e) => {
                    dismiss_failed.set(Some(user_message(&e)));
                    if let Some((pos, entry)) = removed {
                        // Unless "Show more" brought it back meanwhile.
                        cards.update(|list| {
                            if !list.iter().any(|(_, c)| c.item.id == entry.1.item.id) {
                                list.insert(pos.min(list.len()), entry);
                            }
                        });
                    }
                }
            }
        });
    };
    let on_dismiss = Callback::new(move |id: String| act(id, "dismiss"));
    let on_feedback = Callback::new(move |(id, kind): (String, &'static str)| act(id, kind));
    // Undo: the dismissal is undone on the server, then the card is back in its place.
    let undo = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some((pos, entry, _)) = last_hidden.get_untracked() else {
            return;
        };
        leptos::task::spawn_local(async move {
            let id = entry.1.item.id.clone();
            match restore_item(id.clone()).await {
                Ok(()) => {
                    last_hidden.set(None);
                    let rank = entry.1.rank;
                    cards.update(|list| {
                        if !list.iter().any(|(_, c)| c.item.id == id) {
                            list.insert(pos.min(list.len()), entry);
                        }
                    });
                    focus_later(title_of(rank));
                }
                Err(e) => dismiss_failed.set(Some(user_message(&e))),
            }
        });
    };
    let more_error = move || match more.value().get() {
        Some(Err(e)) => Some(user_message(&e)),
        _ => None,
    };
    // A memo, so the list below is rebuilt only when it turns empty, not on every change.
    let any_cards = Memo::new(move |_| !cards.with(Vec::is_empty));
    let empty = move || {
        view! {
            <div class="state state-empty">
                <p class="state-title">{if catalog_empty {
                    "The catalog is empty"
                } else if filtered {
                    "Nothing matches these filters"
                } else {
                    "Nothing left to show"
                }}</p>
                <p>{if catalog_empty {
                    "There is nothing to recommend yet: an admin imports a catalog from the dashboard."
                } else if filtered {
                    "Try another language or source, or clear the filters."
                } else {
                    "You have seen or dismissed everything close to your profile. Add interests to widen it."
                }}</p>
                {filtered.then(|| view! { <a href="/">"Clear filters"</a> })}
            </div>
        }
    };
    // Plain closures and `Either` rather than <Show/>: its children and fallback are
    // type-erased views, each with its own copy of the hydration code in the bundle.
    view! {
        {warning.map(|w| view! { <p class="notice warning" role="status" id="list-warning">{w}</p> })}
        {move || if any_cards.get() {
            Either::Left(view! {
                <ol class="cards" id="recommendation-list">
                    <For each=move || cards.get() key=|(_, c)| c.item.id.clone() let:entry>
                        <Card card=entry.1 impression=entry.0 on_dismiss=on_dismiss on_feedback=on_feedback usual_language=usual_language.get_value()/>
                    </For>
                </ol>
            })
        } else {
            Either::Right(empty())
        }}
        {move || dismiss_failed.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        // A live region present from the start, so the toast is announced.
        <div class="toast-region" role="status">
            {move || last_hidden.get().map(|(_, (_, c), kind)| {
                let (before, after) = match kind {
                    "liked" => ("Added “", "” to the things you enjoyed."),
                    "seen" => ("Marked “", "” as seen."),
                    _ => ("Hidden “", "”."),
                };
                let hidden = kind == "dismiss" || kind == "disliked";
                view! {
                    <div class="toast">
                        <span>{before} {c.item.title.clone()} {after}</span>
                        // A real form: posted without the WASM, the server redirects back.
                        {hidden.then(|| view! {
                            <form method="post" action=RestoreItem::url() class="inline" on:submit=undo>
                                <input type="hidden" name="id" value=c.item.id.clone()/>
                                <button type="submit" class="secondary">"Undo"</button>
                            </form>
                            <a href="/hidden">"All hidden items"</a>
                        })}
                    </div>
                }
            })}
        </div>
        {move || more_error().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        // A GET form: without the WASM it loads this page with one more page of
        // cards, scrolled to the first new one.
        {move || has_more.get().then(|| view! {
            <form method="get" action=move || format!("/#rank-{}", cards.with(Vec::len) + 1)
                class="load-more"
                on:submit=move |ev: leptos::ev::SubmitEvent| {
                    ev.prevent_default();
                    more.dispatch(cards.with(Vec::len));
                }>
                {(!language_field.is_empty()).then(|| view! { <input type="hidden" name="language" value=language_field.clone()/> })}
                {(!source_field.is_empty()).then(|| view! { <input type="hidden" name="source" value=source_field.clone()/> })}
                <input type="hidden" name="pages" value=move || (pages.get() + 1).min(MAX_PAGES)/>
                <button type="submit" class="secondary" disabled=move || more.pending().get()>
                    {move || if more.pending().get() { "Loading more…" } else { "Show more" }}
                </button>
            </form>
        })}
    }
}
