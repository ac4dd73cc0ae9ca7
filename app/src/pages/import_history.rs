//! `/admin/imports?page=N`: every catalogue and interactions import (the CLI,
//! the JSON API, this site, the first start's demo load), newest first, when
//! and by whom, with its counts. Server-rendered; paging is plain links.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use crate::pages::admin_nav::{AdminLoadError, AdminNav};

/// Imports per page.
pub const PER_PAGE: i64 = 25;
/// Highest page number accepted (a larger one shows the last page's neighbourhood empty).
const MAX_PAGE_NUMBER: i64 = 100_000;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ImportRow {
    pub id: i64,
    pub at: String,
    /// "CLI", "API", "web", "first start".
    pub via: String,
    pub actor: String,
    pub kind: String,
    pub added: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ImportHistoryView {
    pub rows: Vec<ImportRow>,
    /// 1-based.
    pub page: i64,
    pub pages: i64,
    pub total: i64,
}

/// The page number from `?page=`: 1 for anything unusable.
pub fn page_number(raw: Option<&str>) -> i64 {
    raw.and_then(|p| p.trim().parse::<i64>().ok())
        .filter(|p| (1..=MAX_PAGE_NUMBER).contains(p))
        .unwrap_or(1)
}

#[server(endpoint = "admin_import_history")]
pub async fn import_history(page: i64) -> Result<ImportHistoryView, ServerFnError> {
    use crate::error::engine_error;
    use crate::pages::admin_nav::when;
    use crate::session::{require_admin, state};
    use engine::import_history::{ImportKind, ImportVia};
    require_admin().await?;
    let page = page.clamp(1, MAX_PAGE_NUMBER);
    let found = state()?
        .engine
        .store
        .list_imports((page - 1) * PER_PAGE, PER_PAGE)
        .await
        .map_err(engine_error)?;
    let rows = found
        .records
        .into_iter()
        .map(|r| ImportRow {
            id: r.id,
            at: when(r.at),
            via: match r.via {
                ImportVia::Cli => "CLI",
                ImportVia::Api => "API",
                ImportVia::Web => "web",
                ImportVia::Start => "first start",
            }
            .into(),
            actor: r.actor,
            kind: match r.kind {
                ImportKind::Catalogue => "catalogue",
                ImportKind::Interactions => "interactions",
            }
            .into(),
            added: r.counts.added,
            updated: r.counts.updated,
            unchanged: r.counts.unchanged,
            rejected: r.counts.rejected,
        })
        .collect();
    Ok(ImportHistoryView {
        rows,
        page,
        pages: ((found.total + PER_PAGE - 1) / PER_PAGE).max(1),
        total: found.total,
    })
}

#[component]
pub fn ImportHistoryPage() -> impl IntoView {
    let page = use_query_map().with_untracked(|q| page_number(q.get("page").as_deref()));
    view! {
        <section class="admin-page">
            <h1>"Import history"</h1>
            <AdminNav current="/admin/imports"/>
            <Suspense fallback=|| view! { <p class="loading">"Loading the history…"</p> }>
                {move || Suspend::new(async move {
                    match import_history(page).await {
                        Ok(v) => view! { <History v/> }.into_any(),
                        Err(e) => view! { <AdminLoadError error=e what="import history"/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn History(v: ImportHistoryView) -> impl IntoView {
    let (page, pages) = (v.page, v.pages);
    view! {
        <section class="panel">
            <p class="muted" id="import-count">
                {format!("{} imports, newest first; page {page} of {pages}.", v.total)}
            </p>
            {if v.rows.is_empty() {
                view! { <p class="empty">"No imports on this page."</p> }.into_any()
            } else {
                view! {
                    <div class="table-scroll">
                    <table class="imports">
                        <thead><tr>
                            <th scope="col">"When"</th><th scope="col">"By"</th><th scope="col">"Via"</th><th scope="col">"Kind"</th>
                            <th scope="col">"Added"</th><th scope="col">"Updated"</th><th scope="col">"Unchanged"</th><th scope="col">"Rejected"</th>
                        </tr></thead>
                        <tbody>
                            {v.rows.into_iter().map(|r| view! {
                                <tr data-import=r.id>
                                    <td>{r.at}</td><td class="actor">{r.actor}</td><td>{r.via}</td><td>{r.kind}</td>
                                    <td data-count="added">{r.added}</td><td data-count="updated">{r.updated}</td>
                                    <td data-count="unchanged">{r.unchanged}</td><td data-count="rejected">{r.rejected}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                    </div>
                }.into_any()
            }}
            <nav class="pager" aria-label="Pages">
                {(page > 1).then(|| view! { <a href=format!("/admin/imports?page={}", page - 1) rel="prev">"Newer"</a> })}
                {(page < pages).then(|| view! { <a href=format!("/admin/imports?page={}", page + 1) rel="next">"Older"</a> })}
            </nav>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_numbers_fall_back_to_the_first() {
        assert_eq!(page_number(None), 1);
        assert_eq!(page_number(Some("3")), 3);
        for bad in ["0", "-2", "x", "99999999999999999999", "1e3", ""] {
            assert_eq!(page_number(Some(bad)), 1, "{bad}");
        }
    }
}
