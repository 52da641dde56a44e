//! The categorical estimator's output layer and log-softmax, written for the
//! likelihood's gradient hot path (`sum_log_prob_grad_context`, once per group of rows
//! at every gradient evaluation of a hierarchical model).
//!
//! Three loops there dominate: the logits W h + b, one exp per category, and the
//! hidden adjoint Wᵀ d. Written as dot products per row, the first is an add chain the
//! compiler may not reorder; written over a transposed copy of W (logits += h_j ·
//! Wᵀ\[j\]) every step is independent across categories and vectorizes. The adjoint
//! is the same axpy form over the rows of W as stored. [`exp`] is a branch-free
//! polynomial so that the loop over categories vectorizes too.

/// Output blocks: this many logits (or hidden adjoints) stay in registers across the
/// whole inner loop.
const BLOCK: usize = 8;

/// The weights of `W` (`n_out` rows of `n_in`, row-major) transposed: `n_in` rows of
/// `n_out`.
pub(crate) fn transpose(w: &[f64], n_in: usize, n_out: usize) -> Vec<f64> {
    let mut t = vec![0.0; w.len()];
    for o in 0..n_out {
        for i in 0..n_in {
            t[i * n_out + o] = w[o * n_in + i];
        }
    }
    t
}

/// Starts of blocks of `B` covering `0..n`: the last one is moved back to end at `n`
/// (overlapping the one before, whose shared values it recomputes identically), so
/// that no short tail runs as a latency-bound add chain. One-wide blocks if `n < B`.
fn blocks<const B: usize>(n: usize) -> impl Iterator<Item = usize> {
    (0..n.div_ceil(B)).map(move |b| (b * B).min(n.saturating_sub(B)))
}

/// logits = b + Σ_j h_j Wᵀ\[j\], from the transposed weights `wt` (`h.len()` rows of
/// `b.len()`). Each logit is b_k + h_0 W_k0 + h_1 W_k1 + …, added in that order.
#[inline]
pub(crate) fn logits(wt: &[f64], b: &[f64], h: &[f64], out: &mut [f64]) {
    let k = b.len();
    if k < BLOCK {
        (0..k).for_each(|o| logits_block::<1>(wt, b, h, out, o));
    } else {
        blocks::<BLOCK>(k).for_each(|o| logits_block::<BLOCK>(wt, b, h, out, o));
    }
}

/// [`logits`] for outputs `o..o + B`.
#[inline]
fn logits_block<const B: usize>(wt: &[f64], b: &[f64], h: &[f64], out: &mut [f64], o: usize) {
    let k = b.len();
    let mut acc = [0.0; B];
    acc.copy_from_slice(&b[o..o + B]);
    for (row, &hj) in wt.chunks_exact(k).zip(h) {
        for (a, w) in acc.iter_mut().zip(&row[o..o + B]) {
            *a += hj * w;
        }
    }
    out[o..o + B].copy_from_slice(&acc);
}

/// [`logits`] and, in the same pass over the weights, their tangents g = Σ_j v_j Wᵀ\[j\]
/// for a tangent `v` of `h` (added in the same order as the logits).
#[inline]
pub(crate) fn logits_tangent(
    wt: &[f64],
    b: &[f64],
    h: &[f64],
    v: &[f64],
    out: &mut [f64],
    g: &mut [f64],
) {
    let k = b.len();
    if k < BLOCK {
        (0..k).for_each(|o| logits_tangent_block::<1>(wt, b, h, v, out, g, o));
    } else {
        blocks::<BLOCK>(k).for_each(|o| logits_tangent_block::<BLOCK>(wt, b, h, v, out, g, o));
    }
}

/// [`logits_tangent`] for outputs `o..o + B`.
#[inline]
fn logits_tangent_block<const B: usize>(
    wt: &[f64],
    b: &[f64],
    h: &[f64],
    v: &[f64],
    out: &mut [f64],
    g: &mut [f64],
    o: usize,
) {
    let k = b.len();
    let (mut acc, mut tan) = ([0.0; B], [0.0; B]);
    acc.copy_from_slice(&b[o..o + B]);
    for ((row, &hj), &vj) in wt.chunks_exact(k).zip(h).zip(v) {
        for ((a, t), w) in acc.iter_mut().zip(tan.iter_mut()).zip(&row[o..o + B]) {
            *a += hj * w;
            *t += vj * w;
        }
    }
    out[o..o + B].copy_from_slice(&acc);
    g[o..o + B].copy_from_slice(&tan);
}

/// dh = Wᵀ d from the row-major weights `w` (`d.len()` rows of `dh.len()`), skipping
/// zero adjoints (negligible categories). Each dh_i is d_0 W_0i + d_1 W_1i + … over the
/// nonzero d_k, in that order.
#[inline]
pub(crate) fn input_adjoint(w: &[f64], d: &[f64], dh: &mut [f64]) {
    let n = dh.len();
    if n < BLOCK {
        (0..n).for_each(|i| adjoint_block::<1>(w, d, dh, i));
    } else {
        blocks::<BLOCK>(n).for_each(|i| adjoint_block::<BLOCK>(w, d, dh, i));
    }
}

