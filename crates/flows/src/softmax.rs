//! The categorical estimator's output layer and log-softmax, written for the
//! likelihood's gradient hot path (`sum_log_prob_grad_context`, once per group of rows
//! at every gradient evaluation of a hierarchical model).
//!
//! Everything after the hidden layers runs in one [`Group`] call, one `pulp`
//! run-time dispatch (AVX2/FMA where the CPU has it, plain code elsewhere, as in
//! `gemm.rs`): the logits W h + b (with their θ-tangents W v in the same pass over
//! the weights), one exp per category, the log-softmax sum and its adjoint, and
//! either the θ-derivative (one θ coordinate: a dot product with the tangents) or
//! the hidden adjoint Wᵀ d (reverse mode). The hidden layers (one of 30 units in the
//! cookie model) run before it, as plain code.
//!
//! The output weights are kept transposed ([`Head`]: `n_in` rows of the categories,
//! padded to whole SIMD vectors, behind a bias row) so that the logits are axpy
//! steps logits += h_j · Wᵀ\[j\], independent across categories, in register blocks
//! of four vectors; Wᵀ d is a dot product per row of the same copy. Padding
//! categories have bias −∞ and weights 0: their logits are −∞, their probabilities
//! and adjoints 0, so they change no sum. [`exp`] is a branch-free polynomial and the
//! softmax loops are plain Rust inlined into the dispatched function, where they
//! vectorize at its SIMD width.
//!
//! Results are deterministic: the order of every sum depends only on the shapes and
//! the SIMD level. The two products use fused multiply-adds where the CPU has FMA
//! (AVX2 machines) and a separate multiply and add elsewhere, so they (and what
//! follows from them) may differ in the last bits between such machines, as the
//! MAF's batched passes do; the softmax part is the same arithmetic on both.

use pulp::{Arch, Simd, WithSimd};

/// Categories are padded to a multiple of this: AVX2's f64 width (and a multiple of
/// NEON's and of the plain level's). The softmax loops keep this many partial sums
/// (their final additions are written for four).
const LANES: usize = 4;

/// Log-probability ratio to the most probable category below which the gradient hot
/// path treats a category as probability 0 (e^−40 ≈ 4·10⁻¹⁸).
const NEGLIGIBLE_LOGIT: f64 = -40.0;

/// Vectors of logits (and as many of tangents) held in registers across the whole
/// pass over the weights: 8 (or 4 without tangents) independent multiply-add chains,
/// enough to keep two FMA units busy, within AVX2's 16 registers.
const BLOCK: usize = 4;

/// Rows of Wᵀ per block of the adjoint Wᵀ d: as many independent sums.
const ROWS: usize = 8;

/// The output layer (`n_out` categories from `n_in` inputs) in the hot path's form:
/// row 0 the bias, rows 1..=n_in the weights transposed (row j: the weights of input
/// j − 1 for every category), each row padded from `n_out` to `stride` (a multiple of
/// [`LANES`]) with −∞ (bias) and 0 (weights).
#[derive(Debug, Clone)]
pub(crate) struct Head {
    n_in: usize,
    stride: usize,
    rows: Vec<f64>,
}

impl Head {
    /// From the row-major weights `w` (`n_out` rows of `n_in`) and the bias `b`.
    pub(crate) fn new(w: &[f64], b: &[f64], n_in: usize) -> Self {
        let n_out = b.len();
        debug_assert_eq!(w.len(), n_in * n_out);
        let stride = n_out.div_ceil(LANES) * LANES;
        let mut rows = vec![0.0; (n_in + 1) * stride];
        rows[..n_out].copy_from_slice(b);
        rows[n_out..stride].fill(f64::NEG_INFINITY);
        for (o, wo) in w.chunks_exact(n_in.max(1)).take(n_out).enumerate() {
            for (i, v) in wo.iter().enumerate() {
                rows[(i + 1) * stride + o] = *v;
            }
        }
        Self { n_in, stride, rows }
    }
    /// The padded number of categories: the length of every per-category buffer of
    /// [`Group`].
    pub(crate) fn stride(&self) -> usize {
        self.stride
    }
}

