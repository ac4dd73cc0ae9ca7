//! A BERT encoder forward pass written for CPU inference on plain `f32` buffers.
//!
//! Same weights and math as `candle_transformers::models::bert::BertModel` (the unit
//! test below checks the two agree), arranged so that almost all the time goes to
//! the matmul kernel (`gemm`, the one candle uses) and none to copies:
//!
//! * **No padding.** The tokens of all texts of a call are packed one after the
//!   other. The dense layers are token-wise, so they run on `total_tokens` rows,
//!   never on `texts × longest`. Only attention looks across tokens, and it runs
//!   per text over that text's own tokens: no mask, no work on pad positions.
//! * **No copies.** gemm takes arbitrary row/column strides: per head, `Q·Kᵀ` and
//!   `P·V` read Q, K and V straight out of the fused QKV buffer and write the
//!   context straight into that head's columns of the context buffer (no permute,
//!   transpose, `contiguous()` or `cat`).
//! * **Fused adds.** QKV and feed-forward biases are written into the output
//!   buffer before gemm accumulates onto them; the attention-output and FFN-output
//!   layers accumulate into the residual stream itself (after adding their bias),
//!   and layer norm then runs in place.
//! * Q, K and V are one matmul, with `1/sqrt(head_dim)` folded into the query
//!   weights at load time. Weights are stored transposed (`in × out`), which gemm
//!   reads without repacking.
//! * softmax, layer norm and GELU are vectorised kernels ([`super::kernels`]).
//! * With [`Precision::Bf16`] the dense layers (≈ 90 % of the FLOPs) run on the
//!   AVX-512 BF16 kernel of [`super::bf16`] instead of f32 gemm; attention stays f32.

use candle_core::Tensor;
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{Config, HiddenAct};
pub(crate) use gemm::Parallelism;

use super::bf16::PackedBf16;
use super::error::EmbedError;
use super::kernels::{activate_in_place, layer_norm_rows, softmax_rows};
use super::Precision;

/// One text's token ids and token type ids (same length, at least 1).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sequence<'a> {
    pub ids: &'a [u32],
    pub type_ids: &'a [u32],
}

/// `dst (m × n) = [dst +] lhs (m × k) · rhs (k × n)`, every operand given by its
/// base slice and (row, column) strides in elements.
///
/// # Safety
/// Every element addressed by the shapes and strides must lie inside its slice,
/// and `dst` must not overlap `lhs` or `rhs`.
#[allow(clippy::too_many_arguments)]
unsafe fn matmul(
    (m, n, k): (usize, usize, usize),
    dst: &mut [f32],
    (dst_rs, dst_cs): (usize, usize),
    accumulate: bool,
    lhs: &[f32],
    (lhs_rs, lhs_cs): (usize, usize),
    rhs: &[f32],
    (rhs_rs, rhs_cs): (usize, usize),
    par: Parallelism,
) {
    // SAFETY: the caller guarantees every addressed element lies inside its slice
    // and that `dst` overlaps neither operand, which is all gemm requires.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            dst_cs as isize,
            dst_rs as isize,
            accumulate,
            lhs.as_ptr(),
            lhs_cs as isize,
            lhs_rs as isize,
            rhs.as_ptr(),
            rhs_cs as isize,
            rhs_rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            par,
        )
    }
}

/// A dense layer's weight, stored transposed (`in × out`) in the precision its
/// matmuls run in.
enum Weight {
    /// `(in, out)` row-major, for gemm.
    F32(Vec<f32>),
    /// Rounded to bf16 and packed once for the AVX-512 BF16 kernel.
    Bf16(PackedBf16),
}

/// A dense layer `y = b + x · W`.
struct Dense {
    weight: Weight,
    bias: Vec<f32>,
    in_dim: usize,
    out_dim: usize,
}

