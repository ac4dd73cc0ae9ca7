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
mod bf16;
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

/// The precision of the dense layers' matmuls (attention and the element-wise work
/// always run in f32).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// f32 everywhere, as the reference computes, on any CPU.
    F32,
    /// bf16 inputs with f32 accumulation on CPUs with AVX-512 BF16: 1.6× the
    /// throughput of f32, a third of its latency (BENCHMARKS.md); vectors within
    /// cosine 0.9999 of the reference (tests/embedding_parity.rs).
    Bf16,
}

impl Precision {
    /// The fastest precision this CPU supports.
    pub fn best_supported() -> Self {
        if Self::Bf16.is_supported() {
            Self::Bf16
        } else {
            Self::F32
        }
    }

    /// Whether this CPU can run it.
    pub fn is_supported(self) -> bool {
        match self {
            Self::F32 => true,
            Self::Bf16 => bf16::supported(),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::Bf16 => "bf16",
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

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
