//! semrec through its real path: items imported and embedded into PostgreSQL +
//! pgvector with `Engine::import_items`, one stored profile per user built from
//! the training history, and lists from `Engine::preview_for_user` (the code
//! behind the recommend API, minus the impression it would record).

use std::collections::HashMap;
use std::sync::Arc;

use engine::catalog::{parse_import, ImportFormat, ItemInput};
use engine::embed::EmbeddingService;
use engine::interactions::parse_interactions;
use engine::profile::{HistoryEntry, Profile};
use engine::recommend::{RecommendOptions, MAX_K};
use engine::{Engine, EngineError, EngineSettings, Store};
use pg_local::LocalCluster;

use crate::dataset::Dataset;
use crate::metrics::UserResult;
use crate::split::{Target, UserSplit};

#[derive(Debug, thiserror::Error)]
pub enum SemrecError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("{0}")]
    Invalid(String),
}

type Result<T> = std::result::Result<T, SemrecError>;

/// Which item fields make up the text that is embedded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ItemText {
    /// What the product embeds: title, plot, then genres and tags.
    TitlePlotTags,
    TitlePlot,
    TitleTags,
    /// Genres and tags before the plot, so the 256-token limit cuts the plot, not them.
    TitleTagsPlot,
}

impl ItemText {
    pub const ALL: [ItemText; 4] = [
        Self::TitlePlotTags,
        Self::TitlePlot,
        Self::TitleTags,
        Self::TitleTagsPlot,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::TitlePlotTags => "title + plot + genres/tags",
            Self::TitlePlot => "title + plot",
            Self::TitleTags => "title + genres/tags",
            Self::TitleTagsPlot => "title + genres/tags + plot",
        }
    }

    fn slug(self) -> &'static str {
        match self {
            Self::TitlePlotTags => "full",
            Self::TitlePlot => "plot",
            Self::TitleTags => "tags",
            Self::TitleTagsPlot => "tagsplot",
        }
    }
}

/// One database of a throwaway cluster holding a catalogue embedded one way.
pub struct Catalogue {
    pub engine: Engine,
    /// Catalogue index -> the item's stored vector.
    pub vectors: Vec<Vec<f32>>,
    /// Database ids of stored items, by external id.
    ids: HashMap<String, usize>,
}

/// Imports `data`'s items embedded with `text` into database `eval_<text>` of `cluster`
/// (created on first use) and reads back the vectors. Catalogues that share items
/// share the database: a later, larger import embeds only the items that are new,
/// as a product re-import does. Any earlier catalogue of that text is then stale.
pub async fn import_catalogue(
    cluster: &LocalCluster,
    embedder: EmbeddingService,
    data: &Dataset,
    text: ItemText,
) -> Result<Catalogue> {
    let db = format!("eval_{}", text.slug());
    let admin = Store::connect(cluster.database_url(), 2).await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&db)
            .fetch_one(admin.pool())
            .await?;
    if !exists {
        sqlx::query(&format!("CREATE DATABASE \"{db}\""))
            .execute(admin.pool())
            .await?;
    }
    admin.pool().close().await;
    let store = Store::connect(&cluster.database_url_for(&db), 8).await?;
    sqlx::query("CREATE EXTENSION IF NOT EXISTS vector")
        .execute(store.pool())
        .await?;
    store.migrate().await?;
    let engine = Engine::new(store, embedder, EngineSettings::default());

    let mut jsonl = String::new();
    for item in &data.items {
        // The product joins title, description and tags (engine::catalog::embedding_text):
        // a variant is made by what goes into those fields.
        let (description, tags) = match text {
            ItemText::TitlePlotTags => (item.description.clone(), item.tags.clone()),
            ItemText::TitlePlot => (item.description.clone(), Vec::new()),
            ItemText::TitleTags => (String::new(), item.tags.clone()),
            ItemText::TitleTagsPlot if item.tags.is_empty() => {
                (item.description.clone(), Vec::new())
            }
            ItemText::TitleTagsPlot => (
                format!("{}. {}", item.tags.join(", "), item.description),
                Vec::new(),
            ),
        };
        let input = ItemInput {
            id: item.id.clone(),
            title: item.title.clone(),
            description,
            language: item.language.clone(),
            source: item.source.clone(),
            tags,
            url: None,
            metadata: None,
        };
        jsonl.push_str(&serde_json::to_string(&input).expect("items serialise"));
        jsonl.push('\n');
    }
    let parsed = parse_import(std::io::Cursor::new(jsonl), ImportFormat::Jsonl)
        .map_err(|e| SemrecError::Invalid(e.to_string()))?;
    let started = std::time::Instant::now();
    let summary = engine
        .import_items(parsed, |p| {
            if p.done % 1024 < engine::catalog::IMPORT_CHUNK || p.done == p.total {
                tracing::info!(
                    done = p.done,
                    total = p.total,
                    embedded = p.embedded,
                    "importing into {db}"
                );
            }
        })
        .await?;
    if let Some(r) = summary.rejected.first() {
        return Err(SemrecError::Invalid(format!(
            "{} item(s) rejected, first: line {} ({})",
            summary.rejected.len(),
            r.line,
            r.reason
        )));
    }
    // The lexical channel's document frequencies, before any list (the engine would
    // recount them in the background, racing the first lists).
    engine.refresh_lexical_terms().await?;
    tracing::info!(
        db,
        added = summary.added,
        unchanged = summary.unchanged,
        secs = started.elapsed().as_secs_f32(),
        "catalogue embedded"
    );

    let rows: Vec<(String, pgvector::Vector)> =
        sqlx::query_as("SELECT external_id, embedding FROM items WHERE embedding IS NOT NULL")
            .fetch_all(engine.store.pool())
            .await?;
    if rows.len() != data.items.len() {
        return Err(SemrecError::Invalid(format!(
            "database {db} holds {} embedded items, the catalogue {}: import larger catalogues last",
            rows.len(),
            data.items.len()
        )));
    }
    let mut vectors = vec![Vec::new(); data.items.len()];
    for (id, v) in rows {
        let i = *data.index.get(&id).ok_or_else(|| {
            SemrecError::Invalid(format!(
                "database {db} holds item '{id}' that is not in the catalogue"
            ))
        })?;
        vectors[i] = v.to_vec();
    }
    Ok(Catalogue {
        engine,
        vectors,
        ids: data.index.clone(),
    })
}

