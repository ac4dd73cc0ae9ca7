//! The recommend pipeline: candidate channels → features → ranker → serving.
//!
//! - [`options`]: what a request asks for (page, filters, diversity) and leaves out.
//! - channels, each finding candidates in SQL under the same filters and exclusions:
//!   [`semantic`] (HNSW scans: one query vector, or one per profile element for
//!   max-sim), [`collaborative`] (the stored neighbours of the user's history items),
//!   [`lexical`] (full-text search for the profile's terms) and [`popularity`] (the prior from distinct users per item).
//! - [`fusion`]: every candidate's features and the fused ranking score, a linear
//!   model whose shipped weights are [`trained`] (written by `semrec-eval`).
//! - [`ranker`]: the pool of all channels' candidates, scored and ordered.
//! - [`training`]: fitting the weights to lists with known relevant items;
//!   [`online`]: the models `semrec train` fits from logged impressions and clicks,
//!   versioned in the database, and which one ranks a user's list.
//! - [`serving`]: MMR diversity, explanations and the recorded impression.
//! - [`requests`]: the entry points (a profile's list, "more like this", the scored
//!   pool for offline tuning).
//!
//! A channel is off when its weight is 0 (`EngineSettings`); with no prior, no
//! collaborative channel and a single query vector the index order is the answer,
//! so the pool step is skipped.

mod collaborative;
pub mod fusion;
pub mod lexical;
pub mod online;
pub mod options;
pub mod popularity;
mod ranker;
mod requests;
mod semantic;
mod serving;
pub mod trained;
pub mod training;

pub use options::{
    Exclusions, Filters, RecommendOptions, MAX_FILTER_VALUES, MAX_FILTER_VALUE_CHARS, MAX_K,
    MAX_RANK,
};
pub(crate) use popularity::refresh_popularity;
pub use popularity::{prior, POPULARITY_MIN_USERS};
pub use semantic::CandidatePlans;
pub(crate) use serving::Recording;
pub use serving::{Explanation, PathTimings, Recommendation, RecommendationList};
