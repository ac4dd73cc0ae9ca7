//! An item's page: its full text and similar items. Arriving from a
//! recommendation (`?imp=<impression id>`) records the click.

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::cards::RecommendationList;
use crate::error::user_message;
use crate::views::ItemDetail;

#[cfg(feature = "ssr")]
pub fn card(item: &engine::catalog::Item, genres: Vec<String>) -> crate::views::ItemCard {
    let snippet = if item.description.chars().count() > 280 {
        let cut: String = item.description.chars().take(280).collect();
        format!("{}…", cut.trim_end())
    } else if item.description.is_empty() {
        genres.join(", ")
    } else {
        item.description.clone()
    };
    crate::views::ItemCard {
        id: item.external_id.clone(),
        title: item.title.clone(),
        snippet,
        source: item.source.clone(),
        language: item.language.clone(),
        genres,
        url: item.url.clone(),
    }
}

/// A served list as the cards show it, with the items' genres (one query).
#[cfg(feature = "ssr")]
pub async fn to_view(
    engine: &engine::Engine,
    list: engine::recommend::RecommendationList,
    page: usize,
) -> Result<crate::views::RecommendationsView, ServerFnError> {
    use engine::profile::ElementKind;
    let ids: Vec<String> = list
        .items
        .iter()
        .map(|r| r.item.external_id.clone())
        .collect();
    let mut genres = engine
        .genres_of(&ids)
        .await
        .map_err(crate::error::engine_error)?;
    Ok(crate::views::RecommendationsView {
        impression_id: list.impression_id.to_string(),
        warning: list.warning.map(|w| w.message),
        // A full page may have more after it, unless it ends at the deepest rank served.
        has_more: list.items.len() >= page
            && list
                .items
                .last()
                .is_some_and(|r| r.rank < engine::recommend::MAX_RANK),
        items: list
            .items
            .into_iter()
            .map(|r| crate::views::RecommendationCard {
                rank: r.rank,
                match_percent: (r.score * 100.0).round().clamp(0.0, 100.0) as u8,
                because: r.explanation.map(|e| match e.kind {
                    ElementKind::Interest => format!("Close to your interest “{}”", e.label),
                    ElementKind::History => format!("Because you enjoyed “{}”", e.label),
                    ElementKind::Class => format!("Related to your class “{}”", e.label),
                    ElementKind::About => "Matches what you wrote about yourself".to_string(),
                }),
                item: card(
                    &r.item,
                    genres.remove(&r.item.external_id).unwrap_or_default(),
                ),
            })
            .collect(),
    })
}

#[server(endpoint = "open_item")]
pub async fn open_item(
    id: String,
    impression: Option<String>,
) -> Result<ItemDetail, ServerFnError> {
    use crate::error::{engine_error, fail};
    use crate::session::{current_user, state};
    let engine = &state()?.engine;
    let user = current_user().await?.map(|(id, _)| id);
    let item = engine
        .item_by_external_id(&id)
        .await
        .map_err(engine_error)?;
    if let Some(imp) = impression.filter(|s| !s.is_empty()) {
        let imp = uuid::Uuid::parse_str(&imp).map_err(|_| {
            fail(
                http::StatusCode::BAD_REQUEST,
                "The impression id in the link is malformed.",
            )
        })?;
        // Best effort: the item is shown whatever happens to the click (a reload
        // repeats it, a shared link names someone else's list, the list is gone).
        if let Err(e) = engine.record_click(imp, &id, user).await {
            tracing::info!(item = %id, impression = %imp, "click not recorded: {e}");
        }
    }
    let opts = engine::recommend::RecommendOptions {
        k: 6,
        ..Default::default()
    };
    let similar = engine
        .similar_items(user, &id, &opts)
        .await
        .map_err(engine_error)?;
    let genres = engine
        .genres_of(std::slice::from_ref(&item.external_id))
        .await
        .map_err(engine_error)?
        .remove(&item.external_id)
        .unwrap_or_default();
    Ok(ItemDetail {
        signed_in: user.is_some(),
        item: card(&item, genres),
        description: item.description.clone(),
        similar: to_view(engine, similar, opts.k).await?,
    })
}

/// Server-rendered only (no island): nothing here needs the browser's help.
#[component]
pub fn ItemPage() -> impl IntoView {
    let id = use_params_map().with_untracked(|p| p.get("id"));
    let imp = use_query_map().with_untracked(|q| q.get("imp"));
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || {
                let (id, imp) = (id.clone(), imp.clone());
                Suspend::new(async move {
                let detail = match id {
                    Some(id) => open_item(id, imp).await,
                    None => Err(ServerFnError::ServerError("No item id in the address.".into())),
                };
                match detail {
                    Err(e) => view! {
                        <div class="state state-error" role="alert">
                            <p class="state-title">"This item cannot be shown"</p>
                            <p>{user_message(&e)}</p>
                            <a href="/">"Back to your recommendations"</a>
                        </div>
                    }.into_any(),
                    Ok(d) => view! {
                        <article class="panel item">
                            <h1>{d.item.title.clone()}</h1>
                            <div class="meta">
                                <ul class="tags" aria-label="Genres">{d.item.genres.iter().map(|t| view! { <li>{t.clone()}</li> }).collect_view()}</ul>
                                <span title="Language">{d.item.language.clone()}</span>
                                {d.item.url.clone().map(|u| view! { <a href=u rel="noopener noreferrer" target="_blank">"Source page"</a> })}
                            </div>
                            {d.signed_in.then(|| view! {
                                <div class="item-feedback">
                                    <crate::pages::feedback::FeedbackButtons id=d.item.id.clone() title=d.item.title.clone()/>
                                </div>
                            })}
                            <p class="description">{if d.description.is_empty() { "No description.".to_string() } else { d.description.clone() }}</p>
                        </article>
                        <section class="recommendations" id="similar" aria-labelledby="similar-title">
                            <h2 id="similar-title">"More like this"</h2>
                            <RecommendationList list=d.similar.clone() usual_language=d.item.language.clone()/>
                        </section>
                    }.into_any(),
                }
            })}}
        </Suspense>
    }
}
