//! The end user's page: sign in with a handle, describe yourself, get recommendations.

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};

use crate::cards::{urlencode, Card, CardSkeletons};
use crate::chips::{ChipField, HistoryPicker};
use crate::error::user_message;
use crate::views::{Facets, ProfileView, RecommendationCard, RecommendationsView};

/// Cards per page of recommendations.
#[cfg(feature = "ssr")]
const PAGE: usize = 10;

#[server(endpoint = "sign_in")]
pub async fn sign_in(handle: String) -> Result<(), ServerFnError> {
    use crate::error::engine_error;
    use crate::session::{set_cookie, state, USER_COOKIE};
    let st = state()?;
    let user = st
        .engine
        .user_by_handle(&handle, true)
        .await
        .map_err(engine_error)?;
    let token = st
        .engine
        .create_session(Some(user.id), false)
        .await
        .map_err(engine_error)?;
    set_cookie(USER_COOKIE, Some(&token), st.secure_cookies);
    Ok(())
}

#[server(endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), ServerFnError> {
    use crate::error::engine_error;
    use crate::session::{set_cookie, state, user_token, USER_COOKIE};
    let st = state()?;
    if let Some(token) = user_token() {
        st.engine.end_session(&token).await.map_err(engine_error)?;
    }
    set_cookie(USER_COOKIE, None, st.secure_cookies);
    Ok(())
}

#[server(endpoint = "get_profile")]
pub async fn get_profile() -> Result<Option<ProfileView>, ServerFnError> {
    use crate::error::engine_error;
    use crate::session::{current_user, state};
    use crate::views::HistoryChip;
    use engine::profile::HistoryEntry;
    let Some((user_id, handle)) = current_user().await? else {
        return Ok(None);
    };
    let p = state()?
        .engine
        .load_profile(user_id)
        .await
        .map_err(engine_error)?;
    Ok(Some(ProfileView {
        handle,
        interests: p.interests,
        history: p
            .history
            .into_iter()
            .map(|h| match h {
                HistoryEntry::Item { id, title } => HistoryChip {
                    id: Some(id),
                    title,
                },
                HistoryEntry::Text { text } => HistoryChip {
                    id: None,
                    title: text,
                },
            })
            .collect(),
        classes: p.classes,
        about: p.about,
    }))
}

/// Saves the signed-in user's profile. The user comes from the session, never the form.
/// Each list arrives as the chips (one per line) plus whatever was left in its text box.
#[server(endpoint = "save_profile")]
#[allow(clippy::too_many_arguments)]
pub async fn save_profile(
    interests: String,
    interests_entry: Option<String>,
    history: String,
    history_entry: Option<String>,
    classes: String,
    classes_entry: Option<String>,
    about: String,
) -> Result<(), ServerFnError> {
    use crate::error::engine_error;
    use crate::session::{require_user, state};
    use crate::views::split_list;
    use engine::profile::{HistoryEntry, Profile};
    let (user_id, _) = require_user().await?;
    let engine = &state()?.engine;
    let join = |chips: &str, entry: Option<String>| {
        let mut all = split_list(chips);
        for e in split_list(&entry.unwrap_or_default()) {
            if !all.iter().any(|a| a.eq_ignore_ascii_case(&e)) {
                all.push(e);
            }
        }
        all
    };
    let mut entries = Vec::new();
    let typed = history_entry
        .iter()
        .flat_map(|e| e.lines())
        .map(|l| format!("text\t{l}"))
        .collect::<Vec<_>>();
    for line in history.lines().map(str::to_string).chain(typed) {
        let (kind, value) = line.split_once('\t').unwrap_or(("text", line.as_str()));
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        let entry = if kind == "item" {
            let item = engine
                .item_by_external_id(value)
                .await
                .map_err(engine_error)?;
            HistoryEntry::Item {
                id: item.external_id,
                title: item.title,
            }
        } else {
            // Typed text that names a catalog title exactly becomes that item.
            let exact = engine
                .search_titles(value, 5)
                .await
                .map_err(engine_error)?
                .into_iter()
                .find(|i| i.title.eq_ignore_ascii_case(value));
            match exact {
                Some(item) => HistoryEntry::Item {
                    id: item.external_id,
                    title: item.title,
                },
                None => HistoryEntry::Text {
                    text: value.to_string(),
                },
            }
        };
        if !entries.contains(&entry) {
            entries.push(entry);
        }
    }
    let profile = Profile {
        interests: join(&interests, interests_entry),
        history: entries,
        classes: join(&classes, classes_entry),
        about,
    };
    engine
        .save_profile(user_id, &profile)
        .await
        .map_err(engine_error)?;
    Ok(())
}