/// Where the θ-derivative goes: forward mode (one θ coordinate) with the tangent of
/// the output layer's input, or reverse mode into the adjoint of that input.
pub(crate) enum Mode<'a> {
    /// The tangent `v` of `h` and a buffer (`stride` long) for the logits' tangents;
    /// [`Group`] returns ∂/∂θ.
    Forward {
        /// d h / dθ.
        v: &'a [f64],
        /// The logits' tangents (written).
        tangents: &'a mut [f64],
    },
    /// `dh` (`n_in` long) receives Wᵀ d, the adjoint of `h`.
    Reverse {
        /// The adjoint of `h` (written).
        dh: &'a mut [f64],
    },
}

/// One group's computation after the hidden layers: ∑ over rows of log softmax(W h +
/// b)\[x\] and its derivative. Buffers are [`Head::stride`] long; `counts` holds the
/// number of rows per category (0 in the padding) and receives the adjoint of the
/// logits, n_k − N p_k.
pub(crate) struct Group<'a> {
    /// The output layer.
    pub(crate) head: &'a Head,
    /// Its input (the last hidden layer's activations).
    pub(crate) h: &'a [f64],
    /// Rows per category in, adjoint of the logits out.
    pub(crate) counts: &'a mut [f64],
    /// The logits (written).
    pub(crate) logits: &'a mut [f64],
    /// The unnormalized probabilities (written).
    pub(crate) probs: &'a mut [f64],
    /// The number of rows, N.
    pub(crate) rows: usize,
    /// Forward or reverse mode.
    pub(crate) mode: Mode<'a>,
}

/// What [`Group::run`] returns.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct GroupSums {
    /// ∑ over rows of log q(x | θ).
    pub(crate) total: f64,
    /// In forward mode its derivative in the network input; 0 in reverse mode.
    pub(crate) d_input: f64,
}

impl Group<'_> {
    /// Runs at the best SIMD level the CPU offers (one dispatch).
    #[inline]
    pub(crate) fn run(self) -> GroupSums {
        Arch::new().dispatch(self)
    }
}

impl WithSimd for Group<'_> {
    type Output = GroupSums;
    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> GroupSums {
        let lanes = std::mem::size_of::<S::f64s>() / 8;
        if !self.head.stride.is_multiple_of(lanes) {
            // Wider registers than LANES: the plain version (never on AVX2).
            return self.with_simd(pulp::Scalar);
        }
        let Group {
            head,
            h,
            counts,
            logits,
            probs,
            rows,
            mode,
        } = self;
        let (stride, n_in, nv) = (head.stride, head.n_in, head.stride / lanes);
        let (h, counts, logits, probs) = (
            &h[..n_in],
            &mut counts[..stride],
            &mut logits[..stride],
            &mut probs[..stride],
        );
        let (w, _) = S::as_simd_f64s(&head.rows);
        let mode = match mode {
            Mode::Forward { v, tangents } => {
                let lv = S::as_mut_simd_f64s(logits).0;
                let tv = S::as_mut_simd_f64s(&mut tangents[..stride]).0;
                products::<S, true>(simd, w, nv, h, &v[..n_in], lv, tv);
                Mode::Forward { v, tangents }
            }
            Mode::Reverse { dh } => {
                let lv = S::as_mut_simd_f64s(logits).0;
                products::<S, false>(simd, w, nv, h, &[], lv, &mut []);
                Mode::Reverse { dh }
            }
        };
        // One exp per category: the normalizer and the probabilities together.
        // Categories below e^−40 of the most probable one are left out of both (their
        // sum is below k · 4·10⁻¹⁸ of the normalizer): with no rows they add nothing
        // to the gradient.
        let m = max4(logits);
        for (e, l) in probs.iter_mut().zip(logits.iter()) {
            let d = l - m;
            let x = exp(d.max(NEGLIGIBLE_LOGIT));
            *e = if d > NEGLIGIBLE_LOGIT { x } else { 0.0 };
        }
        let sum = sum4(probs);
        let lse = m + sum.ln();
        let scale = rows as f64 / sum;
        // d/dlogit_k ∑ log softmax = n_k − N p_k, into `counts`.
        let mut total = [0.0; LANES];
        for ((c, l), e) in counts
            .chunks_exact_mut(LANES)
            .zip(logits.chunks_exact(LANES))
            .zip(probs.chunks_exact(LANES))
        {
            for i in 0..LANES {
                total[i] += if c[i] > 0.0 { c[i] * (l[i] - lse) } else { 0.0 };
                c[i] -= scale * e[i];
            }
        }
        let total = (total[0] + total[1]) + (total[2] + total[3]);
        let d_input = match mode {
            Mode::Forward { tangents, .. } => dot4(counts, &tangents[..stride]),
            Mode::Reverse { dh } => {
                adjoint(simd, w, nv, S::as_simd_f64s(counts).0, &mut dh[..n_in]);
                0.0
            }
        };
        GroupSums { total, d_input }
    }
}

