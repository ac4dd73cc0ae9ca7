//! Element-wise kernels of the forward pass on plain slices: softmax, layer norm
//! and the feed-forward activation.
//!
//! libm's `expf`/`erff` are opaque calls, so loops over them stay scalar; in a
//! profile `erf` (GELU) was ≈ 9% and `exp` (softmax) ≈ 7% of the forward pass.
//! Here both are branch-free polynomials the compiler vectorises, accurate to a
//! few f32 ulps (tests below bound them against f64). Each public kernel is
//! compiled three times (AVX-512, AVX2, baseline SSE2) and picks the widest the
//! CPU has at run time; the three give identical results (no FMA contraction,
//! fixed reduction order), so which one ran never changes a vector.

use candle_transformers::models::bert::HiddenAct;

/// Defines `fn $name(args)` that runs `$body` compiled for the best x86-64 level
/// the CPU supports.
macro_rules! multiversion {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) {
            #[inline(always)]
            fn generic($($arg: $ty),*) $body

            #[cfg(target_arch = "x86_64")]
            {
                /// # Safety
                /// The CPU has every feature this is compiled for.
                #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")]
                unsafe fn v4($($arg: $ty),*) {
                    generic($($arg),*)
                }
                /// # Safety
                /// The CPU has every feature this is compiled for.
                #[target_feature(enable = "avx2,fma")]
                unsafe fn v3($($arg: $ty),*) {
                    generic($($arg),*)
                }
                if std::is_x86_feature_detected!("avx512f")
                    && std::is_x86_feature_detected!("avx512bw")
                    && std::is_x86_feature_detected!("avx512dq")
                    && std::is_x86_feature_detected!("avx512vl")
                {
                    // SAFETY: the CPU has every feature `v4` is compiled for.
                    return unsafe { v4($($arg),*) };
                }
                if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                    // SAFETY: as above, for `v3`.
                    return unsafe { v3($($arg),*) };
                }
            }
            generic($($arg),*)
        }
    };
}

/// e^x for finite x, relative error ≤ 2e-7 (Cephes `expf`: range reduction by ln 2,
/// degree-5 polynomial). Inputs below -87 give ≈ 1e-38 instead of a denormal or 0,
/// which is 0 for every use here (softmax weights, erf tails).
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split in two so that n·ln2 is subtracted without rounding error.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5·2^23: adding and subtracting it rounds to the nearest integer (vectorisable,
    // unlike `f32::round`).
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let t = x * LOG2E + ROUND;
    let n = t - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.987_569_1e-4;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 5e-1;
    let y = p * r * r + r + 1.0;
    // 2^n built from its exponent bits (n ∈ [-126, 127] after the clamp). n is read
    // from t's low mantissa bits (t's ulp is 1), integer ops that vectorise, where
    // `n as i32` (a saturating conversion) does not.
    let n_int = t.to_bits().wrapping_sub(ROUND.to_bits());
    let scale = f32::from_bits(n_int.wrapping_add(127) << 23);
    y * scale
}

/// erf(x) with |error| ≤ 1.5e-7 in exact arithmetic, ≈ 5.4e-7 in f32 (Abramowitz & Stegun 7.1.26).
#[inline(always)]
fn erf(x: f32) -> f32 {
    const P: f32 = 0.327_591_1;
    const A: [f32; 5] = [
        0.254_829_6,
        -0.284_496_74,
        1.421_413_7,
        -1.453_152_1,
        1.061_405_4,
    ];
    let ax = x.abs();
    let t = 1.0 / (1.0 + P * ax);
    let poly = t * (A[0] + t * (A[1] + t * (A[2] + t * (A[3] + t * A[4]))));
    let y = 1.0 - poly * exp(-ax * ax);
    y.copysign(x)
}

#[inline(always)]
fn gelu_erf(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

#[inline(always)]
fn gelu_tanh(x: f32) -> f32 {
    const C: f32 = 0.797_884_6; // sqrt(2/π)
                                // tanh(u) = 1 - 2/(e^{2u} + 1), with the vectorisable exp.
    let u = C * (x + 0.044_715 * x * x * x);
    let tanh = 1.0 - 2.0 / (exp(2.0 * u) + 1.0);
    0.5 * x * (1.0 + tanh)
}

/// Sum of `f(v)` over `values` in 8 interleaved partial sums, so that it vectorises
/// (a sequential float sum cannot be reordered by the compiler).
#[inline(always)]
fn lane_sum(values: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut lanes = [0f32; 8];
    let chunks = values.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().map(|&v| f(v)).sum();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += f(v);
        }
    }
    lanes.iter().sum::<f32>() + tail
}

multiversion! {
    /// Applies `act` to every value in place.
    pub(crate) fn activate_in_place(act: HiddenAct, values: &mut [f32]) {
        match act {
            HiddenAct::Gelu => values.iter_mut().for_each(|v| *v = gelu_erf(*v)),
            HiddenAct::GeluApproximate => values.iter_mut().for_each(|v| *v = gelu_tanh(*v)),
            HiddenAct::Relu => values.iter_mut().for_each(|v| *v = v.max(0.0)),
        }
    }
}

