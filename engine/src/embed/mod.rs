//! Sentence embeddings (SBERT) with candle on the CPU.
//!
//! [`SentenceEmbedder`] loads any BERT-family sentence-transformers folder and turns
//! texts into L2-normalised vectors; [`EmbeddingService`] runs it on a dedicated
//! thread behind a bounded queue for async callers.
//!
//! Model-specific text prefixes (e5's `query: ` / `passage: `) are applied here,
//! chosen by [`TextKind`]; callers pass raw text. They come from an optional
//! `semrec_model.json` in the model folder:
//! `{"id": "multilingual-e5-small", "query_prefix": "query: ", "passage_prefix": "passage: "}`
//! (every field optional; `id` defaults to the folder name).

mod bert;
mod config;
mod embedder;
mod error;
mod kernels;
mod pooling;
mod service;

pub use config::{Pooling, SEMREC_MODEL_FILE};
pub use embedder::{ModelDetails, SentenceEmbedder};
pub use error::EmbedError;
pub use service::EmbeddingService;

/// What a text is, for models that embed queries and documents differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TextKind {
    /// A user profile (what we search with).
    Query,
    /// A catalog item (what we search among).
    Passage,
}

/// What the rest of semrec needs to know about the loaded model.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModelInfo {
    /// Stable id stored next to every vector (folder name unless semrec_model.json says otherwise).
    pub id: String,
    /// Vector length.
    pub dims: usize,
    /// Tokens per text (special tokens included) before truncation.
    pub max_seq_length: usize,
    pub query_prefix: String,
    pub passage_prefix: String,
}