impl Dense {
    fn from_tensors(
        weight: &Tensor,
        bias: &Tensor,
        precision: Precision,
    ) -> candle_core::Result<Self> {
        let (out_dim, in_dim) = weight.dims2()?;
        let wt = weight.t()?.contiguous()?.flatten_all()?.to_vec1::<f32>()?;
        let weight = match precision {
            Precision::F32 => Weight::F32(wt),
            Precision::Bf16 => Weight::Bf16(PackedBf16::pack(&wt, in_dim, out_dim)),
        };
        Ok(Self {
            weight,
            bias: bias.to_vec1::<f32>()?,
            in_dim,
            out_dim,
        })
    }

    /// The `(weight, bias)` tensors of the dense layer `name`.
    fn load_tensors(
        vb: &VarBuilder,
        name: &str,
        in_dim: usize,
        out_dim: usize,
    ) -> candle_core::Result<(Tensor, Tensor)> {
        Ok((
            vb.get((out_dim, in_dim), &format!("{name}.weight"))?,
            vb.get(out_dim, &format!("{name}.bias"))?,
        ))
    }

    /// `y (rows × out) += x (rows × in) · W`, both row-major.
    fn accumulate(&self, x: &[f32], y: &mut [f32], rows: usize, par: Parallelism) {
        let (k, n) = (self.in_dim, self.out_dim);
        assert!(x.len() >= rows * k && y.len() >= rows * n);
        let wt = match &self.weight {
            Weight::F32(wt) => wt,
            Weight::Bf16(packed) => {
                let threads = match par {
                    Parallelism::None => 1,
                    Parallelism::Rayon(0) => rayon::current_num_threads(),
                    Parallelism::Rayon(n) => n,
                };
                packed.accumulate(x, y, rows, threads);
                return;
            }
        };
        // SAFETY: the assert keeps the (rows × k)·(k × n) → (rows × n) product inside
        // `x`, `wt` (k·n values) and `y`; `y` is a distinct `&mut`.
        unsafe {
            matmul((rows, n, k), y, (n, 1), true, x, (k, 1), wt, (n, 1), par);
        }
    }

    /// `y = bias + x · W`: the bias rows are written first, gemm adds onto them.
    fn forward_into(&self, x: &[f32], y: &mut [f32], rows: usize, par: Parallelism) {
        for row in y[..rows * self.out_dim].chunks_exact_mut(self.out_dim) {
            row.copy_from_slice(&self.bias);
        }
        self.accumulate(x, y, rows, par);
    }

    /// `x += bias + input · W` (a residual connection, in place).
    fn add_into(&self, input: &[f32], x: &mut [f32], rows: usize, par: Parallelism) {
        for row in x[..rows * self.out_dim].chunks_exact_mut(self.out_dim) {
            row.iter_mut().zip(&self.bias).for_each(|(v, b)| *v += b);
        }
        self.accumulate(input, x, rows, par);
    }
}

struct LayerNorm {
    weight: Vec<f32>,
    bias: Vec<f32>,
    eps: f32,
}

impl LayerNorm {
    fn load(vb: &VarBuilder, name: &str, dim: usize, eps: f64) -> candle_core::Result<Self> {
        Ok(Self {
            weight: vb.get(dim, &format!("{name}.weight"))?.to_vec1::<f32>()?,
            bias: vb.get(dim, &format!("{name}.bias"))?.to_vec1::<f32>()?,
            eps: eps as f32,
        })
    }

    fn forward_in_place(&self, x: &mut [f32]) {
        layer_norm_rows(x, &self.weight, &self.bias, self.eps);
    }
}

struct Layer {
    /// Query (pre-scaled), key and value projections stacked: `hidden → 3·hidden`.
    qkv: Dense,
    attn_out: Dense,
    attn_norm: LayerNorm,
    intermediate: Dense,
    output: Dense,
    output_norm: LayerNorm,
}

