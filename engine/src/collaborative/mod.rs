//! Item–item collaborative models learned from (user, item, weight) interactions.
//!
//! Pure functions on dense indices (the caller maps its ids to `0..n`): no SQL, no
//! async. Both models end as top-N neighbours per item ([`Neighbours`]), which is what
//! the engine stores and what its collaborative channel reads:
//! - [`ease`]: Steck's EASE (2019), closed-form item–item regression, dense, for
//!   catalogues up to a configurable item limit;
//! - [`knn`]: cosine item-kNN on the user–item matrix with shrinkage, sparse, any size.

pub mod ease;
pub mod knn;
pub mod lambda;
mod matrix;
mod neighbours;

pub use matrix::Interactions;
pub use neighbours::{top_n, Neighbours};

#[derive(Debug, thiserror::Error)]
pub enum CollaborativeError {
    /// EASE's matrices are dense n × n: refused above the configured limit.
    #[error(
        "EASE needs dense {items} x {items} matrices, above the limit of {limit} items: \
         raise the limit or use item-kNN"
    )]
    TooManyItems { items: usize, limit: usize },
    /// XᵀX + λI is positive definite for any λ > 0 in exact arithmetic; this means the
    /// weights are far out of scale.
    #[error("EASE: XᵀX + λI is not positive definite (λ = {lambda}): {reason}")]
    NotPositiveDefinite { lambda: f64, reason: String },
    #[error("{0}")]
    Invalid(String),
}
