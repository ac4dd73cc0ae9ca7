//! A BERT encoder forward pass tuned for CPU inference with candle.
//!
//! Same weights and math as `candle_transformers::models::bert::BertModel` (the unit
//! test below checks the two agree), arranged to avoid candle's slow paths on CPU:
//!
//! * Q, K and V are one fused matmul; the `1/sqrt(head_dim)` scale is folded into
//!   the query weights at load time.
//! * The attention mask rides inside the `Q·Kᵀ` matmul: every query gets an extra
//!   component 1 and every key an extra component 0 (real token) or -1e30 (padding),
//!   so padded keys score -1e30 and get softmax weight exactly 0 — no separate
//!   pass over the `(batch, heads, seq, seq)` scores to add a mask.
//! * Softmax uses candle's fused, multi-threaded `softmax_last_dim`.
//! * The feed-forward bias and GELU are one pass ([`BiasAct`]).
//!
//! The element-wise ops that candle runs on one thread are parallelised one level
//! up: the embedder runs independent sub-batches on several threads.

use candle_core::{DType, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{Config, HiddenAct};

use super::activation::BiasAct;

/// Added to the attention score of a padded key; exp() of it underflows to 0.
const MASKED_SCORE: f32 = -1e30;

struct Linear {
    /// `(out, in)` as stored; used through a transposed view.
    weight: Tensor,
    bias: Tensor,
}

impl Linear {
    fn load(
        vb: &VarBuilder,
        name: &str,
        in_dim: usize,
        out_dim: usize,
    ) -> candle_core::Result<Self> {
        Ok(Self {
            weight: vb.get((out_dim, in_dim), &format!("{name}.weight"))?,
            bias: vb.get(out_dim, &format!("{name}.bias"))?,
        })
    }

    /// `x`: `(n, in)` contiguous → `(n, out)`.
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.matmul(&self.weight.t()?)?.broadcast_add(&self.bias)
    }
}

struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f32,
}

impl LayerNorm {
    fn load(vb: &VarBuilder, name: &str, dim: usize, eps: f64) -> candle_core::Result<Self> {
        Ok(Self {
            weight: vb.get(dim, &format!("{name}.weight"))?,
            bias: vb.get(dim, &format!("{name}.bias"))?,
            eps: eps as f32,
        })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        candle_nn::ops::layer_norm(x, &self.weight, &self.bias, self.eps)
    }
}

struct Layer {
    /// Query (pre-scaled), key and value projections stacked: `(3·hidden, hidden)`.
    qkv: Linear,
    attn_out: Linear,
    attn_norm: LayerNorm,
    intermediate: Linear,
    /// `intermediate.bias` as a slice for the fused bias + activation pass.
    intermediate_bias: Vec<f32>,
    output: Linear,
    output_norm: LayerNorm,
}

pub(crate) struct FastBert {
    word_embeddings: Tensor,
    position_embeddings: Tensor,
    token_type_embeddings: Tensor,
    embeddings_norm: LayerNorm,
    layers: Vec<Layer>,
    hidden: usize,
    heads: usize,
    head_dim: usize,
    act: HiddenAct,
}

