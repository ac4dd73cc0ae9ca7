//! The methods every test table compares: the engine's configurations through the
//! engine, then the baselines.

use super::*;

/// What every test table compares, on one catalogue and rating mode.
pub(crate) struct TestRun<'a> {
    pub(crate) data: &'a Dataset,
    pub(crate) cat: &'a Catalogue,
    pub(crate) args: &'a Args,
    pub(crate) tfidf: TfidfOptions,
    pub(crate) lda: &'a (String, Lda),
    pub(crate) chosen: &'a [Baseline],
    pub(crate) index: &'a TextIndex,
}

impl TestRun<'_> {
    /// Every method's test results for the users at `users` (indices into `splits`,
    /// whose profiles are saved as `ids`): the engine's configurations through the
    /// engine, then the baselines, which learn from every split.
    pub(crate) async fn methods(
        &self,
        splits: &[UserSplit],
        ids: &[i64],
        users: &[usize],
    ) -> Result<Vec<MethodResult>> {
        let pick = |r: Vec<UserResult>| -> Vec<UserResult> {
            users.iter().map(|&i| r[i].clone()).collect()
        };
        let user_ids: Vec<i64> = users.iter().map(|&i| ids[i]).collect();
        let user_splits: Vec<UserSplit> = users.iter().map(|&i| splits[i].clone()).collect();
        let mut methods = Vec::new();
        for (label, settings) in engine_rows() {
            methods.push(MethodResult {
                name: label,
                results: self
                    .cat
                    .recommend(&settings, &user_ids, &user_splits, Target::Test)
                    .await?,
            });
        }
        let (data, args) = (self.data, self.args);
        for m in baselines(data, splits, Target::Test, args.seed, self.tfidf, self.lda) {
            methods.push(MethodResult {
                name: m.name,
                results: pick(m.results),
            });
        }
        let ctx = collab::Context {
            splits,
            target: Target::Test,
            n_items: data.items.len(),
            text: self.index,
        };
        for (b, results) in self.chosen.iter().zip(collab::evaluate(&ctx, self.chosen)?) {
            methods.push(MethodResult {
                name: b.label(),
                results: pick(results),
            });
        }
        Ok(methods)
    }
}
