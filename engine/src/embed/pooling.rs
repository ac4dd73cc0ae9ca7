//! Pooling and normalisation math, separated so it can be unit-tested on tiny tensors.

use candle_core::{Result, Tensor};

/// Masked mean over the sequence axis.
///
/// `hidden`: `(batch, seq, hidden)` float; `mask`: `(batch, seq)`, 1 for real tokens
/// and 0 for padding (any dtype). Padding contributes neither to the sum nor to the
/// count; a row with no real token yields zeros instead of NaN (the count is clamped
/// to 1e-9 as sentence-transformers does).
pub(crate) fn mean_pool(hidden: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let mask = mask.to_dtype(hidden.dtype())?.unsqueeze(2)?; // (b, seq, 1)
    let summed = hidden.broadcast_mul(&mask)?.sum(1)?; // (b, hidden)
    let counts = mask.sum(1)?.clamp(1e-9f64, f64::MAX)?; // (b, 1)
    summed.broadcast_div(&counts)
}

/// The first token's vector of every row: `(batch, seq, hidden)` → `(batch, hidden)`.
pub(crate) fn cls_pool(hidden: &Tensor) -> Result<Tensor> {
    hidden.narrow(1, 0, 1)?.squeeze(1)
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
    use candle_core::{DType, Device};

    fn hidden() -> Tensor {
        // batch 2, seq 3, hidden 2.
        Tensor::new(
            &[
                [[1f32, 2.], [3., 4.], [100., -100.]],
                [[-1f32, 5.], [7., 1.], [2., 2.]],
            ],
            &Device::Cpu,
        )
        .unwrap()
    }

    #[test]
    fn mean_pool_excludes_padding() {
        let mask = Tensor::new(&[[1u32, 1, 0], [1, 1, 1]], &Device::Cpu).unwrap();
        let pooled = mean_pool(&hidden(), &mask)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert_eq!(pooled, vec![vec![2.0, 3.0], vec![8.0 / 3.0, 8.0 / 3.0]]);
    }

    #[test]
    fn mean_pool_accepts_float_mask_and_single_token() {
        let mask = Tensor::new(&[[1f32, 0., 0.], [0., 0., 1.]], &Device::Cpu).unwrap();
        let pooled = mean_pool(&hidden(), &mask)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert_eq!(pooled, vec![vec![1.0, 2.0], vec![2.0, 2.0]]);
    }

    #[test]
    fn mean_pool_all_padding_is_finite() {
        let mask = Tensor::zeros((2, 3), DType::U32, &Device::Cpu).unwrap();
        let pooled = mean_pool(&hidden(), &mask)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert!(pooled.iter().flatten().all(|x| *x == 0.0), "{pooled:?}");
    }

    #[test]
    fn cls_pool_takes_first_token() {
        let pooled = cls_pool(&hidden()).unwrap().to_vec2::<f32>().unwrap();
        assert_eq!(pooled, vec![vec![1.0, 2.0], vec![-1.0, 5.0]]);
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
