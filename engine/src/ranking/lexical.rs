//! The lexical channel: PostgreSQL full-text search over each item's title,
//! description and tags (`items.lexical`, a generated `tsvector` stemmed with the
//! text-search configuration of the item's language, GIN-indexed; migration
//! `20261208000300_lexical.sql`).
//!
//! A profile's query is an OR of at most [`MAX_QUERY_TERMS`] lexemes: the words of
//! its texts (interests, classes, about, typed history) in every configuration the
//! catalogue uses and in 'simple' (tags are stored as they are), and the terms of its history items, ranked by tf-idf with the
//! document frequencies of `lexical_terms`. Candidates are scored by `ts_rank_cd`
//! (cover density, divided by 1 + ln of the document length).
//!
//! The channel's own search ranks every item that matches, and `ts_rank_cd` reads
//! each one: on 100k items, a query holding "film" or "comedy" matches 40–75k of
//! them and took 190–370 ms. So it searches with the query's rarest terms only, as
//! long as together they are held by at most [`CHANNEL_MAX_DOCUMENTS`] items (the
//! whole query on a catalogue no larger); every candidate is then scored with the
//! whole query, which costs one lookup per candidate.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use super::options::{Exclusions, Filters};
use super::semantic::{Candidate, CandidateRow, CANDIDATE_COLUMNS, CANDIDATE_FILTER};
use crate::error::Result;
use crate::Engine;

/// Most lexemes in a profile's query.
pub const MAX_QUERY_TERMS: usize = 32;

/// Most items the channel's search may have to rank: the sum of the document
/// frequencies of the terms it searches with (about 7 µs an item on a Zen 4 core).
pub const CHANNEL_MAX_DOCUMENTS: i64 = 2_000;

/// A profile's lexical query, as `tsquery` text.
#[derive(Clone, Debug, PartialEq)]
pub struct LexicalQuery {
    /// Every term: what candidates are scored with.
    pub all: String,
    /// The rarest terms within [`CHANNEL_MAX_DOCUMENTS`]: what the channel searches
    /// with (`None`: even the rarest term is too common to search by).
    pub channel: Option<String>,
}

/// `ts_rank_cd` normalisation: divide by 1 + ln(document length), so a long plot
/// does not win by repeating common words.
const RANK_NORMALIZATION: i32 = 1;

/// One document-frequency refresh at a time per process.
static REFRESHING: AtomicBool = AtomicBool::new(false);

/// `$1` item ids of the history, `$2` texts, `$3` most terms, `$4` the channel's
/// document budget: the query as `tsquery` text (NULL when no term), lexemes quoted
/// so none is parsed again, and the channel's query (its rarest terms while their
/// document frequencies sum to at most `$4`; all of them when the catalogue holds
/// at most `$4` items or has not been counted yet).
/// A term's score is its count in the history's documents and texts times
/// ln(1 + N / df). Left out: lexemes no item holds (once counted: the texts'
/// stop words in 'simple' would otherwise take the rarest slots) and lexemes holding
/// a backslash (quote_literal would escape them in a form `tsquery` does not read).
const QUERY_SQL: &str = "
WITH stats AS (
    SELECT greatest(items, 1)::float8 AS n, configs FROM lexical_stats
    UNION ALL SELECT 1, ARRAY['simple'] WHERE NOT EXISTS (SELECT 1 FROM lexical_stats)
), words AS (
    SELECT t.lexeme, coalesce(cardinality(t.positions), 1) AS tf
    FROM items i, unnest(i.lexical) t WHERE i.id = ANY($1)
    UNION ALL
    SELECT t.lexeme, coalesce(cardinality(t.positions), 1)
    FROM stats, unnest(stats.configs) c(cfg), unnest($2::text[]) x(text),
         unnest(to_tsvector(c.cfg::regconfig, x.text)) t
), ranked AS (
    SELECT w.lexeme, sum(w.tf) * ln(1 + (SELECT n FROM stats) / coalesce(max(d.items), 1)) AS score,
           coalesce(max(d.items), 0)::int8 AS df
    FROM words w LEFT JOIN lexical_terms d ON d.lexeme = w.lexeme
    WHERE strpos(w.lexeme, E'\\\\') = 0
    GROUP BY w.lexeme
    HAVING max(d.items) IS NOT NULL OR NOT EXISTS (SELECT 1 FROM lexical_stats)
    ORDER BY score DESC, w.lexeme LIMIT $3
), budgeted AS (
    SELECT lexeme, sum(df) OVER (ORDER BY df, lexeme) AS docs FROM ranked
)
SELECT string_agg(quote_literal(lexeme), ' | ' ORDER BY lexeme),
       string_agg(quote_literal(lexeme), ' | ' ORDER BY lexeme)
           FILTER (WHERE docs <= $4 OR (SELECT n FROM stats) <= $4)
