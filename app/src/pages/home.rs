//! The end user's page: sign in with a handle, describe yourself, get recommendations.
//! Rendered on the server; the signed-in part is the [`Workspace`] island.
// save_profile takes one argument per form field (two per chip list); the
// client-side function the server macro generates does not carry an item's allow.
#![allow(clippy::too_many_arguments)]

use leptos::either::EitherOf4;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_router::hooks::use_query_map;

use crate::cards::CardSkeletons;
use crate::chips::{ChipField, HistoryPicker};
use crate::error::user_message;
use crate::pages::rec_list::RecList;
use crate::views::{Facets, ProfileView, RecommendationsView};

/// Cards per page of recommendations.
const PAGE: usize = 10;
/// Pages a page load may ask for (`?pages=`, "Show more" without JavaScript).
pub(crate) const MAX_PAGES: usize = 5;

#[server(endpoint = "sign_in")]
pub async fn sign_in(handle: String) -> Result<(), ServerFnError> {
    use crate::client::{client_ip, too_many};
    use crate::error::engine_error;
    use crate::session::{set_cookie, state, USER_COOKIE};
    use engine::throttle::Throttle;
    let st = state()?;
    // A new handle is a new user row: at most NEW_HANDLES_PER_HOUR per address.
    let existing = match st.engine.user_by_handle(&handle, false).await {
        Ok(user) => Some(user),
        Err(engine::EngineError::NotFound(_)) => None,
        Err(e) => return Err(engine_error(e)),
    };
    let user = match existing {
        Some(user) => user,
        None => {
            let ip = client_ip();
            if let Throttle::Wait(secs) = st
                .engine
                .store
                .take_new_handle(ip)
                .await
                .map_err(engine_error)?
            {
                tracing::warn!(%ip, "new handle refused: hourly limit reached");
                return Err(too_many(secs, "Too many new handles from your address"));
            }
            st.engine
                .user_by_handle(&handle, true)
                .await
                .map_err(engine_error)?
        }
    };
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
        not_interested: p.not_interested,
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
    not_interested: Option<String>,
    not_interested_entry: Option<String>,
) -> Result<(), ServerFnError> {
    use crate::error::engine_error;
    use crate::session::{require_user, state};
    use crate::views::list_entries;
    use engine::history::HistoryRef;
    use engine::list_limits::collect_capped;
    use engine::profile::{Profile, MAX_CLASSES, MAX_HISTORY, MAX_INTERESTS, MAX_NOT_INTERESTED};
    // Count and length limits on the raw form first, before the session is looked
    // up or any entry is: a huge form costs no more than the limits allow.
    // Chips come one per line (a chip may hold a comma); the text box is split as typed.
    let list = |chips: &str, entry: Option<String>, max: usize, what: &str| {
        let entry = entry.unwrap_or_default();
        collect_capped(
            chips
                .lines()
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .chain(list_entries(&entry)),
            max,
            what,
        )
        .map_err(engine_error)
    };
    let typed = history_entry.unwrap_or_default();
    let history = collect_capped(
        history
            .lines()
            .filter_map(|line| {
                let (kind, value) = line.split_once('\t').unwrap_or(("text", line));
                let value = value.trim();
                (!value.is_empty()).then(|| match kind {
                    "item" => HistoryRef::Item(value.to_string()),
                    _ => HistoryRef::Text(value.to_string()),
                })
            })
            .chain(
                typed
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(|l| HistoryRef::Text(l.to_string())),
            ),
        MAX_HISTORY,
        "history entries",
    )
    .map_err(engine_error)?;
    let mut profile = Profile {
        interests: list(&interests, interests_entry, MAX_INTERESTS, "interests")?,
        history: Vec::new(),
        classes: list(&classes, classes_entry, MAX_CLASSES, "classes")?,
        about,
        not_interested: list(
            &not_interested.unwrap_or_default(),
            not_interested_entry,
            MAX_NOT_INTERESTED,
            "not-interested lines",
        )?,
    };
    profile.normalized().map_err(engine_error)?;
    let (user_id, _) = require_user().await?;
    let engine = &state()?.engine;
    // The JSON API resolves inline profiles by the same call.
    profile.history = engine
        .resolve_history(history)
        .await
        .map_err(engine_error)?;
    engine
        .save_profile(user_id, &profile)
        .await
        .map_err(engine_error)?;
    Ok(())
}

