//! Impressions written off the request path: serving a list puts its impression in
//! a bounded in-process queue, and a background writer stores the queue in batches
//! (one multi-row `INSERT … SELECT FROM unnest(…)` per table) every flush interval.
//!
//! Guarantees:
//! - a click for a still-queued impression flushes the queue first
//!   (`Engine::record_click`), so the click's foreign key holds;
//! - a full queue (or one that is not started, or already drained) makes the caller
//!   write inline, as before: an impression is never dropped for lack of room;
//! - a failed batch goes back to the front of the queue and is written on the next
//!   flush; `drain` (graceful shutdown) stops the writer and writes what is left;
//! - a kill -9 loses what was queued: at most one flush interval of impressions.
//!   Clicks are never queued, so an acknowledged click is committed.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::error::Result;
use crate::events::{ImpressionContext, ShownItem};
use crate::Engine;

/// Default of [`QueueSettings::capacity`].
pub const DEFAULT_CAPACITY: usize = 10_000;
/// Default of [`QueueSettings::flush_interval`].
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_millis(100);
/// Longest a click waits for an impression another instance may still hold in
/// its queue (a click on an unknown impression waits this long before it is refused).
pub const MAX_OTHER_INSTANCE_WAIT: Duration = Duration::from_secs(2);
/// Most impressions one batch INSERT writes (bounds a statement's size and time).
const MAX_BATCH: usize = 1_000;

/// How the queue is bounded and how often it is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueSettings {
    /// Impressions queued or being written at once; beyond it they are written
    /// inline. 0 = always inline.
    pub capacity: usize,
    /// How often the background writer stores the queue.
    pub flush_interval: Duration,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self {
            capacity: DEFAULT_CAPACITY,
            flush_interval: DEFAULT_FLUSH_INTERVAL,
        }
    }
}

/// One served list, waiting to be written.
#[derive(Clone, Debug)]
pub(crate) struct QueuedImpression {
    pub(crate) id: uuid::Uuid,
    pub(crate) user_id: Option<i64>,
    pub(crate) context: ImpressionContext,
    pub(crate) query: Option<pgvector::Vector>,
    pub(crate) shown: Vec<ShownItem>,
    pub(crate) ranker_version: Option<i32>,
    /// When it was served: stored as `created_at`, not the later flush time.
    pub(crate) at: DateTime<Utc>,
    /// The request's key and the cards' notes, for a list the same request may
    /// come back to (`crate::resume`).
    pub(crate) resume: Option<Box<(String, crate::resume::ListNotes)>>,
}

/// What the queue has done since start, for logs and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Impressions written by batches.
    pub batched: u64,
    /// Impressions written inline because the queue was full.
    pub inline_when_full: u64,
    /// Batches that failed (their impressions were put back and retried).
    pub failed_batches: u64,
}

#[derive(Default)]
struct State {
    /// Waiting to be written, oldest first.
    buffer: VecDeque<QueuedImpression>,
    /// Ids queued or in a batch being written: what a click must wait for.
    pending: HashSet<uuid::Uuid>,
    /// 0 while no writer runs: every impression is written inline.
    capacity: usize,
    /// The writer's interval, while it runs.
    flush_interval: Option<Duration>,
}

