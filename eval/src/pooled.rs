//! The paired test pooled over tables: every user row of every table (catalogue ×
//! rating mode) is one pair (the default's nDCG@10, the method's), so the goals of
//! issue #16 ("ahead … significantly on the paired test pooled over the four") are
//! judged on one test. A method is matched across tables by its family: its label
//! before any ':' or a parenthesis of tuned values, and without trailing numbers (EASE's λ and the prior's
//! weight are tuned per catalogue).

use crate::metrics::{paired_t_test, UserResult};
use crate::report::{format_p, Table};

/// The family of a method label: "EASE (λ = 50)" → "EASE",
/// "BM25 + popularity prior 1.5" → "BM25 + popularity prior".
pub fn family(name: &str) -> String {
    let head = name.split(':').next().unwrap_or(name);
    // A parenthesis of tuned values ("λ = 50") is dropped; one that names a variant
    // ("sublinear tf, stop words removed") is part of the family.
    let head = match head.split_once(" (") {
        Some((h, rest)) if rest.contains('=') => h,
        _ => head,
    };
    let mut words: Vec<&str> = head.split_whitespace().collect();
    while words.last().is_some_and(|w| w.parse::<f64>().is_ok()) {
        words.pop();
    }
    words.join(" ")
}

/// Markdown: the default against each method family present in every table.
pub fn markdown(tables: &[Table]) -> String {
    let Some(first) = tables.first() else {
        return String::new();
    };
    let mut s = format!(
        "\n## Paired test pooled over the {} test tables\n\n\
         Each user row of each table is one pair (the default's nDCG@10, the method's); \
         Δ = default minus method, mean ± standard error, two-sided paired t-test. \
         Methods are matched by family across tables (their tuned values differ).\n\n\
         | method family | pairs | Δ nDCG@10 ± SE | t | p |\n|---|---|---|---|---|\n",
        tables.len()
    );
    for (i, m) in first.methods.iter().enumerate() {
        if i == first.reference {
            continue;
        }
        let fam = family(&m.name);
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        let mut everywhere = true;
        for t in tables {
            let Some(other) = t
                .methods
                .iter()
                .enumerate()
                .find(|(j, o)| *j != t.reference && family(&o.name) == fam)
            else {
                everywhere = false;
                break;
            };
            ours.extend(t.methods[t.reference].results.iter().map(UserResult::ndcg));
            theirs.extend(other.1.results.iter().map(UserResult::ndcg));
        }
        if !everywhere || ours.len() < 2 {
            continue;
        }
        let test = paired_t_test(&ours, &theirs);
        s.push_str(&format!(
            "| {fam} | {} | {:+.4} ± {:.4} | {:.2} | {} |\n",
            ours.len(),
            test.mean_diff,
            test.std_err,
            test.t,
            format_p(test.p_value)
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_drop_tuned_values() {
        assert_eq!(family("EASE (λ = 50)"), "EASE");
        assert_eq!(
            family("BM25 + popularity prior 1.5"),
            "BM25 + popularity prior"
        );
        assert_eq!(family("item-kNN (k = 400, shrinkage = 0)"), "item-kNN");
        assert_eq!(
            family("semrec semantic only: max-sim, last 10"),
            "semrec semantic only"
        );
        assert_eq!(family("popularity"), "popularity");
        // Two TF-IDF variants are two families, not one counted twice.
        assert_ne!(
            family("TF-IDF (raw tf, all words)"),
            family("TF-IDF (sublinear tf, stop words removed)")
        );
    }
}
