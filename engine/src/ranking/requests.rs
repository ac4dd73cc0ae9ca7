//! The recommend path's entry points: a profile's list (served, or previewed without
//! an impression), "more like this", and the whole scored pool for offline tuning.

use std::time::Instant;

use super::fusion::Features;
use super::options::{Exclusions, RecommendOptions};
use super::ranker::{user_key, ChannelInputs, Scoring};
use super::serving::{PathTimings, RecommendationList, Recording};
use crate::error::{EngineError, Result};
use crate::events::ImpressionContext;
use crate::profile::{HistoryEntry, Profile, ProfileQuery, ProfileStrategy};
use crate::Engine;

impl Engine {
    /// Recommendations for a stored user's profile; records the impression.
    pub async fn recommend_for_user(
        &self,
        user_id: i64,
        opts: &RecommendOptions,
    ) -> Result<RecommendationList> {
        let profile = self.load_profile(user_id).await?;
        self.recommend_for_profile(Some(user_id), &profile, opts, ImpressionContext::Profile)
            .await
    }

    /// Recommendations for any profile (the user may be anonymous); records the impression.
    pub async fn recommend_for_profile(
        &self,
        user_id: Option<i64>,
        profile: &Profile,
        opts: &RecommendOptions,
        context: ImpressionContext,
    ) -> Result<RecommendationList> {
        Ok(self
            .recommend_for_profile_timed(user_id, profile, opts, context)
            .await?
            .0)
    }

    /// [`Engine::recommend_for_profile`], with where its time went.
    pub async fn recommend_for_profile_timed(
        &self,
        user_id: Option<i64>,
        profile: &Profile,
        opts: &RecommendOptions,
        context: ImpressionContext,
    ) -> Result<(RecommendationList, PathTimings)> {
        self.recommend_profile(user_id, profile, opts, Recording::Record(context))
            .await
    }

    /// Exactly what [`Engine::recommend_for_user`] would serve, without recording an
    /// impression (offline evaluation must not write events). `impression_id` is nil.
    pub async fn preview_for_user(
        &self,
        user_id: i64,
        opts: &RecommendOptions,
    ) -> Result<RecommendationList> {
        let profile = self.load_profile(user_id).await?;
        Ok(self
            .recommend_profile(Some(user_id), &profile, opts, Recording::DryRun)
            .await?
            .0)
    }

    /// Exactly what [`Engine::recommend_for_profile`] would serve an anonymous user,
    /// without recording an impression (the `semrec recommend` command).
    pub async fn preview_for_profile(
        &self,
        profile: &Profile,
        opts: &RecommendOptions,
    ) -> Result<RecommendationList> {
        Ok(self
            .recommend_profile(None, profile, opts, Recording::DryRun)
            .await?
            .0)
    }

    /// Every candidate the recommend path finds for a stored user (all channels on,
    /// whatever their weights), with its features, best first by the configured
    /// fusion: external id and features. For tuning the fusion weights offline with
    /// [`crate::fusion::fuse`] on exactly what the engine scores.
    pub async fn candidate_features_for_user(
        &self,
        user_id: i64,
        opts: &RecommendOptions,
    ) -> Result<Vec<(String, Features)>> {
        opts.validate()?;
        let profile = self.load_profile(user_id).await?;
        let (query, exclusions) = self.profile_inputs(Some(user_id), &profile).await?;
        let scoring = self.profile_scoring(&query);
        let inputs = ChannelInputs::of_profile(&query, &exclusions.item_ids);
        Ok(self
            .rank(scoring, opts, &exclusions, &inputs, true)
            .await?
            .into_iter()
            .map(|s| (s.candidate.item.external_id, s.features))
            .collect())
    }