impl FastBert {
    /// Loads the weights under the same names `BertModel` uses (with or without the
    /// `bert.` prefix of checkpoints saved from task heads).
    pub(crate) fn load(vb: VarBuilder, config: &Config) -> candle_core::Result<Self> {
        let vb = if !vb.contains_tensor("embeddings.word_embeddings.weight")
            && vb.contains_tensor("bert.embeddings.word_embeddings.weight")
        {
            vb.pp("bert")
        } else {
            vb
        };
        let h = config.hidden_size;
        let heads = config.num_attention_heads;
        let head_dim = h / heads;
        let eps = config.layer_norm_eps;
        let scale = 1.0 / (head_dim as f64).sqrt();

        let emb = vb.pp("embeddings");
        let word_embeddings = emb.get((config.vocab_size, h), "word_embeddings.weight")?;
        let position_embeddings = emb.get(
            (config.max_position_embeddings, h),
            "position_embeddings.weight",
        )?;
        let token_type_embeddings =
            emb.get((config.type_vocab_size, h), "token_type_embeddings.weight")?;
        let embeddings_norm = LayerNorm::load(&emb, "LayerNorm", h, eps)?;

        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for i in 0..config.num_hidden_layers {
            let lv = vb.pp(format!("encoder.layer.{i}"));
            let q = Linear::load(&lv, "attention.self.query", h, h)?;
            let k = Linear::load(&lv, "attention.self.key", h, h)?;
            let v = Linear::load(&lv, "attention.self.value", h, h)?;
            let qkv = Linear {
                weight: Tensor::cat(&[&(q.weight * scale)?, &k.weight, &v.weight], 0)?,
                bias: Tensor::cat(&[&(q.bias * scale)?, &k.bias, &v.bias], 0)?,
            };
            let intermediate =
                Linear::load(&lv, "intermediate.dense", h, config.intermediate_size)?;
            let intermediate_bias = intermediate.bias.to_vec1::<f32>()?;
            layers.push(Layer {
                qkv,
                attn_out: Linear::load(&lv, "attention.output.dense", h, h)?,
                attn_norm: LayerNorm::load(&lv, "attention.output.LayerNorm", h, eps)?,
                intermediate,
                intermediate_bias,
                output: Linear::load(&lv, "output.dense", config.intermediate_size, h)?,
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
            act: config.hidden_act,
        })
    }

    /// `ids`, `type_ids`: `(batch, seq)` u32; `mask`: `(batch, seq)` f32, 1 for real
    /// tokens and 0 for padding. Returns the last hidden state `(batch, seq, hidden)`.
    pub(crate) fn forward(
        &self,
        ids: &Tensor,
        type_ids: &Tensor,
        mask: &Tensor,
    ) -> candle_core::Result<Tensor> {
        let (b, l) = ids.dims2()?;
        let n = b * l;
        let (h, heads, d) = (self.hidden, self.heads, self.head_dim);

        let words = self.word_embeddings.index_select(&ids.flatten_all()?, 0)?;
        let types = self
            .token_type_embeddings
            .index_select(&type_ids.flatten_all()?, 0)?;
        let positions = self.position_embeddings.narrow(0, 0, l)?;
        let x = (words + types)?
            .reshape((b, l, h))?
            .broadcast_add(&positions)?
            .reshape((n, h))?;
        let mut x = self.embeddings_norm.forward(&x)?;

        // The extra Q·Kᵀ component that carries the mask (see the module docs).
        let query_one = Tensor::ones((b, heads, l, 1), DType::F32, ids.device())?;
        let key_mask = ((mask.to_dtype(DType::F32)? - 1.0)? * (-f64::from(MASKED_SCORE)))?
            .reshape((b, 1, l, 1))?
            .broadcast_as((b, heads, l, 1))?
            .contiguous()?;

        for layer in &self.layers {
            let qkv = layer
                .qkv
                .forward(&x)?
                .reshape((b, l, 3, heads, d))?
                .permute((2, 0, 3, 1, 4))?
                .contiguous()?; // (3, b, heads, l, d)
            let q = Tensor::cat(&[&qkv.get(0)?, &query_one], 3)?;
            let k = Tensor::cat(&[&qkv.get(1)?, &key_mask], 3)?;
            let v = qkv.get(2)?;
            let scores = q.matmul(&k.t()?)?; // (b, heads, l, l), mask included
            let probs = candle_nn::ops::softmax_last_dim(&scores)?;
            let context = probs
                .matmul(&v)? // (b, heads, l, d)
                .transpose(1, 2)?
                .reshape((n, h))?;
            let attn = layer.attn_out.forward(&context)?;
            x = layer.attn_norm.forward(&(attn + &x)?)?;

            let inter = x.matmul(&layer.intermediate.weight.t()?)?;
            let inter = BiasAct {
                bias: &layer.intermediate_bias,
                act: self.act,
            }
            .forward(&inter)?;
            let out = layer.output.forward(&inter)?;
            x = layer.output_norm.forward(&(out + &x)?)?;
        }
        x.reshape((b, l, h))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;
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

    /// The tuned forward pass equals candle-transformers' BertModel (given the
    /// attention mask) on every real token of a padded batch.
    #[test]
    fn matches_candle_bert_model_on_padded_batch() {
        let dir = model_dir();
        let config: Config =
            serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap())
                .unwrap();
        let device = Device::Cpu;
        let weights = [dir.join("model.safetensors")];
        let vb =
            unsafe { VarBuilder::from_mmaped_safetensors(&weights, DType::F32, &device) }.unwrap();
        let reference = BertModel::load(vb.clone(), &config).unwrap();
        let fast = FastBert::load(vb, &config).unwrap();

        // Three rows of lengths 7, 4 and 1 (+ padding), with token types 0 and 1.
        let lens = [7usize, 4, 1];
        let l = 7;
        let mut ids = vec![0u32; 3 * l];
        let mut types = vec![0u32; 3 * l];
        let mut mask = vec![0f32; 3 * l];
        for (r, &len) in lens.iter().enumerate() {
            for j in 0..len {
                ids[r * l + j] = 1000 + (r * 37 + j * 101) as u32 % 20000;
                types[r * l + j] = (j >= 3) as u32;
                mask[r * l + j] = 1.0;
            }
        }
        let ids = Tensor::from_vec(ids, (3, l), &device).unwrap();
        let types = Tensor::from_vec(types, (3, l), &device).unwrap();
        let mask = Tensor::from_vec(mask, (3, l), &device).unwrap();

        let want = reference.forward(&ids, &types, Some(&mask)).unwrap();
        let got = fast.forward(&ids, &types, &mask).unwrap();
        assert_eq!(got.dims(), want.dims());
        let want = want.to_vec3::<f32>().unwrap();
        let got = got.to_vec3::<f32>().unwrap();
        let mut worst = 0f32;
        for (r, &len) in lens.iter().enumerate() {
            for j in 0..len {
                for (a, b) in got[r][j].iter().zip(&want[r][j]) {
                    worst = worst.max((a - b).abs());
                }
            }
        }
        assert!(worst < 1e-4, "max abs diff vs BertModel: {worst}");
        // Padded positions must not leak into real ones: row 2 alone equals row 2 in the batch.
        let alone = fast
            .forward(
                &ids.narrow(0, 2, 1).unwrap().narrow(1, 0, 1).unwrap(),
                &types.narrow(0, 2, 1).unwrap().narrow(1, 0, 1).unwrap(),
                &mask.narrow(0, 2, 1).unwrap().narrow(1, 0, 1).unwrap(),
            )
            .unwrap()
            .to_vec3::<f32>()
            .unwrap();
        let diff = alone[0][0]
            .iter()
            .zip(&got[2][0])
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(
            diff < 1e-5,
            "padding changed a real token's output by {diff}"
        );
    }
}