/// The largest of `v` (`v.len()` a multiple of [`LANES`]; NaN ignored).
#[inline(always)]
fn max4(v: &[f64]) -> f64 {
    let mut m = [f64::NEG_INFINITY; LANES];
    for c in v.chunks_exact(LANES) {
        for (m, x) in m.iter_mut().zip(c) {
            *m = m.max(*x);
        }
    }
    m[0].max(m[1]).max(m[2].max(m[3]))
}

/// ∑ v in [`LANES`] interleaved partial sums (`v.len()` a multiple of [`LANES`]).
#[inline(always)]
fn sum4(v: &[f64]) -> f64 {
    let mut s = [0.0; LANES];
    for c in v.chunks_exact(LANES) {
        for (s, x) in s.iter_mut().zip(c) {
            *s += x;
        }
    }
    (s[0] + s[1]) + (s[2] + s[3])
}

/// ∑ a_i b_i in [`LANES`] interleaved partial sums (lengths a multiple of [`LANES`]).
#[inline(always)]
fn dot4(a: &[f64], b: &[f64]) -> f64 {
    let mut s = [0.0; LANES];
    for (x, y) in a.chunks_exact(LANES).zip(b.chunks_exact(LANES)) {
        for i in 0..LANES {
            s[i] += x[i] * y[i];
        }
    }
    (s[0] + s[1]) + (s[2] + s[3])
}

/// dh_j = ∑_k Wᵀ\[j\]_k d_k for every input j: one dot product per row of [`Head`]
/// (padding adjoints are 0), [`ROWS`] rows at a time, then 4, 2, 1.
#[inline(always)]
fn adjoint<S: Simd>(simd: S, w: &[S::f64s], nv: usize, d: &[S::f64s], dh: &mut [f64]) {
    let n = dh.len();
    let mut j = 0;
    while j + ROWS <= n {
        adjoint_block::<S, ROWS>(simd, w, nv, d, dh, j);
        j += ROWS;
    }
    if j + 4 <= n {
        adjoint_block::<S, 4>(simd, w, nv, d, dh, j);
        j += 4;
    }
    if j + 2 <= n {
        adjoint_block::<S, 2>(simd, w, nv, d, dh, j);
        j += 2;
    }
    if j < n {
        adjoint_block::<S, 1>(simd, w, nv, d, dh, j);
    }
}

/// [`adjoint`] for inputs `j..j + R`.
#[inline(always)]
fn adjoint_block<S: Simd, const R: usize>(
    simd: S,
    w: &[S::f64s],
    nv: usize,
    d: &[S::f64s],
    dh: &mut [f64],
    j: usize,
) {
    let mut acc = [simd.splat_f64s(0.0); R];
    for (k, dk) in d[..nv].iter().enumerate() {
        for (r, a) in acc.iter_mut().enumerate() {
            *a = simd.mul_add_e_f64s(w[(j + r + 1) * nv + k], *dk, *a);
        }
    }
    for (out, a) in dh[j..j + R].iter_mut().zip(&acc) {
        *out = simd.reduce_sum_f64s(*a);
    }
}

