//! LDA baseline: a topic model of the item texts fitted by collapsed Gibbs sampling
//! (Griffiths & Steyvers 2004); a user is the mean topic mixture of the history items,
//! and items are ranked by the cosine between their mixture and the user's.

use std::collections::{HashMap, HashSet};

use rand::{Rng, SeedableRng};

use crate::baselines::{tokenize, STOP_WORDS};

/// Settings of the topic model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LdaOptions {
    pub topics: usize,
    /// Gibbs sweeps over every token.
    pub iterations: usize,
    /// The last this many sweeps are averaged into the topic mixtures (one sample is noisy).
    pub samples: usize,
    /// Symmetric Dirichlet prior of the document-topic mixtures.
    pub alpha: f64,
    /// Symmetric Dirichlet prior of the topic-word distributions.
    pub beta: f64,
    /// Words in fewer documents than this are dropped: a word of one document links
    /// nothing and only costs sampling time.
    pub min_df: usize,
    pub seed: u64,
}

impl Default for LdaOptions {
    /// 64 topics as in the reference; Mallet's priors (alpha = 5 / K, beta = 0.01)
    /// suit short texts better than 50 / K, which would flatten a title-only item's mixture.
    /// 200 sweeps, fixed for both catalogues: fitting takes 0.9 s on the 451 plots and
    /// 1.9 s on the 9,125-item catalogue (opt-level 3, as `scripts/eval.sh` builds it);
    /// the cost is sweeps × tokens × topics, so a bigger catalogue should lower the sweeps.
    fn default() -> Self {
        Self {
            topics: 64,
            iterations: 200,
            samples: 20,
            alpha: 5.0 / 64.0,
            beta: 0.01,
            min_df: 2,
            seed: 42,
        }
    }
}

impl LdaOptions {
    pub fn label(&self) -> String {
        format!(
            "LDA-{} (Gibbs, {} sweeps, seed {})",
            self.topics, self.iterations, self.seed
        )
    }
}

/// A fitted topic model: one topic mixture per item.
pub struct Lda {
    topics: usize,
    /// Per item, its topic mixture (sums to 1), averaged over the last sweeps.
    theta: Vec<Vec<f64>>,
}

impl Lda {
    /// Fits the model on `texts` (tokenised like the TF-IDF baseline, stop words removed).
    /// Deterministic for a given `options.seed`.
    pub fn fit(texts: &[String], options: &LdaOptions) -> Self {
        let k = options.topics.max(1);
        let docs = vocabulary(texts, options.min_df);
        let n_words = docs.iter().flatten().max().map_or(0, |&w| w + 1);
        let mut rng = rand::rngs::StdRng::seed_from_u64(options.seed);

        // Counts: word-major topic counts for cache locality in the inner loop.
        let mut n_wk = vec![0u32; n_words * k];
        let mut n_dk = vec![vec![0u32; k]; docs.len()];
        let mut n_k = vec![0u32; k];
        let mut z: Vec<Vec<usize>> = docs
            .iter()
            .enumerate()
            .map(|(d, words)| {
                words
                    .iter()
                    .map(|&w| {
                        let t = rng.gen_range(0..k);
                        n_wk[w * k + t] += 1;
                        n_dk[d][t] += 1;
                        n_k[t] += 1;
                        t
                    })
                    .collect()
            })
            .collect();

        let v_beta = n_words as f64 * options.beta;
        let samples = options.samples.clamp(1, options.iterations.max(1));
        let mut theta_sum = vec![vec![0.0; k]; docs.len()];
        let mut p = vec![0.0; k];
        // 1 / (n_t + Vβ), kept current as the counts change (saves a division per topic).
        let mut inv_den: Vec<f64> = n_k.iter().map(|&c| 1.0 / (f64::from(c) + v_beta)).collect();
        for sweep in 0..options.iterations.max(1) {
            for (d, words) in docs.iter().enumerate() {
                for (i, &w) in words.iter().enumerate() {
                    let old = z[d][i];
                    n_wk[w * k + old] -= 1;
                    n_dk[d][old] -= 1;
                    n_k[old] -= 1;
                    inv_den[old] = 1.0 / (f64::from(n_k[old]) + v_beta);
                    // p(z = t | rest) ∝ (n_dt + α)(n_wt + β) / (n_t + Vβ), as a running sum.
                    let row = &n_wk[w * k..(w + 1) * k];
                    let mut total = 0.0;
                    for (((c, &nd), &nw), &inv) in p.iter_mut().zip(&n_dk[d]).zip(row).zip(&inv_den)
                    {
                        total +=
                            (f64::from(nd) + options.alpha) * (f64::from(nw) + options.beta) * inv;
                        *c = total;
                    }
                    let u = rng.gen::<f64>() * total;
                    let new = p.iter().position(|&c| u < c).unwrap_or(k - 1);
                    z[d][i] = new;
                    n_wk[w * k + new] += 1;
                    n_dk[d][new] += 1;
                    n_k[new] += 1;
                    inv_den[new] = 1.0 / (f64::from(n_k[new]) + v_beta);
                }
            }
            if sweep + samples >= options.iterations.max(1) {
                for (acc, counts) in theta_sum.iter_mut().zip(&n_dk) {
                    let len: f64 = counts.iter().map(|&c| f64::from(c)).sum();
                    let norm = len + k as f64 * options.alpha;
                    for (a, &c) in acc.iter_mut().zip(counts) {
                        *a += (f64::from(c) + options.alpha) / norm;
                    }
                }
            }
        }
        let theta = theta_sum
            .into_iter()
            .map(|t| t.into_iter().map(|x| x / samples as f64).collect())
            .collect();
        Self { topics: k, theta }
    }