impl Catalogue {
    /// Stores every user's history for `target` as their profile (most recent first),
    /// replacing what was stored before. Returns the user ids, in split order.
    pub async fn save_profiles(
        &self,
        data: &Dataset,
        splits: &[UserSplit],
        target: Target,
    ) -> Result<Vec<i64>> {
        // Users of an earlier, larger split would keep their histories (and count in
        // the popularity prior): drop them, then recount once.
        let stale = sqlx::query(
            "DELETE FROM users WHERE handle ~ '^eval-[0-9]+$' AND substr(handle, 6)::int >= $1",
        )
        .bind(splits.len() as i32)
        .execute(self.engine.store.pool())
        .await?
        .rows_affected();
        if stale > 0 {
            self.engine.rebuild_popularity().await?;
        }
        let mut ids = Vec::with_capacity(splits.len());
        for (n, s) in splits.iter().enumerate() {
            let user = self
                .engine
                .user_by_handle(&format!("eval-{n}"), true)
                .await?;
            // A profile keeps at most MAX_HISTORY items (the most recent); the
            // interactions store below holds the whole history for the model.
            let history = s
                .history(target)
                .iter()
                .rev()
                .take(engine::profile::MAX_HISTORY)
                .map(|&(i, _)| HistoryEntry::Item {
                    id: data.items[i].id.clone(),
                    title: data.items[i].title.clone(),
                })
                .collect();
            self.engine
                .save_profile(
                    user.id,
                    &Profile {
                        history,
                        ..Default::default()
                    },
                )
                .await?;
            ids.push(user.id);
        }
        self.load_interactions(data, splits, target).await?;
        Ok(ids)
    }