FROM budgeted";

/// `$1` the query, `$2`–`$7` the candidate filter, `$8` LIMIT.
fn channel_sql() -> String {
    format!(
        "SELECT {CANDIDATE_COLUMNS}, 0::float8 AS distance,
                ts_rank_cd(items.lexical, $1::tsquery, {RANK_NORMALIZATION})::float8 AS lexical
         FROM items
         WHERE items.lexical @@ $1::tsquery AND {CANDIDATE_FILTER}
         ORDER BY lexical DESC, items.id LIMIT $8"
    )
}

#[derive(sqlx::FromRow)]
struct ChannelRow {
    #[sqlx(flatten)]
    candidate: CandidateRow,
    lexical: f64,
}

impl Engine {
    /// The lexical query of a profile's `texts` and `history` item ids; `None` when
    /// they hold no word. Starts a refresh of the document
    /// frequencies when the catalogue changed since the last one (in the background:
    /// this query uses the previous counts; imports recount at once when they bring
    /// a new language).
    pub async fn lexical_query(
        &self,
        texts: &[String],
        history: &[i64],
    ) -> Result<Option<LexicalQuery>> {
        if texts.is_empty() && history.is_empty() {
            return Ok(None);
        }
        self.refresh_lexical_terms_if_stale();
        let (all, channel) = self
            .on_read_pool(|pool| async move {
                Ok(
                    sqlx::query_as::<_, (Option<String>, Option<String>)>(QUERY_SQL)
                        .bind(history)
                        .bind(texts)
                        .bind(MAX_QUERY_TERMS as i64)
                        .bind(CHANNEL_MAX_DOCUMENTS)
                        .fetch_one(&pool)
                        .await?,
                )
            })
            .await?;
        Ok(all.map(|all| LexicalQuery { all, channel }))
    }

