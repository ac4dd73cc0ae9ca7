//! Dense-layer matmuls in bf16 with f32 accumulation, for CPUs with AVX-512 BF16.
//!
//! `vdpbf16ps` multiplies 32 pairs of bf16 values and adds them into 16 f32 lanes
//! in one instruction: twice the multiply-adds of an f32 FMA, from half the bytes.
//! Weights are rounded to bf16 and packed **once at load**, in exactly the order the
//! kernel reads them (a general gemm repacks its operand on every call, which for a
//! 20-token profile costs more than the arithmetic). Activations are rounded per
//! call. The product of two bf16 values is exact in f32 and every sum is kept in
//! f32, so the only loss is rounding the inputs to 8 significant bits; the parity
//! tests hold the result to cosine ≥ 0.9999 against the reference on every fixture
//! vector.

use std::ops::Range;

/// Columns per panel: two 16-lane f32 accumulators per row.
const NR: usize = 32;
/// Rows per tile: 12 rows × 2 accumulators use 24 of the 32 vector registers.
const MR: usize = 12;
/// Rows per block: one block of activations stays in L2 while every panel passes.
const MB: usize = 120;

/// Whether this CPU has the instructions the kernel needs (checked at run time).
pub(crate) fn supported() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bf16")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `v` rounded to bf16 (round to nearest, ties to even), as its 16 bits.
pub(crate) fn bf16_bits(v: f32) -> u16 {
    if v.is_nan() {
        return 0x7FC0;
    }
    let bits = v.to_bits();
    (bits.wrapping_add(0x7FFF + ((bits >> 16) & 1)) >> 16) as u16
}

/// A `k × n` weight matrix in bf16, packed for [`PackedBf16::accumulate`]: panels of
/// [`NR`] columns; in each, row pairs `(2p, 2p + 1)` side by side, one `u32` per
/// column (row `2p` in the low half), which is the operand layout of `vdpbf16ps`.
pub(crate) struct PackedBf16 {
    data: Vec<u32>,
    k: usize,
    n: usize,
}

impl PackedBf16 {
    /// Packs `wt`, the weight stored transposed: `k × n` row-major (`in × out`).
    pub(crate) fn pack(wt: &[f32], k: usize, n: usize) -> Self {
        assert_eq!(wt.len(), k * n, "weight is not {k} × {n}");
        let pairs = k.div_ceil(2);
        let panels = n.div_ceil(NR);
        let mut data = vec![0u32; panels * pairs * NR];
        for (panel, block) in data.chunks_exact_mut(pairs * NR).enumerate() {
            for (p, lanes) in block.chunks_exact_mut(NR).enumerate() {
                for (c, lane) in lanes.iter_mut().enumerate() {
                    let col = panel * NR + c;
                    if col >= n {
                        continue;
                    }
                    let low = bf16_bits(wt[2 * p * n + col]) as u32;
                    let high = if 2 * p + 1 < k {
                        bf16_bits(wt[(2 * p + 1) * n + col]) as u32
                    } else {
                        0
                    };
                    *lane = low | (high << 16);
                }
            }
        }
        Self { data, k, n }
    }

    /// `y (m × n) += x (m × k) · W`, both row-major and contiguous, with the panels
    /// split over `threads` threads of the rayon pool (1: the calling thread only).
    ///
    /// # Panics
    /// If the CPU lacks AVX-512 BF16 (check [`supported`] before packing) or the
    /// buffers are shorter than the shapes say.
    pub(crate) fn accumulate(&self, x: &[f32], y: &mut [f32], m: usize, threads: usize) {
        assert!(supported(), "the CPU has no AVX-512 BF16");
        self.accumulate_on(Path::Avx512Bf16, x, y, m, threads);
    }