pub(crate) struct FastBert {
    /// `(vocab, hidden)`, `(max_positions, hidden)`, `(type_vocab, hidden)` row-major.
    word_embeddings: Vec<f32>,
    position_embeddings: Vec<f32>,
    token_type_embeddings: Vec<f32>,
    embeddings_norm: LayerNorm,
    layers: Vec<Layer>,
    hidden: usize,
    heads: usize,
    head_dim: usize,
    intermediate: usize,
    act: HiddenAct,
}

/// Scratch buffers of one forward pass, sized for `tokens` packed tokens.
struct Buffers {
    qkv: Vec<f32>,
    context: Vec<f32>,
    inter: Vec<f32>,
    scores: Vec<f32>,
}

impl FastBert {
    /// Loads the weights under the same names `BertModel` uses (with or without the
    /// `bert.` prefix of checkpoints saved from task heads).
    pub(crate) fn load(
        vb: VarBuilder,
        config: &Config,
        precision: Precision,
    ) -> candle_core::Result<Self> {
        if precision == Precision::Bf16 && !super::bf16::supported() {
            candle_core::bail!("bf16 matmuls need a CPU with AVX-512 BF16; use f32");
        }
        let vb = if !vb.contains_tensor("embeddings.word_embeddings.weight")
            && vb.contains_tensor("bert.embeddings.word_embeddings.weight")
        {
            vb.pp("bert")
        } else {
            vb
        };
        let h = config.hidden_size;
        let heads = config.num_attention_heads;
        if heads == 0 || !h.is_multiple_of(heads) {
            candle_core::bail!("hidden_size {h} is not a multiple of num_attention_heads {heads}");
        }
        let head_dim = h / heads;
        let inter = config.intermediate_size;
        let eps = config.layer_norm_eps;
        let scale = 1.0 / (head_dim as f64).sqrt();
        let flat = |t: Tensor| t.flatten_all()?.to_vec1::<f32>();

        let emb = vb.pp("embeddings");
        let word_embeddings = flat(emb.get((config.vocab_size, h), "word_embeddings.weight")?)?;
        let position_embeddings = flat(emb.get(
            (config.max_position_embeddings, h),
            "position_embeddings.weight",
        )?)?;
        let token_type_embeddings =
            flat(emb.get((config.type_vocab_size, h), "token_type_embeddings.weight")?)?;
        let embeddings_norm = LayerNorm::load(&emb, "LayerNorm", h, eps)?;

        let dense = |vb: &VarBuilder, name: &str, i: usize, o: usize| {
            let (w, b) = Dense::load_tensors(vb, name, i, o)?;
            Dense::from_tensors(&w, &b, precision)
        };
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for i in 0..config.num_hidden_layers {
            let lv = vb.pp(format!("encoder.layer.{i}"));
            let (qw, qb) = Dense::load_tensors(&lv, "attention.self.query", h, h)?;
            let (kw, kb) = Dense::load_tensors(&lv, "attention.self.key", h, h)?;
            let (vw, vbias) = Dense::load_tensors(&lv, "attention.self.value", h, h)?;
            let qkv = Dense::from_tensors(
                &Tensor::cat(&[&(qw * scale)?, &kw, &vw], 0)?,
                &Tensor::cat(&[&(qb * scale)?, &kb, &vbias], 0)?,
                precision,
            )?;
            layers.push(Layer {
                qkv,
                attn_out: dense(&lv, "attention.output.dense", h, h)?,
                attn_norm: LayerNorm::load(&lv, "attention.output.LayerNorm", h, eps)?,
                intermediate: dense(&lv, "intermediate.dense", h, inter)?,
                output: dense(&lv, "output.dense", inter, h)?,
                output_norm: LayerNorm::load(&lv, "output.LayerNorm", h, eps)?,
            });
        }
        Ok(Self {
            word_embeddings,
            position_embeddings,
            token_type_embeddings,
            embeddings_norm,
            layers,
            hidden: h,
            heads,
            head_dim,
            intermediate: inter,
            act: config.hidden_act,
        })
    }