    /// The `limit` best lexical matches of `query`, filtered and excluded like every
    /// candidate, with their `ts_rank_cd` scores.
    pub(crate) async fn lexical_candidates(
        &self,
        query: &str,
        limit: usize,
        filters: &Filters,
        exclusions: &Exclusions,
    ) -> Result<Vec<(Candidate, f64)>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let sql = &channel_sql();
        let rows = self
            .on_read_pool(|pool| async move {
                let q = sqlx::query_as::<_, ChannelRow>(sql).bind(query);
                Ok(self
                    .bind_filter(q, filters, exclusions)
                    .bind(limit as i64)
                    .fetch_all(&pool)
                    .await?)
            })
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| (Candidate::from(r.candidate), r.lexical))
            .collect())
    }

    /// `ts_rank_cd` of `items` for `query` (items that do not match are absent).
    pub(crate) async fn lexical_scores(
        &self,
        query: &str,
        items: &[i64],
    ) -> Result<HashMap<i64, f64>> {
        if items.is_empty() {
            return Ok(HashMap::new());
        }
        let sql = &format!(
            "SELECT id, ts_rank_cd(lexical, $1::tsquery, {RANK_NORMALIZATION})::float8
             FROM items WHERE id = ANY($2) AND lexical @@ $1::tsquery"
        );
        let rows: Vec<(i64, f64)> = self
            .on_read_pool(|pool| async move {
                Ok(sqlx::query_as(sql)
                    .bind(query)
                    .bind(items)
                    .fetch_all(&pool)
                    .await?)
            })
            .await?;
        Ok(rows.into_iter().collect())
    }

    /// Recounts the document frequency of every lexeme (`ts_stat` over all items) and
    /// the configurations the catalogue uses. Returns the number of lexemes.
    pub async fn refresh_lexical_terms(&self) -> Result<u64> {
        let mut tx = crate::store::begin_on(self.jobs_pool()).await?;
        sqlx::query("LOCK TABLE lexical_terms IN EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM lexical_terms")
            .execute(&mut *tx)
            .await?;
        let n = sqlx::query(
            "INSERT INTO lexical_terms (lexeme, items)
             SELECT word, ndoc FROM ts_stat('SELECT lexical FROM items') WHERE ndoc > 0",
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query(
            "INSERT INTO lexical_stats (items, max_item_id, configs)
             SELECT (SELECT count(*) FROM items), (SELECT COALESCE(max(id), 0) FROM items),
                    ARRAY(SELECT semrec_ts_config(language)::text FROM items
                          UNION SELECT 'simple' ORDER BY 1)
             ON CONFLICT (only_row) DO UPDATE SET items = EXCLUDED.items,
                 max_item_id = EXCLUDED.max_item_id, configs = EXCLUDED.configs,
                 refreshed_at = now()",
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(n)
    }

    /// After an import that wrote items in `languages`: when one of them needs a
    /// text-search configuration the counts do not list yet (or nothing was counted),
    /// recounts now, so the next query already stems its words for the new language:
    /// two pages of one list must not be answered by two different queries. Otherwise
    /// the (slower-moving) frequencies are recounted in the background.
    pub(crate) async fn refresh_lexical_terms_after_import(&self, languages: &[String]) {
        let new_config: Result<bool> = async {
            Ok(sqlx::query_scalar(
                "SELECT NOT COALESCE((SELECT ARRAY(SELECT DISTINCT semrec_ts_config(l)::text
                                                   FROM unnest($1::text[]) l) <@ configs
                                      FROM lexical_stats), false)",
            )
            .bind(languages)
            .fetch_one(self.pool())
            .await?)
        }
        .await;
        match new_config {
            Ok(true) => self.recount_logged("a new language").await,
            Ok(false) => self.refresh_lexical_terms_if_stale(),
            Err(e) => tracing::warn!(error = %e, "checking the lexical configurations"),
        }
    }

    /// Starts [`Engine::refresh_lexical_terms`] in the background when items were
    /// added since the last count (a larger `max(id)`) or deleted (a smaller count
    /// would need a scan: deletions are caught by the next addition).
    fn refresh_lexical_terms_if_stale(&self) {
        if REFRESHING.load(Ordering::Relaxed) {
            return;
        }
        let engine = self.clone();
        tokio::spawn(async move {
            let stale: Result<bool> = async {
                Ok(sqlx::query_scalar(
                    "SELECT COALESCE((SELECT max(id) FROM items), 0)
                            <> COALESCE((SELECT max_item_id FROM lexical_stats), -1)",
                )
                .fetch_one(engine.pool())
                .await?)
            }
            .await;
            if !matches!(stale, Ok(true)) || REFRESHING.swap(true, Ordering::AcqRel) {
                return;
            }
            engine.recount_logged("the catalogue changed").await;
            REFRESHING.store(false, Ordering::Release);
        });
    }

    /// [`Engine::refresh_lexical_terms`], logged. A failure leaves the counts behind
    /// the catalogue, and the next query's staleness check starts another.
    async fn recount_logged(&self, why: &str) {
        let started = std::time::Instant::now();
        match self.refresh_lexical_terms().await {
            Ok(n) => tracing::info!(
                lexemes = n,
                secs = started.elapsed().as_secs_f32(),
                why,
                "lexical document frequencies recounted"
            ),
            Err(e) => tracing::warn!(error = %e, "recounting lexical document frequencies"),
        }
    }
}
