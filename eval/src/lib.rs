//! Offline evaluation of semrec: leave-last-out splits of timestamped
//! interactions, ranking metrics with paired significance tests, text
//! and topic-model baselines, and semrec's own recommend path over a real PostgreSQL.

pub mod baselines;
pub mod cold_start;
pub mod collaborative;
pub mod dataset;
pub mod fusion_tuning;
pub mod lda;
pub mod learned;
pub mod metrics;
pub mod pooled;
pub mod report;
pub mod semrec;
pub mod split;
pub mod tuning;
