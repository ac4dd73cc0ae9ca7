//! Pooling and normalisation math on one text's token vectors, separated so it can
//! be unit-tested on tiny inputs.

/// Mean of a text's token vectors: `tokens` holds `count × dim` values row-major,
/// real tokens only (the forward pass never produces padding). An empty input
/// yields zeros instead of NaN (sentence-transformers clamps the count to 1e-9).
pub(crate) fn mean_pool(tokens: &[f32], dim: usize) -> Vec<f32> {
    let mut sum = vec![0f32; dim];
    for row in tokens.chunks_exact(dim) {
        sum.iter_mut().zip(row).for_each(|(s, v)| *s += v);
    }
    let count = (tokens.len() / dim).max(1) as f32;
    sum.iter_mut().for_each(|s| *s /= count);
    sum
}

/// The first token's vector (CLS pooling).
pub(crate) fn cls_pool(tokens: &[f32], dim: usize) -> Vec<f32> {
    tokens
        .get(..dim)
        .map_or_else(|| vec![0.0; dim], <[f32]>::to_vec)
}

/// Scales `v` to unit L2 length in place. Returns `false` (leaving `v` untouched) if
/// the vector is zero or has a non-finite component, so it cannot be normalised.
pub(crate) fn normalize_in_place(v: &mut [f32]) -> bool {
    let norm = v
        .iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        .sqrt();
    if !norm.is_finite() || norm <= f64::from(f32::MIN_POSITIVE) {
        return false;
    }
    for x in v.iter_mut() {
        *x = (f64::from(*x) / norm) as f32;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_pool_averages_tokens() {
        let tokens = [1f32, 2., 3., 4., 8., -3.];
        assert_eq!(mean_pool(&tokens, 2), vec![4.0, 1.0]);
        assert_eq!(mean_pool(&tokens[..2], 2), vec![1.0, 2.0]);
    }

    #[test]
    fn mean_pool_of_nothing_is_finite() {
        assert_eq!(mean_pool(&[], 3), vec![0.0; 3]);
    }

    #[test]
    fn cls_pool_takes_first_token() {
        assert_eq!(cls_pool(&[1f32, 2., 3., 4.], 2), vec![1.0, 2.0]);
        assert_eq!(cls_pool(&[], 2), vec![0.0, 0.0]);
    }

    #[test]
    fn normalize_gives_unit_vectors_and_rejects_zero() {
        let mut v = vec![3.0f32, 4.0];
        assert!(normalize_in_place(&mut v));
        assert_eq!(v, vec![0.6, 0.8]);
        let mut tiny = vec![1e-30f32, 0.0];
        assert!(normalize_in_place(&mut tiny));
        assert_eq!(tiny, vec![1.0, 0.0]);
        let mut zero = vec![0.0f32; 4];
        assert!(!normalize_in_place(&mut zero));
        let mut nan = vec![f32::NAN, 1.0];
        assert!(!normalize_in_place(&mut nan));
    }
}
