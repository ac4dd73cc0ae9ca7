//! Nearest-neighbour recommendation in SQL: cosine distance ascending over the
//! HNSW index, with filters, exclusions, MMR diversity and explanations.
//!
//! Ranking: a candidate pool comes from the index (one query vector, or one per
//! profile element for max-similarity profiles), then each candidate's score is its
//! similarity plus the popularity prior, and the list is cut (or diversified) from
//! that order. With no prior and a single query vector the index order is the
//! answer, so the pool step is skipped.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::QueryAs;
use sqlx::Postgres;

use crate::catalog::Item;
use crate::error::{EngineError, Result};
use crate::events::{ImpressionContext, ShownItem};
use crate::fusion::{fuse, scale_per_list, Features, FusionWeights};
use crate::profile::{dot, ElementKind, HistoryEntry, Profile, ProfileQuery, ProfileStrategy};
use crate::Engine;

pub const MAX_K: usize = 100;
/// Deepest rank served: ranks are stored up to 1000 (`impression_items.rank`), so
/// `offset + k` may not go past it.
pub const MAX_RANK: usize = 1000;

/// Most values one filter list (languages, sources, tags) may hold.
pub const MAX_FILTER_VALUES: usize = 100;
/// Longest filter value (the longest id, title or tag a catalog stores is shorter).
pub const MAX_FILTER_VALUE_CHARS: usize = 200;

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Filters {
    #[serde(default)]
    pub languages: Vec<String>,
    #[serde(default)]
    pub sources: Vec<String>,
    /// Items carrying at least one of these tags.
    #[serde(default)]
    pub tags: Vec<String>,
}

