//! Interactions: what users did with items, which the collaborative model learns
//! from. One at a time (a JSON object) or in bulk (JSON Lines or CSV). They are not
//! impressions or clicks: they never count in the dashboard's interaction rates.

use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use engine::api_keys::ApiKey;
use engine::catalog::ImportFormat;
use engine::import_history::{ImportKind, ImportVia};
use engine::interactions::{parse_interactions, InteractionInput, ParsedInteractions, Timestamp};
use engine::Engine;
use engine::EngineError;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::body::{parse_json, read_body};
use super::error::{ApiError, ErrorBody};
use super::items::RejectedLine;

/// One interaction (a line of a JSON Lines body has the same fields).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InteractionBody {
    /// Your id of the user (1–200 characters); a semrec user's handle joins their profile.
    pub user: String,
    /// The item's id in your catalog.
    pub item: String,
    /// When: Unix seconds, or RFC 3339 text such as `2024-05-01T12:00:00Z`.
    #[schema(value_type = Object, example = 1714564800)]
    pub ts: Timestamp,
    /// A rating (the kind is then `rated`).
    pub rating: Option<f64>,
    /// A weight for other kinds (default 1).
    pub weight: Option<f64>,
    /// `consumed` (default), `rated`, `clicked` or `dismissed` (not learned from).
    pub kind: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InteractionParams {
    /// `jsonl` or `csv` for a bulk body. Default: from the Content-Type (`application/json`
    /// = one interaction, `text/csv` = CSV, anything else = JSON Lines).
    pub format: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct InteractionResult {
    pub added: usize,
    /// Already stored (same user, item, kind and time): sending it again adds nothing.
    pub unchanged: usize,
    /// Lines not stored, and why. Every other line was stored.
    pub rejected: Vec<RejectedLine>,
}

/// Stores interactions: one JSON object (`Content-Type: application/json`), or many as
/// JSON Lines (`application/x-ndjson`) or CSV (`text/csv`, header
/// `user,item,ts[,rating|weight][,kind]`). Bulk bodies report bad lines with their
/// numbers and store the rest; a single invalid interaction is a 422, an unknown item a
/// 404. Idempotent: the same event sent twice is stored once. The collaborative model
/// is refitted in the background (`SEMREC_COLLABORATIVE_REFRESH_SECS`).
#[utoipa::path(
    post, path = "/interactions", tag = "interactions",
    params(InteractionParams),
    request_body(description = "One interaction, or many as JSON Lines or CSV",
        content(
            (InteractionBody = "application/json"),
            (String = "application/x-ndjson"),
            (String = "text/csv"),
        )
    ),
    security(("api_key" = [])),
    responses(
        (status = 201, description = "Stored (a single interaction)", body = InteractionResult),
        (status = 200, description = "Bulk body processed, or the single interaction was already stored", body = InteractionResult),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 503, body = ErrorBody),
    )
)]
pub async fn post_interactions(
    State(engine): State<Engine>,
    Extension(key): Extension<ApiKey>,
    Query(params): Query<InteractionParams>,
    req: Request,
) -> Result<impl IntoResponse, ApiError> {
    let content_type = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let format = match params.format.as_deref() {
        Some("csv") => Some(ImportFormat::Csv),
        Some("jsonl") => Some(ImportFormat::Jsonl),
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "unknown format '{other}': use 'jsonl' or 'csv'"
            )))
        }
        None if content_type.starts_with("text/csv") => Some(ImportFormat::Csv),
        None if content_type.starts_with("application/json") => None,
        None => Some(ImportFormat::Jsonl),
    };
    let body = read_body(req).await?;
    let Some(format) = format else {
        let one: InteractionBody = parse_json(&body)?;
        let valid = InteractionInput {
            user: one.user,
            item: one.item,
            ts: one.ts,
            rating: one.rating,
            weight: one.weight,
            kind: one.kind,
        }
        .validate()
        .map_err(|reason| EngineError::invalid("", reason))?;
        let item = valid.item.clone();
        let summary = engine
            .import_interactions(
                ParsedInteractions {
                    interactions: vec![(1, valid)],
                    rejected: Vec::new(),
                },
                |_| {},
            )
            .await?;
        if !summary.rejected.is_empty() {
            return Err(EngineError::NotFound(format!("item '{item}'")).into());
        }
        let status = if summary.added > 0 {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        return Ok((status, Json(result(summary))));
    };
    let parsed = parse_interactions(std::io::Cursor::new(body), format)
        .map_err(|e| ApiError::BadRequest(format!("cannot read the interactions: {e}")))?;
    let summary = engine.import_interactions(parsed, |_| {}).await?;
    // Documents only: single events are not imports (a client may send thousands).
    engine
        .store
        .note_import(
            ImportVia::Api,
            &super::api_key_actor(&key),
            ImportKind::Interactions,
            &summary,
        )
        .await;
    Ok((StatusCode::OK, Json(result(summary))))
}

fn result(s: engine::interactions::InteractionImportSummary) -> InteractionResult {
    InteractionResult {
        added: s.added,
        unchanged: s.unchanged,
        rejected: s
            .rejected
            .into_iter()
            .map(|r| RejectedLine {
                line: r.line,
                id: r.id,
                reason: r.reason,
            })
            .collect(),
    }
}