/// A page of recommendations for the signed-in user; serving it records an
/// impression, unless the same page was served for the same profile, dismissals and
/// filters in the last 30 minutes: then that list comes back as it was.
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
    // Back or a reload within the window gets the list already served (the same
    // impression): the JSON API's `resume` option calls the same function.
    let (list, _) = engine
        .recommend_resumable(
            user_id,
            &profile,
            &opts,
            engine::events::ImpressionContext::Profile,
        )
        .await
        .map_err(engine_error)?;
    crate::pages::item::to_view(engine, list, PAGE)
        .await
        .map(Some)
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
    use engine::seed::{SeedState, DEMO_CATALOG};
    let engine = &state()?.engine;
    let (languages, sources) = engine.catalog_facets().await.map_err(engine_error)?;
    let loading = engine
        .seed_state(DEMO_CATALOG)
        .await
        .map_err(engine_error)?
        == SeedState::Started;
    Ok(Facets {
        languages,
        sources,
        loading,
    })
}

/// The home page, rendered on the server: the sign-in form (a plain form post)
/// or, once signed in, the [`Workspace`] island with everything it starts from.
#[component]
pub fn HomePage() -> impl IntoView {
    // Reads a failed sign-in's message from the URL the form post was redirected to.
    let sign_in = ServerAction::<SignIn>::new();
    let (language, source, pages) = use_query_map().with_untracked(|q| {
        (
            q.get("language").unwrap_or_default(),
            q.get("source").unwrap_or_default(),
            q.get("pages")
                .and_then(|p| p.parse::<usize>().ok())
                .unwrap_or(1)
                .clamp(1, MAX_PAGES),
        )
    });
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading your profile…"</p> }>
            {move || {
                let (language, source) = (language.clone(), source.clone());
                Suspend::new(async move {
                    match get_profile().await {
                        Err(e) => view! { <ErrorState message=user_message(&e)/> }.into_any(),
                        Ok(None) => view! { <SignInForm action=sign_in/> }.into_any(),
                        Ok(Some(profile)) => {
                            let facets = get_facets().await.unwrap_or_default();
                            let recs = get_recommendations(0, language.clone(), source.clone())
                                .await
                                .map_err(|e| user_message(&e));
                            // "Show more" without JavaScript asks for the next pages in the URL.
                            let mut more = Vec::new();
                            let mut has_more = matches!(&recs, Ok(Some(r)) if r.has_more);
                            for page in 1..pages {
                                if !has_more {
                                    break;
                                }
                                match get_recommendations(page * PAGE, language.clone(), source.clone()).await {
                                    Ok(Some(next)) => {
                                        has_more = next.has_more;
                                        more.push(next);
                                    }
                                    _ => break,
                                }
                            }
                            view! { <Workspace profile recs more facets language source/> }.into_any()
                        }
                    }
                })
            }}
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

/// Server-rendered: the form posts to the server function, which sets the
/// session cookie and redirects back here.
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
                    pattern="[A-Za-z0-9][A-Za-z0-9_.\\-]{1,39}" autocomplete="username" placeholder="e.g. ada"
                    title="2 to 40 letters, digits, dots, dashes or underscores"/>
                <button type="submit">"Continue"</button>
            </ActionForm>
            {move || error().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        </section>
    }
}

/// The signed-in user's page: profile editor and recommendations. This island
/// (with the components it uses) is what the browser runs; its props are the
/// data the server rendered it with.
#[island]
pub fn Workspace(
    profile: ProfileView,
    recs: Result<Option<RecommendationsView>, String>,
    /// Pages after the first, asked for in the URL.
    more: Vec<RecommendationsView>,
    facets: Facets,
    language: String,
    source: String,
) -> impl IntoView {
    let save = ServerAction::<SaveProfile>::new();
    view! {
        // The list first (on a phone it fills the first screen), the profile one
        // "Edit profile" link away; side by side on wider screens.
        <div class="layout">
            <Recommendations saved=save first=recs more facets language source/>
            <ProfileForm profile action=save/>
        </div>
    }
}

