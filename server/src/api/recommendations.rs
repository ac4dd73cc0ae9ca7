//! Recommendations for a user (stored or inline profile) and "more like this".
//! Every list served is recorded as an impression whose id clicks refer to.

use axum::extract::{Path, State};
use axum::http::{HeaderName, StatusCode};
use axum::Json;
use engine::events::ImpressionContext;
use engine::history::HistoryRef;
use engine::profile::{Profile, MAX_HISTORY};
use engine::recommend::{Filters, PathTimings, RecommendOptions};
use engine::Engine;
use engine::EngineError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::body::ApiJson;
use super::error::{ApiError, ErrorBody};
use super::items::ItemView;

fn default_k() -> usize {
    10
}

/// Which items may be recommended. Empty lists mean "any".
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct FiltersInput {
    #[serde(default)]
    pub languages: Vec<String>,
    #[serde(default)]
    pub sources: Vec<String>,
    /// Items carrying at least one of these tags.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// The engine's options from the request's fields.
// Struct update keeps this compiling when recommend.rs gains options.
#[allow(clippy::needless_update)]
fn options(
    k: usize,
    offset: usize,
    filters: FiltersInput,
    diversity: Option<f32>,
) -> RecommendOptions {
    RecommendOptions {
        k,
        offset,
        filters: Filters {
            languages: filters.languages,
            sources: filters.sources,
            tags: filters.tags,
            ..Default::default()
        },
        diversity_lambda: diversity,
        ..Default::default()
    }
}

/// One thing the user consumed: a catalog item (`item`) or free text (`text`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HistoryInput {
    /// The id of a catalog item.
    pub item: Option<String>,
    /// Anything outside the catalog, e.g. a book title.
    pub text: Option<String>,
}

/// A profile sent with the request instead of the stored one.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileInput {
    #[serde(default)]
    pub interests: Vec<String>,
    /// Most recent first.
    #[serde(default)]
    pub history: Vec<HistoryInput>,
    #[serde(default)]
    pub classes: Vec<String>,
    #[serde(default)]
    pub about: String,
    /// "Not interested in": topics whose items are pushed down (negative elements).
    #[serde(default)]
    pub not_interested: Vec<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecommendationRequest {
    /// The user's handle. Without `profile`, the user's stored profile is used.
    /// With `profile`, the list is attached to this user (created if new), so
    /// their clicks count and clicked items are not recommended again.
    pub user: Option<String>,
    /// A profile to recommend for, instead of the stored one.
    pub profile: Option<ProfileInput>,
    /// Items to return, 1–100.
    #[serde(default = "default_k")]
    pub k: usize,
    /// Items to skip (pagination); `offset + k` is at most 1000.
    #[serde(default)]
    pub offset: usize,
    #[serde(default)]
    pub filters: FiltersInput,
    /// MMR λ in [0, 1]: 1 = pure relevance, lower = more diverse. Omit for none.
    pub diversity: Option<f32>,
    /// With `user`: the same request (profile, the user's dismissals, filters,
    /// page) within 30 minutes gets the list already served back, with its
    /// impression id, recording nothing (a user going back to a list).
    #[serde(default)]
    pub resume: bool,
}

#[derive(Serialize, ToSchema)]
pub struct Explanation {
    /// `interest`, `history`, `class` or `about`.
    pub kind: String,
    /// The profile element the item is closest to.
    pub label: String,
}

#[derive(Serialize, ToSchema)]
pub struct Recommended {
    /// 1-based position in the whole list (offset included).
    pub rank: usize,
    /// The match shown to users: the cosine similarity to the profile (−1 to 1),
    /// capped by the item above, so it never rises down the list.
    pub score: f32,
    pub item: ItemView,
    /// Why it was recommended (lists for a profile only).
    pub explanation: Option<Explanation>,
}

#[derive(Serialize, ToSchema)]
pub struct RecommendationList {
    /// Send it with clicks on these items.
    pub impression_id: uuid::Uuid,
    pub model_id: String,
    pub items: Vec<Recommended>,
    /// Present when the list may be poor: the profile's language is not covered by
    /// the model, or nothing matches it closely (first page of profile lists).
    pub warning: Option<ListWarning>,
}

/// Why a list may be poor.
#[derive(Serialize, ToSchema)]
pub struct ListWarning {
    /// `unsupported_language` or `low_confidence`.
    pub code: String,
    /// The language the profile seems to be in (ISO 639-1), for `unsupported_language`.
    pub language: Option<String>,
    /// The list's best cosine similarity to the profile.
    pub best_similarity: f32,
    /// For people: the cause, and the multilingual model as the remedy.
    pub message: String,
}

impl From<engine::recommend::RecommendationList> for RecommendationList {
    fn from(l: engine::recommend::RecommendationList) -> Self {
        Self {
            impression_id: l.impression_id,
            model_id: l.model_id,
            warning: l.warning.map(|w| ListWarning {
                code: w.code,
                language: w.language,
                best_similarity: w.best_similarity,
                message: w.message,
            }),
            items: l
                .items
                .into_iter()
                .map(|r| Recommended {
                    rank: r.rank,
                    score: r.score,
                    explanation: r.explanation.map(|e| Explanation {
                        kind: serde_json::to_value(e.kind)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_default(),
                        label: e.label,
                    }),
                    item: r.item.into(),
                })
                .collect(),
        }
    }
}

