//! A deterministic stand-in for the model, for tests that do not assert meaning.
//!
//! Each text becomes a hashed bag of its words and of their character trigrams:
//! texts that share words or word parts are close, texts that share nothing are
//! near-orthogonal ("aircraft" and "planes" are not close here; tests that need
//! meaning use the real model). Same text, same vector, on every machine: the
//! hash is FNV-1a, not the standard library's seeded one. No files, no inference:
//! a catalog of thousands of items embeds in milliseconds.

use crate::{Embed, EmbedError, Input, ModelInfo, TextKind};

/// The fake's default vector length: the database schema's (`vector(384)`).
pub const FAKE_DIMS: usize = 384;

/// Weight of a whole word next to each of its trigrams.
const WORD_WEIGHT: f32 = 2.0;

/// Hashed bag-of-words and char-trigram vectors, L2-normalised.
#[derive(Debug, Clone)]
pub struct FakeEmbedder {
    info: ModelInfo,
}

impl Default for FakeEmbedder {
    fn default() -> Self {
        Self::new(FAKE_DIMS)
    }
}

impl FakeEmbedder {
    /// A fake of `dims` components, with the id `fake-hash-{dims}`.
    pub fn new(dims: usize) -> Self {
        Self::with_id(format!("fake-hash-{dims}"), dims)
    }

    /// A fake stored under another model id (to test switching models).
    pub fn with_id(id: impl Into<String>, dims: usize) -> Self {
        assert!(dims > 0, "a vector needs at least one component");
        Self {
            info: ModelInfo {
                id: id.into(),
                dims,
                max_seq_length: 512,
                query_prefix: String::new(),
                passage_prefix: String::new(),
            },
        }
    }

    /// The unit vector of one text (the kind does not change it: no prefixes).
    pub fn vector(&self, text: &str, _kind: TextKind) -> Vec<f32> {
        let dims = self.info.dims;
        let mut v = vec![0f32; dims];
        let lower = text.to_lowercase();
        for word in lower
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            add(&mut v, word.as_bytes(), WORD_WEIGHT);
            // Trigrams of the word with boundary marks: "cat" → "^ca", "cat", "at$".
            let marked: Vec<char> = std::iter::once('^')
                .chain(word.chars())
                .chain(std::iter::once('$'))
                .collect();
            for gram in marked.windows(3) {
                let gram: String = gram.iter().collect();
                add(&mut v, gram.as_bytes(), 1.0);
            }
        }
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm == 0.0 {
            // No words ("", punctuation): one fixed direction, still a unit vector,
            // as the real model gives every text a vector.
            v[0] = 1.0;
        } else {
            v.iter_mut().for_each(|x| *x /= norm);
        }
        v
    }
}

/// Adds `weight` to the component `feature` hashes to, with a hashed sign, so that
/// collisions cancel out on average instead of piling up.
fn add(v: &mut [f32], feature: &[u8], weight: f32) {
    let h = fnv1a(feature);
    let index = (h % v.len() as u64) as usize;
    let sign = if h >> 63 == 0 { 1.0 } else { -1.0 };
    v[index] += sign * weight;
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

impl Embed for FakeEmbedder {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn embed_batch(&self, inputs: &[Input<'_>]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(inputs
            .iter()
            .map(|input| self.vector(input.text, input.kind))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cos(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    fn v(text: &str) -> Vec<f32> {
        FakeEmbedder::default().vector(text, TextKind::Passage)
    }

    #[test]
    fn vectors_are_unit_length_and_deterministic() {
        for text in ["", "  ", "Chess openings", "Ünïcödé 東京", "a"] {
            let a = v(text);
            assert_eq!(a.len(), FAKE_DIMS);
            let norm = cos(&a, &a).sqrt();
            assert!((norm - 1.0).abs() < 1e-5, "{text:?}: norm {norm}");
            assert_eq!(a, v(text), "{text:?}: not deterministic");
        }
        // Pinned: the hash must not change between runs, machines or releases.
        let pinned = v("chess");
        let top = pinned
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
            .unwrap()
            .0;
        assert_eq!(top, (fnv1a(b"chess") % FAKE_DIMS as u64) as usize);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn similar_texts_are_closer_than_unrelated_ones() {
        let base = v("Chess openings for club players");
        let near = v("chess opening traps");
        let far = v("Banana bread, three ways");
        assert!(
            cos(&base, &near) > cos(&base, &far) + 0.2,
            "near {} far {}",
            cos(&base, &near),
            cos(&base, &far)
        );
        // Case and punctuation do not matter; word order does not either.
        assert!((cos(&v("Jazz, piano!"), &v("piano jazz")) - 1.0).abs() < 1e-5);
    }

    #[test]
    fn the_batch_is_in_input_order() {
        let fake = FakeEmbedder::new(16);
        let inputs = [
            Input {
                text: "one",
                kind: TextKind::Query,
            },
            Input {
                text: "two",
                kind: TextKind::Passage,
            },
        ];
        let got = fake.embed_batch(&inputs).unwrap();
        assert_eq!(
            got,
            vec![
                fake.vector("one", TextKind::Query),
                fake.vector("two", TextKind::Passage)
            ]
        );
        assert_eq!(fake.info().id, "fake-hash-16");
    }
}
