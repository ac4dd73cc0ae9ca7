use std::path::PathBuf;

/// Everything that can go wrong while loading a model or embedding text.
///
/// `Clone` so that one failed forward pass can be reported to every request that
/// was coalesced into it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EmbedError {
    /// A model file is missing, unreadable or invalid, or a field in it is missing
    /// or has a bad value. `path` is the file (or folder); `reason` names the field.
    #[error("model file {}: {reason}", path.display())]
    ModelFiles { path: PathBuf, reason: String },
    /// The model folder is valid but asks for something this embedder does not
    /// implement (another pooling mode, a Dense module, a non-BERT architecture…).
    #[error("unsupported model setting in {}: {reason}", path.display())]
    Unsupported { path: PathBuf, reason: String },
    /// The requested precision needs instructions this CPU lacks.
    #[error("{0}")]
    UnsupportedPrecision(String),
    /// Tokenisation or the forward pass failed.
    #[error("embedding inference failed: {0}")]
    Inference(String),
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
        }
    }

    pub(crate) fn unsupported(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        EmbedError::Unsupported {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

impl From<candle_core::Error> for EmbedError {
    fn from(err: candle_core::Error) -> Self {
        EmbedError::Inference(err.to_string())
    }
}
