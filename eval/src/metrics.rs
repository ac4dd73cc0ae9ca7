//! Ranking metrics for one held-out item per user, and the paired t-test used
//! to compare two methods user by user.

use std::collections::HashSet;

/// List length for HR and nDCG.
pub const K: usize = 10;
/// Ranks past this count as a miss for MRR (the engine serves at most 100 per list).
pub const MRR_CUTOFF: usize = 100;

/// What one method produced for one user.
#[derive(Clone, Debug, PartialEq)]
pub struct UserResult {
    /// 1-based rank of the held-out item, if it was within [`MRR_CUTOFF`].
    pub rank: Option<usize>,
    /// The first [`K`] recommended items (catalogue indices).
    pub top: Vec<usize>,
}

impl UserResult {
    /// From a full ranking (best first): the target's rank and the top K.
    pub fn from_ranking(ranking: &[usize], target: usize) -> Self {
        let rank = ranking
            .iter()
            .take(MRR_CUTOFF)
            .position(|&i| i == target)
            .map(|p| p + 1);
        Self {
            rank,
            top: ranking.iter().take(K).copied().collect(),
        }
    }

    pub fn hit(&self) -> f64 {
        match self.rank {
            Some(r) if r <= K => 1.0,
            _ => 0.0,
        }
    }

    /// One relevant item, so the ideal DCG is 1: nDCG = 1 / log2(rank + 1) within K.
    pub fn ndcg(&self) -> f64 {
        match self.rank {
            Some(r) if r <= K => 1.0 / ((r + 1) as f64).log2(),
            _ => 0.0,
        }
    }

