//! The admin dashboard. Every server function here checks the admin session itself.

use leptos::prelude::*;

use crate::error::user_message;
use crate::views::{DashboardView, RateRow};

#[server(endpoint = "admin_sign_in")]
pub async fn admin_sign_in(user: String, password: String) -> Result<(), ServerFnError> {
    use crate::error::{engine_error, fail};
    use crate::session::{set_cookie, state, ADMIN_COOKIE};
    use engine::sessions::constant_time_eq;
    let st = state()?;
    let ok = constant_time_eq(user.as_bytes(), st.admin.user.as_bytes())
        & constant_time_eq(password.as_bytes(), st.admin.password.as_bytes());
    if !ok {
        tracing::warn!("failed admin sign-in");
        return Err(fail(
            http::StatusCode::UNAUTHORIZED,
            "Wrong admin name or password.",
        ));
    }
    let token = st
        .engine
        .create_session(None, true)
        .await
        .map_err(engine_error)?;
    set_cookie(ADMIN_COOKIE, Some(&token), st.secure_cookies);
    Ok(())
}

#[server(endpoint = "admin_sign_out")]
pub async fn admin_sign_out() -> Result<(), ServerFnError> {
    use crate::error::engine_error;
    use crate::session::{admin_token, set_cookie, state, ADMIN_COOKIE};
    let st = state()?;
    if let Some(token) = admin_token() {
        st.engine.end_session(&token).await.map_err(engine_error)?;
    }
    set_cookie(ADMIN_COOKIE, None, st.secure_cookies);
    Ok(())
}

/// Dashboard data for the last 90 days.
#[server(endpoint = "get_dashboard")]
pub async fn get_dashboard() -> Result<DashboardView, ServerFnError> {
    use crate::error::engine_error;
    use crate::session::{require_admin, state};
    require_admin().await?;
    let engine = &state()?.engine;
    let now = chrono::Utc::now();
    let d = engine
        .dashboard(now - chrono::Duration::days(90), now)
        .await
        .map_err(engine_error)?;
    let rows = |v: Vec<engine::metrics::Rate>| {
        v.into_iter()
            .map(|r| RateRow {
                key: r.key,
                shown: r.shown,
                clicked: r.clicked,
                rate: r.rate,
            })
            .collect()
    };
    let items = |v: Vec<engine::metrics::ItemCount>| {
        v.into_iter()
            .map(|i| RateRow {
                key: i.title,
                shown: i.shown,
                clicked: i.clicked,
                rate: if i.shown == 0 {
                    0.0
                } else {
                    i.clicked as f64 / i.shown as f64
                },
            })
            .collect()
    };
    let drift = &d.drift;
    let drift_summary = match drift.z {
        None => format!(
            "Not enough data: the last {} days and the {} days before both need shown items.",
            drift.recent_days, drift.reference_days
        ),
        Some(z) => format!(
            "Last {} days {:.1}% vs previous {} days {:.1}% (z = {z:.2})",
            drift.recent_days,
            drift.recent.rate * 100.0,
            drift.reference_days,
            drift.reference.rate * 100.0
        ),
    };
    Ok(DashboardView {
        impressions: d.overview.impressions,
        shown: d.overview.shown,
        clicks: d.overview.clicks,
        interaction_rate: d.overview.interaction_rate,
        per_user_rate: d.overview.per_user_rate,
        coverage: d.overview.coverage,
        catalog_size: d.overview.catalog_size,
        model_id: d.overview.model_id,
        daily: d
            .daily
            .into_iter()
            .map(|r| RateRow {
                key: r.day.to_string(),
                shown: r.shown,
                clicked: r.clicked,
                rate: r.rate,
            })
            .collect(),
        by_source: rows(d.by_source),
        by_language: rows(d.by_language),
        by_rank: rows(d.by_rank),
        top_clicked: items(d.top_clicked),
        never_clicked: items(d.never_clicked),
        drift_alert: drift.alert,
        drift_summary,
    })
}