struct Writer {
    stop: Arc<tokio::sync::Notify>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct Inner {
    state: Mutex<State>,
    /// Held while a batch is written: a flush that returns has seen every
    /// impression queued before it commit (or fail).
    flushing: tokio::sync::Mutex<()>,
    writer: Mutex<Option<Writer>>,
    batched: AtomicU64,
    inline_when_full: AtomicU64,
    failed_batches: AtomicU64,
}

/// The impression queue an [`crate::Engine`] and its clones share. Until
/// [`ImpressionQueue::start`] it queues nothing.
#[derive(Clone, Default)]
pub struct ImpressionQueue {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl ImpressionQueue {
    /// Starts the background writer on `pool` (no-op when already running or when
    /// `settings.capacity` is 0). Must be called inside a tokio runtime.
    pub(crate) fn start(&self, pool: PgPool, model_id: String, settings: QueueSettings) {
        let mut writer = lock(&self.inner.writer);
        if writer.is_some() || settings.capacity == 0 {
            return;
        }
        {
            let mut state = lock(&self.inner.state);
            state.capacity = settings.capacity;
            state.flush_interval = Some(settings.flush_interval);
        }
        let stop = Arc::new(tokio::sync::Notify::new());
        let queue = self.clone();
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(settings.flush_interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    // `notify_one` keeps its permit: a stop sent mid-flush is seen here.
                    _ = stopped.notified() => return,
                }
                if let Err(e) = queue.flush(&pool, &model_id).await {
                    tracing::warn!("writing queued impressions failed (retried next flush): {e}");
                }
            }
        });
        *writer = Some(Writer { stop, task });
    }

    /// Queues `imp`, or hands it back when it must be written inline (no writer,
    /// or the queue is full).
    pub(crate) fn offer(&self, imp: QueuedImpression) -> std::result::Result<(), QueuedImpression> {
        let mut state = lock(&self.inner.state);
        if state.capacity == 0 {
            return Err(imp);
        }
        if state.pending.len() >= state.capacity {
            drop(state);
            let n = self.inner.inline_when_full.fetch_add(1, Ordering::Relaxed);
            if n == 0 || (n + 1).is_power_of_two() {
                tracing::warn!(
                    written_inline = n + 1,
                    "the impression queue is full: writing impressions inline (raise SEMREC_IMPRESSION_QUEUE?)"
                );
            }
            return Err(imp);
        }
        state.pending.insert(imp.id);
        state.buffer.push_back(imp);
        Ok(())
    }

    /// How long an impression served by another instance (with the same
    /// settings) may sit in its queue before it is in the database: two flush
    /// intervals and 100 ms for the write, at most [`MAX_OTHER_INSTANCE_WAIT`].
    /// `None` while no writer runs here (a CLI command, inline writes).
    pub(crate) fn other_instance_wait(&self) -> Option<Duration> {
        let interval = lock(&self.inner.state).flush_interval?;
        Some((interval * 2 + Duration::from_millis(100)).min(MAX_OTHER_INSTANCE_WAIT))
    }

    /// Whether a resumable list of `user_id` with `key` waits in the queue.
    pub(crate) fn has_pending_list(&self, user_id: i64, key: &str) -> bool {
        lock(&self.inner.state).buffer.iter().any(|imp| {
            imp.user_id == Some(user_id) && imp.resume.as_ref().is_some_and(|r| r.0 == key)
        })
    }

    /// Whether `id` is queued or being written (not yet committed).
    pub(crate) fn is_pending(&self, id: uuid::Uuid) -> bool {
        lock(&self.inner.state).pending.contains(&id)
    }

    /// Impressions queued or being written.
    pub fn len(&self) -> usize {
        lock(&self.inner.state).pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn stats(&self) -> QueueStats {
        QueueStats {
            batched: self.inner.batched.load(Ordering::Relaxed),
            inline_when_full: self.inner.inline_when_full.load(Ordering::Relaxed),
            failed_batches: self.inner.failed_batches.load(Ordering::Relaxed),
        }
    }

    /// Writes everything queued so far; returns how many impressions it wrote.
    /// When it returns `Ok`, every impression queued before the call is committed.
    pub(crate) async fn flush(&self, pool: &PgPool, model_id: &str) -> Result<usize> {
        let _writing = self.inner.flushing.lock().await;
        let mut written = 0;
        loop {
            let batch: Vec<QueuedImpression> = {
                let mut state = lock(&self.inner.state);
                let n = state.buffer.len().min(MAX_BATCH);
                state.buffer.drain(..n).collect()
            };
            if batch.is_empty() {
                return Ok(written);
            }
            if let Err(e) = write_batch(pool, model_id, &batch).await {
                self.inner.failed_batches.fetch_add(1, Ordering::Relaxed);
                // Back to the front, in order: retried by the next flush.
                let mut state = lock(&self.inner.state);
                for imp in batch.into_iter().rev() {
                    state.buffer.push_front(imp);
                }
                return Err(e);
            }
            written += batch.len();
            self.inner
                .batched
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
            let mut state = lock(&self.inner.state);
            for imp in &batch {
                state.pending.remove(&imp.id);
            }
        }
    }

    /// Stops queueing (later impressions are written inline), stops the writer and
    /// writes what is left. For graceful shutdown, before the pool closes.
    pub(crate) async fn drain(&self, pool: &PgPool, model_id: &str) -> Result<usize> {
        lock(&self.inner.state).capacity = 0;
        let writer = lock(&self.inner.writer).take();
        if let Some(w) = writer {
            w.stop.notify_one();
            // Not aborted: a batch being written finishes (or is put back).
            let _ = w.task.await;
        }
        self.flush(pool, model_id).await
    }
}

