//! Tables for the terminal and for docs/EVALUATION.md.

use crate::metrics::{paired_t_test, summarize, UserResult, K, MRR_CUTOFF};

/// One method's per-user results on one split.
pub struct MethodResult {
    pub name: String,
    pub results: Vec<UserResult>,
}

/// Methods evaluated on the same users; `reference` is the row the others are compared with.
pub struct Table {
    pub title: String,
    pub catalogue_size: usize,
    /// Each item's popularity percentile in the histories the methods learned from.
    pub popularity_percentiles: Vec<f64>,
    pub methods: Vec<MethodResult>,
    pub reference: usize,
}

fn ndcgs(r: &[UserResult]) -> Vec<f64> {
    r.iter().map(UserResult::ndcg).collect()
}

impl Table {
    /// Markdown: metrics per method and the paired nDCG@10 test of the reference against it.
    pub fn markdown(&self) -> String {
        let reference = &self.methods[self.reference];
        let users = reference.results.len();
        let mut s = format!(
            "#### {}\n\n{} users, {} items. Δ = {} minus the method, per-user nDCG@{K}, \
             mean ± standard error; p from a two-sided paired t-test.\n\n\
             | method | HR@{K} | nDCG@{K} | MRR@{MRR_CUTOFF} | coverage@{K} | popularity pct@{K} | Δ nDCG@{K} ± SE | t | p |\n\
             |---|---|---|---|---|---|---|---|---|\n",
            self.title, users, self.catalogue_size, reference.name
        );
        for (i, m) in self.methods.iter().enumerate() {
            let sum = summarize(&m.results, &self.popularity_percentiles);
            let test = if i == self.reference || users < 2 {
                "| | | ".to_string()
            } else {
                let t = paired_t_test(&ndcgs(&reference.results), &ndcgs(&m.results));
                format!(
                    "| {:+.4} ± {:.4} | {:.2} | {} |",
                    t.mean_diff,
                    t.std_err,
                    t.t,
                    format_p(t.p_value)
                )
            };
            let name = if i == self.reference {
                format!("**{}**", m.name)
            } else {
                m.name.clone()
            };
            s.push_str(&format!(
                "| {name} | {:.3} | {:.3} | {:.3} | {:.3} | {:.1} {test}\n",
                sum.hr, sum.ndcg, sum.mrr, sum.coverage, sum.popularity_percentile
            ));
        }
        s
    }
}

pub fn format_p(p: f64) -> String {
    if p < 1e-4 {
        "< 0.0001".into()
    } else {
        format!("{p:.4}")
    }
}
