//! The admin dashboard. Every server function here checks the admin session itself.

use leptos::prelude::*;

use crate::chart::{Point, Style, TimeChart};
use crate::error::user_message;
use crate::pages::import::ImportPanel;
#[cfg(feature = "ssr")]
use crate::views::{AlertView, ShiftView, SimilarityPoint};
use crate::views::{DashboardView, RateRow};

#[server(endpoint = "admin_sign_in")]
pub async fn admin_sign_in(user: String, password: String) -> Result<(), ServerFnError> {
    use crate::client::{client_ip, too_many};
    use crate::error::{engine_error, fail};
    use crate::session::{set_cookie, state, ADMIN_COOKIE};
    use engine::sessions::constant_time_eq;
    use engine::throttle::Throttle;
    let st = state()?;
    let ip = client_ip();
    // Counted before the password is looked at: parallel guesses cannot outrun the lock.
    if let Throttle::Wait(secs) = st
        .engine
        .store
        .begin_admin_sign_in(ip, &user)
        .await
        .map_err(engine_error)?
    {
        tracing::warn!(%ip, "admin sign-in refused: too many failed attempts");
        return Err(too_many(secs, "Too many failed admin sign-ins"));
    }
    let ok = constant_time_eq(user.as_bytes(), st.admin.user.as_bytes())
        & constant_time_eq(password.as_bytes(), st.admin.password.as_bytes());
    if !ok {
        tracing::warn!(%ip, "failed admin sign-in");
        st.engine
            .store
            .admin_sign_in_failed(&user)
            .await
            .map_err(engine_error)?;
        return Err(fail(
            http::StatusCode::UNAUTHORIZED,
            "Wrong admin name or password.",
        ));
    }
    st.engine
        .store
        .admin_sign_in_succeeded(ip)
        .await
        .map_err(engine_error)?;
    let token = st
        .engine
        .create_admin_session(&st.admin.session_binding())
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
    // A continuous last-30-days series: days without lists show as gaps, not as missing days.
    let by_day: std::collections::HashMap<chrono::NaiveDate, &engine::metrics::DailyRate> =
        d.daily.iter().map(|r| (r.day, r)).collect();
    let today = now.date_naive();
    let daily = (0..30)
        .rev()
        .map(|back| {
            let day = today - chrono::Duration::days(back);
            let (shown, clicked, rate) = by_day
                .get(&day)
                .map_or((0, 0, 0.0), |r| (r.shown, r.clicked, r.rate));
            RateRow {
                key: day.to_string(),
                shown,
                clicked,
                rate,
            }
        })
        .collect();
    let e = &d.embedding_drift;
    let shift = |label: &str, s: &engine::drift::CentroidShift| ShiftView {
        label: label.to_string(),
        recent: s.recent_count,
        reference: s.reference_count,
        distance: s.distance,
        judged: s.judged,
        alert: s.alert,
    };
    let shifts = vec![
        shift("Query centroid (what users ask for)", &e.queries),
        shift("New items vs the existing catalog", &e.items),
    ];
    let top1_daily = e
        .top1
        .daily
        .iter()
        .map(|p| SimilarityPoint {
            day: p.day.to_string(),
            mean_top1: p.mean_top1,
            lists: p.lists,
        })
        .collect();
    Ok(DashboardView {
        impressions: d.overview.impressions,
        shown: d.overview.shown,
        clicks: d.overview.clicks,
        interaction_rate: d.overview.interaction_rate,
        per_user_rate: d.overview.per_user_rate,
        coverage: d.overview.coverage,
        catalog_size: d.overview.catalog_size,
        model_id: d.overview.model_id,
        embedding_cache_hit_rate: d.overview.embedding_cache_hit_rate,
        daily,
        by_source: rows(d.by_source),
        by_language: rows(d.by_language),
        by_rank: rows(d.by_rank),
        top_clicked: items(d.top_clicked),
        never_clicked: items(d.never_clicked),
        drift_alert: drift.alert,
        drift_summary,
        alerts: d
            .alerts
            .iter()
            .map(|a| AlertView {
                signal: serde_json::to_value(a.signal)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                message: a.message.clone(),
            })
            .collect(),
        drift_recent_days: e.recent_days,
        drift_reference_days: e.reference_days,
        shifts,
        top1_daily,
        top1_recent: e.top1.recent_mean,
        top1_reference: e.top1.reference_mean,
        top1_slope: e.top1.slope_per_day,
    })
}