    /// [`Self::accumulate`] on `path`: the same rounding, packing, row blocks,
    /// panels, tiles and threads; only the innermost arithmetic differs.
    fn accumulate_on(&self, path: Path, x: &[f32], y: &mut [f32], m: usize, threads: usize) {
        assert!(
            path == Path::Scalar || supported(),
            "the CPU has no AVX-512 BF16"
        );
        assert!(x.len() >= m * self.k && y.len() >= m * self.n);
        if m == 0 {
            return;
        }
        let pairs = self.k.div_ceil(2);
        let mut a = vec![0u32; m * pairs];
        match path {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the CPU has AVX-512 BF16 (asserted above for this path); `x`
            // holds m·k values and `a` m·pairs.
            Path::Avx512Bf16 => unsafe { kernel::round_rows(x, m, self.k, &mut a) },
            _ => round_rows_scalar(x, m, self.k, &mut a),
        }
        let panels = self.n.div_ceil(NR);
        let threads = threads.clamp(1, panels);
        let y = SharedOut(y.as_mut_ptr());
        let run = |range: Range<usize>| {
            // SAFETY: `y` holds m·n values and `a` m·pairs (asserted and sized above),
            // the path's instructions exist (asserted); each call writes only the
            // columns of its own panels, so concurrent calls never overlap.
            unsafe { run_panels(path, self, &a, m, y.get(), range) }
        };
        if threads == 1 {
            run(0..panels);
        } else {
            let per = panels.div_ceil(threads);
            rayon::scope(|s| {
                for t in 1..threads {
                    let range = (t * per).min(panels)..((t + 1) * per).min(panels);
                    s.spawn(move |_| run(range));
                }
                run(0..per.min(panels));
            });
        }
    }
}

/// Which arithmetic runs the tiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path {
    /// `vdpbf16ps` and friends (x86-64 with AVX-512 BF16 only).
    Avx512Bf16,
    /// Plain scalar code with the same operands, order and rounding: portable, so
    /// that the packing and tiling logic is tested on every machine. Not used in
    /// production (it is many times slower than f32 gemm).
    #[cfg_attr(not(test), allow(dead_code))]
    Scalar,
}

/// The output pointer shared by the threads of one call (disjoint columns each).
#[derive(Clone, Copy)]
struct SharedOut(*mut f32);
// SAFETY: see `PackedBf16::accumulate_on`: writers touch disjoint columns.
unsafe impl Send for SharedOut {}
// SAFETY: as above; the pointer is only written through, never read shared.
unsafe impl Sync for SharedOut {}

impl SharedOut {
    fn get(self) -> *mut f32 {
        self.0
    }
}

/// [`kernel::round_rows`] in portable code: each row of `x` (m × k) to bf16 pairs
/// in `out` (m × ⌈k/2⌉ `u32`s, low half first, an odd last column paired with 0).
fn round_rows_scalar(x: &[f32], m: usize, k: usize, out: &mut [u32]) {
    let pairs = k.div_ceil(2);
    for r in 0..m {
        let row = &x[r * k..(r + 1) * k];
        for (p, slot) in out[r * pairs..(r + 1) * pairs].iter_mut().enumerate() {
            let low = bf16_bits(row[2 * p]) as u32;
            let high = row.get(2 * p + 1).map_or(0, |&v| bf16_bits(v) as u32);
            *slot = low | (high << 16);
        }
    }
}

/// One tile's operands: `rows` rows of activation pairs (row stride `pairs`), one
/// weight panel, its first `cols` (≤ [`NR`]) columns valid, and the output's
/// top-left corner (row stride `y_rs`).
#[derive(Clone, Copy)]
struct Tile {
    rows: usize,
    a: *const u32,
    b: *const u32,
    pairs: usize,
    y: *mut f32,
    y_rs: usize,
    cols: usize,
}

/// `y[:, panels] += a · W[:, panels]` for all `m` rows, in row blocks of [`MB`],
/// tiles of at most [`MR`] rows.
///
/// # Safety
/// `a` holds `m · ⌈k/2⌉` pairs, `y` points to `m × w.n` writable values that no
/// one else touches in these panels' columns during the call, and for
/// [`Path::Avx512Bf16`] the CPU has AVX-512 BF16.
unsafe fn run_panels(
    path: Path,
    w: &PackedBf16,
    a: &[u32],
    m: usize,
    y: *mut f32,
    panels: Range<usize>,
) {
    let pairs = w.k.div_ceil(2);
    let mut block = 0;
    while block < m {
        let block_end = (block + MB).min(m);
        for panel in panels.clone() {
            let col = panel * NR;
            let mut r = block;
            while r < block_end {
                let rows = MR.min(block_end - r);
                let t = Tile {
                    rows,
                    a: a[r * pairs..].as_ptr(),
                    b: w.data[panel * pairs * NR..].as_ptr(),
                    pairs,
                    // In bounds: r < m and col < n (see the contract).
                    y: y.wrapping_add(r * w.n + col),
                    y_rs: w.n,
                    cols: NR.min(w.n - col),
                };
                match path {
                    #[cfg(target_arch = "x86_64")]
                    // SAFETY: the tile's rows, pairs and columns lie inside `a`, the
                    // packed panel and `y` (contract above); the CPU has the features.
                    Path::Avx512Bf16 => unsafe { kernel::tile(t) },
                    // SAFETY: as above (no CPU features needed).
                    _ => unsafe { tile_scalar(t) },
                }
                r += rows;
            }
        }
        block = block_end;
    }
}