/// A page of recommendations for the signed-in user; serving it records an impression.
/// `None` when nobody is signed in or the profile is still empty.
#[server(endpoint = "get_recommendations")]
pub async fn get_recommendations(
    offset: usize,
    language: String,
    source: String,
) -> Result<Option<RecommendationsView>, ServerFnError> {
    use crate::error::engine_error;
    use crate::session::{current_user, state};
    let Some((user_id, _)) = current_user().await? else {
        return Ok(None);
    };
    let engine = &state()?.engine;
    let profile = engine.load_profile(user_id).await.map_err(engine_error)?;
    if profile.is_empty() {
        return Ok(None);
    }
    let one = |v: String| {
        let v = v.trim().to_string();
        if v.is_empty() {
            Vec::new()
        } else {
            vec![v]
        }
    };
    let opts = engine::recommend::RecommendOptions {
        k: PAGE,
        offset,
        filters: engine::recommend::Filters {
            languages: one(language),
            sources: one(source),
            tags: Vec::new(),
        },
        diversity_lambda: None,
    };
    let list = engine
        .recommend_for_user(user_id, &opts)
        .await
        .map_err(engine_error)?;
    Ok(Some(crate::pages::item::to_view(list, PAGE)))
}

/// "Not interested": the item is left out of this user's later lists.
#[server(endpoint = "dismiss_item")]
pub async fn dismiss_item(id: String) -> Result<(), ServerFnError> {
    use crate::error::engine_error;
    use crate::session::{require_user, state};
    let (user_id, _) = require_user().await?;
    state()?
        .engine
        .dismiss(user_id, &id)
        .await
        .map_err(engine_error)
}

#[server(endpoint = "get_facets")]
pub async fn get_facets() -> Result<Facets, ServerFnError> {
    use crate::error::engine_error;
    use crate::session::state;
    let (languages, sources) = state()?
        .engine
        .catalog_facets()
        .await
        .map_err(engine_error)?;
    Ok(Facets { languages, sources })
}