    pub fn topics(&self) -> usize {
        self.topics
    }

    /// The topic mixture of item `item`.
    pub fn mixture(&self, item: usize) -> &[f64] {
        &self.theta[item]
    }

    /// The most probable topic of item `item` (lowest index on ties).
    pub fn dominant_topic(&self, item: usize) -> usize {
        self.theta[item]
            .iter()
            .enumerate()
            .fold((0, f64::MIN), |a, (t, &x)| if x > a.1 { (t, x) } else { a })
            .0
    }

    /// Cosine between the mean mixture of the history items and each item's mixture.
    pub fn scores(&self, history: &[usize]) -> Vec<f64> {
        let mut user = vec![0.0; self.topics];
        for &i in history {
            for (u, x) in user.iter_mut().zip(&self.theta[i]) {
                *u += x;
            }
        }
        let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
        let un = norm(&user).max(f64::MIN_POSITIVE);
        self.theta
            .iter()
            .map(|t| {
                let dot: f64 = t.iter().zip(&user).map(|(a, b)| a * b).sum();
                dot / (un * norm(t).max(f64::MIN_POSITIVE))
            })
            .collect()
    }
}

/// Each text as word ids: [`tokenize`]d, [`STOP_WORDS`] removed, words in fewer than
/// `min_df` texts dropped; ids in order of first appearance (deterministic).
fn vocabulary(texts: &[String], min_df: usize) -> Vec<Vec<usize>> {
    let stop: HashSet<&str> = STOP_WORDS.iter().copied().collect();
    let tokens: Vec<Vec<String>> = texts
        .iter()
        .map(|t| {
            tokenize(t)
                .into_iter()
                .filter(|w| !stop.contains(w.as_str()))
                .collect()
        })
        .collect();
    let mut df: HashMap<&str, usize> = HashMap::new();
    for doc in &tokens {
        let seen: HashSet<&str> = doc.iter().map(String::as_str).collect();
        for w in seen {
            *df.entry(w).or_default() += 1;
        }
    }
    let mut ids: HashMap<&str, usize> = HashMap::new();
    tokens
        .iter()
        .map(|doc| {
            doc.iter()
                .filter(|w| df[w.as_str()] >= min_df)
                .map(|w| {
                    let next = ids.len();
                    *ids.entry(w.as_str()).or_insert(next)
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two vocabularies that never meet: space films and cooking films.
    fn corpus() -> Vec<String> {
        let space = [
            "rocket astronaut orbit planet rocket galaxy",
            "astronaut planet galaxy orbit station rocket",
            "galaxy station rocket astronaut orbit planet",
            "orbit planet astronaut station galaxy rocket",
        ];
        let food = [
            "chef kitchen recipe bread oven pasta",
            "recipe bread chef pasta kitchen sauce",
            "pasta sauce oven chef recipe kitchen",
            "kitchen oven bread sauce pasta recipe",
        ];
        space
            .iter()
            .zip(&food)
            .flat_map(|(a, b)| [a.to_string(), b.to_string()])
            .collect()
    }

    fn options() -> LdaOptions {
        LdaOptions {
            topics: 2,
            iterations: 100,
            samples: 10,
            alpha: 0.1,
            beta: 0.01,
            min_df: 2,
            seed: 7,
        }
    }

    #[test]
    fn separated_vocabularies_get_separate_topics_and_rankings() {
        // Items alternate: even = space, odd = food.
        let texts = corpus();
        let lda = Lda::fit(&texts, &options());
        let space = lda.dominant_topic(0);
        let food = lda.dominant_topic(1);
        assert_ne!(space, food, "the two vocabularies share a topic");
        for i in 0..texts.len() {
            let expected = if i % 2 == 0 { space } else { food };
            assert_eq!(lda.dominant_topic(i), expected, "item {i}");
            assert!(
                lda.mixture(i)[expected] > 0.8,
                "item {i}: {:?}",
                lda.mixture(i)
            );
            let sum: f64 = lda.mixture(i).iter().sum();
            assert!((sum - 1.0).abs() < 1e-9);
        }
        // A space-film history ranks every other space film above every food film.
        let history = [0usize, 2];
        let exclude: HashSet<usize> = history.iter().copied().collect();
        let ranking = crate::baselines::rank_by_scores(&lda.scores(&history), &exclude);
        assert_eq!(ranking.len(), 6);
        assert!(ranking[..2].iter().all(|i| i % 2 == 0), "{ranking:?}");
        assert!(ranking[2..].iter().all(|i| i % 2 == 1), "{ranking:?}");
    }

    #[test]
    fn fit_is_deterministic_for_a_seed_and_drops_rare_and_stop_words() {
        let mut texts = corpus();
        // Only stop words and a word of one document: an empty document, uniform mixture.
        texts.push("the and of hapaxlegomenon".into());
        let a = Lda::fit(&texts, &options());
        let b = Lda::fit(&texts, &options());
        assert_eq!(a.theta, b.theta);
        let last = a.mixture(texts.len() - 1);
        assert!(last.iter().all(|&x| (x - 0.5).abs() < 1e-12), "{last:?}");
        assert_eq!(vocabulary(&texts, 2)[texts.len() - 1], Vec::<usize>::new());
    }
}