#[component]
fn ProfileForm(profile: ProfileView, action: ServerAction<SaveProfile>) -> impl IntoView {
    let error = move || {
        action
            .value()
            .get()
            .and_then(|r| r.err())
            .map(|e| user_message(&e))
    };
    let saved = move || matches!(action.value().get(), Some(Ok(())));
    let pending = action.pending();
    // What <ActionForm/> does, without wrapping the whole form in its type-erased
    // `Children` (each such view costs the bundle its own copy of the hydration code).
    // Unsaved edits: leaving or reloading the page asks first (the browser's own dialog).
    let dirty = StoredValue::new(false);
    let _ = window_event_listener_untyped("beforeunload", move |ev| {
        if dirty.try_get_value().unwrap_or(false) {
            ev.prevent_default();
        }
    });
    let on_click = move |ev: leptos::ev::MouseEvent| {
        if event_target::<leptos::web_sys::Element>(&ev)
            .class_name()
            .contains("chip-remove")
        {
            dirty.set_value(true);
        }
    };
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        dirty.set_value(false);
        match SaveProfile::from_event(&ev) {
            Ok(input) => {
                action.dispatch(input);
            }
            Err(e) => action
                .value()
                .set(Some(Err(ServerFnError::Deserialization(e.to_string())))),
        }
    };
    view! {
        <section class="panel profile" id="profile" aria-labelledby="profile-title">
            <div class="profile-head">
                <h2 id="profile-title">"Your profile"</h2>
                <span class="handle">"@" {profile.handle.clone()}</span>
                // A plain form: the server ends the session and redirects back to the sign-in page.
                <form method="post" action=SignOut::url() class="inline">
                    <button type="submit" class="link">"Sign out"</button>
                </form>
            </div>
            <form method="post" action=SaveProfile::url() class="stack" on:submit=on_submit
                on:input=move |_| dirty.set_value(true) on:click=on_click
                on:keydown=move |ev: leptos::ev::KeyboardEvent| if ev.key() == "Backspace" { dirty.set_value(true) }>
                <ChipField label="Interests" name="interests" entry_name="interests_entry"
                    initial=profile.interests.clone() placeholder="aircraft, jazz, space exploration"/>
                <HistoryPicker initial=profile.history.clone()/>
                <ChipField label="Classes you follow" name="classes" entry_name="classes_entry"
                    initial=profile.classes.clone() placeholder="film history, physics 101"/>
                <ChipField label="Not interested in" name="not_interested" entry_name="not_interested_entry"
                    initial=profile.not_interested.clone() placeholder="horror, reality TV"/>
                <div class="field">
                    <label for="about">"About you"</label>
                    <textarea id="about" name="about" rows="3" maxlength="2000" placeholder="A few words about what you like">
                        {profile.about.clone()}
                    </textarea>
                </div>
                <button type="submit" disabled=move || pending.get()>
                    {move || if pending.get() { "Saving…" } else { "Save and recommend" }}
                </button>
            </form>
            {move || error().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            {move || saved().then(|| view! { <p class="ok" role="status">"Saved."</p> })}
        </section>
    }
}

/// Language and source menus. A plain GET form applied by its button, so it works
/// before the WASM has loaded as well as after; not on change, because arrow keys
/// on a closed menu fire a change and keyboard users could not step past the
/// first entry (WCAG 3.2.2).
#[component]
fn Filters(facets: Facets, language: String, source: String) -> impl IntoView {
    let options = move |entries: Vec<(String, i64)>, current: String| {
        entries
            .into_iter()
            .map(|(value, n)| {
                let selected = value == current;
                let label = format!("{value} ({n})");
                view! { <option value=value selected=selected>{label}</option> }
            })
            .collect_view()
    };
    view! {
        <form method="get" action="/" class="filters" aria-label="Filters">
            <div class="filter">
                <label for="filter-language">"Language"</label>
                <select id="filter-language" name="language">
                    <option value="" selected=language.is_empty()>"Any"</option>
                    {options(facets.languages, language.clone())}
                </select>
            </div>
            <div class="filter">
                <label for="filter-source">"Source"</label>
                <select id="filter-source" name="source">
                    <option value="" selected=source.is_empty()>"Any"</option>
                    {options(facets.sources, source.clone())}
                </select>
            </div>
            <button type="submit" class="secondary">"Apply filters"</button>
        </form>
    }
}

