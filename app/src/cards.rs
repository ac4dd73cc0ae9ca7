//! Recommendation cards. Catalog text is untrusted: it is only ever inserted as
//! text nodes and attribute values (escaped by Leptos), never as HTML.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use crate::views::{RecommendationCard, RecommendationsView};

/// Percent-encodes a path segment or query value (ids are user data).
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The item page reached from a card; the impression id records the click.
pub fn item_href(id: &str, impression: &str) -> String {
    format!("/item/{}?imp={}", urlencode(id), urlencode(impression))
}

/// One recommendation. `on_dismiss`, when given, adds a "Not interested" button.
/// Its labels are the item's genres, and its language only where it is not
/// `usual_language` (the catalog's most common one): a pill on every card that
/// repeats the default says nothing.
#[component]
pub fn Card(
    card: RecommendationCard,
    impression: String,
    #[prop(optional)] on_dismiss: Option<Callback<String>>,
    /// Handles the feedback buttons in place (the home page's island).
    #[prop(optional)]
    on_feedback: Option<Callback<(String, &'static str)>>,
    #[prop(default = None)] usual_language: Option<String>,
) -> impl IntoView {
    let other_language = usual_language
        .is_some_and(|usual| card.item.language != usual)
        .then(|| card.item.language.clone());
    let href = item_href(&card.item.id, &impression);
    let more_href = format!("{href}#similar");
    let title = card.item.title.clone();
    let id = card.item.id.clone();
    let score = format!("{}% match", card.match_percent);
    view! {
        <li class="card" id=format!("rank-{}", card.rank) data-item=card.item.id.clone() data-rank=card.rank>
            <div class="card-head">
                <a class="card-title" href=href>{card.item.title.clone()}</a>
                <span class="score" title="How closely this item matches your profile (cosine similarity, never above the card before it)">{score}</span>
            </div>
            <ul class="meta" aria-label="Genres">
                {card.item.genres.iter().map(|g| view! { <li class="pill genre">{g.clone()}</li> }).collect_view()}
                {other_language.map(|l| view! { <li class="pill" title="Language">{l}</li> })}
            </ul>
            {card.because.clone().map(|b| view! { <p class="because">{b}</p> })}
            <p class="snippet">{card.item.snippet.clone()}</p>
            <div class="card-actions">
                <a class="more" href=more_href>"More like this"</a>
                <crate::pages::feedback::FeedbackButtons id=id.clone() title=title.clone() on_feedback/>
                {on_dismiss.map(|cb| {
                    let label = format!("Not interested in {title}");
                    // A real form: without the WASM it posts, and the server redirects back.
                    let on_submit = {
                        let id = id.clone();
                        move |ev: leptos::ev::SubmitEvent| {
                            ev.prevent_default();
                            cb.run(id.clone());
                        }
                    };
                    view! {
                        <form method="post" action=crate::pages::home::DismissItem::url() class="inline"
                            on:submit=on_submit>
                            <input type="hidden" name="id" value=id/>
                            <button type="submit" class="secondary dismiss" aria-label=label>"Not interested"</button>
                        </form>
                    }
                })}
            </div>
        </li>
    }
}

/// A fixed list (similar items on an item page).
#[component]
pub fn RecommendationList(list: RecommendationsView, usual_language: String) -> impl IntoView {
    let imp = list.impression_id.clone();
    if list.items.is_empty() {
        return view! { <p class="empty">"Nothing similar in the catalog yet."</p> }.into_any();
    }
    view! {
        <ol class="cards" data-impression=imp.clone()>
            {list.items.into_iter().map(|card| view! { <Card card impression=imp.clone() usual_language=Some(usual_language.clone())/> }).collect_view()}
        </ol>
    }
    .into_any()
}

/// Placeholder cards while a list loads.
#[component]
pub fn CardSkeletons(#[prop(default = 3)] count: usize) -> impl IntoView {
    view! {
        <div class="loading-block" aria-busy="true">
            <p class="visually-hidden" role="status">"Loading recommendations…"</p>
            <ol class="cards skeleton" aria-hidden="true">
                {(0..count).map(|_| view! {
                    <li class="card"><span class="sk w60"></span><span class="sk w30"></span><span class="sk w90"></span><span class="sk w80"></span></li>
                }).collect_view()}
            </ol>
        </div>
    }
}
