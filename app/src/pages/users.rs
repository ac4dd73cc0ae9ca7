//! `/admin/users?q=…&user=…`: find users by handle and preview the list a user
//! would get now, with each item's reason and ranking features. The preview
//! records nothing (`Engine::preview_user`, built on `preview_for_user`): no
//! impression, no exposure, so looking does not change what users see.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use crate::pages::admin_nav::{AdminLoadError, AdminNav};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct UserRow {
    pub handle: String,
    pub created: String,
}

/// Ranking features of one previewed item.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FeatureView {
    pub semantic: f32,
    pub semantic_mean: f32,
    pub collaborative: f32,
    pub popularity: f32,
    pub lexical: f32,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PreviewRow {
    pub rank: usize,
    pub id: String,
    pub title: String,
    pub score: f32,
    /// "interest: ocean", "enjoyed: Toy Story (1995)", …
    pub reason: Option<String>,
    pub features: Option<FeatureView>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct PreviewView {
    pub handle: String,
    pub created: String,
    pub interests: Vec<String>,
    pub history: Vec<String>,
    pub classes: Vec<String>,
    pub not_interested: Vec<String>,
    pub rows: Vec<PreviewRow>,
    pub warning: Option<String>,
}

#[server(endpoint = "admin_search_users")]
pub async fn search_users(q: String) -> Result<Vec<UserRow>, ServerFnError> {
    use crate::error::engine_error;
    use crate::pages::admin_nav::when;
    use crate::session::{require_admin, state};
    require_admin().await?;
    let users = state()?
        .engine
        .store
        .search_users(&q, engine::admin_preview::MAX_USER_RESULTS)
        .await
        .map_err(engine_error)?;
    Ok(users
        .into_iter()
        .map(|u| UserRow {
            handle: u.handle,
            created: when(u.created_at),
        })
        .collect())
}

/// The list `handle` would get now; nothing is recorded.
#[server(endpoint = "admin_preview_user")]
pub async fn preview_user(handle: String) -> Result<PreviewView, ServerFnError> {
    use crate::error::engine_error;
    use crate::pages::admin_nav::when;
    use crate::session::{require_admin, state};
    use engine::profile::{ElementKind, HistoryEntry};
    require_admin().await?;
    let p = state()?
        .engine
        .preview_user(&handle, &engine::recommend::RecommendOptions::default())
        .await
        .map_err(engine_error)?;
    let rows = p
        .items
        .into_iter()
        .map(|i| {
            let r = i.recommendation;
            PreviewRow {
                rank: r.rank,
                id: r.item.external_id,
                title: r.item.title,
                score: r.score,
                reason: r.explanation.map(|e| {
                    let kind = match e.kind {
                        ElementKind::Interest => "interest",
                        ElementKind::History => "enjoyed",
                        ElementKind::Class => "class",
                        ElementKind::About => "about",
                    };
                    format!("{kind}: {}", e.label)
                }),
                features: i.features.map(|f| FeatureView {
                    semantic: f.semantic,
                    semantic_mean: f.semantic_mean,
                    collaborative: f.collaborative,
                    popularity: f.popularity,
                    lexical: f.lexical,
                }),
            }
        })
        .collect();
    Ok(PreviewView {
        handle: p.user.handle,
        created: when(p.user.created_at),
        interests: p.profile.interests,
        history: p
            .profile
            .history
            .into_iter()
            .map(|h| match h {
                HistoryEntry::Item { title, .. } => title,
                HistoryEntry::Text { text } => text,
            })
            .collect(),
        classes: p.profile.classes,
        not_interested: p.profile.not_interested,
        rows,
        warning: p.warning.map(|w| w.message),
    })
}

#[component]
pub fn UsersPage() -> impl IntoView {
    let (q, user) = use_query_map().with_untracked(|m| (m.get("q"), m.get("user")));
    let q = q.unwrap_or_default();
    let shown_q = q.clone();
    view! {
        <section class="admin-page">
            <h1>"Users"</h1>
            <AdminNav current="/admin/users"/>
            // A plain GET form: the search lives in the URL.
            <form method="get" action="/admin/users" class="row" role="search">
                <label for="user-q">"Handle (or part of it)"</label>
                <input id="user-q" name="q" value=shown_q maxlength="40" autocomplete="off"/>
                <button type="submit">"Search"</button>
            </form>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || {
                    let (q, user) = (q.clone(), user.clone());
                    Suspend::new(async move {
                        let found = match search_users(q).await {
                            Ok(found) => found,
                            Err(e) => return view! { <AdminLoadError error=e what="users"/> }.into_any(),
                        };
                        let preview = match user {
                            Some(handle) => Some(preview_user(handle).await),
                            None => None,
                        };
                        view! {
                            <Found found/>
                            {preview.map(|p| match p {
                                Ok(p) => view! { <Preview p/> }.into_any(),
                                Err(e) => view! { <AdminLoadError error=e what="preview"/> }.into_any(),
                            })}
                        }
                        .into_any()
                    })
                }}
            </Suspense>
        </section>
    }
}