    /// The last hidden state of every token of `seqs`, packed: row `offset(s) + i`
    /// of the returned `(total_tokens, hidden)` row-major buffer is token `i` of
    /// sequence `s`, sequences in order. `par` is the matmul parallelism (use
    /// `Parallelism::None` when the caller already runs passes on every core).
    pub(crate) fn forward(
        &self,
        seqs: &[Sequence],
        par: Parallelism,
    ) -> Result<Vec<f32>, EmbedError> {
        let h = self.hidden;
        let tokens: usize = seqs.iter().map(|s| s.ids.len()).sum();
        let longest = seqs.iter().map(|s| s.ids.len()).max().unwrap_or(0);
        let max_positions = self.position_embeddings.len() / h;
        let vocab = self.word_embeddings.len() / h;
        let type_vocab = self.token_type_embeddings.len() / h;
        if longest > max_positions {
            return Err(EmbedError::inference(format!(
                "sequence of {longest} tokens exceeds the model's {max_positions} positions"
            )));
        }

        // Embeddings: word + token type + position, then layer norm.
        let mut x = vec![0f32; tokens * h];
        let mut rows = x.chunks_exact_mut(h);
        for seq in seqs {
            if seq.ids.len() != seq.type_ids.len() || seq.ids.is_empty() {
                return Err(EmbedError::inference(
                    "a sequence has no tokens or mismatched token types",
                ));
            }
            for (pos, (&id, &ty)) in seq.ids.iter().zip(seq.type_ids).enumerate() {
                let (id, ty) = (id as usize, ty as usize);
                if id >= vocab || ty >= type_vocab {
                    return Err(EmbedError::inference(format!(
                        "token id {id} or type {ty} outside the vocabulary"
                    )));
                }
                let row = rows.next().expect("one row per token");
                let word = &self.word_embeddings[id * h..(id + 1) * h];
                let ty = &self.token_type_embeddings[ty * h..(ty + 1) * h];
                let position = &self.position_embeddings[pos * h..(pos + 1) * h];
                for (((v, w), t), p) in row.iter_mut().zip(word).zip(ty).zip(position) {
                    *v = (w + t) + p;
                }
            }
        }
        self.embeddings_norm.forward_in_place(&mut x);

        let mut buf = Buffers {
            qkv: vec![0f32; tokens * 3 * h],
            context: vec![0f32; tokens * h],
            inter: vec![0f32; tokens * self.intermediate],
            scores: vec![0f32; longest * longest],
        };
        for layer in &self.layers {
            self.layer_forward(layer, seqs, &mut x, &mut buf, tokens, par);
        }
        Ok(x)
    }