/// logits = b + ∑_j h_j Wᵀ\[j\] (each logit added in the order b, h_0 W_0, h_1 W_1, …)
/// and, if `TAN`, tangents = ∑_j v_j Wᵀ\[j\] in the same order, over `nv` vectors per
/// row of `w` ([`Head`]'s rows as vectors).
#[inline(always)]
fn products<S: Simd, const TAN: bool>(
    simd: S,
    w: &[S::f64s],
    nv: usize,
    h: &[f64],
    v: &[f64],
    logits: &mut [S::f64s],
    tangents: &mut [S::f64s],
) {
    let mut o = 0;
    while o + BLOCK <= nv {
        product_block::<S, BLOCK, TAN>(simd, w, nv, h, v, logits, tangents, o);
        o += BLOCK;
    }
    match nv - o {
        3 => product_block::<S, 3, TAN>(simd, w, nv, h, v, logits, tangents, o),
        2 => product_block::<S, 2, TAN>(simd, w, nv, h, v, logits, tangents, o),
        1 => product_block::<S, 1, TAN>(simd, w, nv, h, v, logits, tangents, o),
        _ => {}
    }
}

/// [`products`] for vectors `o..o + NV`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn product_block<S: Simd, const NV: usize, const TAN: bool>(
    simd: S,
    w: &[S::f64s],
    nv: usize,
    h: &[f64],
    v: &[f64],
    logits: &mut [S::f64s],
    tangents: &mut [S::f64s],
    o: usize,
) {
    let mut acc: [S::f64s; NV] = std::array::from_fn(|i| w[o + i]);
    let mut tan = [simd.splat_f64s(0.0); NV];
    for (j, &hj) in h.iter().enumerate() {
        let row = &w[(j + 1) * nv + o..][..NV];
        let hs = simd.splat_f64s(hj);
        if TAN {
            let vs = simd.splat_f64s(v[j]);
            for ((a, t), x) in acc.iter_mut().zip(tan.iter_mut()).zip(row) {
                *a = simd.mul_add_e_f64s(hs, *x, *a);
                *t = simd.mul_add_e_f64s(vs, *x, *t);
            }
        } else {
            for (a, x) in acc.iter_mut().zip(row) {
                *a = simd.mul_add_e_f64s(hs, *x, *a);
            }
        }
    }
    logits[o..o + NV].copy_from_slice(&acc);
    if TAN {
        tangents[o..o + NV].copy_from_slice(&tan);
    }
}

/// eˣ for −708 ≤ x ≤ 709 (normal results), within 1 ulp of `f64::exp` over the range
/// the hot path uses (tested on [−40, 0] and beyond), with no branch and no table so
/// that a loop over it vectorizes.
///
/// x = n ln 2 + r with n = round(x / ln 2), |r| ≤ ln 2 / 2 (Cody–Waite: ln 2 in two
/// parts, so r is exact to the last bits); eʳ by its Taylor series to r¹³ (truncation
/// below 10⁻¹⁷ relative), in Estrin's form; 2ⁿ placed in the exponent bits. The rounding
/// to n uses the 1.5·2⁵² shift, whose low bits then hold n.
#[inline(always)]
fn exp(x: f64) -> f64 {
    const SHIFT: f64 = 6_755_399_441_055_744.0; // 1.5 · 2⁵²
    const LN2_HI: f64 = 6.931_471_803_691_238e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    // 1/k! for k = 2, 3, …, 13.
    const C: [f64; 12] = [
        0.5,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5_040.0,
        1.0 / 40_320.0,
        1.0 / 362_880.0,
        1.0 / 3_628_800.0,
        1.0 / 39_916_800.0,
        1.0 / 479_001_600.0,
        1.0 / 6_227_020_800.0,
    ];
    let t = x * std::f64::consts::LOG2_E + SHIFT;
    let n = t - SHIFT;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    // q(r) = Σ_k C[k] r^k in Estrin's form (pairs, then pairs of pairs, …): a
    // dependency chain of 8 operations instead of Horner's 22, the terms being
    // independent. q enters as r² q, so its rounding is ~r² (≤ 0.12) of an ulp.
    let r2 = r * r;
    let (r4, pair) = (r2 * r2, |i: usize| C[i] + C[i + 1] * r);
    let quad = |i: usize| pair(i) + pair(i + 2) * r2;
    let q = (quad(0) + quad(4) * r4) + quad(8) * (r4 * r4);
    let p = 1.0 + r * (1.0 + r * q);
    // The low 12 bits of t's representation are n (two's complement); n + 1023 there,
    // shifted into the exponent field, is 2ⁿ.
    let scale = f64::from_bits(t.to_bits().wrapping_add(1023) << 52);
    p * scale
}

#[cfg(test)]
mod tests;