#[component]
fn Found(found: Vec<UserRow>) -> impl IntoView {
    view! {
        <section class="panel" aria-labelledby="found-title">
            <h2 id="found-title">"Users"</h2>
            {if found.is_empty() {
                view! { <p class="empty">"No user matches."</p> }.into_any()
            } else {
                view! {
                    <ul class="user-list">
                        {found.into_iter().map(|u| view! {
                            <li data-user=u.handle.clone()>
                                <a href=format!("/admin/users?user={}", crate::cards::urlencode(&u.handle))>{u.handle.clone()}</a>
                                <span class="muted">{format!(" since {}", u.created)}</span>
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
    }
}

fn f3(x: f32) -> String {
    format!("{x:.3}")
}

#[component]
fn Preview(p: PreviewView) -> impl IntoView {
    let list = |title: &'static str, v: Vec<String>| {
        (!v.is_empty()).then(|| {
            view! {
                <p><strong>{title}": "</strong>{v.join(" · ")}</p>
            }
        })
    };
    view! {
        <section class="panel" aria-labelledby="preview-title" id="preview">
            <h2 id="preview-title">{format!("Preview as {}", p.handle)}</h2>
            <p class="hint">"The list this user would get now, ranked as served. Nothing is recorded: no impression, no exposure."</p>
            <div class="profile-summary">
                {list("Interests", p.interests)}
                {list("Enjoyed", p.history)}
                {list("Classes", p.classes)}
                {list("Not interested in", p.not_interested)}
            </div>
            {p.warning.map(|w| view! { <p class="notice warning" role="status">{w}</p> })}
            {if p.rows.is_empty() {
                view! { <p class="empty">"No recommendations: the profile is empty."</p> }.into_any()
            } else {
                view! {
                    <div class="table-scroll">
                    <table class="preview">
                        <thead><tr>
                            <th scope="col">"#"</th><th scope="col">"Item"</th><th scope="col">"Score"</th><th scope="col">"Because"</th>
                            <th scope="col" title="best cosine to a profile element">"Semantic"</th>
                            <th scope="col" title="mean cosine over the profile's elements">"Sem. mean"</th>
                            <th scope="col">"Collaborative"</th><th scope="col">"Popularity"</th><th scope="col">"Lexical"</th>
                        </tr></thead>
                        <tbody>
                            {p.rows.into_iter().map(|r| {
                                let f = r.features.clone();
                                let cell = move |get: fn(&FeatureView) -> f32| f.as_ref().map_or("—".to_string(), |f| f3(get(f)));
                                view! {
                                    <tr data-item=r.id.clone()>
                                        <td>{r.rank}</td>
                                        <td><a href=format!("/item/{}", crate::cards::urlencode(&r.id))>{r.title}</a></td>
                                        <td>{f3(r.score)}</td>
                                        <td class="reason">{r.reason.unwrap_or_default()}</td>
                                        <td data-feature="semantic">{cell(|f| f.semantic)}</td>
                                        <td data-feature="semantic_mean">{cell(|f| f.semantic_mean)}</td>
                                        <td data-feature="collaborative">{cell(|f| f.collaborative)}</td>
                                        <td data-feature="popularity">{cell(|f| f.popularity)}</td>
                                        <td data-feature="lexical">{cell(|f| f.lexical)}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                    </div>
                }.into_any()
            }}
        </section>
    }
}