    fn layer_forward(
        &self,
        layer: &Layer,
        seqs: &[Sequence],
        x: &mut [f32],
        buf: &mut Buffers,
        tokens: usize,
        par: Parallelism,
    ) {
        let (h, d) = (self.hidden, self.head_dim);
        let qkv_rs = 3 * h;
        layer.qkv.forward_into(x, &mut buf.qkv, tokens, par);

        // Self-attention, per text and head, over that text's tokens only.
        let mut start = 0;
        for seq in seqs {
            let l = seq.ids.len();
            let qkv = &buf.qkv[start * qkv_rs..(start + l) * qkv_rs];
            let context = &mut buf.context[start * h..(start + l) * h];
            let scores = &mut buf.scores[..l * l];
            for head in 0..self.heads {
                let q = &qkv[head * d..];
                let k = &qkv[h + head * d..];
                let v = &qkv[2 * h + head * d..];
                // SAFETY: rows i < l of Q, K, V lie at i·3h + (0|h|2h) + head·d + c with
                // c < d, inside `qkv` (l rows of 3h); `scores` holds l·l values; context
                // row i, column head·d + c lies inside `context` (l rows of h).
                // `scores`/`context` are distinct `&mut` buffers.
                unsafe {
                    // scores (l × l) = Q (l × d) · Kᵀ (d × l)
                    matmul(
                        (l, l, d),
                        scores,
                        (l, 1),
                        false,
                        q,
                        (qkv_rs, 1),
                        k,
                        (1, qkv_rs),
                        Parallelism::None,
                    );
                }
                softmax_rows(scores, l);
                // SAFETY: as above.
                unsafe {
                    // context[:, head] (l × d) = P (l × l) · V (l × d)
                    matmul(
                        (l, d, l),
                        &mut context[head * d..],
                        (h, 1),
                        false,
                        scores,
                        (l, 1),
                        v,
                        (qkv_rs, 1),
                        Parallelism::None,
                    );
                }
            }
            start += l;
        }

        layer.attn_out.add_into(&buf.context, x, tokens, par);
        layer.attn_norm.forward_in_place(x);

        let inter = &mut buf.inter[..tokens * self.intermediate];
        layer.intermediate.forward_into(x, inter, tokens, par);
        activate_in_place(self.act, inter);
        layer.output.add_into(inter, x, tokens, par);
        layer.output_norm.forward_in_place(x);
    }

    pub(crate) fn hidden_size(&self) -> usize {
        self.hidden
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};
    use candle_transformers::models::bert::BertModel;
    use std::path::PathBuf;