impl Filters {
    /// Refuses filter lists beyond [`MAX_FILTER_VALUES`] values of at most
    /// [`MAX_FILTER_VALUE_CHARS`]: every candidate row is compared with every value.
    pub fn check_sizes(&self) -> Result<()> {
        for (what, values) in [
            ("languages", &self.languages),
            ("sources", &self.sources),
            ("tags", &self.tags),
        ] {
            if values.len() > MAX_FILTER_VALUES {
                return Err(EngineError::Invalid(format!(
                    "filters.{what} has {} values: at most {MAX_FILTER_VALUES}",
                    values.len()
                )));
            }
            if values
                .iter()
                .any(|v| v.chars().count() > MAX_FILTER_VALUE_CHARS)
            {
                return Err(EngineError::Invalid(format!(
                    "filters.{what}: a value is longer than {MAX_FILTER_VALUE_CHARS} characters"
                )));
            }
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.languages.is_empty() && self.sources.is_empty() && self.tags.is_empty()
    }

    /// Filter values in the form import stores them (lower-case languages and tags,
    /// single spaces), so `EN` or `Sci-Fi` match what `en` and `sci-fi` match.
    pub fn normalized(&self) -> Filters {
        let clean = |values: &[String], lower: bool| -> Vec<String> {
            values
                .iter()
                .map(|v| {
                    let v = v.split_whitespace().collect::<Vec<_>>().join(" ");
                    if lower {
                        v.to_lowercase()
                    } else {
                        v
                    }
                })
                .filter(|v| !v.is_empty())
                .collect()
        };
        Filters {
            languages: clean(&self.languages, true),
            sources: clean(&self.sources, false),
            tags: clean(&self.tags, true),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RecommendOptions {
    pub k: usize,
    #[serde(default)]
    pub offset: usize,
    #[serde(default)]
    pub filters: Filters,
    /// MMR trade-off: 1.0 = pure relevance, lower = more diverse. None = off.
    #[serde(default)]
    pub diversity_lambda: Option<f32>,
}

impl Default for RecommendOptions {
    fn default() -> Self {
        Self {
            k: 10,
            offset: 0,
            filters: Filters::default(),
            diversity_lambda: None,
        }
    }
}

impl RecommendOptions {
    pub fn validate(&self) -> Result<()> {
        if !(1..=MAX_K).contains(&self.k) {
            return Err(EngineError::Invalid(format!(
                "k must be between 1 and {MAX_K}, got {}",
                self.k
            )));
        }
        if self.offset.saturating_add(self.k) > MAX_RANK {
            return Err(EngineError::Invalid(format!(
                "offset + k must be at most {MAX_RANK}, got {} + {}",
                self.offset, self.k
            )));
        }
        self.filters.check_sizes()?;
        if let Some(l) = self.diversity_lambda {
            if !(0.0..=1.0).contains(&l) {
                return Err(EngineError::Invalid(
                    "diversity (MMR λ) must be between 0 and 1".into(),
                ));
            }
        }
        Ok(())
    }
}

/// Why an item was recommended: the profile element it is closest to.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Explanation {
    pub kind: ElementKind,
    pub label: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Recommendation {
    pub rank: usize,
    /// Cosine similarity to the query (max-similarity profiles: to the profile element
    /// that explains the item). The order also counts the collaborative channel and the
    /// popularity prior (`EngineSettings::collaborative_weight`, `popularity_weight`),
    /// so it may not decrease down the list.
    pub score: f32,
    pub item: Item,
    pub explanation: Option<Explanation>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RecommendationList {
    pub impression_id: uuid::Uuid,
    pub model_id: String,
    pub items: Vec<Recommendation>,
    /// Why the list may be poor (a language the model does not cover, a weak best
    /// match), for profile lists' first page (`crate::rules::confidence`).
    #[serde(default)]
    pub warning: Option<crate::rules::confidence::ListWarning>,
}

/// Where the time of one profile recommendation went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PathTimings {
    /// Embedding the profile's texts (queueing for the model included).
    pub embed: Duration,
    /// Loading the stored vectors of the profile's history items (SQL).
    pub profile_vectors: Duration,
    /// Finding and ranking candidates: the HNSW query (one scan per profile element
    /// for max-sim), the popularity lookup (SQL) and the scoring.
    pub rank: Duration,
    /// Writing the impression (SQL) and building the list.
    pub record: Duration,
    pub total: Duration,
}

/// A candidate from the index with its vector (for MMR and explanations).
pub(crate) struct Candidate {
    item: Item,
    distance: f64,
    vector: Vec<f32>,
    /// Distinct users who consumed or clicked it (`item_popularity`).
    popularity: i64,
}

#[derive(sqlx::FromRow)]
pub(crate) struct CandidateRow {
    #[sqlx(flatten)]
    item: Item,
    embedding: pgvector::Vector,
    distance: f64,
    popularity: i64,
}

impl From<CandidateRow> for Candidate {
    fn from(r: CandidateRow) -> Self {
        Self {
            item: r.item,
            distance: r.distance,
            vector: r.embedding.to_vec(),
            popularity: r.popularity,
        }
    }
}

/// A candidate with the scores the list is ordered by.
struct Scored {
    candidate: Candidate,
    /// What `Recommendation::score` shows.
    similarity: f32,
    /// Similarity plus the popularity prior: the ranking key.
    score: f32,
    /// Index of the profile element that explains it, when scoring picked one.
    element: Option<usize>,
    /// What each channel says about it (the score is their fusion).
    features: Features,
}

// rules hook: what the business rules (`crate::rules`) see of a candidate.
impl crate::rules::Ranked for Scored {
    fn item_id(&self) -> i64 {
        self.candidate.item.id
    }
    fn vector(&self) -> &[f32] {
        &self.candidate.vector
    }
    fn score(&self) -> f32 {
        self.score
    }
    fn semantic(&self) -> f32 {
        self.features.semantic
    }
    fn penalise(&mut self, by: f32) {
        self.score -= by;
        self.features.semantic -= by;
    }
    fn element(&self) -> Option<usize> {
        self.element
    }
    fn shown(&self) -> f32 {
        self.similarity
    }
    fn set_shown(&mut self, shown: f32) {
        self.similarity = shown;
    }
}

/// How candidates are found and scored.
#[derive(Clone, Copy)]
enum Scoring<'a> {
    /// Nearest to one vector; `prior` = whether the popularity prior applies.
    Nearest { query: &'a [f32], prior: bool },
    /// Union of every profile element's neighbours, best weighted similarity wins.
    MaxSim(&'a ProfileQuery),
}

/// Columns of a candidate row; `items` is in scope.
pub(crate) const CANDIDATE_COLUMNS: &str =
    "items.id, items.external_id, items.title, items.description, items.language, items.source,
     items.tags, items.url, items.embedding,
     COALESCE((SELECT p.users FROM item_popularity p WHERE p.item_id = items.id), 0)::int8 AS popularity";

/// Which items may be recommended: $2 model, $3 languages, $4 sources, $5 tags,
/// $6 excluded item ids, $7 the user whose consumed, clicked and dismissed items are left out.
pub(crate) const CANDIDATE_FILTER: &str = "items.embedding IS NOT NULL AND items.model_id = $2
   AND ($3::text[] IS NULL OR items.language = ANY($3))
   AND ($4::text[] IS NULL OR items.source = ANY($4))
   AND ($5::text[] IS NULL OR items.tags && $5)
   AND NOT (items.id = ANY($6))
   AND ($7::bigint IS NULL OR NOT EXISTS (
        SELECT 1 FROM profile_history h WHERE h.user_id = $7 AND h.item_id = items.id
        UNION ALL SELECT 1 FROM dismissals d WHERE d.user_id = $7 AND d.item_id = items.id
        UNION ALL SELECT 1 FROM clicks c JOIN impressions i ON i.id = c.impression_id
                  WHERE i.user_id = $7 AND c.item_id = items.id))";

/// Items nearest to `$1`, smallest cosine distance first; `$8` LIMIT, `$9` OFFSET.
fn nearest_sql() -> String {
    format!(
        "SELECT {CANDIDATE_COLUMNS}, items.embedding <=> $1 AS distance
         FROM items WHERE {CANDIDATE_FILTER}
         ORDER BY items.embedding <=> $1 ASC
         LIMIT $8 OFFSET $9"
    )
}

/// The `$8` nearest items to each vector of `$1` (one index scan each), with the
/// vector's 1-based position, so a scan that came back short can be told apart.
fn nearest_each_sql() -> String {
    format!(
        "SELECT q.element, c.* FROM unnest($1::vector[]) WITH ORDINALITY AS q(v, element)
         CROSS JOIN LATERAL (
             SELECT {CANDIDATE_COLUMNS}, items.embedding <=> q.v AS distance
             FROM items WHERE {CANDIDATE_FILTER}
             ORDER BY items.embedding <=> q.v ASC LIMIT $8) c"
    )
}

/// A row of [`nearest_each_sql`].
#[derive(sqlx::FromRow)]
struct ElementCandidateRow {
    element: i64,
    #[sqlx(flatten)]
    candidate: CandidateRow,
}

/// `EXPLAIN` output of the candidate statements ([`Engine::explain_candidate_queries`]).
#[derive(Clone, Debug)]
pub struct CandidatePlans {
    /// The single-vector query.
    pub single: String,
    /// The one-scan-per-profile-element query.
    pub per_element: String,
}

/// Serialises popularity recounts (any constant works; this one reads "semrec01").
const POPULARITY_LOCK: i64 = 0x7365_6d72_6563_3031;

/// Distinct signed-in users with an item in their history or a click on it: each
/// counts once however often they click, and anonymous clicks count not at all
/// (anyone can make them in a loop). An SQL aggregate over rows `s(user_id)`.
const POPULARITY_USERS: &str = "count(DISTINCT s.user_id)";

/// Recounts `item_ids`' popularity ([`POPULARITY_USERS`]) inside the caller's
/// transaction, after its writes.
pub(crate) async fn refresh_popularity(
    conn: &mut sqlx::PgConnection,
    item_ids: &[i64],
) -> Result<()> {
    if item_ids.is_empty() {
        return Ok(());
    }
    // Concurrent recounts each see only their own uncommitted rows. Under READ
    // COMMITTED the recount statement takes its snapshot after this lock, i.e. after
    // every earlier recounting transaction committed, so the last count is right.
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(POPULARITY_LOCK)
        .execute(&mut *conn)
        .await?;
    sqlx::query(&format!(
        "INSERT INTO item_popularity (item_id, users)
         SELECT i.id, (SELECT {POPULARITY_USERS}
                       FROM (SELECT h.user_id FROM profile_history h WHERE h.item_id = i.id
                             UNION ALL
                             SELECT im.user_id FROM clicks c JOIN impressions im ON im.id = c.impression_id
                             WHERE c.item_id = i.id AND im.user_id IS NOT NULL) s)::int
         FROM items i WHERE i.id = ANY($1)
         ON CONFLICT (item_id) DO UPDATE SET users = EXCLUDED.users"
    ))
    .persistent(false)
    .bind(item_ids)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The prior's normaliser never drops below this many users: in a young deployment
/// the first click would otherwise give its item the full prior, pushing it to everyone.
const POPULARITY_EVIDENCE_FLOOR: i64 = 20;

/// Users an item needs before any of them count: one user's evidence (however
/// many clicks, however many lists) must not move an item in everyone else's lists.
pub const POPULARITY_MIN_USERS: i64 = 2;

/// The popularity prior in [0, 1]: ln(1 + u) / ln(1 + max(max u, floor)), where u
/// counts the users beyond the first ([`POPULARITY_MIN_USERS`]).
/// Public so that the offline evaluation scores with this very function.
pub fn prior(popularity: i64, max: i64) -> f32 {
    let beyond = |users: i64| (users - (POPULARITY_MIN_USERS - 1)).max(0);
    let (popularity, max) = (beyond(popularity), beyond(max));
    if max <= 0 {
        return 0.0;
    }
    let norm = max.max(POPULARITY_EVIDENCE_FLOOR);
    ((1.0 + popularity.clamp(0, norm) as f64).ln() / (1.0 + norm as f64).ln()) as f32
}

/// Smallest `hnsw.ef_search` of a profile element's scan.
const MIN_ELEMENT_EF: u32 = 20;

/// `hnsw.ef_search` for one profile element's scan: its share of the candidate pool
/// (at least [`MIN_ELEMENT_EF`]). The configured value is sized for one centroid
/// query in a flat neighbourhood; single items and phrases are easy queries, and with
/// iterative scans a larger ef_search buys them almost nothing: at 100k items, scans
/// for 50 rows reach recall@50 0.993 at ef_search 50 and 0.995 at 100, which is a
/// third slower (BENCHMARKS.md, "items, 50 rows").
fn element_ef_search(configured: u32, per_query: usize) -> u32 {
    let per_query = per_query.min(1000) as u32;
    per_query
        .clamp(MIN_ELEMENT_EF, configured.max(MIN_ELEMENT_EF))
        .max(per_query)
        .min(1000)
}

/// Whether serving a list stores an impression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Recording {
    Record(ImpressionContext),
    DryRun,
}

/// What to leave out of a list.
#[derive(Clone, Debug, Default)]
pub struct Exclusions {
    /// Exclude items this user consumed, clicked or dismissed.
    pub user_id: Option<i64>,
    pub item_ids: Vec<i64>,
}

/// How a candidate statement finds its rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scan {
    /// The HNSW index, iterative under filters.
    Index,
    /// Index scans off: every matching row is compared.
    Exact,
}

/// Whether an index scan that returned `rows` of `wanted` may have stopped short:
/// under a filter, an iterative scan gives up after `hnsw.max_scan_tuples` index
/// tuples, so a selective filter on a large catalog can come back with fewer rows
/// than exist. Only then is the statement run again as an exact scan.
fn scan_may_be_short(rows: usize, wanted: usize, filters: &Filters) -> bool {
    rows < wanted && !filters.normalized().is_empty()
}

impl Engine {
    /// Opens the read transaction of a candidate query: `hnsw.ef_search` for it,
    /// iterative scans so a filter never silently returns fewer rows than LIMIT, and
    /// no JIT: an exact plan (a selective filter, a small catalog, the index being
    /// rebuilt after a bulk load) is costed above `jit_above_cost`, and compiling it
    /// took 220 ms for a query that runs in 8.
    pub(crate) async fn candidate_transaction(
        &self,
        ef_search: u32,
    ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        self.scan_transaction(ef_search, Scan::Index).await
    }

    /// [`Engine::candidate_transaction`], or with index scans off: an exact scan.
    async fn scan_transaction(
        &self,
        ef_search: u32,
        scan: Scan,
    ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        let mut tx = crate::store::begin_on(self.pool()).await?;
        sqlx::query("SELECT set_config('hnsw.ef_search', $1, true), set_config('hnsw.iterative_scan', 'relaxed_order', true), set_config('hnsw.max_scan_tuples', $2, true), set_config('jit', 'off', true), set_config('enable_indexscan', $3, true)")
            .bind(ef_search.to_string())
            .bind(self.settings.max_scan_tuples.max(1).to_string())
            .bind(if scan == Scan::Exact { "off" } else { "on" })
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }

    /// `hnsw.ef_search` of a single-vector query for `rows` rows.
    pub(crate) fn nearest_ef_search(&self, rows: usize) -> u32 {
        self.settings.ef_search.max(rows as u32).min(1000)
    }

    /// Binds `$2`–`$7` of [`CANDIDATE_FILTER`].
    pub(crate) fn bind_filter<'q, O>(
        &self,
        query: QueryAs<'q, Postgres, O, PgArguments>,
        filters: &Filters,
        exclusions: &Exclusions,
    ) -> QueryAs<'q, Postgres, O, PgArguments> {
        let filters = filters.normalized();
        let none_if_empty = |v: Vec<String>| (!v.is_empty()).then_some(v);
        query
            .bind(self.model_id().to_string())
            .bind(none_if_empty(filters.languages))
            .bind(none_if_empty(filters.sources))
            .bind(none_if_empty(filters.tags))
            .bind(exclusions.item_ids.clone())
            .bind(exclusions.user_id)
    }

    /// [`nearest_sql`] (or a statement with its parameters, e.g. its `EXPLAIN`), bound.
    fn bind_nearest<'q, O: for<'r> sqlx::FromRow<'r, PgRow>>(
        &self,
        sql: &'q str,
        query: &[f32],
        limit: usize,
        offset: usize,
        filters: &Filters,
        exclusions: &Exclusions,
    ) -> QueryAs<'q, Postgres, O, PgArguments> {
        let with_vector = sqlx::query_as(sql).bind(pgvector::Vector::from(query.to_vec()));
        self.bind_filter(with_vector, filters, exclusions)
            .bind(limit as i64)
            .bind(offset as i64)
    }