/// Server-rendered only: the sign-in and sign-out forms are plain form posts
/// (the server sets or clears the cookie and redirects back), the charts' tooltips
/// are SVG `<title>`s. Only the import panel is an island.
#[component]
pub fn AdminPage() -> impl IntoView {
    // Read a failed sign-in's message from the URL the form post was redirected to.
    let sign_in = ServerAction::<AdminSignIn>::new();
    let sign_out = ServerAction::<AdminSignOut>::new();
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
                match get_dashboard().await {
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
                    Err(e) => view! {
                        <div class="state state-error" role="alert">
                            <p class="state-title">"The dashboard could not be loaded"</p>
                            <p>{user_message(&e)}</p>
                        </div>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn axis_pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

fn axis_sim(x: f64) -> String {
    format!("{x:.2}")
}

#[component]
fn Dashboard(d: DashboardView, sign_out: ServerAction<AdminSignOut>) -> impl IntoView {
    let rate_points: Vec<Point> = d
        .daily
        .iter()
        .map(|r| Point {
            label: r.key.get(5..).unwrap_or(&r.key).to_string(),
            value: (r.shown > 0).then_some(r.rate),
            tooltip: if r.shown == 0 {
                format!("{}: no lists served", r.key)
            } else {
                format!(
                    "{}: {} ({} of {} shown items clicked)",
                    r.key,
                    pct(r.rate),
                    r.clicked,
                    r.shown
                )
            },
        })
        .collect();
    let sim_points: Vec<Point> = d
        .top1_daily
        .iter()
        .map(|p| Point {
            label: p.day.get(5..).unwrap_or(&p.day).to_string(),
            value: Some(p.mean_top1),
            tooltip: format!(
                "{}: mean top-1 similarity {:.3} over {} lists",
                p.day, p.mean_top1, p.lists
            ),
        })
        .collect();
    let sim_min = d
        .top1_daily
        .iter()
        .map(|p| p.mean_top1)
        .fold(1.0f64, f64::min);
    let sim_floor = ((sim_min - 0.05).max(0.0) * 10.0).floor() / 10.0;
    let fmt_opt = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.3}"));
    let status = if d.alerts.is_empty() { "ok" } else { "alert" };
    view! {
        <section class="dashboard">
            <div class="profile-head">
                <h1>"Dashboard"</h1>
                <span class="muted">"last 90 days"</span>
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
                <Stat label="Embedding cache hit rate" value=d.embedding_cache_hit_rate.map_or("–".to_string(), pct) id="embed-cache"/>
            </div>

            {view! {
            <section class="panel drift-panel" data-drift=status aria-labelledby="drift-title">
                <h2 id="drift-title">"Drift monitoring"</h2>
                {if d.alerts.is_empty() {
                    view! { <p class="drift-ok" role="status">"No drift alert: recent behaviour matches the reference window."</p> }.into_any()
                } else {
                    view! {
                        <ul class="alerts" role="alert">
                            {d.alerts.iter().map(|a| view! { <li class="alert" data-signal=a.signal.clone()>{a.message.clone()}</li> }).collect_view()}
                        </ul>
                    }.into_any()
                }}
                <p class="drift">
                    <strong>"Interaction rate: "</strong>{d.drift_summary.clone()}
                </p>
                <table>
                    <caption>{format!("Embedding drift: last {} days against the {} days before", d.drift_recent_days, d.drift_reference_days)}</caption>
                    <thead><tr><th scope="col">"Signal"</th><th scope="col">"Recent"</th><th scope="col">"Reference"</th><th scope="col">"Centroid distance"</th><th scope="col">"State"</th></tr></thead>
                    <tbody>
                        {d.shifts.iter().map(|s| {
                            let state = if s.alert { "alert" } else if s.judged { "ok" } else { "not enough data" };
                            view! {
                                <tr>
                                    <td>{s.label.clone()}</td>
                                    <td>{s.recent}</td>
                                    <td>{s.reference}</td>
                                    <td>{fmt_opt(s.distance)}</td>
                                    <td><span class=format!("state-tag {}", state.replace(' ', "-"))>{state}</span></td>
                                </tr>
                            }
                        }).collect_view()}
                        <tr>
                            <td>"Mean top-1 similarity"</td>
                            <td>{fmt_opt(d.top1_recent)}</td>
                            <td>{fmt_opt(d.top1_reference)}</td>
                            <td>{d.top1_slope.map_or("—".to_string(), |s| format!("trend {s:+.4} / day"))}</td>
                            <td>{if d.alerts.iter().any(|a| a.signal == "top1_similarity") { "alert" } else { "" }}</td>
                        </tr>
                    </tbody>
                </table>
            </section>
            }.into_any()}

            {view! {
            <div class="chart-grid">
                <section class="panel" aria-labelledby="daily-title">
                    <h2 id="daily-title">"Interaction rate per day"</h2>
                    <TimeChart title="Interaction rate per day, last 30 days".to_string() points=rate_points style=Style::Bars axis=axis_pct/>
                </section>
                <section class="panel" aria-labelledby="top1-title">
                    <h2 id="top1-title">"Mean top-1 similarity per day"</h2>
                    {if sim_points.is_empty() {
                        view! { <p class="empty">"No lists served yet."</p> }.into_any()
                    } else {
                        view! { <TimeChart title="Mean top-1 similarity per day".to_string() points=sim_points style=Style::Line axis=axis_sim y_min=sim_floor/> }.into_any()
                    }}
                    <p class="hint">"A falling line means the best match users get is getting worse: the catalog no longer covers what they ask for."</p>
                </section>
            </div>
            }.into_any()}
            {view! {
            <div class="table-grid">
                <RateTable title="By rank" key_label="Rank" rows=d.by_rank.clone()/>
                <RateTable title="By source" key_label="Source" rows=d.by_source.clone()/>
                <RateTable title="By language" key_label="Language" rows=d.by_language.clone()/>
                <RateTable title="Top clicked items" key_label="Item" rows=d.top_clicked.clone()/>
                <RateTable title="Shown, never clicked" key_label="Item" rows=d.never_clicked.clone()/>
            </div>
            }.into_any()}
            {view! { <ImportPanel/> }.into_any()}
        </section>
    }
    .into_any()
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
                                <tr>
                                    <td>{r.key}</td><td>{r.shown}</td><td>{r.clicked}</td>
                                    <td class="rate-cell">
                                        <span class="rate-bar" style=format!("width:{:.0}%", (r.rate * 100.0).clamp(0.0, 100.0)) aria-hidden="true"></span>
                                        <span>{pct(r.rate)}</span>
                                    </td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
    }
}