/// [`kernel::tile`] in portable code, with `vdpbf16ps`'s arithmetic per lane: the
/// high pair's product is added first, then the low one's, each product exact in
/// f32 and each sum rounded to nearest; the tile's sums are added to `y` at the end.
///
/// # Safety
/// As [`kernel::tile`], without the CPU requirement.
unsafe fn tile_scalar(t: Tile) {
    let widen = |bits: u32| f32::from_bits(bits << 16);
    let mut acc = [[0f32; NR]; MR];
    for p in 0..t.pairs {
        // SAFETY: the panel holds `pairs · NR` values (contract).
        let b = unsafe { std::slice::from_raw_parts(t.b.add(p * NR), NR) };
        for (r, acc) in acc.iter_mut().enumerate().take(t.rows) {
            // SAFETY: row r < rows of the activations holds `pairs` values.
            let a = unsafe { *t.a.add(r * t.pairs + p) };
            for (lane, &b) in acc.iter_mut().zip(b) {
                *lane += widen(a >> 16) * widen(b >> 16);
                *lane += widen(a & 0xFFFF) * widen(b & 0xFFFF);
            }
        }
    }
    for (r, acc) in acc.iter().enumerate().take(t.rows) {
        for (c, sum) in acc.iter().enumerate().take(t.cols) {
            // SAFETY: row r < rows, column c < cols of the output (contract).
            unsafe { *t.y.add(r * t.y_rs + c) += sum };
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod kernel {
    use super::{bf16_bits, Tile, NR};
    use std::arch::x86_64::*;

    /// Rounds each row of `x` (m × k) to bf16 pairs in `out` (m × ⌈k/2⌉ `u32`s, an odd
    /// last column paired with zero).
    ///
    /// # Safety
    /// The CPU has AVX-512F and AVX-512 BF16; `x` holds `m · k` values and `out`
    /// `m · ⌈k/2⌉`.
    #[target_feature(enable = "avx512f,avx512bf16")]
    pub(super) unsafe fn round_rows(x: &[f32], m: usize, k: usize, out: &mut [u32]) {
        let pairs = k.div_ceil(2);
        for r in 0..m {
            let src = &x[r * k..(r + 1) * k];
            let dst = out[r * pairs..(r + 1) * pairs].as_mut_ptr() as *mut u16;
            let mut i = 0;
            while i + 32 <= k {
                // SAFETY: i + 32 ≤ k: both 16-lane loads and the 32-lane store stay
                // inside the row (`dst` has 2·pairs ≥ k slots).
                unsafe {
                    let low = _mm512_loadu_ps(src.as_ptr().add(i));
                    let high = _mm512_loadu_ps(src.as_ptr().add(i + 16));
                    // The second operand fills the lower 16 lanes.
                    let both: __m512i = std::mem::transmute(_mm512_cvtne2ps_pbh(high, low));
                    _mm512_storeu_si512(dst.add(i).cast(), both);
                }
                i += 32;
            }
            for (j, &v) in src.iter().enumerate().skip(i) {
                // SAFETY: j < k ≤ 2·pairs slots of this row.
                unsafe { *dst.add(j) = bf16_bits(v) };
            }
            if k % 2 == 1 {
                // SAFETY: k < 2·pairs when k is odd: the pad slot of the last pair.
                unsafe { *dst.add(k) = 0 };
            }
        }
    }

    /// `y[rows × cols] += a[rows × 2·pairs] · b[2·pairs × NR]`, accumulators in
    /// registers.
    ///
    /// # Safety
    /// The CPU has AVX-512F and AVX-512 BF16; `t.a` holds `rows` rows of `pairs`
    /// values, `t.b` a packed panel of `pairs · NR` values, and `t.y` `rows` rows
    /// (stride `y_rs`) of at least `cols` writable values.
    #[target_feature(enable = "avx512f,avx512bf16")]
    pub(super) unsafe fn tile(t: Tile) {
        // SAFETY: the caller's contract is this function's.
        unsafe {
            match t.rows {
                12 => tile_rows::<12>(t),
                11 => tile_rows::<11>(t),
                10 => tile_rows::<10>(t),
                9 => tile_rows::<9>(t),
                8 => tile_rows::<8>(t),
                7 => tile_rows::<7>(t),
                6 => tile_rows::<6>(t),
                5 => tile_rows::<5>(t),
                4 => tile_rows::<4>(t),
                3 => tile_rows::<3>(t),
                2 => tile_rows::<2>(t),
                _ => tile_rows::<1>(t),
            }
        }
    }

    fn lane_mask(lanes: usize) -> __mmask16 {
        ((1u32 << lanes) - 1) as __mmask16
    }

    /// [`tile`] for exactly `R` rows.
    ///
    /// # Safety
    /// As [`tile`], with `t.rows == R`.
    #[target_feature(enable = "avx512f,avx512bf16")]
    unsafe fn tile_rows<const R: usize>(t: Tile) {
        let mut acc0 = [_mm512_setzero_ps(); R];
        let mut acc1 = [_mm512_setzero_ps(); R];
        for p in 0..t.pairs {
            // SAFETY: the panel holds `pairs · NR` values, row r < R holds `pairs`
            // activation pairs (contract); the transmutes reinterpret 512-bit
            // vectors of the same size.
            unsafe {
                let b0: __m512bh = std::mem::transmute(_mm512_loadu_si512(t.b.add(p * NR).cast()));
                let b1: __m512bh =
                    std::mem::transmute(_mm512_loadu_si512(t.b.add(p * NR + 16).cast()));
                for r in 0..R {
                    let a: __m512bh =
                        std::mem::transmute(_mm512_set1_epi32(*t.a.add(r * t.pairs + p) as i32));
                    acc0[r] = _mm512_dpbf16_ps(acc0[r], a, b0);
                    acc1[r] = _mm512_dpbf16_ps(acc1[r], a, b1);
                }
            }
        }
        let (m0, m1) = (
            lane_mask(t.cols.min(16)),
            lane_mask(t.cols.saturating_sub(16)),
        );
        for r in 0..R {
            let row = t.y.wrapping_add(r * t.y_rs);
            // Masked-off lanes are never read or written, even past the row's end.
            let row1 = row.wrapping_add(16);
            // SAFETY: row r < R of the output has `cols` writable values; the masks
            // cover exactly those lanes.
            unsafe {
                let sum0 = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, row), acc0[r]);
                _mm512_mask_storeu_ps(row, m0, sum0);
                let sum1 = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, row1), acc1[r]);
                _mm512_mask_storeu_ps(row1, m1, sum1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bf16_value(bits: u16) -> f32 {
        f32::from_bits((bits as u32) << 16)
    }

    /// A deterministic pseudo-random value in [-1, 1).
    fn noise(i: usize) -> f32 {
        let x = (i as u64)
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((x >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    #[test]
    fn rounding_is_to_nearest_even() {
        assert_eq!(bf16_value(bf16_bits(1.0)), 1.0);
        assert_eq!(bf16_value(bf16_bits(-2.5)), -2.5);
        // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: ties go to the even (1.0).
        assert_eq!(bf16_value(bf16_bits(1.0 + 1.0 / 256.0)), 1.0);
        // Just above halfway rounds up.
        assert_eq!(
            bf16_value(bf16_bits(1.0 + 1.0 / 256.0 + 1.0 / 4096.0)),
            1.0 + 1.0 / 128.0
        );
        assert!(bf16_value(bf16_bits(f32::NAN)).is_nan());
        assert_eq!(bf16_value(bf16_bits(f32::INFINITY)), f32::INFINITY);
    }

    /// Shapes that exercise every tile height, partial panels, odd `k`, several
    /// row blocks and threads.
    const SHAPES: [(usize, usize, usize, usize); 6] = [
        (1, 384, 384, 1),
        (13, 7, 45, 1),
        (25, 33, 64, 2),
        (131, 64, 100, 2),
        (22, 384, 1152, 2),
        (250, 96, 33, 1),
    ];

    /// Runs `path` on one shape: (start values of y, y after, x, w).
    fn run(path: Path, (m, k, n, threads): (usize, usize, usize, usize)) -> [Vec<f32>; 4] {
        let x: Vec<f32> = (0..m * k).map(|i| noise(i) * 3.0).collect();
        let w: Vec<f32> = (0..k * n).map(|i| noise(i + 7919) * 0.1).collect();
        let start: Vec<f32> = (0..m * n).map(|i| noise(i + 104729)).collect();
        let mut got = start.clone();
        PackedBf16::pack(&w, k, n).accumulate_on(path, &x, &mut got, m, threads);
        [start, got, x, w]
    }

    /// The result equals a plain loop over the same bf16-rounded operands (exact
    /// products, sums in f64) on every shape.
    fn matches_rounded_reference(path: Path) {
        for shape in SHAPES {
            let (m, k, n, _) = shape;
            let [start, got, x, w] = run(path, shape);
            let mut worst = 0f32;
            for r in 0..m {
                for c in 0..n {
                    let mut want = 0f64;
                    for i in 0..k {
                        let xv = bf16_value(bf16_bits(x[r * k + i])) as f64;
                        let wv = bf16_value(bf16_bits(w[i * n + c])) as f64;
                        want += xv * wv;
                    }
                    let want = start[r * n + c] as f64 + want;
                    worst = worst.max((got[r * n + c] as f64 - want).abs() as f32);
                }
            }
            assert!(
                worst < 1e-4,
                "{path:?}, m {m} k {k} n {n}: max abs diff {worst}"
            );
        }
    }

    /// Fails loudly where a binary built on a CPU with AVX-512 BF16 (so these tests
    /// are not ignored) runs on one without.
    fn require_bf16() {
        assert!(
            supported(),
            "this test binary was built on a CPU with AVX-512 BF16, but this CPU has none: \
             rebuild the embed crate here (touch embed/build.rs)"
        );
    }

    /// The portable path's packing, row blocks, tiles and threading, on every CPU.
    #[test]
    fn scalar_path_matches_rounded_reference() {
        matches_rounded_reference(Path::Scalar);
    }

    /// The same through the AVX-512 BF16 instructions.
    #[test]
    #[cfg_attr(not(host_avx512bf16), ignore = "needs AVX-512 BF16")]
    fn kernel_matches_rounded_reference() {
        require_bf16();
        matches_rounded_reference(Path::Avx512Bf16);
    }

    /// The instructions compute exactly what the scalar path computes (same
    /// products, same order of additions), bit for bit, on every shape: so the
    /// scalar path's tests speak for the kernel's tiling too.
    #[test]
    #[cfg_attr(not(host_avx512bf16), ignore = "needs AVX-512 BF16")]
    fn kernel_equals_scalar_path_bit_for_bit() {
        require_bf16();
        for shape in SHAPES {
            let [_, simd, ..] = run(Path::Avx512Bf16, shape);
            let [_, scalar, ..] = run(Path::Scalar, shape);
            let differ = simd
                .iter()
                .zip(&scalar)
                .filter(|(a, b)| a.to_bits() != b.to_bits())
                .count();
            assert_eq!(differ, 0, "{shape:?}: {differ} values differ");
        }
    }

    /// The error of bf16 inputs stays small next to the exact f32 product.
    #[test]
    fn bf16_rounding_is_close_to_f32() {
        let (m, k, n) = (16, 384, 64);
        let x: Vec<f32> = (0..m * k).map(noise).collect();
        let w: Vec<f32> = (0..k * n).map(|i| noise(i + 31)).collect();
        let mut got = vec![0f32; m * n];
        PackedBf16::pack(&w, k, n).accumulate_on(Path::Scalar, &x, &mut got, m, 1);
        let (mut err, mut norm) = (0f64, 0f64);
        for r in 0..m {
            for c in 0..n {
                let want: f64 = (0..k).map(|i| (x[r * k + i] * w[i * n + c]) as f64).sum();
                err += (got[r * n + c] as f64 - want).powi(2);
                norm += want * want;
            }
        }
        let rel = (err / norm).sqrt();
        assert!(rel < 1e-2, "relative error {rel}");
        assert!(rel > 0.0, "bf16 rounding left no trace: not the bf16 path");
    }

    /// Without the instructions the production entry point refuses instead of
    /// computing garbage; with them it runs the instructions.
    #[test]
    fn accumulate_refuses_a_cpu_without_the_instructions() {
        let packed = PackedBf16::pack(&[1.0; 4], 2, 2);
        let mut y = [0f32; 2];
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            packed.accumulate(&[1.0, 1.0], &mut y, 1, 1)
        }));
        assert_eq!(result.is_ok(), supported());
        if supported() {
            assert_eq!(y, [2.0, 2.0]);
        }
    }
}
