//! `GET /admin/export.csv?table=…&from=…&to=…`: one dashboard table as a CSV
//! download, for the admin session only. The range follows the dashboard's
//! rules (a bad date falls back, as on the page); an unknown table is a 400
//! that names the known ones.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http::{header, HeaderMap, StatusCode};
use serde::Deserialize;

use app::pages::dashboard_csv::{table_csv, TABLES};
use app::pages::dashboard_range::resolve;

use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/admin/export.csv", get(export))
        .with_state(state)
}

#[derive(Deserialize)]
struct ExportQuery {
    table: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

fn text(status: StatusCode, message: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message,
    )
        .into_response()
}

async fn export(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ExportQuery>,
) -> Response {
    let signed_in = match app::session::cookie_in(&headers, app::session::ADMIN_COOKIE) {
        Some(token) => st
            .engine
            .admin_session_valid(&token, &st.admin.session_binding())
            .await
            .unwrap_or(false),
        None => false,
    };
    if !signed_in {
        return text(
            StatusCode::UNAUTHORIZED,
            "Admin sign-in required: sign in at /admin first.\n".into(),
        );
    }
    let table = q.table.unwrap_or_default();
    if !TABLES.iter().any(|(name, _)| *name == table) {
        let known: Vec<&str> = TABLES.iter().map(|(name, _)| *name).collect();
        return text(
            StatusCode::BAD_REQUEST,
            format!("table: one of {}\n", known.join(", ")),
        );
    }
    let range = resolve(
        q.from.as_deref(),
        q.to.as_deref(),
        chrono::Utc::now().date_naive(),
    );
    let view = match app::pages::dashboard_data::dashboard_view(&st.engine, &range).await {
        Ok(view) => view,
        Err(e) => {
            tracing::warn!("dashboard export failed: {e}");
            let p = app::error::public(&e);
            return text(p.status, format!("{}\n", p.message));
        }
    };
    let Some(body) = table_csv(&view, &table) else {
        return text(StatusCode::BAD_REQUEST, "unknown table\n".into());
    };
    let disposition = format!(
        "attachment; filename=\"semrec-{table}-{}-{}.csv\"",
        range.from, range.to
    );
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        body,
    )
        .into_response()
}
