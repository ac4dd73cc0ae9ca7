//! The admin dashboard. Every server function here checks the admin session itself.

use leptos::prelude::*;

use crate::chart::{Point, Style, TimeChart};
use crate::error::user_message;
use crate::pages::admin_nav::AdminNav;
use crate::pages::dashboard_csv::csv_href;
use crate::pages::import::ImportPanel;
use crate::views::{DashboardView, RateRow};
use leptos_router::hooks::use_query_map;

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

/// Dashboard data for a day range (`from`/`to`: YYYY-MM-DD, both included; the
/// last 30 days by default; unusable values fall back, with a note).
#[server(endpoint = "get_dashboard")]
pub async fn get_dashboard(
    from: Option<String>,
    to: Option<String>,
) -> Result<DashboardView, ServerFnError> {
    use crate::error::engine_error;
    use crate::session::{require_admin, state};
    require_admin().await?;
    let range = crate::pages::dashboard_range::resolve(
        from.as_deref(),
        to.as_deref(),
        chrono::Utc::now().date_naive(),
    );
    crate::pages::dashboard_data::dashboard_view(&state()?.engine, &range)
        .await
        .map_err(engine_error)
}

/// Server-rendered only: the sign-in and sign-out forms are plain form posts
/// (the server sets or clears the cookie and redirects back), the charts' tooltips
/// are SVG `<title>`s. Only the import panel is an island.
#[component]
pub fn AdminPage() -> impl IntoView {
    // Read a failed sign-in's message from the URL the form post was redirected to.
    let sign_in = ServerAction::<AdminSignIn>::new();
    let sign_out = ServerAction::<AdminSignOut>::new();
    let (from, to) = use_query_map().with_untracked(|q| (q.get("from"), q.get("to")));
    let sign_in_error = move || {
        sign_in
            .value()
            .get()
            .and_then(|r| r.err())
            .map(|e| user_message(&e))
    };
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading the dashboard…"</p> }>
            {move || {
                let (from, to) = (from.clone(), to.clone());
                Suspend::new(async move {
                match get_dashboard(from, to).await {
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
            })}}
        </Suspense>
    }
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// Decimals that show `step` exactly (at most 3): ticks 0.25% apart read
/// 0.25%, 0.5%…, never "0%, 0%, 1%".
fn decimals(step: f64) -> usize {
    (0..3)
        .find(|d| {
            let v = step * 10f64.powi(*d as i32);
            (v - v.round()).abs() < 1e-6
        })
        .unwrap_or(3)
}

fn axis_pct(x: f64, step: f64) -> String {
    format!("{:.*}%", decimals(step * 100.0), x * 100.0)
}

fn axis_sim(x: f64, step: f64) -> String {
    format!("{:.*}", decimals(step).max(2), x)
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
    // "No drift alert" only when some signal could be judged at all.
    let judged_any = d.rate_judged
        || d.shifts.iter().any(|s| s.judged)
        || (d.top1_recent.is_some() && d.top1_reference.is_some());
    let status = if !d.alerts.is_empty() {
        "alert"
    } else if judged_any {
        "ok"
    } else {
        "not-enough-data"
    };
    let range = format!("{} to {} ({} days)", d.from, d.to, d.days);
    let csv = {
        let (from, to) = (d.from.clone(), d.to.clone());
        move |table: &str| csv_href(table, &from, &to)
    };
    view! {
        <section class="dashboard">
            <div class="profile-head">
                <h1>"Dashboard"</h1>
                <span class="muted" id="range">{range.clone()}</span>
                <ActionForm action=sign_out attr:class="inline">
                    <button type="submit" class="link">"Sign out"</button>
                </ActionForm>
            </div>
            <AdminNav current="/admin"/>
            // A plain GET form: the range lives in the URL (?from=&to=).
            <form method="get" action="/admin" class="filters range" aria-label="Date range">
                <div class="filter">
                    <label for="range-from">"From"</label>
                    <input type="date" id="range-from" name="from" value=d.from.clone() max=d.to.clone()/>
                </div>
                <div class="filter">
                    <label for="range-to">"To"</label>
                    <input type="date" id="range-to" name="to" value=d.to.clone()/>
                </div>
                <button type="submit" class="secondary">"Show"</button>
            </form>
            {d.range_note.clone().map(|n| view! { <p class="notice warning" role="status" id="range-note">{n}</p> })}
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
                {if d.alerts.is_empty() && !judged_any {
                    view! { <p class="drift-unknown" role="status">"Not enough data yet to judge drift: every signal needs data in both windows."</p> }.into_any()
                } else if d.alerts.is_empty() {
                    view! { <p class="drift-ok" role="status">"No drift alert on the signals with enough data: recent behaviour matches the reference window."</p> }.into_any()
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
                            let state = if s.alert {
                                "alert"
                            } else if s.judged {
                                "ok"
                            } else if s.first_import {
                                "first import"
                            } else {
                                "not enough data yet"
                            };
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
                    <TimeChart title=format!("Interaction rate per day, {range}") points=rate_points style=Style::Bars axis=axis_pct/>
                    <a class="csv" href=csv("daily") download>"Download CSV"</a>
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
                <RateTable title="By rank" key_label="Rank" rows=d.by_rank.clone() csv=csv("by_rank")/>
                <RateTable title="By surface" key_label="Surface" rows=d.by_surface.clone() csv=csv("by_surface")/>
                <RateTable title="By ranker model" key_label="Model" rows=d.by_ranker.clone() csv=csv("by_ranker")/>
                <RateTable title="By source" key_label="Source" rows=d.by_source.clone() csv=csv("by_source")/>
                <RateTable title="By language" key_label="Language" rows=d.by_language.clone() csv=csv("by_language")/>
                <RateTable title="Top clicked items" key_label="Item" rows=d.top_clicked.clone() csv=csv("top_clicked")/>
                <RateTable title="Shown, never clicked" key_label="Item" rows=d.never_clicked.clone() csv=csv("never_clicked")/>
                <DismissedTable rows=d.most_dismissed.clone() csv=csv("not_interested")/>
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
fn RateTable(
    title: &'static str,
    key_label: &'static str,
    rows: Vec<RateRow>,
    csv: String,
) -> impl IntoView {
    view! {
        <section class="panel">
            <h2>{title}</h2>
            <a class="csv" href=csv download aria-label=format!("Download “{title}” as CSV")>"Download CSV"</a>
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

/// The items most often marked "Not interested" in the range.
#[component]
fn DismissedTable(rows: Vec<crate::views::DismissedRow>, csv: String) -> impl IntoView {
    view! {
        <section class="panel" aria-labelledby="dismissed-title">
            <h2 id="dismissed-title">"Most “Not interested”"</h2>
            <a class="csv" href=csv download aria-label="Download “Most “Not interested”” as CSV">"Download CSV"</a>
            {if rows.is_empty() {
                view! { <p class="empty">"No item was marked “Not interested” in this range."</p> }.into_any()
            } else {
                view! {
                    <table class="dismissed">
                        <thead><tr><th scope="col">"Item"</th><th scope="col">"Not interested"</th><th scope="col">"Shown"</th></tr></thead>
                        <tbody>
                            {rows.into_iter().map(|r| view! {
                                <tr data-item=r.id.clone()>
                                    <td><a href=format!("/item/{}", crate::cards::urlencode(&r.id))>{r.title}</a></td>
                                    <td data-count="dismissed">{r.dismissed}</td>
                                    <td data-count="shown">{r.shown}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
            <p class="hint">"Users who marked the item “Not interested” in the range (an undone one no longer counts), beside how often it was shown."</p>
        </section>
    }
}