/// [`input_adjoint`] for inputs `i..i + B`.
#[inline]
fn adjoint_block<const B: usize>(w: &[f64], d: &[f64], dh: &mut [f64], i: usize) {
    let n = dh.len();
    let mut acc = [0.0; B];
    for (row, &dk) in w.chunks_exact(n).zip(d) {
        if dk != 0.0 {
            for (a, w) in acc.iter_mut().zip(&row[i..i + B]) {
                *a += dk * w;
            }
        }
    }
    dh[i..i + B].copy_from_slice(&acc);
}

/// eˣ for −708 ≤ x ≤ 709 (normal results), within 1 ulp of `f64::exp` over the range
/// the hot path uses (tested on [−40, 0] and beyond), with no branch and no table so
/// that a loop over it vectorizes.
///
/// x = n ln 2 + r with n = round(x / ln 2), |r| ≤ ln 2 / 2 (Cody–Waite: ln 2 in two
/// parts, so r is exact to the last bits); eʳ by its Taylor series to r¹³ (truncation
/// below 10⁻¹⁷ relative), in Horner form; 2ⁿ placed in the exponent bits. The rounding
/// to n uses the 1.5·2⁵² shift, whose low bits then hold n.
#[inline]
pub(crate) fn exp(x: f64) -> f64 {
    const SHIFT: f64 = 6_755_399_441_055_744.0; // 1.5 · 2⁵²
    const LN2_HI: f64 = 6.931_471_803_691_238e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    // 1/k! for k = 13, 12, …, 2.
    const C: [f64; 12] = [
        1.0 / 6_227_020_800.0,
        1.0 / 479_001_600.0,
        1.0 / 39_916_800.0,
        1.0 / 3_628_800.0,
        1.0 / 362_880.0,
        1.0 / 40_320.0,
        1.0 / 5_040.0,
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
    ];
    let t = x * std::f64::consts::LOG2_E + SHIFT;
    let n = t - SHIFT;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let mut p = C[0];
    for c in &C[1..] {
        p = p * r + c;
    }
    let p = 1.0 + r * (1.0 + r * p);
    // The low 12 bits of t's representation are n (two's complement); n + 1023 there,
    // shifted into the exponent field, is 2ⁿ.
    let scale = f64::from_bits(t.to_bits().wrapping_add(1023) << 52);
    p * scale
}

#[cfg(test)]
mod tests {
    use super::{exp, input_adjoint, logits, logits_tangent, transpose};

    /// Distance in units in the last place.
    fn ulps(a: f64, b: f64) -> u64 {
        a.to_bits().abs_diff(b.to_bits())
    }

    /// Within 1 ulp of `f64::exp` on a dense grid of the hot path's range [−40, 0] and
    /// a coarser one out to the normal limits; exact at 0.
    #[test]
    fn exp_is_within_one_ulp() {
        let mut worst = 0;
        for i in 0..=4_000_000 {
            let x = -40.0 * i as f64 / 4_000_000.0;
            worst = worst.max(ulps(exp(x), x.exp()));
        }
        for i in 0..=1_000_000 {
            let x = -708.0 + 1417.0 * i as f64 / 1_000_000.0;
            worst = worst.max(ulps(exp(x), x.exp()));
        }
        assert!(worst <= 1, "{worst} ulp");
        assert_eq!(exp(0.0), 1.0);
    }

    /// The blocked kernels equal the plain sums in the documented order, exactly, for
    /// widths below, at and above a block, with zero adjoints skipped.
    #[test]
    fn kernels_equal_plain_sums() {
        for (n_in, n_out) in [(1, 5), (3, 8), (30, 41), (9, 17)] {
            let w: Vec<f64> = (0..n_in * n_out)
                .map(|i| ((i * 7919) % 113) as f64 / 17.0 - 3.0)
                .collect();
            let b: Vec<f64> = (0..n_out).map(|o| 0.1 * o as f64 - 1.0).collect();
            let h: Vec<f64> = (0..n_in).map(|i| (i as f64 * 0.37).sin()).collect();
            let v: Vec<f64> = (0..n_in).map(|i| (i as f64 * 0.11).cos()).collect();
            let wt = transpose(&w, n_in, n_out);
            let mut out = vec![0.0; n_out];
            logits(&wt, &b, &h, &mut out);
            let (mut out2, mut g) = (vec![0.0; n_out], vec![0.0; n_out]);
            logits_tangent(&wt, &b, &h, &v, &mut out2, &mut g);
            assert_eq!(
                out, out2,
                "logits with and without tangents ({n_in}, {n_out})"
            );
            for (o, got) in out.iter().enumerate() {
                let want = (0..n_in).fold(b[o], |s, j| s + h[j] * w[o * n_in + j]);
                assert_eq!(*got, want, "logit {o} of ({n_in}, {n_out})");
                let want = (0..n_in).fold(0.0, |s, j| s + v[j] * w[o * n_in + j]);
                assert_eq!(g[o], want, "tangent {o} of ({n_in}, {n_out})");
            }
            let d: Vec<f64> = (0..n_out)
                .map(|o| {
                    if o % 3 == 1 {
                        0.0
                    } else {
                        0.5 - 0.1 * o as f64
                    }
                })
                .collect();
            let mut dh = vec![0.0; n_in];
            input_adjoint(&w, &d, &mut dh);
            for (i, got) in dh.iter().enumerate() {
                let want = (0..n_out)
                    .filter(|&o| d[o] != 0.0)
                    .fold(0.0, |s, o| s + d[o] * w[o * n_in + i]);
                assert_eq!(*got, want, "adjoint {i} of ({n_in}, {n_out})");
            }
        }
    }
}