    /// [`nearest_each_sql`] (or a statement with its parameters), bound.
    fn bind_nearest_each<'q, O: for<'r> sqlx::FromRow<'r, PgRow>>(
        &self,
        sql: &'q str,
        queries: &[&[f32]],
        per_query: usize,
        filters: &Filters,
        exclusions: &Exclusions,
    ) -> QueryAs<'q, Postgres, O, PgArguments> {
        let vectors: Vec<pgvector::Vector> = queries
            .iter()
            .map(|q| pgvector::Vector::from(q.to_vec()))
            .collect();
        self.bind_filter(sqlx::query_as(sql).bind(vectors), filters, exclusions)
            .bind(per_query as i64)
    }

    /// Nearest items to `query` by cosine distance, smallest first.
    async fn nearest(
        &self,
        query: &[f32],
        limit: usize,
        offset: usize,
        filters: &Filters,
        exclusions: &Exclusions,
    ) -> Result<Vec<Candidate>> {
        let sql = nearest_sql();
        let mut rows: Vec<CandidateRow> = Vec::new();
        for scan in [Scan::Index, Scan::Exact] {
            let mut tx = self
                .scan_transaction(self.nearest_ef_search(limit + offset), scan)
                .await?;
            rows = self
                .bind_nearest(&sql, query, limit, offset, filters, exclusions)
                .fetch_all(&mut *tx)
                .await?;
            tx.commit().await?;
            if !scan_may_be_short(rows.len(), limit, filters) {
                break;
            }
        }
        let mut out: Vec<Candidate> = rows.into_iter().map(Candidate::from).collect();
        // relaxed_order may return near-ties slightly out of order.
        out.sort_by(|a, b| {
            a.distance
                .total_cmp(&b.distance)
                .then(a.item.id.cmp(&b.item.id))
        });
        Ok(out)
    }

    /// The union of each query's `per_query` nearest items (one index scan per query,
    /// in one statement), in no particular order.
    async fn nearest_each(
        &self,
        queries: &[&[f32]],
        per_query: usize,
        filters: &Filters,
        exclusions: &Exclusions,
    ) -> Result<Vec<Candidate>> {
        let sql = nearest_each_sql();
        let mut rows: Vec<ElementCandidateRow> = Vec::new();
        for scan in [Scan::Index, Scan::Exact] {
            let mut tx = self
                .scan_transaction(element_ef_search(self.settings.ef_search, per_query), scan)
                .await?;
            rows = self
                .bind_nearest_each(&sql, queries, per_query, filters, exclusions)
                .fetch_all(&mut *tx)
                .await?;
            tx.commit().await?;
            let mut per_element = vec![0usize; queries.len()];
            for r in &rows {
                if let Some(n) = usize::try_from(r.element - 1)
                    .ok()
                    .and_then(|i| per_element.get_mut(i))
                {
                    *n += 1;
                }
            }
            let shortest = per_element.into_iter().min().unwrap_or(per_query);
            if !scan_may_be_short(shortest, per_query, filters) {
                break;
            }
        }
        // Items near several elements come once.
        let mut seen = HashSet::new();
        Ok(rows
            .into_iter()
            .filter(|r| seen.insert(r.candidate.item.id))
            .map(|r| Candidate::from(r.candidate))
            .collect())
    }

    /// [`Engine::nearest_each`] with the queries split over up to
    /// `EngineSettings::scan_concurrency` statements on their own connections: the
    /// scans are independent, and PostgreSQL runs one statement on one core. Each
    /// statement takes and returns its connection by itself, so a request never
    /// holds one connection while waiting for another.
    async fn nearest_each_concurrently(
        &self,
        queries: &[&[f32]],
        per_query: usize,
        filters: &Filters,
        exclusions: &Exclusions,
    ) -> Result<Vec<Candidate>> {
        let statements = self
            .settings
            .scan_concurrency
            .clamp(1, queries.len().max(1));
        if statements == 1 {
            return self
                .nearest_each(queries, per_query, filters, exclusions)
                .await;
        }
        let mut scans = tokio::task::JoinSet::new();
        for part in queries.chunks(queries.len().div_ceil(statements)) {
            let engine = self.clone();
            let part: Vec<Vec<f32>> = part.iter().map(|q| q.to_vec()).collect();
            let (filters, exclusions) = (filters.clone(), exclusions.clone());
            scans.spawn(async move {
                let part: Vec<&[f32]> = part.iter().map(Vec::as_slice).collect();
                engine
                    .nearest_each(&part, per_query, &filters, &exclusions)
                    .await
            });
        }
        let mut seen = HashSet::new();
        let mut union = Vec::new();
        while let Some(scan) = scans.join_next().await {
            let found = match scan {
                Ok(found) => found?,
                // As if the scan had run inline: its panic goes on up (none is aborted).
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            };
            union.extend(found.into_iter().filter(|c| seen.insert(c.item.id)));
        }
        Ok(union)
    }

    /// PostgreSQL's plans (`EXPLAIN`) for the two statements that find candidates,
    /// with the parameters and settings a request with these filters runs them
    /// with: the single-vector query (centroid/concat profiles, "more like this")
    /// for a page of `k`, and the per-element query of max-sim profiles for
    /// `elements` (`per_query` rows each). For checking that the HNSW index is used.
    pub async fn explain_candidate_queries(
        &self,
        query: &[f32],
        k: usize,
        elements: &[&[f32]],
        per_query: usize,
        filters: &Filters,
        exclusions: &Exclusions,
    ) -> Result<CandidatePlans> {
        let lines = |rows: Vec<(String,)>| {
            rows.into_iter()
                .map(|(line,)| line)
                .collect::<Vec<_>>()
                .join("\n")
        };
        let mut tx = self
            .candidate_transaction(self.nearest_ef_search(k))
            .await?;
        let sql = format!("EXPLAIN {}", nearest_sql());
        let single = self
            .bind_nearest(&sql, query, k, 0, filters, exclusions)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let mut tx = self
            .candidate_transaction(element_ef_search(self.settings.ef_search, per_query))
            .await?;
        let sql = format!("EXPLAIN {}", nearest_each_sql());
        let per_element = self
            .bind_nearest_each(&sql, elements, per_query, filters, exclusions)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(CandidatePlans {
            single: lines(single),
            per_element: lines(per_element),
        })
    }

    /// Recounts every item's popularity from scratch (after bulk deletions of users,
    /// whose cascades bypass the per-save upkeep). Returns how many items have a count.
    pub async fn rebuild_popularity(&self) -> Result<u64> {
        let mut tx = crate::store::begin_on(self.jobs_pool()).await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(POPULARITY_LOCK)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM item_popularity")
            .execute(&mut *tx)
            .await?;
        let n = sqlx::query(&format!(
            "INSERT INTO item_popularity (item_id, users)
             SELECT s.item_id, ({POPULARITY_USERS})::int
             FROM (SELECT h.item_id, h.user_id FROM profile_history h WHERE h.item_id IS NOT NULL
                   UNION ALL
                   SELECT c.item_id, im.user_id FROM clicks c JOIN impressions im ON im.id = c.impression_id
                   WHERE im.user_id IS NOT NULL) s
             GROUP BY s.item_id"
        ))
        .persistent(false)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(n)
    }

    /// The most popular item's user count (the prior's normaliser).
    async fn max_popularity(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT COALESCE(max(users), 0)::int8 FROM item_popularity")
                .fetch_one(self.pool())
                .await?,
        )
    }

    /// Candidates scored and ordered: the first `offset + k` (after MMR when asked),
    /// or with `whole_pool` every candidate found, best first. `history`: the user's
    /// consumed item ids, the collaborative channel's input.
    async fn rank(
        &self,
        scoring: Scoring<'_>,
        opts: &RecommendOptions,
        exclusions: &Exclusions,
        history: &[i64],
        whole_pool: bool,
    ) -> Result<Vec<Scored>> {
        opts.validate()?;
        let weight = self.settings.popularity_weight.max(0.0);
        let want = opts.offset + opts.k;
        let diversify = matches!(opts.diversity_lambda, Some(l) if l < 1.0);
        let with_prior = weight > 0.0
            && match scoring {
                Scoring::Nearest { prior, .. } => prior,
                Scoring::MaxSim(_) => true,
            };
        let similarity_only = |c: Candidate| {
            let similarity = (1.0 - c.distance) as f32;
            Scored {
                candidate: c,
                similarity,
                score: similarity,
                element: None,
                features: Features::default(),
            }
        };
        let col_weight = self.settings.collaborative_weight.max(0.0);
        let channel = !history.is_empty() && (col_weight > 0.0 || whole_pool);
        if let Scoring::Nearest { query, .. } = scoring {
            if !with_prior && !diversify && !channel && !whole_pool {
                // The index order is the answer: let SQL cut the page.
                let page = self
                    .nearest(query, opts.k, opts.offset, &opts.filters, exclusions)
                    .await?;
                return Ok(page.into_iter().map(similarity_only).collect());
            }
        }
        // Re-ranking can only reorder what the index returns: fetch a pool that
        // covers the page (and MMR's choice) with room for the prior to act.
        let pool_size = self
            .settings
            .candidate_pool
            .max(if diversify { want * 4 } else { want });
        let pool = match scoring {
            Scoring::Nearest { query, .. } => {
                self.nearest(query, pool_size, 0, &opts.filters, exclusions)
                    .await?
            }
            Scoring::MaxSim(profile) => {
                let queries: Vec<&[f32]> =
                    profile.elements.iter().map(|(_, v)| v.as_slice()).collect();
                // Every item of the exact max-sim top `want` is among its best
                // element's `want` nearest, so per-element lists of `want` lose
                // nothing before the prior; the pool size adds room for the prior.
                let per_query = (pool_size / queries.len().max(1)).max(want);
                self.nearest_each_concurrently(&queries, per_query, &opts.filters, exclusions)
                    .await?
            }
        };
        let mut pool = pool;
        // The collaborative channel: its candidates join the pool, and every candidate
        // gets its collaborative score.
        let mut raw_collab: HashMap<i64, f64> = HashMap::new();
        if channel {
            let semantic: Vec<i64> = pool.iter().map(|c| c.item.id).collect();
            let mut known: HashSet<i64> = semantic.iter().copied().collect();
            for (c, score) in self
                .collaborative_candidates(history, pool_size, &opts.filters, exclusions)
                .await?
            {
                raw_collab.insert(c.item.id, score);
                if known.insert(c.item.id) {
                    pool.push(c);
                }
            }
            let missing: Vec<i64> = semantic
                .into_iter()
                .filter(|id| !raw_collab.contains_key(id))
                .collect();
            raw_collab.extend(self.collaborative_scores(history, &missing).await?);
        }
        let raw: Vec<f64> = pool
            .iter()
            .map(|c| raw_collab.get(&c.item.id).copied().unwrap_or(0.0))
            .collect();
        let collab = scale_per_list(&raw);
        let weights = FusionWeights {
            popularity: if with_prior { weight } else { 0.0 },
            collaborative: if channel { col_weight } else { 0.0 },
        };
        let max_pop = if with_prior || whole_pool {
            self.max_popularity().await?
        } else {
            0
        };
        let mut scored: Vec<Scored> = pool
            .into_iter()
            .zip(collab)
            .map(|(c, collaborative)| {
                let mut s = match scoring {
                    Scoring::Nearest { .. } => similarity_only(c),
                    Scoring::MaxSim(profile) => {
                        let (score, element) =
                            profile.max_sim(&c.vector).unwrap_or((f32::MIN, usize::MAX));
                        let similarity = profile
                            .elements
                            .get(element)
                            .map_or(score, |(_, v)| dot(v, &c.vector));
                        Scored {
                            candidate: c,
                            similarity,
                            score,
                            element: Some(element).filter(|&e| e != usize::MAX),
                            features: Features::default(),
                        }
                    }
                };
                s.features = Features {
                    semantic: s.score,
                    collaborative,
                    popularity: prior(s.candidate.popularity, max_pop),
                };
                s.score = fuse(&s.features, &weights);
                s
            })
            .collect();
        // rules hook: negative elements ("not interested in", dismissals) lower the
        // score of candidates near them.
        if let Scoring::MaxSim(profile) = scoring {
            crate::rules::negative::apply(
                &mut scored,
                &profile.negatives,
                &self.settings.rules.negative,
            );
        }
        scored.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(a.candidate.item.id.cmp(&b.candidate.item.id))
        });
        if whole_pool {
            return Ok(scored);
        }
        // rules hook: fair share and exploration order the first `want` items of a
        // profile's list (MMR orders a diversified one by itself).
        if let (Scoring::MaxSim(profile), false) = (scoring, diversify) {
            let seed_user = match exclusions.user_id {
                Some(id) => id.to_string(),
                None => profile
                    .elements
                    .iter()
                    .map(|(e, _)| e.label.as_str())
                    .collect::<Vec<_>>()
                    .join("\n"),
            };
            scored = self
                .arrange_by_rules(
                    scored,
                    want,
                    profile.elements.len(),
                    &profile.negatives,
                    &seed_user,
                )
                .await?;
        }
        let mut picked = match opts.diversity_lambda {
            // A deep diversified page is CPU work (pool × offset+k dot products):
            // keep it off the async workers.
            Some(lambda) if diversify => {
                tokio::task::spawn_blocking(move || mmr(scored, lambda, want))
                    .await
                    .map_err(|e| EngineError::Internal(format!("diversity re-ranking: {e}")))?
            }
            _ => {
                scored.truncate(want);
                scored
            }
        };
        // rules hook: the shown score never rises down the list (from rank 1, so
        // pages agree).
        crate::rules::shown_score::apply(&mut picked);
        Ok(picked.split_off(opts.offset.min(picked.len())))
    }

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
        let history = exclusions.item_ids.clone();
        Ok(self
            .rank(scoring, opts, &exclusions, &history, true)
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
        Ok((query, Exclusions { user_id, item_ids }))
    }

    async fn recommend_profile(
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
        let candidates = self
            .rank(scoring, opts, &exclusions, &exclusions.item_ids, false)
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
        let mut list = self
            .serve(
                user_id,
                recording,
                &query.vector,
                candidates,
                opts.offset,
                Some(&query),
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

    /// "More like this": nearest items to a catalog item, itself excluded.
    pub async fn similar_items(
        &self,
        user_id: Option<i64>,
        external_id: &str,
        opts: &RecommendOptions,
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
        // "More like this" stays pure similarity: the prior was validated for profiles.
        let scoring = Scoring::Nearest {
            query: &vector,
            prior: false,
        };
        let candidates = self.rank(scoring, opts, &exclusions, &[], false).await?;
        self.serve(
            user_id,
            Recording::Record(ImpressionContext::Similar),
            &vector,
            candidates,
            opts.offset,
            None,
        )
        .await
    }

    async fn serve(
        &self,
        user_id: Option<i64>,
        recording: Recording,
        query: &[f32],
        candidates: Vec<Scored>,
        offset: usize,
        profile: Option<&ProfileQuery>,
    ) -> Result<RecommendationList> {
        let items: Vec<Recommendation> = candidates
            .into_iter()
            .enumerate()
            .map(|(i, s)| Recommendation {
                rank: offset + i + 1,
                score: s.similarity,
                explanation: profile
                    .and_then(|p| match s.element {
                        Some(e) => p.elements.get(e).map(|(e, _)| e.clone()),
                        None => p.explain(&s.candidate.vector),
                    })
                    .map(|e| Explanation {
                        kind: e.kind,
                        label: e.label,
                    }),
                item: s.candidate.item,
            })
            .collect();
        let shown: Vec<ShownItem> = items
            .iter()
            .map(|r| ShownItem {
                item_id: r.item.id,
                rank: r.rank,
                score: r.score,
            })
            .collect();
        let impression_id = match recording {
            Recording::Record(context) => {
                self.record_impression(user_id, context, Some(query), &shown)
                    .await?
            }
            Recording::DryRun => uuid::Uuid::nil(),
        };
        Ok(RecommendationList {
            impression_id,
            model_id: self.model_id().to_string(),
            items,
            warning: None,
        })
    }
}

/// Maximal marginal relevance: greedily trades the ranking score against similarity
/// to what is already picked. Input sorted by score, best first.
///
/// Each candidate keeps its running maximum similarity to the picked items, so a pick
/// costs one dot product per remaining candidate: pool × k in all, not pool × k².
fn mmr(pool: Vec<Scored>, lambda: f32, k: usize) -> Vec<Scored> {
    let mut remaining: Vec<(Scored, f32)> = pool.into_iter().map(|c| (c, f32::MIN)).collect();
    let mut picked: Vec<Scored> = Vec::with_capacity(k.min(remaining.len()));
    while picked.len() < k && !remaining.is_empty() {
        let best = remaining
            .iter()
            .enumerate()
            .map(|(i, (c, redundancy))| {
                let redundancy = if picked.is_empty() { 0.0 } else { *redundancy };
                (i, lambda * c.score - (1.0 - lambda) * redundancy)
            })
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
            .map_or(0, |(i, _)| i);
        // `remove`, not `swap_remove`: ties go to the earlier (better-scored) candidate.
        let (chosen, _) = remaining.remove(best);
        for (c, redundancy) in &mut remaining {
            *redundancy = redundancy.max(dot(&chosen.candidate.vector, &c.candidate.vector));
        }
        picked.push(chosen);
    }
    picked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(id: i64, v: [f32; 2], q: [f32; 2]) -> Scored {
        let similarity = dot(&v, &q);
        Scored {
            candidate: Candidate {
                item: Item {
                    id,
                    external_id: id.to_string(),
                    title: String::new(),
                    description: String::new(),
                    language: "en".into(),
                    source: String::new(),
                    tags: vec![],
                    url: None,
                },
                distance: (1.0 - similarity) as f64,
                vector: v.to_vec(),
                popularity: 0,
            },
            similarity,
            score: similarity,
            element: None,
            features: Features::default(),
        }
    }

    #[test]
    fn prior_is_log_scaled_to_the_most_popular_item() {
        assert_eq!(prior(0, 0), 0.0);
        assert_eq!(prior(5, 0), 0.0);
        assert_eq!(prior(0, 41), 0.0);
        assert!((prior(41, 41) - 1.0).abs() < 1e-6);
        // ln 6 / ln 36 = 0.5: the log scale halves at the square root of the top
        // count (of users beyond the first).
        assert!((prior(6, 36) - 0.5).abs() < 1e-6);
    }

    #[test]
    fn one_user_alone_moves_nothing() {
        assert_eq!(prior(1, 1), 0.0);
        assert_eq!(prior(1, 50), 0.0);
        assert!(prior(2, 50) > 0.0);
    }

    #[test]
    fn element_scans_get_their_share_within_bounds() {
        // 4 elements sharing a pool of 200: 50 rows each, searched with ef 50.
        assert_eq!(element_ef_search(200, 50), 50);
        assert_eq!(element_ef_search(200, 60), 60);
        // Tiny shares still get a useful search.
        assert_eq!(element_ef_search(200, 10), 20);
        assert_eq!(element_ef_search(200, 1), 20);
        // Never above the configured value, unless one element needs more rows.
        assert_eq!(element_ef_search(200, 150), 150);
        assert_eq!(element_ef_search(100, 300), 300);
        assert_eq!(element_ef_search(200, 5000), 1000);
    }

    #[test]
    fn prior_of_a_young_catalog_is_scaled_to_the_evidence_floor() {
        // Two users in a fresh deployment are not the full prior: ln 2 / ln 21.
        let expected = (2f64.ln() / 21f64.ln()) as f32;
        assert!((prior(2, 2) - expected).abs() < 1e-6);
        assert!(prior(2, 2) < 0.25);
        assert!((prior(21, 21) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn mmr_with_lambda_one_keeps_relevance_order_and_low_lambda_diversifies() {
        let q = [1.0, 0.0];
        let s = std::f32::consts::FRAC_1_SQRT_2;
        let pool = || {
            vec![
                cand(1, [1.0, 0.0], q),
                cand(2, [0.999, 0.0447], q),
                cand(3, [s, s], q),
            ]
        };
        let ids = |v: Vec<Scored>| {
            v.into_iter()
                .map(|c| c.candidate.item.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(mmr(pool(), 1.0, 3)), vec![1, 2, 3]);
        // Item 2 is a near-copy of item 1: diversity moves item 3 ahead of it.
        assert_eq!(ids(mmr(pool(), 0.3, 2)), vec![1, 3]);
    }

    #[test]
    fn options_are_validated() {
        let ok = RecommendOptions::default();
        assert!(ok.validate().is_ok());
        assert!(RecommendOptions { k: 0, ..ok.clone() }.validate().is_err());
        assert!(RecommendOptions {
            k: 101,
            ..ok.clone()
        }
        .validate()
        .is_err());
        assert!(RecommendOptions {
            diversity_lambda: Some(1.5),
            ..ok
        }
        .validate()
        .is_err());
    }
}
