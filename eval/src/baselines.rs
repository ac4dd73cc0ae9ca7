//! Baselines ranked on the same split as semrec: random, popularity, and TF-IDF /
//! BM25 of the concatenated history texts against each item's text.

use std::collections::{HashMap, HashSet};

use rand::seq::SliceRandom;
use rand::SeedableRng;

/// Orders items by score, best first; ties go to the lower index; `exclude` is left out.
pub fn rank_by_scores(scores: &[f64], exclude: &HashSet<usize>) -> Vec<usize> {
    let mut ids: Vec<usize> = (0..scores.len()).filter(|i| !exclude.contains(i)).collect();
    ids.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    ids
}

/// A uniformly random order of the items not in `exclude`, reproducible from `seed` and `user`.
pub fn random_ranking(
    n_items: usize,
    exclude: &HashSet<usize>,
    seed: u64,
    user: u64,
) -> Vec<usize> {
    let mut rng =
        rand::rngs::StdRng::seed_from_u64(seed ^ user.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut ids: Vec<usize> = (0..n_items).filter(|i| !exclude.contains(i)).collect();
    ids.shuffle(&mut rng);
    ids
}

/// How many histories contain each item.
pub fn popularity<'a>(
    n_items: usize,
    histories: impl IntoIterator<Item = &'a [usize]>,
) -> Vec<f64> {
    let mut counts = vec![0.0; n_items];
    for h in histories {
        for &i in h {
            counts[i] += 1.0;
        }
    }
    counts
}

/// Lowercased alphanumeric runs of two or more characters (scikit-learn's default tokens).
pub fn tokenize(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|t| t.chars().count() >= 2)
        .map(|t| t.to_lowercase())
        .collect()
}

/// BM25 parameters (Lucene's defaults).
const BM25_K1: f64 = 1.2;
const BM25_B: f64 = 0.75;

/// An inverted index over item texts with TF-IDF and BM25 term weights.
pub struct TextIndex {
    /// Per item: (term, count in the item).
    term_counts: Vec<Vec<(usize, f64)>>,
    /// Per term: (item, TF-IDF weight in the item's unit vector, BM25 weight).
    postings: Vec<Vec<(usize, f64, f64)>>,
    idf_tfidf: Vec<f64>,
}

impl TextIndex {
    pub fn new(texts: &[String]) -> Self {
        let mut vocab: HashMap<String, usize> = HashMap::new();
        let term_counts: Vec<Vec<(usize, f64)>> = texts
            .iter()
            .map(|t| {
                let mut counts: HashMap<usize, f64> = HashMap::new();
                for tok in tokenize(t) {
                    let next = vocab.len();
                    *counts.entry(*vocab.entry(tok).or_insert(next)).or_default() += 1.0;
                }
                let mut v: Vec<(usize, f64)> = counts.into_iter().collect();
                v.sort_by_key(|&(t, _)| t);
                v
            })
            .collect();
        let n = texts.len() as f64;
        let mut df = vec![0.0; vocab.len()];
        for tc in &term_counts {
            for &(t, _) in tc {
                df[t] += 1.0;
            }
        }
        // scikit-learn's smoothed idf; Lucene's BM25 idf.
        let idf_tfidf: Vec<f64> = df
            .iter()
            .map(|d| ((1.0 + n) / (1.0 + d)).ln() + 1.0)
            .collect();
        let idf_bm25: Vec<f64> = df
            .iter()
            .map(|d| (1.0 + (n - d + 0.5) / (d + 0.5)).ln())
            .collect();
        let lengths: Vec<f64> = term_counts
            .iter()
            .map(|tc| tc.iter().map(|x| x.1).sum())
            .collect();
        let avg_len = lengths.iter().sum::<f64>() / n.max(1.0);
        let mut postings = vec![Vec::new(); vocab.len()];
        for (item, tc) in term_counts.iter().enumerate() {
            let norm = tc
                .iter()
                .map(|&(t, c)| (c * idf_tfidf[t]).powi(2))
                .sum::<f64>()
                .sqrt()
                .max(f64::MIN_POSITIVE);
            let len_norm =
                BM25_K1 * (1.0 - BM25_B + BM25_B * lengths[item] / avg_len.max(f64::MIN_POSITIVE));
            for &(t, c) in tc {
                let tfidf = c * idf_tfidf[t] / norm;
                let bm25 = idf_bm25[t] * c * (BM25_K1 + 1.0) / (c + len_norm);
                postings[t].push((item, tfidf, bm25));
            }
        }
        Self {
            term_counts,
            postings,
            idf_tfidf,
        }
    }

    /// Term counts of the history items' texts concatenated.
    fn query(&self, history: &[usize]) -> HashMap<usize, f64> {
        let mut q: HashMap<usize, f64> = HashMap::new();
        for &i in history {
            for &(t, c) in &self.term_counts[i] {
                *q.entry(t).or_default() += c;
            }
        }
        q
    }

    /// Cosine between the TF-IDF vector of the concatenated history and each item's.
    pub fn tfidf_scores(&self, history: &[usize]) -> Vec<f64> {
        let q = self.query(history);
        let norm = q
            .iter()
            .map(|(&t, &c)| (c * self.idf_tfidf[t]).powi(2))
            .sum::<f64>()
            .sqrt()
            .max(f64::MIN_POSITIVE);
        let mut scores = vec![0.0; self.term_counts.len()];
        for (&t, &c) in &q {
            let w = c * self.idf_tfidf[t] / norm;
            for &(item, x, _) in &self.postings[t] {
                scores[item] += w * x;
            }
        }
        scores
    }

    /// BM25 of each item for the concatenated history as the query (repeated terms count).
    pub fn bm25_scores(&self, history: &[usize]) -> Vec<f64> {
        let q = self.query(history);
        let mut scores = vec![0.0; self.term_counts.len()];
        for (&t, &c) in &q {
            for &(item, _, x) in &self.postings[t] {
                scores[item] += c * x;
            }
        }
        scores
    }
}
