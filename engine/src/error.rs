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
    /// As many imports as allowed are running; retry when one has finished.
    #[error("{max} import(s) already running, the most at once: retry when one has finished")]
    TooManyImports { max: usize },
    /// The database cannot be reached; the operation may succeed later.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// Loading the model or embedding failed (a full queue is [`EngineError::Busy`]).
    #[error("embedding failed: {0}")]
    Embedding(#[source] EmbedError),
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// A bug or a failed background task: logged, never shown to users in detail.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<sqlx::Error> for EngineError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                EngineError::Unavailable(err.to_string())
            }
            // SQLSTATE class 08: connection exceptions; 57P01–57P03: the server is
            // shutting down, crashed or is still starting.
            sqlx::Error::Database(db)
                if db.code().is_some_and(|c| {
                    c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03")
                }) =>
            {
                EngineError::Unavailable(err.to_string())
            }
            // 57014: statement_timeout cancelled it; 55P03: lock_timeout. A request
            // path gave up on a busy database rather than stall: retry later.
            sqlx::Error::Database(db)
                if db.code().is_some_and(|c| matches!(&*c, "57014" | "55P03")) =>
            {
                EngineError::Unavailable(format!(
                    "the database is too busy to answer in time ({})",
                    db.message()
                ))
            }
            // 22021 / 22P05: a NUL character in text or jsonb, which PostgreSQL cannot store.
            sqlx::Error::Database(db)
                if db.code().is_some_and(|c| matches!(&*c, "22021" | "22P05")) =>
            {
                EngineError::Invalid(
                    "text must not contain the NUL character (\\u0000): remove it and retry".into(),
                )
            }
            _ => EngineError::Database(err),
        }
    }
}

impl From<EmbedError> for EngineError {
    fn from(err: EmbedError) -> Self {
        match err {
            EmbedError::Busy => EngineError::Busy,
            other => EngineError::Embedding(other),
        }
    }
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;