/// A validation error about an inline profile names its field under `profile`.
fn in_profile(e: EngineError) -> EngineError {
    e.within("profile")
}

/// An inline profile, checked and resolved. Count and length limits are checked
/// on the raw lists before any per-entry work; the history is resolved by the
/// engine's one shared path (one query, titles typed as text become items).
async fn inline_profile(engine: &Engine, p: ProfileInput) -> Result<Profile, ApiError> {
    let mut profile = Profile {
        interests: p.interests,
        history: Vec::new(),
        classes: p.classes,
        about: p.about,
        not_interested: p.not_interested,
    };
    profile.normalized().map_err(in_profile)?;
    if p.history.len() > MAX_HISTORY {
        return Err(EngineError::invalid(
            "profile.history",
            format!("has {} entries: at most {MAX_HISTORY}", p.history.len()),
        )
        .into());
    }
    let refs = p
        .history
        .into_iter()
        .enumerate()
        .map(|(i, h)| match (h.item, h.text) {
            (Some(id), None) => Ok(HistoryRef::Item(id)),
            (None, Some(text)) => Ok(HistoryRef::Text(text)),
            _ => Err(EngineError::invalid(
                format!("profile.history[{i}]"),
                "needs exactly one of 'item' (a catalog id) or 'text'",
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    profile.history = engine.resolve_history(refs).await.map_err(in_profile)?;
    profile.check_history().map_err(in_profile)?;
    Ok(profile)
}

/// Recommendations for a user, from their stored profile or one sent inline.
/// Records an impression.
#[utoipa::path(
    post, path = "/recommendations", tag = "recommendations",
    request_body = RecommendationRequest,
    security(("api_key" = [])),
    responses(
        (status = 200, body = RecommendationList),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "Unknown user (stored profile)", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, description = "Rate limit, in-flight limit or embedding queue full; see Retry-After", body = ErrorBody),
        (status = 503, body = ErrorBody),
    )
)]
pub async fn recommend(
    State(engine): State<Engine>,
    ApiJson(req): ApiJson<RecommendationRequest>,
) -> Result<([(HeaderName, String); 1], Json<RecommendationList>), ApiError> {
    let opts = options(req.k, req.offset, req.filters, req.diversity);
    opts.validate()?;
    let engine = &engine;
    let (user_id, profile) = match (req.user, req.profile) {
        (user, Some(profile)) => {
            // The profile is checked before a new user is created for it.
            let profile = inline_profile(engine, profile).await?;
            let user_id = match user {
                Some(handle) => Some(engine.user_by_handle(&handle, true).await?.id),
                None => None,
            };
            (user_id, profile)
        }
        (Some(handle), None) => {
            let user = engine.user_by_handle(&handle, false).await?;
            (Some(user.id), engine.load_profile(user.id).await?)
        }
        (None, None) => {
            return Err(EngineError::invalid(
                "",
                "send 'user' (a handle with a stored profile), 'profile', or both",
            )
            .into())
        }
    };
    let (list, timings) = match user_id {
        // The web app's home list calls the same function.
        Some(user_id) if req.resume => {
            engine
                .recommend_resumable(user_id, &profile, &opts, ImpressionContext::Api)
                .await?
        }
        _ => {
            engine
                .recommend_for_profile_timed(user_id, &profile, &opts, ImpressionContext::Api)
                .await?
        }
    };
    Ok((
        [(SERVER_TIMING, server_timing(&timings))],
        Json(list.into()),
    ))
}

const SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");

/// The `Server-Timing` header (W3C): where the request's time went, in ms, for
/// browsers' developer tools and any client that wants to see it.
fn server_timing(t: &PathTimings) -> String {
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    format!(
        "embed;dur={:.2}, history;dur={:.2}, rank;dur={:.2}, record;dur={:.2}, total;dur={:.2}",
        ms(t.embed),
        ms(t.profile_vectors),
        ms(t.rank),
        ms(t.record),
        ms(t.total)
    )
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimilarRequest {
    /// The user the list is shown to (optional): their clicked and consumed
    /// items are left out and their clicks count.
    pub user: Option<String>,
    /// Items to return, 1–100.
    #[serde(default = "default_k")]
    pub k: usize,
    /// Items to skip (pagination); `offset + k` is at most 1000.
    #[serde(default)]
    pub offset: usize,
    #[serde(default)]
    pub filters: FiltersInput,
    /// MMR λ in [0, 1]: 1 = pure relevance, lower = more diverse. Omit for none.
    pub diversity: Option<f32>,
}

/// "More like this": the items nearest to a catalog item. Records an impression.
/// The body may be empty (defaults: k = 10).
#[utoipa::path(
    post, path = "/items/{id}/similar", tag = "recommendations",
    params(("id" = String, Path, description = "The item's id in your catalog")),
    request_body = SimilarRequest,
    security(("api_key" = [])),
    responses(
        (status = 200, body = RecommendationList),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "The item has no embedding yet", body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody),
    )
)]
pub async fn similar(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<SimilarRequest>,
) -> Result<(StatusCode, Json<RecommendationList>), ApiError> {
    let opts = options(req.k, req.offset, req.filters, req.diversity);
    opts.validate()?;
    let user_id = match req.user {
        Some(handle) => Some(engine.user_by_handle(&handle, true).await?.id),
        None => None,
    };
    let list = engine.similar_items(user_id, &id, &opts).await?;
    Ok((StatusCode::OK, Json(list.into())))
}
