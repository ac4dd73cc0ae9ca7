//! The engine's error type. Each variant is one kind of failure, and each kind
//! maps to one HTTP status in one place (`app::error::public`), for the web app
//! and the JSON API alike. Causes are kept as sources, for logs; only the
//! message of the client's own mistakes is ever shown.

use crate::embed::EmbedError;

type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The request is malformed or violates a rule. `field` names the input at
    /// fault (`k`, `interests`, `history[3]`, `filters.tags`; empty for the
    /// request as a whole) and `reason` says what to fix.
    #[error("{}", invalid_message(field, reason))]
    Invalid { field: String, reason: String },
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
    /// The database cannot be reached or is too busy; the operation may succeed later.
    #[error("the database is unavailable: {reason}")]
    Unavailable {
        reason: String,
        #[source]
        source: Option<Cause>,
    },
    /// Loading the model or embedding failed (a full queue is [`EngineError::Busy`]).
    #[error("embedding failed: {0}")]
    Embedding(#[source] EmbedError),
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// A bug or a failed background task: logged, never shown to users in detail.
    #[error("internal error: {0}")]
    Internal(String),
}

fn invalid_message(field: &str, reason: &str) -> String {
    if field.is_empty() {
        reason.to_string()
    } else {
        format!("{field}: {reason}")
    }
}

impl EngineError {
    /// The client's mistake in `field` (empty: the request as a whole).
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The database is unavailable, for a reason without an error value behind it.
    pub fn unavailable(reason: impl Into<String>) -> Self {
        Self::Unavailable {
            reason: reason.into(),
            source: None,
        }
    }

    /// An `Invalid` error about a field inside `parent` (an inline profile's
    /// `interests` become `profile.interests`); any other error is unchanged.
    pub fn within(self, parent: &str) -> Self {
        match self {
            Self::Invalid { field, reason } => {
                let field = if field.is_empty() {
                    parent.to_string()
                } else if field.starts_with('[') {
                    format!("{parent}{field}")
                } else {
                    format!("{parent}.{field}")
                };
                Self::Invalid { field, reason }
            }
            other => other,
        }
    }
}

impl From<sqlx::Error> for EngineError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                unavailable(err.to_string(), err)
            }
            // SQLSTATE class 08: connection exceptions; 57P01–57P03: the server is
            // shutting down, crashed or is still starting.
            sqlx::Error::Database(db)
                if db.code().is_some_and(|c| {
                    c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03")
                }) =>
            {
                unavailable(err.to_string(), err)
            }
            // 57014: statement_timeout cancelled it; 55P03: lock_timeout. A request
            // path gave up on a busy database rather than stall: retry later.
            sqlx::Error::Database(db)
                if db.code().is_some_and(|c| matches!(&*c, "57014" | "55P03")) =>
            {
                let reason = format!(
                    "the database is too busy to answer in time ({})",
                    db.message()
                );
                unavailable(reason, err)
            }
            // 22021 / 22P05: a NUL character in text or jsonb, which PostgreSQL cannot store.
            sqlx::Error::Database(db)
                if db.code().is_some_and(|c| matches!(&*c, "22021" | "22P05")) =>
            {
                EngineError::invalid(
                    "",
                    "text must not contain the NUL character (\\u0000): remove it and retry",
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

fn unavailable(reason: String, source: sqlx::Error) -> EngineError {
    EngineError::Unavailable {
        reason,
        source: Some(Box::new(source)),
    }
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_names_its_field_and_nests_under_a_parent() {
        let e = EngineError::invalid("interests", "at most 50 interests, got 51");
        assert_eq!(e.to_string(), "interests: at most 50 interests, got 51");
        let e = e.within("profile");
        assert_eq!(
            e.to_string(),
            "profile.interests: at most 50 interests, got 51"
        );
        let e = EngineError::invalid("[2]", "empty").within("history");
        assert!(matches!(&e, EngineError::Invalid { field, .. } if field == "history[2]"));
        assert_eq!(
            EngineError::invalid("", "the profile is empty").to_string(),
            "the profile is empty"
        );
        assert!(matches!(
            EngineError::Busy.within("profile"),
            EngineError::Busy
        ));
    }

    #[test]
    fn sources_are_kept() {
        use std::error::Error;
        let e = EngineError::from(sqlx::Error::PoolTimedOut);
        assert!(matches!(e, EngineError::Unavailable { .. }), "{e:?}");
        assert!(e.source().is_some());
    }
}
