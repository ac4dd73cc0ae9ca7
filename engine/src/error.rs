//! The engine's error type. Each variant maps to one HTTP status in the web layer.

use crate::embed::EmbedError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The request is malformed or violates a rule; the message says what to fix.
    #[error("{0}")]
    Invalid(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// The embedding queue is full; retry shortly.
    #[error("the embedding service is busy, retry in a moment")]
    Busy,
    /// The database cannot be reached; the operation may succeed later.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("embedding failed: {0}")]
    Embedding(String),
    #[error("database error: {0}")]
    Database(sqlx::Error),
}

impl From<sqlx::Error> for EngineError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                EngineError::Unavailable(err.to_string())
            }
            sqlx::Error::Database(db) if db.code().is_some_and(|c| c.starts_with("08")) => {
                // SQLSTATE class 08: connection exceptions.
                EngineError::Unavailable(err.to_string())
            }
            _ => EngineError::Database(err),
        }
    }
}

impl From<EmbedError> for EngineError {
    fn from(err: EmbedError) -> Self {
        match err {
            EmbedError::Busy => EngineError::Busy,
            other => EngineError::Embedding(other.to_string()),
        }
    }
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;
