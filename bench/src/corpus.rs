//! The benchmark's data: the real demo catalog, query profiles made from it, and
//! derived item vectors (real vectors plus Gaussian noise) to reach 100k–1M items.

use std::path::Path;

use anyhow::{ensure, Context, Result};
use engine::catalog::{parse_import, ImportFormat, ParsedImport, ValidItem};
use engine::profile::{HistoryEntry, Profile};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Reads and validates a catalog file with the engine's own import parser.
pub fn read_catalog(path: &Path) -> Result<ParsedImport> {
    let file = std::fs::File::open(path).with_context(|| {
        format!(
            "cannot open {}: run scripts/fetch-demo-data.sh",
            path.display()
        )
    })?;
    let parsed = parse_import(
        std::io::BufReader::new(file),
        ImportFormat::from_name(&path.to_string_lossy()),
    )
    .with_context(|| format!("cannot read {}", path.display()))?;
    ensure!(
        !parsed.items.is_empty(),
        "{} holds no valid items",
        path.display()
    );
    Ok(parsed)
}

/// `count` deterministic profiles of about 20 tokens: two genres the catalog uses
/// and two titles it holds, the way a user fills in the home page.
pub fn query_profiles(items: &[ValidItem], count: usize, seed: u64) -> Vec<Profile> {
    let mut genres: Vec<&str> = items
        .iter()
        .flat_map(|i| i.tags.iter().map(String::as_str))
        .collect();
    genres.sort_unstable();
    genres.dedup();
    // Genres are the tags many items share; one-off user tags make poor interests.
    let common: Vec<&str> = genres
        .into_iter()
        .filter(|g| {
            items
                .iter()
                .filter(|i| i.tags.iter().any(|t| t == g))
                .count()
                >= 100
        })
        .collect();
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count)
        .map(|_| {
            let g1 = common[rng.gen_range(0..common.len())];
            let mut g2 = common[rng.gen_range(0..common.len())];
            if g2 == g1 {
                g2 = common[(common.iter().position(|g| *g == g1).unwrap_or(0) + 1) % common.len()];
            }
            let t1 = &items[rng.gen_range(0..items.len())].title;
            let t2 = &items[rng.gen_range(0..items.len())].title;
            Profile {
                interests: vec![g1.to_string(), g2.to_string()],
                history: vec![
                    HistoryEntry::Text { text: t1.clone() },
                    HistoryEntry::Text { text: t2.clone() },
                ],
                classes: vec![],
                about: String::new(),
                not_interested: vec![],
            }
        })
        .collect()
}

/// How item vectors beyond the real ones are made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Derivation {
    /// Real vector `i mod n` plus isotropic Gaussian noise: every real item gets
    /// N/n noisy near-copies (≈ 11 at 100k), a cluster of near-ties around it.
    Noise,
    /// `t·a + (1−t)·b` of two real vectors (a = `i mod n`, b drawn at random,
    /// t uniform in [0, 1]) plus a little noise: new items lie between real
    /// ones, on the real data's span, mostly not near-duplicates of any one.
    Mix,
}

/// Makes item vectors beyond the real ones (see [`Derivation`]), re-normalised
/// to unit length; deterministic for a seed.
pub struct VectorDeriver {
    rng: StdRng,
    sigma: f32,
    mode: Derivation,
}

impl VectorDeriver {
    /// `noise` is the expected norm of the Gaussian noise vector.
    pub fn new(mode: Derivation, noise: f32, dims: usize, seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            sigma: noise / (dims as f32).sqrt(),
            mode,
        }
    }

    /// The vector of derived item `i` and the real item whose text it borrows.
    pub fn derive(&mut self, i: usize, base: &[Vec<f32>]) -> (usize, Vec<f32>) {
        let a = i % base.len();
        let mut v: Vec<f32> = match self.mode {
            Derivation::Noise => base[a].clone(),
            Derivation::Mix => {
                let b = self.rng.gen_range(0..base.len());
                let t: f32 = self.rng.gen();
                base[a]
                    .iter()
                    .zip(&base[b])
                    .map(|(x, y)| t * x + (1.0 - t) * y)
                    .collect()
            }
        };
        for x in &mut v {
            *x += self.sigma * self.gaussian();
        }
        engine::profile::normalize(&mut v);
        (a, v)
    }

    /// Standard normal sample (Box–Muller; one of the pair is enough here).
    fn gaussian(&mut self) -> f32 {
        let u1: f32 = self.rng.gen_range(f32::EPSILON..1.0);
        let u2: f32 = self.rng.gen();
        (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_vectors_are_unit_length_and_close_to_their_base() {
        let dims = 384;
        let mut base = vec![0f32; dims];
        base[0] = 1.0;
        let base = vec![base];
        let mut d = VectorDeriver::new(Derivation::Noise, 0.4, dims, 7);
        let mut cos_sum = 0.0;
        for i in 0..200 {
            let (source, v) = d.derive(i, &base);
            assert_eq!(source, 0);
            let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-4);
            cos_sum += v[0];
        }
        // Noise of norm 0.4 against a unit vector: cosine ≈ 1/sqrt(1 + 0.16) ≈ 0.93.
        let mean = cos_sum / 200.0;
        assert!((mean - 0.928).abs() < 0.02, "mean cosine {mean}");
    }

    #[test]
    fn mixed_vectors_lie_between_two_real_ones() {
        let dims = 384;
        let axis = |k: usize| {
            let mut v = vec![0f32; dims];
            v[k] = 1.0;
            v
        };
        let base: Vec<Vec<f32>> = (0..10).map(axis).collect();
        let mut d = VectorDeriver::new(Derivation::Mix, 0.05, dims, 7);
        let mut spread = Vec::new();
        for i in 0..300 {
            let (source, v) = d.derive(i, &base);
            assert_eq!(source, i % 10);
            let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-4);
            // Almost all of the vector is in the span of the real ones.
            let in_span: f32 = v[..10].iter().map(|x| x * x).sum();
            assert!(in_span > 0.98, "{in_span}");
            spread.push(v[source]);
        }
        // Cosine to the source item spreads out (t is uniform): no tight cluster.
        let near_copies = spread.iter().filter(|c| **c > 0.95).count();
        assert!(near_copies < 150, "{near_copies} of 300 are near-copies");
        assert!(spread.iter().any(|c| *c < 0.5));
    }
}
