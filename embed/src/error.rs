use std::path::PathBuf;
use std::sync::Arc;

/// The underlying error of an [`EmbedError`] (I/O, JSON, tokenizer, candle…),
/// shared so that the error stays `Clone`.
pub type ErrorSource = Arc<dyn std::error::Error + Send + Sync>;

/// Everything that can go wrong while loading a model or embedding text.
///
/// `Clone` so that one failed forward pass can be reported to every request that
/// was coalesced into it. The message of each variant is complete on its own (one
/// line for a start-up error); where another error caused it, that error is also
/// kept as the [`std::error::Error::source`].
#[derive(Debug, Clone, thiserror::Error)]
pub enum EmbedError {
    /// A model file is missing, unreadable or invalid, or a field in it is missing
    /// or has a bad value. `path` is the file (or folder); `reason` names the field.
    #[error("model file {}: {reason}", path.display())]
    ModelFiles {
        path: PathBuf,
        reason: String,
        #[source]
        source: Option<ErrorSource>,
    },
    /// The model folder is valid but asks for something this embedder does not
    /// implement (another pooling mode, a Dense module, a non-BERT architecture…).
    #[error("unsupported model setting in {}: {reason}", path.display())]
    Unsupported { path: PathBuf, reason: String },
    /// The requested precision needs instructions this CPU lacks.
    #[error("{0}")]
    UnsupportedPrecision(String),
    /// Tokenisation or the forward pass failed.
    #[error("embedding inference failed: {reason}")]
    Inference {
        reason: String,
        #[source]
        source: Option<ErrorSource>,
    },
    /// The embedding queue is full; the caller should retry shortly (HTTP 429/503).
    #[error("the embedding queue is full")]
    Busy,
    /// The embedding worker thread is gone.
    #[error("the embedding worker has stopped")]
    Stopped,
}

impl EmbedError {
    pub(crate) fn files(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        EmbedError::ModelFiles {
            path: path.into(),
            reason: reason.into(),
            source: None,
        }
    }

    /// A model file error caused by `source`: the reason is `what: source`.
    pub(crate) fn files_from(path: impl Into<PathBuf>, what: &str, source: ErrorSource) -> Self {
        EmbedError::ModelFiles {
            path: path.into(),
            reason: format!("{what}: {source}"),
            source: Some(source),
        }
    }

    pub(crate) fn unsupported(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        EmbedError::Unsupported {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// An inference failure with no underlying error.
    pub fn inference(reason: impl Into<String>) -> Self {
        EmbedError::Inference {
            reason: reason.into(),
            source: None,
        }
    }

    /// An inference failure caused by `source`: the reason is `what: source`.
    pub(crate) fn inference_from(what: &str, source: ErrorSource) -> Self {
        EmbedError::Inference {
            reason: format!("{what}: {source}"),
            source: Some(source),
        }
    }
}

impl From<candle_core::Error> for EmbedError {
    fn from(err: candle_core::Error) -> Self {
        EmbedError::Inference {
            reason: err.to_string(),
            source: Some(Arc::new(err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn sources_are_kept_and_messages_complete() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied");
        let err = EmbedError::files_from("/m/config.json", "cannot read file", Arc::new(io));
        assert_eq!(
            err.to_string(),
            "model file /m/config.json: cannot read file: denied"
        );
        let source = err.source().expect("the I/O error is kept");
        assert_eq!(source.to_string(), "denied");
        // Cloned for every coalesced request, source included.
        assert!(err.clone().source().is_some());
        assert!(EmbedError::inference("x").source().is_none());
    }
}
