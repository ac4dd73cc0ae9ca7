//! The semantic channel: nearest items by cosine distance over the HNSW index, one
//! scan for a single query vector, or one per profile element (max-sim), with the
//! filters and exclusions every channel shares, in SQL.

use std::collections::HashSet;

use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::QueryAs;
use sqlx::Postgres;

use super::options::{Exclusions, Filters};
use crate::catalog::Item;
use crate::error::Result;
use crate::Engine;

/// A candidate from the index with its vector (for MMR and explanations).
pub(crate) struct Candidate {
    pub(crate) item: Item,
    pub(crate) distance: f64,
    pub(crate) vector: Vec<f32>,
    /// Distinct users who consumed or clicked it (`item_popularity`).
    pub(crate) popularity: i64,
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
        pool: &sqlx::PgPool,
        ef_search: u32,
    ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        self.scan_transaction(pool, ef_search, Scan::Index).await
    }

    /// [`Engine::candidate_transaction`], or with index scans off: an exact scan.
    /// On `pool`: the primary's, or a replica's ([`Engine::on_read_pool`]).
    async fn scan_transaction(
        &self,
        pool: &sqlx::PgPool,
        ef_search: u32,
        scan: Scan,
    ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        let mut tx = crate::store::begin_on(pool).await?;
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
    pub(super) async fn nearest(
        &self,
        query: &[f32],
        limit: usize,
        offset: usize,
        filters: &Filters,
        exclusions: &Exclusions,
    ) -> Result<Vec<Candidate>> {
        let sql = &nearest_sql();
        let rows: Vec<CandidateRow> = self
            .on_read_pool(|pool| async move {
                let mut rows = Vec::new();
                for scan in [Scan::Index, Scan::Exact] {
                    let mut tx = self
                        .scan_transaction(&pool, self.nearest_ef_search(limit + offset), scan)
                        .await?;
                    rows = self
                        .bind_nearest(sql, query, limit, offset, filters, exclusions)
                        .fetch_all(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    if !scan_may_be_short(rows.len(), limit, filters) {
                        break;
                    }
                }
                Ok(rows)
            })
            .await?;
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
        let sql = &nearest_each_sql();
        let ef_search = element_ef_search(self.settings.ef_search, per_query);
        let rows: Vec<ElementCandidateRow> = self
            .on_read_pool(|pool| async move {
                let mut rows: Vec<ElementCandidateRow> = Vec::new();
                for scan in [Scan::Index, Scan::Exact] {
                    let mut tx = self.scan_transaction(&pool, ef_search, scan).await?;
                    rows = self
                        .bind_nearest_each(sql, queries, per_query, filters, exclusions)
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
                Ok(rows)
            })
            .await?;
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
    pub(super) async fn nearest_each_concurrently(
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
            .candidate_transaction(self.pool(), self.nearest_ef_search(k))
            .await?;
        let sql = format!("EXPLAIN {}", nearest_sql());
        let single = self
            .bind_nearest(&sql, query, k, 0, filters, exclusions)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let mut tx = self
            .candidate_transaction(
                self.pool(),
                element_ef_search(self.settings.ef_search, per_query),
            )
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
