//! The end user's page: sign in with a handle, describe yourself, get recommendations.

use leptos::prelude::*;

use crate::error::user_message;
use crate::views::{ProfileView, RecommendationsView};

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
                HistoryEntry::Item { title, .. } => title,
                HistoryEntry::Text { text } => text,
            })
            .collect(),
        classes: p.classes,
        about: p.about,
    }))
}

/// Saves the signed-in user's profile. The user comes from the session, never the form.
#[server(endpoint = "save_profile")]
pub async fn save_profile(
    interests: String,
    history: String,
    classes: String,
    about: String,
) -> Result<(), ServerFnError> {
    use crate::error::engine_error;
    use crate::session::{require_user, state};
    use crate::views::split_list;
    use engine::profile::{HistoryEntry, Profile};
    let (user_id, _) = require_user().await?;
    let engine = &state()?.engine;
    // A history entry that names a catalog title becomes that item; anything else stays free text.
    let mut entries = Vec::new();
    for text in split_list(&history) {
        let exact = engine
            .search_titles(&text, 5)
            .await
            .map_err(engine_error)?
            .into_iter()
            .find(|i| i.title.eq_ignore_ascii_case(&text));
        entries.push(match exact {
            Some(item) => HistoryEntry::Item {
                id: item.external_id,
                title: item.title,
            },
            None => HistoryEntry::Text { text },
        });
    }
    let profile = Profile {
        interests: split_list(&interests),
        history: entries,
        classes: split_list(&classes),
        about,
    };
    engine
        .save_profile(user_id, &profile)
        .await
        .map_err(engine_error)?;
    Ok(())
}

/// Recommendations for the signed-in user; serving them records an impression.
#[server(endpoint = "get_recommendations")]
pub async fn get_recommendations() -> Result<Option<RecommendationsView>, ServerFnError> {
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
    let list = engine
        .recommend_for_user(user_id, &engine::recommend::RecommendOptions::default())
        .await
        .map_err(engine_error)?;
    Ok(Some(crate::pages::item::to_view(list)))
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
    let recs = Resource::new(version, |_| get_recommendations());

    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading your profile…"</p> }>
            {move || Suspend::new(async move {
                match profile.await {
                    Err(e) => view! { <p class="error" role="alert">{user_message(&e)}</p> }.into_any(),
                    Ok(None) => view! { <SignInForm action=sign_in/> }.into_any(),
                    Ok(Some(p)) => view! {
                        <div class="layout">
                            <ProfileForm profile=p action=save sign_out=sign_out/>
                            <section class="recommendations" aria-labelledby="recs-title">
                                <h2 id="recs-title">"Recommended for you"</h2>
                                <Suspense fallback=|| view! { <p class="loading">"Finding what matches your profile…"</p> }>
                                    {move || Suspend::new(async move {
                                        match recs.await {
                                            Err(e) => view! { <p class="error" role="alert">{user_message(&e)}</p> }.into_any(),
                                            Ok(None) => view! {
                                                <p class="empty">"Tell us what you like — interests, things you enjoyed, classes — and save to see recommendations."</p>
                                            }.into_any(),
                                            Ok(Some(list)) => view! { <RecommendationList list/> }.into_any(),
                                        }
                                    })}
                                </Suspense>
                            </section>
                        </div>
                    }.into_any(),
                }
            })}
        </Suspense>
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
                <label for="interests">"Interests " <small>"(comma-separated)"</small></label>
                <input id="interests" name="interests" value=profile.interests.join(", ")
                    placeholder="aircraft, jazz, space exploration"/>
                <label for="history">"Things you enjoyed " <small>"(titles from the catalog or anything else)"</small></label>
                <textarea id="history" name="history" rows="3" placeholder="The Matrix (1999), a jazz night in Paris">
                    {profile.history.join(", ")}
                </textarea>
                <label for="classes">"Classes you follow"</label>
                <input id="classes" name="classes" value=profile.classes.join(", ") placeholder="film history, physics 101"/>
                <label for="about">"About you"</label>
                <textarea id="about" name="about" rows="2" maxlength="2000" placeholder="A few words about what you like">
                    {profile.about.clone()}
                </textarea>
                <button type="submit">"Save and recommend"</button>
            </ActionForm>
            {move || error().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <Show when=saved><p class="ok" role="status">"Saved."</p></Show>
        </section>
    }
}

#[component]
pub fn RecommendationList(list: RecommendationsView) -> impl IntoView {
    let imp = list.impression_id.clone();
    view! {
        <ol class="cards" data-impression=imp.clone()>
            {list.items.into_iter().map(|r| {
                let href = format!("/item/{}?imp={}", urlencode(&r.item.id), imp);
                view! {
                    <li class="card" data-item=r.item.id.clone()>
                        <a class="card-title" href=href>{r.item.title.clone()}</a>
                        <div class="meta">
                            <span class="score" title="cosine similarity">{format!("{:.0}% match", r.score * 100.0)}</span>
                            <span>{r.item.source.clone()}</span>
                            <span>{r.item.language.clone()}</span>
                        </div>
                        {r.because.clone().map(|b| view! { <p class="because">{b}</p> })}
                        <p class="snippet">{r.item.snippet.clone()}</p>
                    </li>
                }
            }).collect_view()}
        </ol>
    }
}

/// Percent-encodes a path segment (ids are user data).
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
