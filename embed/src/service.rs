//! The async handle: one OS thread owns the model behind a bounded queue.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::oneshot;

use super::error::EmbedError;
use super::service_stats::{ServiceSnapshot, ServiceStats};
use super::{Embed, Input, ModelInfo, TextKind};

type Reply = Result<Vec<Vec<f32>>, EmbedError>;

struct Request {
    texts: Vec<String>,
    kind: TextKind,
    reply: oneshot::Sender<Reply>,
}

struct Inner {
    info: ModelInfo,
    tx: SyncSender<Request>,
    stats: Arc<ServiceStats>,
}

/// Cheap-to-clone async handle to an [`Embed`] implementation (the real
/// [`crate::SentenceEmbedder`], or a fake in tests) running on its own thread.
///
/// Requests wait in a bounded queue; when it is full, calls fail at once with
/// [`EmbedError::Busy`] instead of piling up. The worker coalesces pending requests
/// (up to `max_batch_texts` texts) into one forward pass. The thread ends when
/// every clone of the handle has been dropped.
#[derive(Clone)]
pub struct EmbeddingService {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for EmbeddingService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddingService")
            .field("info", &self.inner.info)
            .finish_non_exhaustive()
    }
}

impl EmbeddingService {
    /// Moves `embedder` onto a dedicated thread. `queue_capacity` is the number of
    /// requests (not texts) that may wait; both limits are raised to at least 1.
    ///
    /// Generic, so the worker loop is compiled for the concrete model: the handle
    /// itself does not depend on the type (it only holds the queue's sender).
    pub fn start<E: Embed + Send + 'static>(
        embedder: E,
        queue_capacity: usize,
        max_batch_texts: usize,
    ) -> Self {
        let info = embedder.info().clone();
        let (tx, rx) = sync_channel(queue_capacity.max(1));
        let max_batch_texts = max_batch_texts.max(1);
        let stats = Arc::new(ServiceStats::new(queue_capacity.max(1)));
        let worker_stats = stats.clone();
        let spawned = std::thread::Builder::new()
            .name("semrec-embedder".into())
            .spawn(move || worker(embedder, rx, max_batch_texts, &worker_stats));
        match spawned {
            Ok(_) => tracing::info!(
                model = %info.id,
                queue_capacity = queue_capacity.max(1),
                max_batch_texts,
                "embedding worker started"
            ),
            Err(err) => {
                // The receiver was dropped with the closure: every call returns Stopped.
                tracing::error!("cannot start the embedding worker thread: {err}");
            }
        }
        Self {
            inner: Arc::new(Inner { info, tx, stats }),
        }
    }

    pub fn info(&self) -> &ModelInfo {
        &self.inner.info
    }

    /// The queue's depth, its refusals and the batch sizes so far.
    pub fn stats(&self) -> ServiceSnapshot {
        self.inner.stats.snapshot()
    }

    /// Embeds `texts` as `kind`; one unit vector per text, in order. A full queue
    /// is [`EmbedError::Busy`] at once: interactive callers answer 429.
    pub async fn embed(
        &self,
        texts: Vec<String>,
        kind: TextKind,
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.submit(texts, kind, false).await
    }

    /// Like [`Self::embed`], but waits for room in the queue instead of failing:
    /// for background work (imports, reindex), which should yield to interactive
    /// requests, not give up half-way because of them.
    pub async fn embed_when_free(
        &self,
        texts: Vec<String>,
        kind: TextKind,
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.submit(texts, kind, true).await
    }

    async fn submit(
        &self,
        texts: Vec<String>,
        kind: TextKind,
        wait: bool,
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let expected = texts.len();
        let (reply, answer) = oneshot::channel();
        let mut request = Request { texts, kind, reply };
        let mut pause = std::time::Duration::from_millis(2);
        let stats = &self.inner.stats;
        loop {
            stats.entering();
            let sent = self.inner.tx.try_send(request);
            if sent.is_err() {
                stats.left();
            }
            match sent {
                Ok(()) => break,
                Err(TrySendError::Full(back)) if wait => {
                    // The std channel has no async send: poll with a growing pause,
                    // so the waiting request stays behind every interactive one.
                    request = back;
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(std::time::Duration::from_millis(100));
                }
                Err(TrySendError::Full(_)) => {
                    stats.refused();
                    return Err(EmbedError::Busy);
                }
                Err(TrySendError::Disconnected(_)) => return Err(EmbedError::Stopped),
            }
        }
        let vectors = answer.await.map_err(|_| EmbedError::Stopped)??;
        if vectors.len() != expected {
            return Err(EmbedError::inference(format!(
                "worker returned {} vectors for {expected} texts",
                vectors.len()
            )));
        }
        Ok(vectors)
    }

    pub async fn embed_one(&self, text: String, kind: TextKind) -> Result<Vec<f32>, EmbedError> {
        let mut vectors = self.embed(vec![text], kind).await?;
        vectors
            .pop()
            .ok_or_else(|| EmbedError::inference("worker returned no vector"))
    }
}