    /// Replaces the stored interactions by every user's history for `target` (through
    /// `Engine::import_interactions`, as `semrec import-interactions` stores them), checks
    /// that no held-out pair is stored, and fits the collaborative model through the
    /// engine's own refresh.
    async fn load_interactions(
        &self,
        data: &Dataset,
        splits: &[UserSplit],
        target: Target,
    ) -> Result<()> {
        let pool = self.engine.store.pool();
        sqlx::query("DELETE FROM interactions")
            .execute(pool)
            .await?;
        let mut jsonl = String::new();
        for (n, s) in splits.iter().enumerate() {
            for (i, ts) in s.history(target) {
                jsonl.push_str(
                    &serde_json::json!({
                        "user": format!("eval-{n}"),
                        "item": data.items[i].id,
                        "ts": ts,
                    })
                    .to_string(),
                );
                jsonl.push('\n');
            }
        }
        let parsed = parse_interactions(std::io::Cursor::new(jsonl), ImportFormat::Jsonl)
            .map_err(|e| SemrecError::Invalid(e.to_string()))?;
        let summary = self.engine.import_interactions(parsed, |_| {}).await?;
        if let Some(r) = summary.rejected.first() {
            return Err(SemrecError::Invalid(format!(
                "{} interaction(s) rejected, first: line {} ({})",
                summary.rejected.len(),
                r.line,
                r.reason
            )));
        }
        // Leakage guard: no user's held-out item (validation and test for a validation
        // run, test for a test run) may be in what the models learn from.
        let mut users = Vec::new();
        let mut held_out = Vec::new();
        for (n, s) in splits.iter().enumerate() {
            let mut targets = vec![s.test.0];
            if target == Target::Validation {
                targets.push(s.validation.0);
            }
            for t in targets {
                users.push(format!("eval-{n}"));
                held_out.push(data.items[t].id.clone());
            }
        }
        let leaked: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM unnest($1::text[], $2::text[]) AS h(user_ref, item)
             JOIN items i ON i.external_id = h.item
             WHERE EXISTS (SELECT 1 FROM interactions x WHERE x.user_ref = h.user_ref AND x.item_id = i.id)
                OR EXISTS (SELECT 1 FROM profile_history p JOIN users u ON u.id = p.user_id
                           WHERE u.handle = h.user_ref AND p.item_id = i.id)",
        )
        .bind(&users)
        .bind(&held_out)
        .fetch_one(pool)
        .await?;
        if leaked > 0 {
            return Err(SemrecError::Invalid(format!(
                "leakage: {leaked} held-out (user, item) pairs are stored"
            )));
        }
        let t0 = std::time::Instant::now();
        self.engine.refresh_collaborative().await?;
        tracing::info!(
            added = summary.added,
            secs = t0.elapsed().as_secs_f32(),
            "interactions loaded, collaborative model fitted"
        );
        Ok(())
    }

    /// Every candidate's features for every saved user (the engine's own pool and
    /// scoring inputs), as catalogue indices; for tuning the fusion weights.
    pub async fn features(
        &self,
        user_ids: &[i64],
    ) -> Result<Vec<Vec<(usize, engine::fusion::Features)>>> {
        let opts = RecommendOptions {
            k: MAX_K,
            ..Default::default()
        };
        let mut out = Vec::with_capacity(user_ids.len());
        for &uid in user_ids {
            let pool = self.engine.candidate_features_for_user(uid, &opts).await?;
            out.push(pool.into_iter().map(|(id, f)| (self.ids[&id], f)).collect());
        }
        Ok(out)
    }

    /// The engine's list (top [`MAX_K`]) for every saved user, scored against `target`.
    pub async fn recommend(
        &self,
        settings: &EngineSettings,
        user_ids: &[i64],
        splits: &[UserSplit],
        target: Target,
    ) -> Result<Vec<UserResult>> {
        let mut engine = self.engine.clone();
        engine.settings = settings.clone();
        let engine = Arc::new(engine);
        let opts = RecommendOptions {
            k: MAX_K,
            ..Default::default()
        };
        // A few lists in flight so profile embeddings (concat) batch together.
        let mut set = tokio::task::JoinSet::new();
        let mut lists: Vec<Option<Vec<String>>> = vec![None; user_ids.len()];
        let mut next = 0;
        while next < user_ids.len() || !set.is_empty() {
            while next < user_ids.len() && set.len() < 8 {
                let (e, o, uid, n) = (engine.clone(), opts.clone(), user_ids[next], next);
                set.spawn(async move {
                    let list = e.preview_for_user(uid, &o).await?;
                    Ok::<_, EngineError>((
                        n,
                        list.items.into_iter().map(|r| r.item.external_id).collect(),
                    ))
                });
                next += 1;
            }
            if let Some(done) = set.join_next().await {
                let (n, list) = done.map_err(|e| SemrecError::Invalid(e.to_string()))??;
                lists[n] = Some(list);
            }
        }
        Ok(lists
            .into_iter()
            .zip(splits)
            .map(|(list, s)| {
                let ranking: Vec<usize> = list
                    .unwrap_or_default()
                    .iter()
                    .map(|id| self.ids[id])
                    .collect();
                UserResult::from_ranking(&ranking, s.target(target))
            })
            .collect())
    }
}