    fn profile_scoring<'a>(&self, query: &'a ProfileQuery) -> Scoring<'a> {
        match self.settings.profile_strategy {
            ProfileStrategy::MaxSim => Scoring::MaxSim(query),
            ProfileStrategy::Centroid | ProfileStrategy::Concat => Scoring::Nearest {
                query: &query.vector,
                prior: true,
            },
        }
    }

    /// A profile's query and what its list leaves out (its consumed items, which are
    /// also the collaborative channel's history).
    async fn profile_inputs(
        &self,
        user_id: Option<i64>,
        profile: &Profile,
    ) -> Result<(ProfileQuery, Exclusions)> {
        let mut query = self.profile_query(profile).await?;
        // rules hook: the user's dismissed items are negative elements too.
        if let Some(user_id) = user_id {
            let limit = self.settings.rules.negative.max_dismissals;
            query
                .negatives
                .extend(self.dismissed_vectors(user_id, limit).await?);
        }
        let mut item_ids: Vec<i64> = query
            .elements
            .iter()
            .filter_map(|(e, _)| e.item_id)
            .collect();
        // Consumed items outside the query (beyond the history window, or without a
        // vector from this model) are still consumed: never recommend them back.
        let consumed: Vec<&str> = profile
            .history
            .iter()
            .filter_map(|h| match h {
                HistoryEntry::Item { id, .. } => Some(id.as_str()),
                HistoryEntry::Text { .. } => None,
            })
            .collect();
        if consumed.len() > item_ids.len() {
            item_ids = sqlx::query_scalar("SELECT id FROM items WHERE external_id = ANY($1)")
                .bind(&consumed)
                .fetch_all(self.pool())
                .await?;
        }
        // Items the user marked "I've seen it" (`crate::feedback`).
        if let Some(user_id) = user_id {
            item_ids.extend(self.seen_item_ids(user_id).await?);
        }
        Ok((query, Exclusions { user_id, item_ids }))
    }

    pub(crate) async fn recommend_profile(
        &self,
        user_id: Option<i64>,
        profile: &Profile,
        opts: &RecommendOptions,
        recording: Recording,
    ) -> Result<(RecommendationList, PathTimings)> {
        let started = Instant::now();
        opts.validate()?;
        let (query, exclusions) = self.profile_inputs(user_id, profile).await?;
        let profiled = started.elapsed();
        let scoring = self.profile_scoring(&query);
        let inputs = ChannelInputs::of_profile(&query, &exclusions.item_ids);
        // The learned ranker's model for this user, when one was trained online.
        let ranker = self.ranker_for(&user_key(user_id, &query)).await?;
        let with_model = ranker.as_ref().map(|m| Engine {
            settings: super::online::with_weights(&self.settings, &m.weights),
            ..self.clone()
        });
        let candidates = with_model
            .as_ref()
            .unwrap_or(self)
            .rank(scoring, opts, &exclusions, &inputs, false)
            .await?;
        let ranked = started.elapsed();
        // rules hook: a list the model may serve poorly says so (first page only).
        let warning = (opts.offset == 0)
            .then(|| {
                crate::rules::confidence::list_warning(
                    self,
                    profile,
                    &query,
                    candidates.iter().map(|s| s.candidate.vector.as_slice()),
                )
            })
            .flatten();
        // A resumable list keeps its warning with it.
        let recording = match recording {
            Recording::Resumable { context, key, .. } => Recording::Resumable {
                context,
                key,
                warning: warning.clone(),
            },
            other => other,
        };
        let mut list = self
            .serve(
                user_id,
                recording,
                &query.vector,
                candidates,
                opts.offset,
                Some((&query, ranker.map(|m| m.version))),
            )
            .await?;
        list.warning = warning;
        let total = started.elapsed();
        let timings = PathTimings {
            embed: query.embed_time,
            profile_vectors: profiled.saturating_sub(query.embed_time),
            rank: ranked - profiled,
            record: total - ranked,
            total,
        };
        Ok((list, timings))
    }

    /// "More like this": nearest items to a catalog item, itself excluded; records
    /// the impression.
    pub async fn similar_items(
        &self,
        user_id: Option<i64>,
        external_id: &str,
        opts: &RecommendOptions,
    ) -> Result<RecommendationList> {
        let recording = Recording::Record(ImpressionContext::Similar);
        self.similar(user_id, external_id, opts, recording).await
    }

    /// [`Engine::similar_items`] for an anonymous user, recording nothing.
    pub async fn preview_similar_items(
        &self,
        external_id: &str,
        opts: &RecommendOptions,
    ) -> Result<RecommendationList> {
        self.similar(None, external_id, opts, Recording::DryRun)
            .await
    }

    async fn similar(
        &self,
        user_id: Option<i64>,
        external_id: &str,
        opts: &RecommendOptions,
        recording: Recording,
    ) -> Result<RecommendationList> {
        opts.validate()?;
        let row: Option<(i64, Option<pgvector::Vector>, String)> =
            sqlx::query_as("SELECT id, embedding, title FROM items WHERE external_id = $1")
                .bind(external_id)
                .fetch_optional(self.pool())
                .await?;
        let (id, vector, _title) =
            row.ok_or_else(|| EngineError::NotFound(format!("item '{external_id}'")))?;
        let vector = vector
            .ok_or_else(|| {
                EngineError::Conflict(format!(
                    "item '{external_id}' has no embedding yet: run reindex"
                ))
            })?
            .to_vec();
        let exclusions = Exclusions {
            user_id,
            item_ids: vec![id],
        };
        // No popularity prior (it was validated for profiles), but the item's
        // collaborative neighbours: what people who had it also had (Toy Story → Toy
        // Story 2, Aladdin) beside what reads like it (Toy Soldiers, Toys). A
        // collaborative weight of 0 leaves pure similarity.
        let scoring = Scoring::Nearest {
            query: &vector,
            prior: false,
        };
        let inputs = ChannelInputs {
            history: vec![id],
            ..Default::default()
        };
        let candidates = self
            .rank(scoring, opts, &exclusions, &inputs, false)
            .await?;
        self.serve(user_id, recording, &vector, candidates, opts.offset, None)
            .await
    }
}
