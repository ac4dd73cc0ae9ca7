//! What the embedding worker's queue and batches are doing, counted with atomics
//! so that reading them (the server's `/metrics`) never waits for the worker.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Upper bounds (texts per forward pass) of the batch-size histogram's buckets;
/// a last, unbounded bucket follows.
pub const BATCH_BUCKETS: [u64; 9] = [1, 2, 4, 8, 16, 32, 64, 128, 256];

#[derive(Debug)]
pub(crate) struct ServiceStats {
    capacity: usize,
    /// Requests accepted into the queue and not yet taken by the worker. Raised
    /// before the send and lowered on a failed one, so it never goes below zero.
    queued: AtomicI64,
    /// Requests refused at once because the queue was full (`EmbedError::Busy`).
    refused: AtomicU64,
    /// Batches with at most `BATCH_BUCKETS[i]` texts (not cumulative), plus the overflow.
    buckets: [AtomicU64; BATCH_BUCKETS.len() + 1],
    texts: AtomicU64,
}

/// A reading of the counters.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServiceSnapshot {
    /// Requests (not texts) the queue holds at most.
    pub queue_capacity: usize,
    /// Requests waiting for the worker now.
    pub queued: usize,
    /// Requests refused with `EmbedError::Busy` since start.
    pub refused: u64,
    /// Forward passes run since start.
    pub batches: u64,
    /// Texts embedded in them.
    pub texts: u64,
    /// Cumulative counts per bucket: (upper bound, batches with at most that many
    /// texts), the last bound infinite.
    pub batch_buckets: Vec<(f64, u64)>,
}

impl ServiceStats {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            queued: AtomicI64::new(0),
            refused: AtomicU64::new(0),
            buckets: Default::default(),
            texts: AtomicU64::new(0),
        }
    }

    pub(crate) fn entering(&self) {
        self.queued.fetch_add(1, Ordering::Relaxed);
    }

    /// A request left the queue: taken by the worker, or never sent.
    pub(crate) fn left(&self) {
        self.queued.fetch_sub(1, Ordering::Relaxed);
    }

    pub(crate) fn refused(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn batch(&self, texts: usize) {
        let i = BATCH_BUCKETS
            .iter()
            .position(|&bound| texts as u64 <= bound)
            .unwrap_or(BATCH_BUCKETS.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.texts.fetch_add(texts as u64, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> ServiceSnapshot {
        let mut cumulative = 0;
        let batch_buckets: Vec<(f64, u64)> = self
            .buckets
            .iter()
            .enumerate()
            .map(|(i, n)| {
                cumulative += n.load(Ordering::Relaxed);
                let bound = BATCH_BUCKETS.get(i).map_or(f64::INFINITY, |&b| b as f64);
                (bound, cumulative)
            })
            .collect();
        ServiceSnapshot {
            queue_capacity: self.capacity,
            queued: self.queued.load(Ordering::Relaxed).max(0) as usize,
            refused: self.refused.load(Ordering::Relaxed),
            batches: cumulative,
            texts: self.texts.load(Ordering::Relaxed),
            batch_buckets,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_fall_in_their_buckets_cumulatively() {
        let stats = ServiceStats::new(4);
        for texts in [1, 3, 4, 300] {
            stats.batch(texts);
        }
        let s = stats.snapshot();
        assert_eq!(s.batches, 4);
        assert_eq!(s.texts, 308);
        assert_eq!(s.batch_buckets[0], (1.0, 1));
        assert_eq!(s.batch_buckets[1], (2.0, 1));
        assert_eq!(s.batch_buckets[2], (4.0, 3));
        assert_eq!(s.batch_buckets[8], (256.0, 3));
        assert_eq!(*s.batch_buckets.last().unwrap(), (f64::INFINITY, 4));
        stats.entering();
        stats.entering();
        stats.left();
        assert_eq!(stats.snapshot().queued, 1);
    }
}