#[component]
pub fn AdminPage() -> impl IntoView {
    let sign_in = ServerAction::<AdminSignIn>::new();
    let sign_out = ServerAction::<AdminSignOut>::new();
    let dashboard = Resource::new(
        move || (sign_in.version().get(), sign_out.version().get()),
        |_| get_dashboard(),
    );
    let sign_in_error = move || {
        sign_in
            .value()
            .get()
            .and_then(|r| r.err())
            .map(|e| user_message(&e))
    };
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading the dashboard…"</p> }>
            {move || Suspend::new(async move {
                match dashboard.await {
                    Ok(d) => view! { <Dashboard d sign_out/> }.into_any(),
                    Err(e) if user_message(&e).contains("Admin sign-in required") => view! {
                        <section class="panel signin">
                            <h1>"Admin sign-in"</h1>
                            <ActionForm action=sign_in attr:class="stack narrow">
                                <label for="admin-user">"Admin name"</label>
                                <input id="admin-user" name="user" required autocomplete="username"/>
                                <label for="admin-password">"Password"</label>
                                <input id="admin-password" name="password" type="password" required autocomplete="current-password"/>
                                <button type="submit">"Sign in"</button>
                            </ActionForm>
                            {move || sign_in_error().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                        </section>
                    }.into_any(),
                    Err(e) => view! { <p class="error" role="alert">{user_message(&e)}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

#[component]
fn Dashboard(d: DashboardView, sign_out: ServerAction<AdminSignOut>) -> impl IntoView {
    view! {
        <section class="dashboard">
            <div class="profile-head">
                <h1>"Dashboard"</h1>
                <ActionForm action=sign_out attr:class="inline">
                    <button type="submit" class="link">"Sign out"</button>
                </ActionForm>
            </div>
            <div class="stats">
                <Stat label="Lists served" value=d.impressions.to_string() id="impressions"/>
                <Stat label="Items shown" value=d.shown.to_string() id="shown"/>
                <Stat label="Clicks" value=d.clicks.to_string() id="clicks"/>
                <Stat label="Interaction rate" value=pct(d.interaction_rate) id="rate"/>
                <Stat label="Per-user rate" value=pct(d.per_user_rate) id="per-user-rate"/>
                <Stat label="Catalog coverage" value=pct(d.coverage) id="coverage"/>
                <Stat label="Catalog size" value=d.catalog_size.to_string() id="catalog-size"/>
                <Stat label="Embedding model" value=d.model_id.clone() id="model"/>
            </div>
            <p class=if d.drift_alert { "alert" } else { "drift" } role="status">
                {if d.drift_alert { "Interaction rate dropped significantly. " } else { "Interaction-rate drift: " }}
                {d.drift_summary.clone()}
            </p>
            <RateTable title="Per day" key_label="Day" rows=d.daily.clone()/>
            <RateTable title="By rank" key_label="Rank" rows=d.by_rank.clone()/>
            <RateTable title="By source" key_label="Source" rows=d.by_source.clone()/>
            <RateTable title="By language" key_label="Language" rows=d.by_language.clone()/>
            <RateTable title="Top clicked items" key_label="Item" rows=d.top_clicked.clone()/>
            <RateTable title="Shown, never clicked" key_label="Item" rows=d.never_clicked.clone()/>
        </section>
    }
}

#[component]
fn Stat(label: &'static str, value: String, id: &'static str) -> impl IntoView {
    view! {
        <div class="stat" data-stat=id>
            <span class="stat-value">{value}</span>
            <span class="stat-label">{label}</span>
        </div>
    }
}

#[component]
fn RateTable(title: &'static str, key_label: &'static str, rows: Vec<RateRow>) -> impl IntoView {
    view! {
        <section class="panel">
            <h2>{title}</h2>
            {if rows.is_empty() {
                view! { <p class="empty">"No data yet."</p> }.into_any()
            } else {
                view! {
                    <table>
                        <thead><tr><th scope="col">{key_label}</th><th scope="col">"Shown"</th><th scope="col">"Clicked"</th><th scope="col">"Rate"</th></tr></thead>
                        <tbody>
                            {rows.into_iter().map(|r| view! {
                                <tr><td>{r.key}</td><td>{r.shown}</td><td>{r.clicked}</td><td>{pct(r.rate)}</td></tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
    }
}
