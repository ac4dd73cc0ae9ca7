//! semrec's inference runtime: sentence embeddings (SBERT) with candle on the CPU.
//!
//! [`Embed`] is what the rest of semrec needs from a model: texts in, unit vectors
//! out. [`SentenceEmbedder`] implements it for any BERT-family
//! sentence-transformers folder (its own forward pass, f32 gemm or an AVX-512 BF16
//! kernel); with the `fake` feature, [`fake::FakeEmbedder`] implements it with
//! hashed bag-of-words vectors for tests that do not assert meaning.
//! [`EmbeddingService`] runs any of them on a dedicated thread behind a bounded
//! queue for async callers.
//!
//! Model-specific text prefixes (e5's `query: ` / `passage: `) are applied here,
//! chosen by [`TextKind`]; callers pass raw text. They come from an optional
//! `semrec_model.json` in the model folder:
//! `{"id": "multilingual-e5-small", "query_prefix": "query: ", "passage_prefix": "passage: "}`
//! (every field optional; `id` defaults to the folder name).

mod allocator;
mod bert;
mod bf16;
mod config;
mod embedder;
mod error;
#[cfg(any(test, feature = "fake"))]
pub mod fake;
mod kernels;
mod pooling;
mod service;
mod service_stats;

pub use allocator::keep_freed_memory;
pub use config::{Pooling, SEMREC_MODEL_FILE};
pub use embedder::{ModelDetails, SentenceEmbedder};
pub use error::{EmbedError, ErrorSource};
pub use service::EmbeddingService;
pub use service_stats::{ServiceSnapshot, BATCH_BUCKETS};

/// The threads inference runs on: `RAYON_NUM_THREADS`, else the CPU count (as for
/// candle), at least 1.
pub fn inference_threads() -> usize {
    candle_core::utils::get_num_threads().max(1)
}

/// A sentence embedding model: texts in, one unit vector per text out.
///
/// Synchronous, like text-embeddings-inference's backend `trait Backend`: an
/// implementation owns its model and runs on whatever thread calls it;
/// [`EmbeddingService`] gives it a thread of its own and an async, bounded front.
/// The service is generic over the implementation (monomorphised, no dynamic
/// dispatch per batch); the trait is object safe too (`Box<dyn Embed + Send>`).
pub trait Embed {
    /// What the model is: its id (stored next to every vector), dims and prefixes.
    fn info(&self) -> &ModelInfo;

    /// Embeds every text as its kind (applying the model's prefix for it). One unit
    /// vector of `info().dims` floats per input, in input order.
    fn embed_batch(&self, inputs: &[Input<'_>]) -> Result<Vec<Vec<f32>>, EmbedError>;
}

impl<E: Embed + ?Sized> Embed for Box<E> {
    fn info(&self) -> &ModelInfo {
        (**self).info()
    }

    fn embed_batch(&self, inputs: &[Input<'_>]) -> Result<Vec<Vec<f32>>, EmbedError> {
        (**self).embed_batch(inputs)
    }
}

/// One text to embed and what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Input<'a> {
    pub text: &'a str,
    pub kind: TextKind,
}

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