    pub fn reciprocal_rank(&self) -> f64 {
        self.rank.map_or(0.0, |r| 1.0 / r as f64)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub users: usize,
    pub hr: f64,
    pub ndcg: f64,
    pub mrr: f64,
    /// Share of the catalogue that appears in at least one user's top K.
    pub coverage: f64,
    /// Mean popularity percentile (0–100) of the items shown in the top K: 50 is what
    /// a uniform pick of the catalogue shows, near 100 only the most popular items.
    pub popularity_percentile: f64,
}

/// Metrics of one method; `percentiles` holds each catalogue item's popularity
/// percentile ([`popularity_percentiles`]), so its length is the catalogue size.
pub fn summarize(results: &[UserResult], percentiles: &[f64]) -> Summary {
    let n = results.len().max(1) as f64;
    let shown: HashSet<usize> = results.iter().flat_map(|r| r.top.iter().copied()).collect();
    let shown_total: usize = results.iter().map(|r| r.top.len()).sum();
    let pct_sum: f64 = results
        .iter()
        .flat_map(|r| r.top.iter())
        .map(|&i| percentiles.get(i).copied().unwrap_or(0.0))
        .sum();
    Summary {
        users: results.len(),
        hr: results.iter().map(UserResult::hit).sum::<f64>() / n,
        ndcg: results.iter().map(UserResult::ndcg).sum::<f64>() / n,
        mrr: results.iter().map(UserResult::reciprocal_rank).sum::<f64>() / n,
        coverage: shown.len() as f64 / percentiles.len().max(1) as f64,
        popularity_percentile: pct_sum / shown_total.max(1) as f64,
    }
}

/// Each item's popularity percentile in 0–100 from its interaction count (mid-rank:
/// the share of items with a lower count plus half the share with the same count).
pub fn popularity_percentiles(counts: &[f64]) -> Vec<f64> {
    let n = counts.len();
    let mut sorted: Vec<f64> = counts.to_vec();
    sorted.sort_by(f64::total_cmp);
    counts
        .iter()
        .map(|&c| {
            let below = sorted.partition_point(|&x| x < c);
            let equal = sorted.partition_point(|&x| x <= c) - below;
            100.0 * (below as f64 + 0.5 * equal as f64) / n.max(1) as f64
        })
        .collect()
}

/// Paired comparison of per-user scores `a` against `b` (same users, same order).
#[derive(Clone, Debug, PartialEq)]
pub struct PairedTest {
    pub n: usize,
    /// Mean of a − b.
    pub mean_diff: f64,
    /// Standard error of that mean: sd(a − b) / sqrt(n).
    pub std_err: f64,
    /// t = mean / standard error (0 when every difference is equal to the mean).
    pub t: f64,
    /// Two-sided p-value from Student's t with n − 1 degrees of freedom.
    pub p_value: f64,
}

/// Paired t-test on per-user differences. Needs at least two users.
pub fn paired_t_test(a: &[f64], b: &[f64]) -> PairedTest {
    assert_eq!(a.len(), b.len(), "paired test needs the same users");
    let n = a.len();
    assert!(n >= 2, "paired test needs at least two users");
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let mean = d.iter().sum::<f64>() / n as f64;
    let var = d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let std_err = (var / n as f64).sqrt();
    let (t, p_value) = if std_err == 0.0 {
        (0.0, if mean == 0.0 { 1.0 } else { 0.0 })
    } else {
        let t = mean / std_err;
        (t, student_t_two_sided(t, (n - 1) as f64))
    };
    PairedTest {
        n,
        mean_diff: mean,
        std_err,
        t,
        p_value,
    }
}

/// P(|T| >= |t|) for Student's t with `df` degrees of freedom: I_{df/(df+t²)}(df/2, 1/2).
pub fn student_t_two_sided(t: f64, df: f64) -> f64 {
    incomplete_beta(df / 2.0, 0.5, df / (df + t * t))
}

/// ln Γ(x) for x > 0 (Lanczos, about 1e-10 relative error).
fn ln_gamma(x: f64) -> f64 {
    const COF: [f64; 6] = [
        76.180_091_729_471_46,
        -86.505_320_329_416_77,
        24.014_098_240_830_91,
        -1.231_739_572_450_155,
        0.120_865_097_386_617_9e-2,
        -0.539_523_938_495_3e-5,
    ];
    let mut y = x;
    let tmp = x + 5.5;
    let tmp = tmp - (x + 0.5) * tmp.ln();
    let mut ser = 1.000_000_000_190_015;
    for c in COF {
        y += 1.0;
        ser += c / y;
    }
    -tmp + (2.506_628_274_631_000_5 * ser / x).ln()
}

/// Regularised incomplete beta I_x(a, b) by its continued fraction.
fn incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front =
        (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_fraction(a, b, x) / a
    } else {
        1.0 - front * beta_fraction(b, a, 1.0 - x) / b
    }
}

fn beta_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let clamp = |v: f64| if v.abs() < TINY { TINY } else { v };
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 / clamp(1.0 - qab * x / qap);
    let mut h = d;
    for m in 1..=500 {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 / clamp(1.0 + aa * d);
        c = clamp(1.0 + aa / c);
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 / clamp(1.0 + aa * d);
        c = clamp(1.0 + aa / c);
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn popularity_percentiles_use_mid_ranks() {
        let p = popularity_percentiles(&[0.0, 0.0, 5.0, 10.0]);
        assert_eq!(p, vec![25.0, 25.0, 62.5, 87.5]);
        let r = UserResult {
            rank: None,
            top: vec![2, 3],
        };
        assert_eq!(summarize(&[r], &p).popularity_percentile, 75.0);
    }

    #[test]
    fn student_t_matches_closed_forms() {
        // df = 1 is the Cauchy distribution: p = 1 − (2/π)·atan(|t|).
        let p1 = student_t_two_sided(1.5, 1.0);
        assert!((p1 - (1.0 - 2.0 / std::f64::consts::PI * 1.5f64.atan())).abs() < 1e-10);
        // df = 2: p = 1 − |t| / sqrt(2 + t²).
        let p2 = student_t_two_sided(-3.0, 2.0);
        assert!((p2 - (1.0 - 3.0 / 11f64.sqrt())).abs() < 1e-10);
        // Large df tends to the normal: P(|Z| > 1.96) ≈ 0.05.
        assert!((student_t_two_sided(1.959_964, 1e6) - 0.05).abs() < 1e-4);
    }
}