/// What the recommendations area shows: `None` while the first list loads.
type RecsState = Option<Result<Option<RecommendationsView>, String>>;

#[component]
fn Recommendations(
    saved: ServerAction<SaveProfile>,
    first: Result<Option<RecommendationsView>, String>,
    more: Vec<RecommendationsView>,
    facets: Facets,
    language: String,
    source: String,
) -> impl IntoView {
    let recs: RwSignal<RecsState> = RwSignal::new(Some(first));
    // The URL's extra pages belong to the first list only, not to one after a save.
    let more = StoredValue::new(more);
    let loading = RwSignal::new(false);
    // Only the newest request may fill the list (saves can overlap).
    let generation = StoredValue::new(0u64);
    // `focus`: after a save, keyboard focus goes to the list's heading (the
    // disabled Save button would drop it to the page body).
    let reload = {
        let (language, source) = (language.clone(), source.clone());
        move |focus: bool| {
            let g = generation.get_value() + 1;
            generation.set_value(g);
            loading.set(true);
            // A shown list stays (dimmed) until the new one arrives; anything else gives way to placeholders.
            if !recs.with_untracked(|r| matches!(r, Some(Ok(Some(_))))) {
                recs.set(None);
            }
            let (language, source) = (language.clone(), source.clone());
            leptos::task::spawn_local(async move {
                let result = get_recommendations(0, language, source)
                    .await
                    .map_err(|e| user_message(&e));
                if generation.get_value() == g {
                    recs.set(Some(result));
                    loading.set(false);
                    if focus {
                        crate::pages::rec_list::focus_later("#recs-title".to_string());
                    }
                }
            });
        }
    };
    // A saved profile means a new list.
    Effect::watch(
        move || saved.version().get(),
        {
            let reload = reload.clone();
            move |_, _, _| {
                if matches!(saved.value().get_untracked(), Some(Ok(()))) {
                    reload(true);
                }
            }
        },
        false,
    );
    let retry = Callback::new(move |()| reload(false));
    let filtered = !language.is_empty() || !source.is_empty();
    // No language facet means no item at all (unless the demo catalog is on its way).
    let catalog_loading = facets.loading;
    let catalog_empty = facets.languages.is_empty() && !catalog_loading;
    // The catalog's most common language: cards name theirs only when it is another.
    let usual_language = facets.languages.first().map(|(l, _)| l.clone());
    view! {
        <section class="recommendations" class:stale=move || loading.get() aria-labelledby="recs-title"
            aria-busy=move || loading.get().to_string()>
            <div class="recs-head">
                <h2 id="recs-title" tabindex="-1">"Recommended for you"</h2>
                // A plain anchor: works before (and without) the WASM.
                <a class="edit-profile" href="#profile">"Edit profile"</a>
                <Filters facets language=language.clone() source=source.clone()/>
            </div>
            {catalog_loading.then(|| view! {
                <p class="notice" role="status">"The demo catalog is still loading: reload in a minute for recommendations from all of it."</p>
            })}
            {move || match recs.get() {
                None => EitherOf4::A(view! { <CardSkeletons/> }),
                Some(Err(e)) => EitherOf4::B(view! { <ErrorState message=e retry/> }),
                Some(Ok(None)) => EitherOf4::C(view! {
                    <div class="state state-empty">
                        <p class="state-title">"Tell us what you like"</p>
                        <p>"Add a few interests, things you enjoyed or classes you follow, then save: recommendations appear here, each with the reason it was picked."</p>
                    </div>
                }),
                Some(Ok(Some(list))) => EitherOf4::D(view! {
                    <RecList first=list more=more.try_update_value(std::mem::take).unwrap_or_default()
                        filtered catalog_empty usual_language=usual_language.clone()
                        language=language.clone() source=source.clone()/>
                }),
            }}
        </section>
    }
}