    fn model_dir() -> PathBuf {
        let dir = std::env::var_os("SEMREC_MODEL_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/all-MiniLM-L6-v2")
            });
        assert!(
            dir.join("model.safetensors").is_file(),
            "model folder {} is missing: run scripts/fetch-model.sh (or set SEMREC_MODEL_DIR)",
            dir.display()
        );
        dir
    }

    /// The model folder's config and its weights (memory-mapped).
    fn config_and_weights() -> (Config, VarBuilder<'static>) {
        let dir = model_dir();
        let config: Config =
            serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap())
                .unwrap();
        let weights = [dir.join("model.safetensors")];
        // SAFETY: the model file is mapped read-only and not modified during the test.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&weights, DType::F32, &Device::Cpu) }
            .unwrap();
        (config, vb)
    }

    /// The packed, padding-free forward pass equals candle-transformers' BertModel
    /// (run on the padded batch with its attention mask) on every real token, with
    /// either matmul parallelism.
    #[test]
    fn matches_candle_bert_model_on_padded_batch() {
        let (config, vb) = config_and_weights();
        let device = Device::Cpu;
        let reference = BertModel::load(vb.clone(), &config).unwrap();
        let fast = FastBert::load(vb.clone(), &config, Precision::F32).unwrap();

        // Four rows of lengths 7, 4, 1 and 19 (+ padding), with token types 0 and 1.
        let lens = [7usize, 4, 1, 19];
        let l = 19;
        let mut ids = vec![0u32; lens.len() * l];
        let mut types = vec![0u32; lens.len() * l];
        let mut mask = vec![0f32; lens.len() * l];
        for (r, &len) in lens.iter().enumerate() {
            for j in 0..len {
                ids[r * l + j] = 1000 + (r * 37 + j * 101) as u32 % 20000;
                types[r * l + j] = (j >= 3) as u32;
                mask[r * l + j] = 1.0;
            }
        }
        let seqs: Vec<Sequence> = lens
            .iter()
            .enumerate()
            .map(|(r, &len)| Sequence {
                ids: &ids[r * l..r * l + len],
                type_ids: &types[r * l..r * l + len],
            })
            .collect();
        let want = reference
            .forward(
                &Tensor::from_vec(ids.clone(), (lens.len(), l), &device).unwrap(),
                &Tensor::from_vec(types.clone(), (lens.len(), l), &device).unwrap(),
                Some(&Tensor::from_vec(mask, (lens.len(), l), &device).unwrap()),
            )
            .unwrap()
            .to_vec3::<f32>()
            .unwrap();
        let h = config.hidden_size;
        for par in [Parallelism::None, Parallelism::Rayon(2)] {
            let got = fast.forward(&seqs, par).unwrap();
            assert_eq!(got.len(), lens.iter().sum::<usize>() * h);
            let mut worst = 0f32;
            let mut row = 0;
            for (want_row, &len) in want.iter().zip(&lens) {
                for want_token in &want_row[..len] {
                    for (a, b) in got[row * h..(row + 1) * h].iter().zip(want_token) {
                        worst = worst.max((a - b).abs());
                    }
                    row += 1;
                }
            }
            assert!(worst < 1e-4, "{par:?}: max abs diff vs BertModel: {worst}");
        }

        // A text's result does not depend on what else is in the call.
        let alone = fast.forward(&seqs[2..3], Parallelism::None).unwrap();
        let together = fast.forward(&seqs, Parallelism::None).unwrap();
        let offset = (lens[0] + lens[1]) * h;
        let diff = alone
            .iter()
            .zip(&together[offset..offset + h])
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(diff < 1e-5, "other texts changed a text's output by {diff}");
    }

    /// The bf16 path is the f32 path up to rounding: every token's hidden state
    /// keeps its direction (the pooled sentence vectors are checked against the
    /// reference fixture in tests/embedding_parity.rs), on either parallelism.
    #[test]
    #[cfg_attr(not(host_avx512bf16), ignore = "needs AVX-512 BF16")]
    fn bf16_forward_stays_close_to_f32() {
        assert!(
            crate::bf16::supported(),
            "built on a CPU with AVX-512 BF16, running on one without: rebuild the embed crate"
        );
        let (config, vb) = config_and_weights();
        let exact = FastBert::load(vb.clone(), &config, Precision::F32).unwrap();
        let bf16 = FastBert::load(vb, &config, Precision::Bf16).unwrap();
        let ids: Vec<u32> = (0..40).map(|j| 1000 + (j * 389) % 20000).collect();
        let types = vec![0u32; ids.len()];
        let seqs = [
            Sequence {
                ids: &ids[..29],
                type_ids: &types[..29],
            },
            Sequence {
                ids: &ids[29..],
                type_ids: &types[29..],
            },
        ];
        let h = config.hidden_size;
        let want = exact.forward(&seqs, Parallelism::None).unwrap();
        for par in [Parallelism::None, Parallelism::Rayon(2)] {
            let got = bf16.forward(&seqs, par).unwrap();
            let (mut worst_cos, mut max_diff) = (1f32, 0f32);
            for (a, b) in got.chunks_exact(h).zip(want.chunks_exact(h)) {
                let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
                let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
                let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
                worst_cos = worst_cos.min(dot / (na * nb));
                for (x, y) in a.iter().zip(b) {
                    max_diff = max_diff.max((x - y).abs());
                }
            }
            assert!(worst_cos > 0.999, "{par:?}: token cosine {worst_cos}");
            assert!(max_diff > 0.0, "{par:?}: identical to f32: bf16 not in use");
        }
    }

    #[test]
    fn rejects_bad_ids_instead_of_panicking() {
        let (config, vb) = config_and_weights();
        let fast = FastBert::load(vb, &config, Precision::F32).unwrap();
        let ids = [101u32, config.vocab_size as u32];
        let types = [0u32, 0];
        let seq = Sequence {
            ids: &ids,
            type_ids: &types,
        };
        assert!(fast.forward(&[seq], Parallelism::None).is_err());
        let long = vec![101u32; config.max_position_embeddings + 1];
        let long_types = vec![0u32; long.len()];
        let seq = Sequence {
            ids: &long,
            type_ids: &long_types,
        };
        assert!(fast.forward(&[seq], Parallelism::None).is_err());
    }
}