#[component]
pub fn HomePage() -> impl IntoView {
    let sign_in = ServerAction::<SignIn>::new();
    let sign_out = ServerAction::<SignOut>::new();
    let save = ServerAction::<SaveProfile>::new();
    let version = move || {
        (
            sign_in.version().get(),
            sign_out.version().get(),
            save.version().get(),
        )
    };
    let profile = Resource::new(version, |_| get_profile());

    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading your profile…"</p> }>
            {move || Suspend::new(async move {
                match profile.await {
                    Err(e) => view! { <ErrorState message=user_message(&e)/> }.into_any(),
                    Ok(None) => view! { <SignInForm action=sign_in/> }.into_any(),
                    Ok(Some(p)) => view! {
                        <div class="layout">
                            <ProfileForm profile=p action=save sign_out=sign_out/>
                            <Recommendations saved=save/>
                        </div>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ErrorState(message: String, #[prop(optional)] retry: Option<Callback<()>>) -> impl IntoView {
    view! {
        <div class="state state-error" role="alert">
            <p class="state-title">"Something went wrong"</p>
            <p>{message}</p>
            {retry.map(|r| view! { <button type="button" class="secondary" on:click=move |_| r.run(())>"Try again"</button> })}
        </div>
    }
}

#[component]
fn SignInForm(action: ServerAction<SignIn>) -> impl IntoView {
    let error = move || {
        action
            .value()
            .get()
            .and_then(|r| r.err())
            .map(|e| user_message(&e))
    };
    view! {
        <section class="panel signin">
            <h1>"Recommendations by meaning, not by shared words"</h1>
            <p>"Pick a handle to keep your profile between visits. No password needed."</p>
            <ActionForm action=action attr:class="row">
                <label for="handle">"Your handle"</label>
                <input id="handle" name="handle" required minlength="2" maxlength="40"
                    pattern="[A-Za-z0-9][A-Za-z0-9_.\\-]{1,39}" autocomplete="username" placeholder="e.g. ada"/>
                <button type="submit">"Continue"</button>
            </ActionForm>
            {move || error().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        </section>
    }
}

#[component]
fn ProfileForm(
    profile: ProfileView,
    action: ServerAction<SaveProfile>,
    sign_out: ServerAction<SignOut>,
) -> impl IntoView {
    let error = move || {
        action
            .value()
            .get()
            .and_then(|r| r.err())
            .map(|e| user_message(&e))
    };
    let saved = move || matches!(action.value().get(), Some(Ok(())));
    let pending = action.pending();
    view! {
        <section class="panel profile" aria-labelledby="profile-title">
            <div class="profile-head">
                <h2 id="profile-title">"Your profile"</h2>
                <span class="handle">"@" {profile.handle.clone()}</span>
                <ActionForm action=sign_out attr:class="inline">
                    <button type="submit" class="link">"Sign out"</button>
                </ActionForm>
            </div>
            <ActionForm action=action attr:class="stack">
                <ChipField label="Interests" name="interests" entry_name="interests_entry"
                    initial=profile.interests.clone() placeholder="aircraft, jazz, space exploration"/>
                <HistoryPicker initial=profile.history.clone()/>
                <ChipField label="Classes you follow" name="classes" entry_name="classes_entry"
                    initial=profile.classes.clone() placeholder="film history, physics 101"/>
                <div class="field">
                    <label for="about">"About you"</label>
                    <textarea id="about" name="about" rows="3" maxlength="2000" placeholder="A few words about what you like">
                        {profile.about.clone()}
                    </textarea>
                </div>
                <button type="submit" disabled=move || pending.get()>
                    {move || if pending.get() { "Saving…" } else { "Save and recommend" }}
                </button>
            </ActionForm>
            {move || error().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <Show when=saved><p class="ok" role="status">"Saved."</p></Show>
        </section>
    }
}

/// Builds `/?language=..&source=..` from the filter values ("" = any).
fn filter_href(language: &str, source: &str) -> String {
    let mut parts = Vec::new();
    if !language.is_empty() {
        parts.push(format!("language={}", urlencode(language)));
    }
    if !source.is_empty() {
        parts.push(format!("source={}", urlencode(source)));
    }
    if parts.is_empty() {
        "/".to_string()
    } else {
        format!("/?{}", parts.join("&"))
    }
}

#[component]
fn Recommendations(saved: ServerAction<SaveProfile>) -> impl IntoView {
    let query = use_query_map();
    let language = move || query.with(|q| q.get("language").unwrap_or_default());
    let source = move || query.with(|q| q.get("source").unwrap_or_default());
    let retry = RwSignal::new(0u32);
    let facets = Resource::new(|| (), |_| get_facets());
    let first = Resource::new(
        move || (saved.version().get(), retry.get(), language(), source()),
        |(_, _, language, source)| get_recommendations(0, language, source),
    );
    let navigate = use_navigate();
    let on_language = {
        let navigate = navigate.clone();
        move |ev| {
            navigate(
                &filter_href(&event_target_value(&ev), &source()),
                Default::default(),
            )
        }
    };
    let on_source = move |ev| {
        navigate(
            &filter_href(&language(), &event_target_value(&ev)),
            Default::default(),
        )
    };

    view! {
        <section class="recommendations" aria-labelledby="recs-title">
            <div class="recs-head">
                <h2 id="recs-title">"Recommended for you"</h2>
                <form method="get" action="/" class="filters" aria-label="Filters">
                    <Suspense fallback=|| ()>
                        {move || {
                            let (on_language, on_source) = (on_language.clone(), on_source.clone());
                            Suspend::new(async move {
                            let f = facets.await.unwrap_or_default();
                            let (lang, src) = (language(), source());
                            view! {
                                <div class="filter">
                                    <label for="filter-language">"Language"</label>
                                    <select id="filter-language" name="language" on:change=on_language>
                                        <option value="" selected=lang.is_empty()>"Any"</option>
                                        {f.languages.into_iter().map(|(l, n)| {
                                            let sel = l == lang;
                                            view! { <option value=l.clone() selected=sel>{format!("{l} ({n})")}</option> }
                                        }).collect_view()}
                                    </select>
                                </div>
                                <div class="filter">
                                    <label for="filter-source">"Source"</label>
                                    <select id="filter-source" name="source" on:change=on_source>
                                        <option value="" selected=src.is_empty()>"Any"</option>
                                        {f.sources.into_iter().map(|(s, n)| {
                                            let sel = s == src;
                                            view! { <option value=s.clone() selected=sel>{format!("{s} ({n})")}</option> }
                                        }).collect_view()}
                                    </select>
                                </div>
                            }
                        })}}
                    </Suspense>
                </form>
            </div>
            <Transition fallback=|| view! { <CardSkeletons/> }>
                {move || Suspend::new(async move {
                    match first.await {
                        Err(e) => view! {
                            <ErrorState message=user_message(&e) retry=Callback::new(move |_| retry.update(|n| *n += 1))/>
                        }.into_any(),
                        Ok(None) => view! {
                            <div class="state state-empty">
                                <p class="state-title">"Tell us what you like"</p>
                                <p>"Add a few interests, things you enjoyed or classes you follow, then save: recommendations appear here, each with the reason it was picked."</p>
                            </div>
                        }.into_any(),
                        Ok(Some(list)) => view! { <RecList first=list language=language() source=source()/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// The loaded cards: the first page, then pages added by "Show more", minus dismissed ones.
#[component]
fn RecList(first: RecommendationsView, language: String, source: String) -> impl IntoView {
    let filtered = !language.is_empty() || !source.is_empty();
    let imp = first.impression_id.clone();
    let cards: RwSignal<Vec<(String, RecommendationCard)>> =
        RwSignal::new(first.items.into_iter().map(|c| (imp.clone(), c)).collect());
    let has_more = RwSignal::new(first.has_more);
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
        }
    });
    let dismiss = Action::new(|id: &String| dismiss_item(id.clone()));
    let on_dismiss = Callback::new(move |id: String| {
        cards.update(|list| list.retain(|(_, c)| c.item.id != id));
        dismiss.dispatch(id);
    });
    let more_error = move || match more.value().get() {
        Some(Err(e)) => Some(user_message(&e)),
        _ => None,
    };
    let dismiss_error = move || match dismiss.value().get() {
        Some(Err(e)) => Some(user_message(&e)),
        _ => None,
    };
    view! {
        <Show when=move || !cards.with(Vec::is_empty) fallback=move || view! {
            <div class="state state-empty">
                <p class="state-title">{if filtered { "Nothing matches these filters" } else { "Nothing left to show" }}</p>
                <p>{if filtered {
                    "Try another language or source, or clear the filters."
                } else {
                    "You have seen or dismissed everything close to your profile. Add interests to widen it."
                }}</p>
                {filtered.then(|| view! { <a href="/">"Clear filters"</a> })}
            </div>
        }>
            <ol class="cards" id="recommendation-list">
                <For each=move || cards.get() key=|(_, c)| c.item.id.clone() let:entry>
                    <Card card=entry.1 impression=entry.0 on_dismiss=on_dismiss/>
                </For>
            </ol>
        </Show>
        {move || dismiss_error().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        {move || more_error().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        <Show when=move || has_more.get()>
            <button type="button" class="secondary load-more" disabled=move || more.pending().get()
                on:click=move |_| { more.dispatch(cards.with(Vec::len)); }>
                {move || if more.pending().get() { "Loading more…" } else { "Show more" }}
            </button>
        </Show>
    }
}
