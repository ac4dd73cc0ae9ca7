//! `/admin/api-keys`: JSON API keys created, listed and revoked from the web,
//! through the same engine functions (and so the same rules) as
//! `semrec api-key create|list|revoke`. Plain forms, no island: a form posts to
//! its server function, which redirects back here. A new key's secret travels
//! to the page after that redirect in a short-lived HttpOnly cookie that only
//! this page reads, and clears as it shows it: it is shown once.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::user_message;
use crate::pages::admin_nav::{AdminLoadError, AdminNav};

/// The cookie that carries a new key's secret to the page, once.
#[cfg(feature = "ssr")]
const NEW_KEY_COOKIE: &str = "semrec_new_api_key";
#[cfg(feature = "ssr")]
const PAGE_PATH: &str = "/admin/api-keys";

/// A stored key as listed (never its secret).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ApiKeyRow {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub scope: String,
    pub created: String,
    pub last_used: Option<String>,
    pub revoked: Option<String>,
}

/// The page's data: every key, and the secret of the key just created, if any.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ApiKeysView {
    pub keys: Vec<ApiKeyRow>,
    pub new_secret: Option<String>,
}

/// Sets (or with `None`, clears) the new-key cookie: HttpOnly, SameSite=Strict,
/// for this page's path only, for a minute.
#[cfg(feature = "ssr")]
fn set_new_key_cookie(secret: Option<&str>, secure: bool) {
    use http::header::SET_COOKIE;
    let Some(response) = use_context::<leptos_axum::ResponseOptions>() else {
        return;
    };
    let value = format!(
        "{NEW_KEY_COOKIE}={}; Path={PAGE_PATH}; HttpOnly; SameSite=Strict; Max-Age={}{}",
        secret.unwrap_or(""),
        if secret.is_some() { 60 } else { 0 },
        if secure { "; Secure" } else { "" }
    );
    if let Ok(v) = http::HeaderValue::from_str(&value) {
        response.append_header(SET_COOKIE, v);
    }
}

