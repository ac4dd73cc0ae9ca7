//! The synchronous SBERT embedder: tokenizer + candle BERT + pooling + L2 norm.

use std::cmp::Reverse;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use super::bert::{FastBert, Parallelism, Sequence};
use super::config::{read_folder, Pooling};
use super::error::EmbedError;
use super::pooling::{cls_pool, mean_pool, normalize_in_place};
use super::{Embed, Input, ModelInfo, Precision, TextKind};

/// A sub-batch (one forward pass) holds at most this many texts…
const MAX_SUB_BATCH_TEXTS: usize = 64;
/// …and at most this many tokens (there is no padding: the sum of the texts'
/// lengths). Enough rows for the matmuls to run at full speed; the activations
/// of a pass (≈ 14 KiB per token for MiniLM) stay in the caches. Measured on the
/// catalog workload in texts per CPU-second: flat from 256 to 1024 tokens, 8%
/// lower at 2048 and 4096.
const MAX_SUB_BATCH_TOKENS: usize = 512;

/// Settings read from the model folder beyond [`ModelInfo`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelDetails {
    /// From the Pooling module's `config.json`.
    pub pooling: Pooling,
    /// Whether modules.json lists a Normalize module. Output vectors are unit
    /// length either way (the product ranks by cosine).
    pub normalize_module: bool,
    /// `do_lower_case` from `sentence_bert_config.json`: input is lowercased first.
    pub do_lower_case: bool,
    /// Token id used for padding (the tokenizer file's, else config `pad_token_id`).
    pub pad_id: u32,
    pub num_hidden_layers: usize,
    /// What the dense layers' matmuls run in.
    pub precision: Precision,
}

/// One unit vector per text, or why there is none.
type Vectors = Result<Vec<Vec<f32>>, EmbedError>;

/// One tokenised text, ready to be padded into a sub-batch.
struct Row {
    ids: Vec<u32>,
    type_ids: Vec<u32>,
}

/// A sentence-transformers model loaded for CPU inference. Synchronous; owns the
/// weights. Use [`crate::EmbeddingService`] to share it between async tasks.
pub struct SentenceEmbedder {
    info: ModelInfo,
    details: ModelDetails,
    model: FastBert,
    /// Sub-batches run concurrently on up to this many threads.
    threads: usize,
    tokenizer: Tokenizer,
}

impl std::fmt::Debug for SentenceEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentenceEmbedder")
            .field("info", &self.info)
            .field("details", &self.details)
            .finish_non_exhaustive()
    }
}

impl SentenceEmbedder {
    /// Loads a BERT-family sentence-transformers folder (config.json, tokenizer.json,
    /// model.safetensors, modules.json, 1_Pooling/config.json,
    /// sentence_bert_config.json, optional semrec_model.json), in the fastest
    /// precision this CPU supports ([`Precision::best_supported`]).
    pub fn load(dir: &Path) -> Result<Self, EmbedError> {
        Self::load_with_precision(dir, Precision::best_supported())
    }