impl Engine {
    /// Starts writing impressions in the background, in batches every
    /// `settings.flush_interval` (until then, and with capacity 0, they are written
    /// inline). Call inside the runtime that serves requests.
    pub fn start_impression_queue(&self, settings: QueueSettings) {
        self.impressions
            .start(self.pool().clone(), self.model_id().to_string(), settings);
    }

    /// Writes every queued impression now. Readers that must see every list served
    /// so far (the dashboard, drift, a click) call this first.
    pub async fn flush_impressions(&self) -> Result<usize> {
        self.impressions.flush(self.pool(), self.model_id()).await
    }

    /// Graceful shutdown, before the pool closes: stops queueing and the writer, and
    /// writes what is left. Returns how many impressions that was.
    pub async fn drain_impressions(&self) -> Result<usize> {
        self.impressions.drain(self.pool(), self.model_id()).await
    }

    /// A served list's impression, written now in one transaction.
    pub(crate) async fn write_impression_now(&self, imp: QueuedImpression) -> Result<()> {
        write_batch(self.pool(), self.model_id(), std::slice::from_ref(&imp)).await
    }
}

/// One transaction: the impressions, then their shown items. A user deleted since
/// serving is stored as NULL and an item deleted since is left out, as the foreign
/// keys' ON DELETE would have done to an impression written at once.
async fn write_batch(pool: &PgPool, model_id: &str, batch: &[QueuedImpression]) -> Result<()> {
    let ids: Vec<uuid::Uuid> = batch.iter().map(|i| i.id).collect();
    let users: Vec<Option<i64>> = batch.iter().map(|i| i.user_id).collect();
    let contexts: Vec<&str> = batch.iter().map(|i| i.context.as_str()).collect();
    let queries: Vec<Option<pgvector::Vector>> = batch.iter().map(|i| i.query.clone()).collect();
    let at: Vec<DateTime<Utc>> = batch.iter().map(|i| i.at).collect();
    let versions: Vec<Option<i32>> = batch.iter().map(|i| i.ranker_version).collect();
    let list_keys: Vec<Option<&str>> = batch
        .iter()
        .map(|i| i.resume.as_ref().map(|r| r.0.as_str()))
        .collect();
    // As text, cast in SQL: one array type less to bind.
    let list_notes: Vec<Option<String>> = batch
        .iter()
        .map(|i| {
            i.resume
                .as_ref()
                .and_then(|r| serde_json::to_string(&r.1).ok())
        })
        .collect();
    let shown = batch.iter().flat_map(|i| i.shown.iter().map(|s| (i.id, s)));
    let (mut item_imps, mut items, mut ranks, mut scores) = (vec![], vec![], vec![], vec![]);
    // One array per feature (unnest cannot yield rows of a 2-D array).
    let mut features: [Vec<Option<f32>>; 6] = Default::default();
    for (imp, s) in shown {
        item_imps.push(imp);
        items.push(s.item_id);
        ranks.push(s.rank as i32);
        scores.push(s.score.clamp(-1.0, 1.0));
        let f = s.features;
        for (column, value) in features.iter_mut().zip([
            f.map(|f| f.semantic),
            f.map(|f| f.semantic_mean),
            f.map(|f| f.lexical),
            f.map(|f| f.collaborative),
            f.map(|f| f.popularity),
            f.map(|f| f.scarcity),
        ]) {
            column.push(value.filter(|v| v.is_finite()));
        }
    }
    let mut tx = crate::store::begin_on(pool).await?;
    sqlx::query(
        "INSERT INTO impressions (id, user_id, context, model_id, query_embedding, created_at,
                                  ranker_version, list_key, list_notes)
         SELECT b.id, u.id, b.context, $6, b.query, b.at, r.version, b.list_key,
                b.list_notes::jsonb
           FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::vector[], $5::timestamptz[],
                       $7::int[], $8::text[], $9::text[])
                AS b(id, user_id, context, query, at, ranker, list_key, list_notes)
           LEFT JOIN users u ON u.id = b.user_id
           LEFT JOIN ranker_models r ON r.version = b.ranker",
    )
    .bind(&ids)
    .bind(&users)
    .bind(&contexts)
    .bind(&queries)
    .bind(&at)
    .bind(model_id)
    .bind(&versions)
    .bind(&list_keys)
    .bind(&list_notes)
    .execute(&mut *tx)
    .await?;
    if !items.is_empty() {
        sqlx::query(
            "INSERT INTO impression_items (impression_id, item_id, rank, score, f_semantic,
                                           f_semantic_mean, f_lexical, f_collaborative,
                                           f_popularity, f_scarcity)
             SELECT s.imp, s.item, s.rank, s.score, s.f1, s.f2, s.f3, s.f4, s.f5, s.f6
               FROM unnest($1::uuid[], $2::bigint[], $3::int[], $4::real[], $5::real[],
                           $6::real[], $7::real[], $8::real[], $9::real[], $10::real[])
                    AS s(imp, item, rank, score, f1, f2, f3, f4, f5, f6)
               JOIN items i ON i.id = s.item",
        )
        .bind(&item_imps)
        .bind(&items)
        .bind(&ranks)
        .bind(&scores)
        .bind(&features[0])
        .bind(&features[1])
        .bind(&features[2])
        .bind(&features[3])
        .bind(&features[4])
        .bind(&features[5])
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn imp() -> QueuedImpression {
        QueuedImpression {
            id: uuid::Uuid::new_v4(),
            user_id: None,
            context: ImpressionContext::Api,
            query: None,
            shown: vec![],
            ranker_version: None,
            at: Utc::now(),
            resume: None,
        }
    }

    #[test]
    fn a_queue_without_a_writer_hands_every_impression_back() {
        let q = ImpressionQueue::default();
        assert!(q.offer(imp()).is_err());
        assert!(q.is_empty());
    }

    #[test]
    fn a_full_queue_hands_the_impression_back_and_counts_it() {
        let q = ImpressionQueue::default();
        lock(&q.inner.state).capacity = 2;
        let (a, b) = (imp(), imp());
        let (ida, idb) = (a.id, b.id);
        assert!(q.offer(a).is_ok());
        assert!(q.offer(b).is_ok());
        let c = imp();
        let idc = c.id;
        assert_eq!(q.offer(c).map_err(|c| c.id), Err(idc));
        assert!(q.is_pending(ida) && q.is_pending(idb) && !q.is_pending(idc));
        assert_eq!(q.len(), 2);
        assert_eq!(q.stats().inline_when_full, 1);
    }
}
