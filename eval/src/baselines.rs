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

/// Common English function words (a subset of scikit-learn's `stop_words="english"`).
pub const STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "down",
    "during",
    "each",
    "few",
    "for",
    "from",
    "further",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "many",
    "me",
    "more",
    "most",
    "much",
    "my",
    "myself",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "on",
    "once",
    "one",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "same",
    "she",
    "should",
    "so",
    "some",
    "such",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "two",
    "under",
    "until",
    "up",
    "upon",
    "very",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "whose",
    "why",
    "will",
    "with",
    "within",
    "without",
    "would",
    "yet",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
];

/// How the TF-IDF baseline weighs terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TfidfOptions {
    /// 1 + ln(tf) instead of the raw count (query and items).
    pub sublinear: bool,
    /// Drop [`STOP_WORDS`] (decided when the index is built).
    pub stop_words: bool,
}

impl TfidfOptions {
    pub fn label(&self) -> String {
        format!(
            "TF-IDF ({} tf, {})",
            if self.sublinear { "sublinear" } else { "raw" },
            if self.stop_words {
                "stop words removed"
            } else {
                "all words"
            }
        )
    }

    pub const ALL: [TfidfOptions; 4] = [
        TfidfOptions {
            sublinear: false,
            stop_words: false,
        },
        TfidfOptions {
            sublinear: true,
            stop_words: false,
        },
        TfidfOptions {
            sublinear: false,
            stop_words: true,
        },
        TfidfOptions {
            sublinear: true,
            stop_words: true,
        },
    ];
}

fn sublinear(c: f64) -> f64 {
    if c > 0.0 {
        1.0 + c.ln()
    } else {
        0.0
    }
}

/// BM25 parameters (Lucene's defaults).
const BM25_K1: f64 = 1.2;
const BM25_B: f64 = 0.75;

/// An inverted index over item texts with TF-IDF and BM25 term weights.
pub struct TextIndex {
    /// Per item: (term, count in the item).
    term_counts: Vec<Vec<(usize, f64)>>,
    /// Per term: (item, TF-IDF weight in the item's unit vector, the same with
    /// sublinear tf, BM25 weight).
    postings: Vec<Vec<(usize, f64, f64, f64)>>,
    idf_tfidf: Vec<f64>,
}

impl TextIndex {
    pub fn new(texts: &[String]) -> Self {
        Self::with_stop_words(texts, false)
    }

    /// `stop_words`: leave [`STOP_WORDS`] out of the vocabulary.
    pub fn with_stop_words(texts: &[String], stop_words: bool) -> Self {
        let stop: HashSet<&str> = if stop_words {
            STOP_WORDS.iter().copied().collect()
        } else {
            HashSet::new()
        };
        let mut vocab: HashMap<String, usize> = HashMap::new();
        let term_counts: Vec<Vec<(usize, f64)>> = texts
            .iter()
            .map(|t| {
                let mut counts: HashMap<usize, f64> = HashMap::new();
                for tok in tokenize(t) {
                    if stop.contains(tok.as_str()) {
                        continue;
                    }
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
            let norm_sub = tc
                .iter()
                .map(|&(t, c)| (sublinear(c) * idf_tfidf[t]).powi(2))
                .sum::<f64>()
                .sqrt()
                .max(f64::MIN_POSITIVE);
            let len_norm =
                BM25_K1 * (1.0 - BM25_B + BM25_B * lengths[item] / avg_len.max(f64::MIN_POSITIVE));
            for &(t, c) in tc {
                let tfidf = c * idf_tfidf[t] / norm;
                let tfidf_sub = sublinear(c) * idf_tfidf[t] / norm_sub;
                let bm25 = idf_bm25[t] * c * (BM25_K1 + 1.0) / (c + len_norm);
                postings[t].push((item, tfidf, tfidf_sub, bm25));
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

    /// Cosine between the TF-IDF vector of the concatenated history and each item's
    /// (scikit-learn's `TfidfVectorizer` defaults: raw tf, smoothed idf, l2 norm).
    pub fn tfidf_scores(&self, history: &[usize]) -> Vec<f64> {
        self.tfidf_scores_with(history, false)
    }

    /// As [`Self::tfidf_scores`]; `sublinear` uses 1 + ln(tf) for query and items.
    pub fn tfidf_scores_with(&self, history: &[usize], sublinear_tf: bool) -> Vec<f64> {
        let tf = |c: f64| if sublinear_tf { sublinear(c) } else { c };
        let q = self.query(history);
        let norm = q
            .iter()
            .map(|(&t, &c)| (tf(c) * self.idf_tfidf[t]).powi(2))
            .sum::<f64>()
            .sqrt()
            .max(f64::MIN_POSITIVE);
        let mut scores = vec![0.0; self.term_counts.len()];
        for (&t, &c) in &q {
            let w = tf(c) * self.idf_tfidf[t] / norm;
            for &(item, raw, sub, _) in &self.postings[t] {
                scores[item] += w * if sublinear_tf { sub } else { raw };
            }
        }
        scores
    }

    /// BM25 of each item for the concatenated history as the query (repeated terms count).
    pub fn bm25_scores(&self, history: &[usize]) -> Vec<f64> {
        let q = self.query(history);
        let mut scores = vec![0.0; self.term_counts.len()];
        for (&t, &c) in &q {
            for &(item, _, _, x) in &self.postings[t] {
                scores[item] += c * x;
            }
        }
        scores
    }
}