fn worker<E: Embed>(
    embedder: E,
    rx: Receiver<Request>,
    max_batch_texts: usize,
    stats: &ServiceStats,
) {
    let mut carried: Option<Request> = None;
    loop {
        let first = match carried.take() {
            Some(request) => request,
            None => match rx.recv() {
                Ok(request) => {
                    stats.left();
                    request
                }
                Err(_) => break, // every handle dropped
            },
        };
        // Greedily coalesce whatever else is already waiting.
        let mut total = first.texts.len();
        let mut batch = vec![first];
        while total < max_batch_texts {
            let next = rx.try_recv();
            if next.is_ok() {
                stats.left();
            }
            match next {
                Ok(request) if total + request.texts.len() <= max_batch_texts => {
                    total += request.texts.len();
                    batch.push(request);
                }
                Ok(request) => {
                    carried = Some(request);
                    break;
                }
                Err(_) => break,
            }
        }
        // Callers that gave up (dropped future) need no answer.
        batch.retain(|request| !request.reply.is_closed());
        if batch.is_empty() {
            continue;
        }
        stats.batch(batch.iter().map(|r| r.texts.len()).sum());
        run_batch(&embedder, batch);
    }
    tracing::debug!("embedding worker stopped");
}

fn embed_guarded<E: Embed>(embedder: &E, batch: &[Request]) -> Reply {
    let inputs: Vec<Input<'_>> = batch
        .iter()
        .flat_map(|request| {
            request.texts.iter().map(|text| Input {
                text,
                kind: request.kind,
            })
        })
        .collect();
    let expected = inputs.len();
    let vectors = match catch_unwind(AssertUnwindSafe(|| embedder.embed_batch(&inputs))) {
        Ok(result) => result,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            tracing::error!("embedding panicked: {message}");
            Err(EmbedError::inference(format!(
                "embedding panicked: {message}"
            )))
        }
    }?;
    // An implementation that miscounts must not hand one request another's vectors.
    if vectors.len() != expected {
        return Err(EmbedError::inference(format!(
            "the model returned {} vectors for {expected} texts",
            vectors.len()
        )));
    }
    Ok(vectors)
}

fn run_batch<E: Embed>(embedder: &E, batch: Vec<Request>) {
    let started = Instant::now();
    let n_texts: usize = batch.iter().map(|r| r.texts.len()).sum();
    match embed_guarded(embedder, &batch) {
        Ok(vectors) => {
            tracing::debug!(
                requests = batch.len(),
                texts = n_texts,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "embedded batch"
            );
            let mut vectors = vectors.into_iter();
            for request in batch {
                let mine: Vec<Vec<f32>> = vectors.by_ref().take(request.texts.len()).collect();
                let _ = request.reply.send(Ok(mine));
            }
        }
        Err(err) if batch.len() > 1 => {
            // Do not let one request's failure fail the others: retry each alone.
            tracing::warn!("coalesced batch failed ({err}); retrying its requests one by one");
            for request in batch {
                let result = embed_guarded(embedder, std::slice::from_ref(&request));
                let _ = request.reply.send(result);
            }
        }
        Err(err) => {
            for request in batch {
                let _ = request.reply.send(Err(err.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeEmbedder;

    /// An implementation that drops the last vector of every batch.
    struct Miscounting(FakeEmbedder);

    impl Embed for Miscounting {
        fn info(&self) -> &ModelInfo {
            self.0.info()
        }

        fn embed_batch(&self, inputs: &[Input<'_>]) -> Result<Vec<Vec<f32>>, EmbedError> {
            let mut vectors = self.0.embed_batch(inputs)?;
            vectors.pop();
            Ok(vectors)
        }
    }

    #[tokio::test]
    async fn any_embed_runs_behind_the_queue() {
        let fake = FakeEmbedder::default();
        let service = EmbeddingService::start(fake.clone(), 4, 8);
        assert_eq!(service.info(), fake.info());
        let texts = vec!["chess openings".to_string(), "banana bread".to_string()];
        let got = service.embed(texts, TextKind::Query).await.unwrap();
        assert_eq!(got[0], fake.vector("chess openings", TextKind::Query));
        assert_eq!(got[1], fake.vector("banana bread", TextKind::Query));
        let stats = service.stats();
        assert_eq!((stats.batches, stats.texts, stats.queued), (1, 2, 0));
        assert_eq!(stats.queue_capacity, 4);
        // Boxed trait objects work too.
        let boxed: Box<dyn Embed + Send> = Box::new(fake.clone());
        let service = EmbeddingService::start(boxed, 4, 8);
        let one = service.embed_one("x".into(), TextKind::Passage).await;
        assert_eq!(one.unwrap(), fake.vector("x", TextKind::Passage));
    }

    #[tokio::test]
    async fn a_miscounting_model_is_an_error_not_a_shifted_answer() {
        let service = EmbeddingService::start(Miscounting(FakeEmbedder::default()), 4, 8);
        let err = service
            .embed(vec!["a".into(), "b".into()], TextKind::Query)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, EmbedError::Inference { reason, .. } if reason.contains("1 vectors for 2 texts")),
            "{err:?}"
        );
    }
}
