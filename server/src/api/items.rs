//! Catalog items: read, upsert, delete one; bulk import (JSONL or CSV).

use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use engine::api_keys::ApiKey;
use engine::catalog::{ImportFormat, ItemInput, ParsedImport};
use engine::import_history::{ImportKind, ImportVia};
use engine::Engine;
use engine::EngineError;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::body::{read_body, ApiJson};
use super::error::{ApiError, ErrorBody};

/// A catalog item as the API shows it.
#[derive(Serialize, ToSchema)]
pub struct ItemView {
    /// The item's id in your catalog (the external id).
    pub id: String,
    pub title: String,
    pub description: String,
    /// ISO 639 code, e.g. `en` or `pt-br`.
    pub language: String,
    pub source: String,
    pub tags: Vec<String>,
    pub url: Option<String>,
}

impl From<engine::catalog::Item> for ItemView {
    fn from(i: engine::catalog::Item) -> Self {
        Self {
            id: i.external_id,
            title: i.title,
            description: i.description,
            language: i.language,
            source: i.source,
            tags: i.tags,
            url: i.url,
        }
    }
}

/// An item to store under the id in the path.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemBody {
    /// Optional; when given it must equal the id in the path.
    pub id: Option<String>,
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// ISO 639 code; `en` when omitted.
    pub language: Option<String>,
    pub source: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// An http(s) URL.
    pub url: Option<String>,
    /// Free metadata: a JSON object.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
}

#[derive(Serialize, ToSchema, PartialEq, Eq, Debug)]
#[serde(rename_all = "snake_case")]
pub enum UpsertOutcome {
    Added,
    Updated,
    Unchanged,
}

#[derive(Serialize, ToSchema)]
pub struct UpsertResult {
    pub id: String,
    pub outcome: UpsertOutcome,
    /// True when the item's text changed (or it is new) and it was embedded again.
    pub embedded: bool,
}

#[utoipa::path(
    get, path = "/items/{id}", tag = "items",
    params(("id" = String, Path, description = "The item's id in your catalog")),
    security(("api_key" = [])),
    responses(
        (status = 200, body = ItemView),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody),
    )
)]
pub async fn get_item(
    State(engine): State<Engine>,
    Path(id): Path<String>,
) -> Result<Json<ItemView>, ApiError> {
    Ok(Json(engine.item_by_external_id(&id).await?.into()))
}

/// Creates or replaces an item. It is embedded again only when its text
/// (title, description, tags) changed.
#[utoipa::path(
    put, path = "/items/{id}", tag = "items",
    params(("id" = String, Path, description = "The item's id in your catalog")),
    request_body = ItemBody,
    security(("api_key" = [])),
    responses(
        (status = 201, description = "Added", body = UpsertResult),
        (status = 200, description = "Updated or unchanged", body = UpsertResult),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody),
        (status = 503, body = ErrorBody),
    )
)]
pub async fn put_item(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ItemBody>,
) -> Result<impl IntoResponse, ApiError> {
    if let Some(body_id) = &body.id {
        if body_id.trim() != id.trim() {
            return Err(EngineError::invalid(
                "id",
                format!("the body's id '{body_id}' differs from the id in the path '{id}'"),
            )
            .into());
        }
    }
    let input = ItemInput {
        id: id.clone(),
        title: body.title,
        description: body.description,
        language: body.language,
        source: body.source,
        tags: body.tags,
        url: body.url,
        metadata: body.metadata,
    };
    let item = input
        .validate()
        .map_err(|reason| EngineError::invalid("", reason))?;
    let external_id = item.external_id.clone();
    let mut embedded = 0;
    let summary = engine
        .import_items(
            ParsedImport {
                items: vec![(1, item)],
                rejected: Vec::new(),
            },
            |p| embedded = p.embedded,
        )
        .await?;
    let (status, outcome) = if summary.added > 0 {
        (StatusCode::CREATED, UpsertOutcome::Added)
    } else if summary.updated > 0 {
        (StatusCode::OK, UpsertOutcome::Updated)
    } else {
        (StatusCode::OK, UpsertOutcome::Unchanged)
    };
    Ok((
        status,
        Json(UpsertResult {
            id: external_id,
            outcome,
            embedded: embedded > 0,
        }),
    ))
}

/// Deletes an item, with its impressions and clicks.
#[utoipa::path(
    delete, path = "/items/{id}", tag = "items",
    params(("id" = String, Path, description = "The item's id in your catalog")),
    security(("api_key" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody),
    )
)]
pub async fn delete_item(
    State(engine): State<Engine>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    engine.delete_item(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// `jsonl` or `csv`. Default: `csv` when the Content-Type is `text/csv`, else `jsonl`.
    pub format: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RejectedLine {
    /// 1-based line number in the body.
    pub line: usize,
    pub id: Option<String>,
    pub reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct ImportResult {
    pub added: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Lines not imported, and why. Every other line was imported.
    pub rejected: Vec<RejectedLine>,
}

/// Imports many items at once: JSON Lines (one item per line, as in `PUT /items/{id}`
/// plus `id`) or CSV (header with at least `id,title`; tags separated by `|`; other
/// columns become metadata). Bad lines are reported with their line numbers; all
/// valid lines are imported. The body may be up to 64 MiB.
#[utoipa::path(
    post, path = "/items", tag = "items",
    params(ImportParams),
    request_body(content = String, content_type = "application/x-ndjson",
        description = "JSON Lines, or CSV with `Content-Type: text/csv`"),
    security(("api_key" = [])),
    responses(
        (status = 200, body = ImportResult),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody),
    )
)]
pub async fn import(
    State(engine): State<Engine>,
    Extension(key): Extension<ApiKey>,
    Query(params): Query<ImportParams>,
    req: Request,
) -> Result<Json<ImportResult>, ApiError> {
    let content_type = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let format = match params.format.as_deref() {
        Some("csv") => ImportFormat::Csv,
        Some("jsonl") => ImportFormat::Jsonl,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "unknown format '{other}': use 'jsonl' or 'csv'"
            )))
        }
        None if content_type.starts_with("text/csv") => ImportFormat::Csv,
        None => ImportFormat::Jsonl,
    };
    // Before the body is read: a refused import never holds its document.
    let permit = engine.imports.try_enter()?;
    let body = read_body(req).await?;
    let summary = engine.import_document(permit, body, format).await?;
    engine
        .store
        .note_import(
            ImportVia::Api,
            &super::api_key_actor(&key),
            ImportKind::Catalogue,
            &summary,
        )
        .await;
    Ok(Json(ImportResult {
        added: summary.added,
        updated: summary.updated,
        unchanged: summary.unchanged,
        rejected: summary
            .rejected
            .into_iter()
            .map(|r| RejectedLine {
                line: r.line,
                id: r.id,
                reason: r.reason,
            })
            .collect(),
    }))
}