/// A key secret as `create_api_key` makes them (anything else in the cookie is ignored).
#[cfg(feature = "ssr")]
fn plausible_secret(s: &str) -> bool {
    s.len() <= 200
        && s.strip_prefix(engine::api_keys::KEY_PREFIX)
            .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[server(endpoint = "admin_api_keys")]
pub async fn admin_api_keys() -> Result<ApiKeysView, ServerFnError> {
    use crate::error::engine_error;
    use crate::pages::admin_nav::when;
    use crate::session::{cookie_in, require_admin, state};
    require_admin().await?;
    let st = state()?;
    let keys = st
        .engine
        .store
        .list_api_keys()
        .await
        .map_err(engine_error)?
        .into_iter()
        .map(|k| ApiKeyRow {
            id: k.id,
            name: k.name,
            prefix: k.prefix,
            scope: k.scope.to_string(),
            created: when(k.created_at),
            last_used: k.last_used_at.map(when),
            revoked: k.revoked_at.map(when),
        })
        .collect();
    let new_secret = use_context::<http::request::Parts>()
        .and_then(|p| cookie_in(&p.headers, NEW_KEY_COOKIE))
        .filter(|s| plausible_secret(s));
    if new_secret.is_some() {
        set_new_key_cookie(None, st.secure_cookies);
    }
    Ok(ApiKeysView { keys, new_secret })
}

/// Creates a key (`semrec api-key create`); its secret is shown on the next page load only.
#[server(endpoint = "admin_create_api_key")]
pub async fn create_api_key(name: String, scope: String) -> Result<(), ServerFnError> {
    use crate::error::{engine_error, fail};
    use crate::session::{require_admin, state};
    require_admin().await?;
    let scope: engine::api_keys::Scope = scope
        .parse()
        .map_err(|e: String| fail(http::StatusCode::UNPROCESSABLE_ENTITY, e))?;
    let st = state()?;
    let new = st
        .engine
        .store
        .create_api_key(&name, scope)
        .await
        .map_err(engine_error)?;
    tracing::info!(id = new.key.id, name = %new.key.name, scope = %new.key.scope, "API key created from the admin page");
    set_new_key_cookie(Some(&new.secret), st.secure_cookies);
    Ok(())
}

/// Revokes a live key by id (as `semrec api-key revoke ID`); it stops working at once.
#[server(endpoint = "admin_revoke_api_key")]
pub async fn revoke_api_key(id: i64) -> Result<(), ServerFnError> {
    use crate::error::engine_error;
    use crate::session::{require_admin, state};
    require_admin().await?;
    let k = state()?
        .engine
        .store
        .revoke_api_key_by_id(id)
        .await
        .map_err(engine_error)?;
    tracing::info!(id = k.id, name = %k.name, "API key revoked from the admin page");
    Ok(())
}

#[component]
pub fn ApiKeysPage() -> impl IntoView {
    let create = ServerAction::<CreateApiKey>::new();
    let revoke = ServerAction::<RevokeApiKey>::new();
    let error = move || {
        create
            .value()
            .get()
            .or_else(|| revoke.value().get())
            .and_then(|r| r.err())
            .map(|e| user_message(&e))
    };
    view! {
        <section class="admin-page">
            <h1>"API keys"</h1>
            <AdminNav current="/admin/api-keys"/>
            <Suspense fallback=|| view! { <p class="loading">"Loading the keys…"</p> }>
                {move || Suspend::new(async move {
                    match admin_api_keys().await {
                        Ok(v) => view! { <ApiKeys v create revoke error=error()/> }.into_any(),
                        Err(e) => view! { <AdminLoadError error=e what="API keys"/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn ApiKeys(
    v: ApiKeysView,
    create: ServerAction<CreateApiKey>,
    revoke: ServerAction<RevokeApiKey>,
    error: Option<String>,
) -> impl IntoView {
    view! {
        {error.map(|e| view! { <p class="error" role="alert" id="api-key-error">{e}</p> })}
        {v.new_secret.map(|s| view! {
            <div class="notice secret" role="status" id="new-api-key">
                <p><strong>"New key, shown only now: "</strong>"copy it; only its SHA-256 is stored."</p>
                <code class="secret-value">{s}</code>
            </div>
        })}
        <section class="panel" aria-labelledby="create-key-title">
            <h2 id="create-key-title">"Create a key"</h2>
            <ActionForm action=create attr:class="row">
                <label for="key-name">"Name"</label>
                <input id="key-name" name="name" required maxlength="100" autocomplete="off"/>
                <label for="key-scope">"Scope"</label>
                <select id="key-scope" name="scope">
                    <option value="write">"write: recommendations, events, item writes"</option>
                    <option value="admin">"admin: also metrics"</option>
                </select>
                <button type="submit">"Create key"</button>
            </ActionForm>
            <p class="hint">"A name names one live key (revoke it to reuse the name). Clients send the key as "<code>"Authorization: Bearer <key>"</code>"."</p>
        </section>
        <section class="panel" aria-labelledby="keys-title">
            <h2 id="keys-title">"Keys"</h2>
            {if v.keys.is_empty() {
                view! { <p class="empty">"No API keys yet."</p> }.into_any()
            } else {
                view! {
                    <table class="api-keys">
                        <thead><tr>
                            <th scope="col">"Name"</th><th scope="col">"Scope"</th><th scope="col">"Prefix"</th>
                            <th scope="col">"Created"</th><th scope="col">"Last used"</th><th scope="col">"State"</th>
                        </tr></thead>
                        <tbody>
                            {v.keys.into_iter().map(|k| {
                                let name = k.name.clone();
                                let label = format!("Revoke “{name}”");
                                let data_key = name.clone();
                                view! {
                                    <tr data-key=data_key>
                                        <td>{name}</td>
                                        <td>{k.scope}</td>
                                        <td><code>{format!("{}…", k.prefix)}</code></td>
                                        <td>{k.created}</td>
                                        <td>{k.last_used.unwrap_or_else(|| "never".into())}</td>
                                        <td>{match k.revoked {
                                            Some(at) => view! { <span class="state-tag">{format!("revoked {at}")}</span> }.into_any(),
                                            None => view! {
                                                <ActionForm action=revoke attr:class="inline">
                                                    <input type="hidden" name="id" value=k.id/>
                                                    <button type="submit" class="secondary" aria-label=label>"Revoke"</button>
                                                </ActionForm>
                                            }.into_any(),
                                        }}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
    }
}