multiversion! {
    /// Softmax of each `width`-wide row of `scores`, in place.
    pub(crate) fn softmax_rows(scores: &mut [f32], width: usize) {
        for row in scores.chunks_exact_mut(width) {
            let mut lanes = [f32::NEG_INFINITY; 8];
            let chunks = row.chunks_exact(8);
            let mut max = chunks.remainder().iter().copied().fold(f32::NEG_INFINITY, f32::max);
            for chunk in chunks {
                for (lane, &v) in lanes.iter_mut().zip(chunk) {
                    *lane = if v > *lane { v } else { *lane };
                }
            }
            max = lanes.iter().copied().fold(max, f32::max);
            row.iter_mut().for_each(|v| *v = exp(*v - max));
            let inv = 1.0 / lane_sum(row, |v| v);
            row.iter_mut().for_each(|v| *v *= inv);
        }
    }
}

multiversion! {
    /// Layer norm of each `weight.len()`-wide row of `x`, in place (two-pass mean
    /// and variance, like torch).
    pub(crate) fn layer_norm_rows(x: &mut [f32], weight: &[f32], bias: &[f32], eps: f32) {
        let dim = weight.len();
        let inv_dim = 1.0 / dim as f32;
        for row in x.chunks_exact_mut(dim) {
            let mean = lane_sum(row, |v| v) * inv_dim;
            let var = lane_sum(row, |v| (v - mean) * (v - mean)) * inv_dim;
            let inv_std = 1.0 / (var + eps).sqrt();
            for ((v, w), b) in row.iter_mut().zip(weight).zip(bias) {
                *v = (*v - mean) * inv_std * w + b;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};

    fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max)
    }

    #[test]
    fn exp_is_within_bound_of_exact() {
        let mut worst = 0f64;
        for i in -87_000..=88_000 {
            let x = i as f32 / 1000.0;
            let exact = f64::from(x).exp();
            worst = worst.max(((f64::from(exp(x)) - exact) / exact).abs());
        }
        assert!(worst < 2e-7, "max relative exp error {worst}");
        assert_eq!(exp(0.0), 1.0);
        assert!(exp(-1e4) < 1e-37 && exp(f32::NEG_INFINITY) < 1e-37);
    }

    #[test]
    fn erf_is_within_bound_of_exact() {
        let mut worst = 0f64;
        for i in -4000..=4000 {
            let x = i as f32 / 500.0;
            let exact = candle_core::cpu::erf::erf_f64(f64::from(x));
            worst = worst.max((f64::from(erf(x)) - exact).abs());
        }
        assert!(worst < 1e-6, "max |erf error| {worst}");
        assert_eq!(erf(f32::INFINITY), 1.0);
        assert_eq!(erf(f32::NEG_INFINITY), -1.0);
    }

    #[test]
    fn activations_match_candle() {
        let x = Tensor::arange(-600f32, 600., &Device::Cpu)
            .unwrap()
            .affine(0.01, 0.0)
            .unwrap();
        let values = x.to_vec1::<f32>().unwrap();
        for (act, want) in [
            (HiddenAct::Gelu, x.gelu_erf().unwrap()),
            (HiddenAct::GeluApproximate, x.gelu().unwrap()),
            (HiddenAct::Relu, x.relu().unwrap()),
        ] {
            let mut got = values.clone();
            activate_in_place(act, &mut got);
            let diff = max_abs_diff(&got, &want.to_vec1::<f32>().unwrap());
            assert!(diff < 2e-6, "{act:?}: max abs diff {diff}");
        }
    }

    #[test]
    fn softmax_matches_candle() {
        // Three rows of 37 (not a multiple of 8: exercises the remainder paths).
        let scores: Vec<f32> = (0..111)
            .map(|i| ((i * 37) % 23) as f32 * 0.7 - 8.0)
            .collect();
        let t = Tensor::from_vec(scores.clone(), (3, 37), &Device::Cpu).unwrap();
        let want = candle_nn::ops::softmax_last_dim(&t)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let mut got = scores;
        softmax_rows(&mut got, 37);
        let diff = max_abs_diff(&got, &want);
        assert!(diff < 1e-7, "max abs diff {diff}");
    }

    #[test]
    fn layer_norm_matches_candle() {
        let dev = Device::Cpu;
        let x: Vec<f32> = (0..4 * 20)
            .map(|i| ((i * 53) % 31) as f32 * 0.3 - 4.0)
            .collect();
        let w: Vec<f32> = (0..20).map(|i| 0.5 + i as f32 * 0.1).collect();
        let b: Vec<f32> = (0..20).map(|i| i as f32 * 0.01 - 0.1).collect();
        let want = candle_nn::ops::layer_norm(
            &Tensor::from_vec(x.clone(), (4, 20), &dev).unwrap(),
            &Tensor::new(w.as_slice(), &dev).unwrap(),
            &Tensor::new(b.as_slice(), &dev).unwrap(),
            1e-12,
        )
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
        let mut got = x;
        layer_norm_rows(&mut got, &w, &b, 1e-12);
        let diff = max_abs_diff(&got, &want);
        assert!(diff < 2e-6, "max abs diff {diff}");
    }
}