    /// [`SentenceEmbedder::load`] with the dense layers in `precision`.
    pub fn load_with_precision(dir: &Path, precision: Precision) -> Result<Self, EmbedError> {
        if !precision.is_supported() {
            return Err(EmbedError::UnsupportedPrecision(format!(
                "embedding precision {precision} needs a CPU with AVX-512 BF16, which this one lacks: use f32"
            )));
        }
        let started = Instant::now();
        let folder = read_folder(dir)?;
        let tdir = &folder.transformer_dir;

        let tok_path = tdir.join("tokenizer.json");
        if !tok_path.is_file() {
            return Err(EmbedError::files(&tok_path, "file is missing"));
        }
        let mut tokenizer = Tokenizer::from_file(&tok_path).map_err(|err| {
            EmbedError::files_from(&tok_path, "invalid tokenizer", Arc::from(err))
        })?;
        let pad_id = tokenizer
            .get_padding()
            .map(|p| p.pad_id)
            .unwrap_or(folder.bert.pad_token_id as u32);
        if pad_id as usize >= folder.bert.vocab_size {
            return Err(EmbedError::files(
                &tok_path,
                format!(
                    "padding `pad_id` {pad_id} is outside the vocabulary ({} tokens, config.json)",
                    folder.bert.vocab_size
                ),
            ));
        }
        // The file's own settings may pad/truncate to a fixed length (all-MiniLM-L6-v2
        // ships 128): we pad per sub-batch ourselves and truncate at max_seq_length.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                direction: TruncationDirection::Right,
                max_length: folder.max_seq_length,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
            }))
            .map_err(|err| {
                EmbedError::files_from(&tok_path, "cannot set truncation", Arc::from(err))
            })?;

        let weights = tdir.join("model.safetensors");
        if !weights.is_file() {
            return Err(EmbedError::files(&weights, "file is missing"));
        }
        let device = Device::Cpu;
        // SAFETY: the file is memory-mapped read-only; it must not be modified while
        // the model is loaded (the same contract as every candle/safetensors user).
        let vb = unsafe {
            VarBuilder::from_mmaped_safetensors(std::slice::from_ref(&weights), DType::F32, &device)
        }
        .map_err(|err| EmbedError::files_from(&weights, "cannot read weights", Arc::new(err)))?;
        let model = FastBert::load(vb, &folder.bert, precision).map_err(|err| {
            EmbedError::files_from(&weights, "weights do not match config.json", Arc::new(err))
        })?;

        let info = ModelInfo {
            id: folder.id,
            dims: folder.bert.hidden_size,
            max_seq_length: folder.max_seq_length,
            query_prefix: folder.query_prefix,
            passage_prefix: folder.passage_prefix,
        };
        let details = ModelDetails {
            pooling: folder.pooling,
            normalize_module: folder.normalize_module,
            do_lower_case: folder.do_lower_case,
            pad_id,
            num_hidden_layers: folder.bert.num_hidden_layers,
            precision,
        };
        tracing::info!(
            model = %info.id,
            dims = info.dims,
            max_seq_length = info.max_seq_length,
            pooling = ?details.pooling,
            normalize_module = details.normalize_module,
            precision = %precision,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "loaded sentence embedding model from {}",
            dir.display()
        );
        Ok(Self {
            info,
            details,
            model,
            tokenizer,
            // One per core (RAYON_NUM_THREADS or the CPU count, as for candle).
            threads: crate::inference_threads(),
        })
    }

    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    pub fn details(&self) -> &ModelDetails {
        &self.details
    }

    /// Embeds `texts` (prefixing them for `kind` as the model requires). Returns one
    /// L2-normalised vector of `info().dims` floats per text, in input order.
    pub fn embed(&self, texts: &[&str], kind: TextKind) -> Result<Vec<Vec<f32>>, EmbedError> {
        let prepared: Vec<String> = texts.iter().map(|t| self.prepare(t, kind)).collect();
        self.embed_prepared(&prepared)
    }

    /// The number of tokens the model sees for `text` (special tokens included,
    /// after the prefix and truncation at `max_seq_length`).
    pub fn count_tokens(&self, text: &str, kind: TextKind) -> Result<usize, EmbedError> {
        let enc = self
            .tokenizer
            .encode_fast(self.prepare(text, kind), true)
            .map_err(|err| EmbedError::inference_from("tokenizer", Arc::from(err)))?;
        Ok(enc.get_ids().len())
    }

    /// Applies the model's prefix for `kind` and its lowercasing, if any.
    fn prepare(&self, text: &str, kind: TextKind) -> String {
        let prefix = match kind {
            TextKind::Query => &self.info.query_prefix,
            TextKind::Passage => &self.info.passage_prefix,
        };
        let full = format!("{prefix}{text}");
        if self.details.do_lower_case {
            full.to_lowercase()
        } else {
            full
        }
    }

    /// Embeds texts that already went through [`Self::prepare`].
    fn embed_prepared(&self, texts: &[String]) -> Vectors {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let inputs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let encodings = self
            .tokenizer
            .encode_batch_fast(inputs, true)
            .map_err(|err| EmbedError::inference_from("tokenizer", Arc::from(err)))?;
        let rows: Vec<Row> = encodings
            .iter()
            .map(|enc| {
                if enc.get_ids().is_empty() {
                    // A tokenizer without special tokens turns "" into nothing: give the
                    // model one pad token (unmasked) so the row still has a vector.
                    Row {
                        ids: vec![self.details.pad_id],
                        type_ids: vec![0],
                    }
                } else {
                    Row {
                        ids: enc.get_ids().to_vec(),
                        type_ids: enc.get_type_ids().to_vec(),
                    }
                }
            })
            .collect();

        // Sorted by length, longest first (as sentence-transformers does before
        // cutting batches): sub-batches group texts of similar length, and the
        // longest passes are scheduled first, so the threads finish together.
        // Results go back to input order below.
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_by_key(|&i| Reverse(rows[i].ids.len()));
        let chunks = self.plan_sub_batches(&order, &rows);

        // Enough sub-batches: one thread per core, each running whole passes with
        // single-threaded matmuls (no synchronisation inside a pass, and the
        // element-wise work is parallel too). Otherwise (one short text: latency)
        // one pass at a time, with the matmuls split over the cores.
        let parallel = chunks.len() >= self.threads && self.threads > 1;
        let par = if parallel || self.threads == 1 {
            Parallelism::None
        } else {
            Parallelism::Rayon(self.threads)
        };
        let run =
            |chunk: &[usize]| -> Vectors { self.forward(chunk.iter().map(|&i| &rows[i]), par) };
        let results: Vec<Vectors> = if !parallel {
            chunks.iter().map(|c| run(c)).collect()
        } else {
            let next = AtomicUsize::new(0);
            let slots: Mutex<Vec<Option<Vectors>>> = Mutex::new(vec![None; chunks.len()]);
            std::thread::scope(|scope| {
                for _ in 0..self.threads.min(chunks.len()) {
                    scope.spawn(|| loop {
                        let k = next.fetch_add(1, Ordering::Relaxed);
                        let Some(chunk) = chunks.get(k) else { break };
                        let result = run(chunk);
                        slots.lock().unwrap_or_else(|e| e.into_inner())[k] = Some(result);
                    });
                }
            });
            slots
                .into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .into_iter()
                .map(|slot| {
                    slot.unwrap_or_else(|| Err(EmbedError::inference("sub-batch was not run")))
                })
                .collect()
        };

        let mut out: Vec<Vec<f32>> = vec![Vec::new(); rows.len()];
        for (chunk, vectors) in chunks.iter().zip(results) {
            for (&i, v) in chunk.iter().zip(vectors?) {
                out[i] = v;
            }
        }
        Ok(out)
    }

    /// Cuts `order` (row indices, longest first) into consecutive sub-batches: each
    /// within the text and token limits, and small enough that there are at least
    /// as many sub-batches as threads when the input allows it.
    fn plan_sub_batches<'a>(&self, order: &'a [usize], rows: &[Row]) -> Vec<&'a [usize]> {
        let total: usize = rows.iter().map(|r| r.ids.len()).sum();
        let budget = total.div_ceil(self.threads).clamp(1, MAX_SUB_BATCH_TOKENS);
        let mut chunks = Vec::new();
        let mut start = 0;
        while start < order.len() {
            let mut tokens = rows[order[start]].ids.len();
            let mut end = start + 1;
            while end < order.len()
                && end - start < MAX_SUB_BATCH_TEXTS
                && tokens + rows[order[end]].ids.len() <= budget
            {
                tokens += rows[order[end]].ids.len();
                end += 1;
            }
            chunks.push(&order[start..end]);
            start = end;
        }
        chunks
    }

    /// One forward pass over `rows` (packed, no padding), pooled and normalised.
    fn forward<'a>(&self, rows: impl Iterator<Item = &'a Row>, par: Parallelism) -> Vectors {
        let seqs: Vec<Sequence> = rows
            .map(|row| Sequence {
                ids: &row.ids,
                type_ids: &row.type_ids,
            })
            .collect();
        let hidden = self.model.forward(&seqs, par)?;
        let dim = self.model.hidden_size();
        let mut start = 0;
        let mut vectors = Vec::with_capacity(seqs.len());
        for seq in &seqs {
            let tokens = &hidden[start * dim..(start + seq.ids.len()) * dim];
            start += seq.ids.len();
            let mut v = match self.details.pooling {
                Pooling::Mean => mean_pool(tokens, dim),
                Pooling::Cls => cls_pool(tokens, dim),
            };
            if !normalize_in_place(&mut v) {
                return Err(EmbedError::inference(
                    "the model produced a zero or non-finite vector",
                ));
            }
            vectors.push(v);
        }
        Ok(vectors)
    }
}

impl Embed for SentenceEmbedder {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn embed_batch(&self, inputs: &[Input<'_>]) -> Vectors {
        let prepared: Vec<String> = inputs
            .iter()
            .map(|input| self.prepare(input.text, input.kind))
            .collect();
        self.embed_prepared(&prepared)
    }
}
