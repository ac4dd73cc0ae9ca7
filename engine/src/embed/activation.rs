//! The feed-forward block's bias + activation as one pass over the matmul output.
//!
//! candle adds the bias in one pass and applies GELU in another, and its exact
//! `erf` (libm's) was ≈ 9% of the whole forward pass in a profile. Here both are
//! one loop, and `erf` uses Abramowitz & Stegun 7.1.26 (absolute error ≈ 5e-7 in f32,
//! far below the parity fixture's tolerance) at one `exp` per value.

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use candle_transformers::models::bert::HiddenAct;

/// `act(x + bias)` over a contiguous `(n, dim)` f32 tensor.
pub(crate) struct BiasAct<'a> {
    pub bias: &'a [f32],
    pub act: HiddenAct,
}

impl BiasAct<'_> {
    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.apply_op1_no_bwd(self)
    }
}

/// erf(x) with |error| ≤ 1.5e-7 in exact arithmetic, ≈ 5.4e-7 in f32 (Abramowitz & Stegun 7.1.26).
#[inline]
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
    let y = 1.0 - poly * (-ax * ax).exp();
    y.copysign(x)
}

#[inline]
fn gelu_erf(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

#[inline]
fn gelu_tanh(x: f32) -> f32 {
    const C: f32 = 0.797_884_6; // sqrt(2/π)
    0.5 * x * (1.0 + (C * (x + 0.044_715 * x * x * x)).tanh())
}

impl CustomOp1 for BiasAct<'_> {
    fn name(&self) -> &'static str {
        "bias-act"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let CpuStorage::F32(data) = storage else {
            candle_core::bail!("bias-act: expected f32");
        };
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("bias-act: expected a contiguous tensor");
        };
        let dim = self.bias.len();
        let data = &data[start..end];
        if dim == 0 || data.len() % dim != 0 {
            candle_core::bail!("bias-act: {} values are not rows of {dim}", data.len());
        }
        let mut out = Vec::with_capacity(data.len());
        for row in data.chunks_exact(dim) {
            let biased = row.iter().zip(self.bias).map(|(x, b)| x + b);
            match self.act {
                HiddenAct::Gelu => out.extend(biased.map(gelu_erf)),
                HiddenAct::GeluApproximate => out.extend(biased.map(gelu_tanh)),
                HiddenAct::Relu => out.extend(biased.map(|v| v.max(0.0))),
            }
        }
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

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
    fn matches_candle_bias_then_activation() {
        let dev = Device::Cpu;
        let x = Tensor::arange(-48f32, 48., &dev)
            .unwrap()
            .affine(0.1, 0.0)
            .unwrap()
            .reshape((8, 12))
            .unwrap();
        let bias: Vec<f32> = (0..12).map(|i| i as f32 * 0.05 - 0.3).collect();
        let b = Tensor::new(bias.as_slice(), &dev).unwrap();
        let biased = x.broadcast_add(&b).unwrap();
        for (act, want) in [
            (HiddenAct::Gelu, biased.gelu_erf().unwrap()),
            (HiddenAct::GeluApproximate, biased.gelu().unwrap()),
            (HiddenAct::Relu, biased.relu().unwrap()),
        ] {
            let got = BiasAct { bias: &bias, act }.forward(&x).unwrap();
            let diff = (got - want)
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            assert!(diff < 1e-6, "{act:?}: max abs diff {diff}");
        }
    }
}
