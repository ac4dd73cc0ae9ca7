//! `/admin/catalogue?q=…&page=N&item=ID`: search the catalogue, see each item's
//! embedding state, edit an item's title, description and tags (re-embedded
//! through the normal import path when they change) and delete items. Plain
//! forms that post to server functions and come back here; no island.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use crate::cards::urlencode;
use crate::error::user_message;
use crate::pages::admin_nav::{AdminLoadError, AdminNav};

/// Items per page.
pub const PER_PAGE: i64 = 25;
const MAX_PAGE_NUMBER: i64 = 100_000;
/// Most tags an edit may give (an import line's limit).
#[cfg(feature = "ssr")]
const MAX_TAGS: usize = 100;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct EntryView {
    pub id: String,
    pub title: String,
    pub description: String,
    pub tags: Vec<String>,
    pub language: String,
    pub source: String,
    pub updated: String,
    /// "current", "other-model" or "missing".
    pub state: String,
    /// For people: "embedded 2026-12-07 10:00 UTC", "made by X: run `semrec reindex`"…
    pub state_text: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct CatalogueView {
    pub entries: Vec<EntryView>,
    pub total: i64,
    pub needing_reindex: i64,
    pub page: i64,
    pub pages: i64,
    /// The item asked for with `?item=`, or the reason it cannot be shown.
    pub selected: Option<Result<EntryView, String>>,
}

/// The page number from `?page=`: 1 for anything unusable.
fn page_number(raw: Option<&str>) -> i64 {
    raw.and_then(|p| p.trim().parse::<i64>().ok())
        .filter(|p| (1..=MAX_PAGE_NUMBER).contains(p))
        .unwrap_or(1)
}

/// Tags as typed: separated by commas or line breaks, trimmed, blanks dropped.
pub fn split_tags(raw: &str) -> Vec<String> {
    raw.split([',', '\n'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(feature = "ssr")]
fn entry_view(e: engine::catalogue_admin::CatalogueEntry) -> EntryView {
    use crate::pages::admin_nav::when;
    use engine::catalogue_admin::EmbeddingState;
    let (state, state_text) = match e.embedding {
        EmbeddingState::Current => (
            "current",
            // To the second: an edit that re-embeds shows a new time at once.
            e.embedded_at.map_or("embedded".to_string(), |t| {
                format!("embedded {}", t.format("%Y-%m-%d %H:%M:%S UTC"))
            }),
        ),
        EmbeddingState::OtherModel(m) => (
            "other-model",
            format!("embedded by {m}, not the model in use: run `semrec reindex`"),
        ),
        EmbeddingState::Missing => ("missing", "not embedded yet".to_string()),
    };
    EntryView {
        id: e.external_id,
        title: e.title,
        description: e.description,
        tags: e.tags,
        language: e.language,
        source: e.source,
        updated: when(e.updated_at),
        state: state.into(),
        state_text,
    }
}

#[server(endpoint = "admin_catalogue")]
pub async fn catalogue(
    q: String,
    page: i64,
    item: Option<String>,
) -> Result<CatalogueView, ServerFnError> {
    use crate::error::engine_error;
    use crate::session::{require_admin, state};
    require_admin().await?;
    let engine = &state()?.engine;
    let page = page.clamp(1, MAX_PAGE_NUMBER);
    let found = engine
        .browse_catalogue(&q, (page - 1) * PER_PAGE, PER_PAGE)
        .await
        .map_err(engine_error)?;
    let selected = match item {
        Some(id) => Some(
            engine
                .catalogue_entry(&id)
                .await
                .map(entry_view)
                .map_err(|e| crate::error::public(&e).message),
        ),
        None => None,
    };
    Ok(CatalogueView {
        entries: found.entries.into_iter().map(entry_view).collect(),
        total: found.total,
        needing_reindex: found.needing_reindex,
        page,
        pages: ((found.total + PER_PAGE - 1) / PER_PAGE).max(1),
        selected,
    })
}

/// Replaces an item's title, description and tags (comma- or line-separated).
#[server(endpoint = "admin_edit_item")]
pub async fn edit_item(
    id: String,
    title: String,
    description: String,
    tags: String,
) -> Result<(), ServerFnError> {
    use crate::error::{engine_error, fail};
    use crate::session::{require_admin, state};
    require_admin().await?;
    // Counted on the raw text before anything is split or validated.
    if tags.len() > 20_000 {
        return Err(fail(
            http::StatusCode::UNPROCESSABLE_ENTITY,
            "The tags are too long: at most 100 tags of at most 200 characters.",
        ));
    }
    let tags = split_tags(&tags);
    if tags.len() > MAX_TAGS {
        return Err(fail(
            http::StatusCode::UNPROCESSABLE_ENTITY,
            format!("{} tags: at most {MAX_TAGS}.", tags.len()),
        ));
    }
    let outcome = state()?
        .engine
        .edit_item_text(&id, &title, &description, tags)
        .await
        .map_err(engine_error)?;
    tracing::info!(item = %id, changed = outcome.changed, re_embedded = outcome.re_embedded, "item edited from the admin page");
    Ok(())
}

/// Deletes an item (its impressions and clicks go with it); `confirm` must be "yes".
#[server(endpoint = "admin_delete_item")]
pub async fn delete_item(id: String, confirm: Option<String>) -> Result<(), ServerFnError> {
    use crate::error::{engine_error, fail};
    use crate::session::{require_admin, state};
    require_admin().await?;
    if confirm.as_deref() != Some("yes") {
        return Err(fail(
            http::StatusCode::UNPROCESSABLE_ENTITY,
            "Tick “Yes, delete this item” to delete it.",
        ));
    }
    state()?
        .engine
        .delete_item(&id)
        .await
        .map_err(engine_error)?;
    tracing::info!(item = %id, "item deleted from the admin page");
    Ok(())
}

#[component]
pub fn CataloguePage() -> impl IntoView {
    let edit = ServerAction::<EditItem>::new();
    let delete = ServerAction::<DeleteItem>::new();
    let (q, page, item) = use_query_map().with_untracked(|m| {
        (
            m.get("q").unwrap_or_default(),
            page_number(m.get("page").as_deref()),
            m.get("item"),
        )
    });
    let error = move || {
        edit.value()
            .get()
            .or_else(|| delete.value().get())
            .and_then(|r| r.err())
            .map(|e| user_message(&e))
    };
    let shown_q = q.clone();
    view! {
        <section class="admin-page">
            <h1>"Catalogue"</h1>
            <AdminNav current="/admin/catalogue"/>
            <form method="get" action="/admin/catalogue" class="row" role="search">
                <label for="catalogue-q">"Title or id"</label>
                <input id="catalogue-q" name="q" value=shown_q maxlength="200" autocomplete="off"/>
                <button type="submit">"Search"</button>
            </form>
            {move || error().map(|e| view! { <p class="error" role="alert" id="catalogue-error">{e}</p> })}
            <Suspense fallback=|| view! { <p class="loading">"Loading the catalogue…"</p> }>
                {move || {
                    let (q, item) = (q.clone(), item.clone());
                    Suspend::new(async move {
                        match catalogue(q.clone(), page, item).await {
                            Ok(v) => view! { <Catalogue v q edit delete/> }.into_any(),
                            Err(e) => view! { <AdminLoadError error=e what="catalogue"/> }.into_any(),
                        }
                    })
                }}
            </Suspense>
        </section>
    }
}

#[component]
fn Catalogue(
    v: CatalogueView,
    q: String,
    edit: ServerAction<EditItem>,
    delete: ServerAction<DeleteItem>,
) -> impl IntoView {
    let (page, pages) = (v.page, v.pages);
    let qe = urlencode(&q);
    let link = {
        let qe = qe.clone();
        move |page: i64| format!("/admin/catalogue?q={qe}&page={page}")
    };
    view! {
        {v.selected.map(|s| match s {
            Ok(e) => view! { <Editor e edit delete/> }.into_any(),
            Err(m) => view! { <p class="notice warning" role="status" id="item-missing">{m}</p> }.into_any(),
        })}
        <section class="panel" aria-labelledby="items-title">
            <h2 id="items-title">"Items"</h2>
            <p class="muted" id="catalogue-count">
                {format!("{} items match; page {page} of {pages}.", v.total)}
                {(v.needing_reindex > 0).then(|| format!(" {} items in the catalogue are not embedded by the model in use: run `semrec reindex`.", v.needing_reindex))}
            </p>
            {if v.entries.is_empty() {
                view! { <p class="empty">"No item matches."</p> }.into_any()
            } else {
                view! {
                    <div class="table-scroll">
                    <table class="catalogue">
                        <thead><tr>
                            <th scope="col">"Title"</th><th scope="col">"Id"</th><th scope="col">"Tags"</th><th scope="col">"Embedding"</th>
                        </tr></thead>
                        <tbody>
                            {v.entries.into_iter().map(|e| {
                                let href = format!("/admin/catalogue?q={qe}&item={}", urlencode(&e.id));
                                let data_item = e.id.clone();
                                view! {
                                    <tr data-item=data_item>
                                        <td><a href=href>{e.title}</a></td>
                                        <td><code>{e.id}</code></td>
                                        <td>{e.tags.join(", ")}</td>
                                        <td><span class=format!("state-tag embed-{}", e.state)>{e.state_text}</span></td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                    </div>
                }.into_any()
            }}
            <nav class="pager" aria-label="Pages">
                {(page > 1).then(|| view! { <a href=link(page - 1) rel="prev">"Previous"</a> })}
                {(page < pages).then(|| view! { <a href=link(page + 1) rel="next">"Next"</a> })}
            </nav>
        </section>
    }
}

#[component]
fn Editor(
    e: EntryView,
    edit: ServerAction<EditItem>,
    delete: ServerAction<DeleteItem>,
) -> impl IntoView {
    let id = e.id.clone();
    let edit_id = e.id.clone();
    let data_item = e.id.clone();
    let heading = format!("Edit “{}”", e.title);
    let about = format!(
        " · {} · {} · updated {} · ",
        e.language,
        if e.source.is_empty() {
            "no source"
        } else {
            &e.source
        },
        e.updated
    );
    let tags = e.tags.join(", ");
    view! {
        <section class="panel" aria-labelledby="edit-title" id="item-editor" data-item=data_item>
            <h2 id="edit-title">{heading}</h2>
            <p class="muted">
                <code>{e.id}</code>{about}
                <span class=format!("state-tag embed-{}", e.state) id="embed-state">{e.state_text.clone()}</span>
            </p>
            <ActionForm action=edit attr:class="stack">
                <input type="hidden" name="id" value=edit_id/>
                <label for="edit-item-title">"Title"</label>
                <input id="edit-item-title" name="title" value=e.title.clone() required maxlength="500"/>
                <label for="edit-item-description">"Description"</label>
                <textarea id="edit-item-description" name="description" rows="5" maxlength="20000">{e.description.clone()}</textarea>
                <label for="edit-item-tags">"Tags (comma-separated)"</label>
                <input id="edit-item-tags" name="tags" value=tags/>
                <button type="submit">"Save and re-embed"</button>
                <p class="hint">"The item is embedded again only when its title, description or tags change, as an import would do."</p>
            </ActionForm>
            <ActionForm action=delete attr:class="row danger">
                <input type="hidden" name="id" value=id/>
                <label class="inline"><input type="checkbox" name="confirm" value="yes" required/>" Yes, delete this item"</label>
                <button type="submit" class="secondary">"Delete item"</button>
            </ActionForm>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_split_at_commas_and_lines_and_pages_fall_back() {
        assert_eq!(
            split_tags(" space, , astronauts\nnasa "),
            vec!["space", "astronauts", "nasa"]
        );
        assert!(split_tags(" , \n").is_empty());
        assert_eq!(page_number(Some("2")), 2);
        assert_eq!(page_number(Some("0")), 1);
        assert_eq!(page_number(Some("x")), 1);
    }
}
