//! Small dense matrix products for the batched MADE passes, vectorized at run
//! time: `pulp` dispatches to AVX2/FMA (or another SIMD level) where the CPU has
//! it and to plain code elsewhere, so the library stays portable.
//!
//! Matrices are row-major. Batched activations are feature-major (one row per
//! unit, one column per data row) with the column count padded to [`LANES`], so
//! every row splits into whole SIMD vectors. The summation order depends only on
//! the shapes and the SIMD level, never on the thread count.

use pulp::{Arch, Simd, WithSimd};

/// Columns of a batched activation are padded to a multiple of this: a multiple
/// of every f64 SIMD width `pulp` dispatches to without its `x86-v4` feature
/// (AVX2: 4), and no more, since padding columns cost as much as real ones.
pub(crate) const LANES: usize = 4;

/// `n` rounded up to a multiple of [`LANES`].
pub(crate) fn padded(n: usize) -> usize {
    n.div_ceil(LANES) * LANES
}

/// A half-open range of indices.
pub(crate) type Span = (usize, usize);

/// C (m × n) += A (m × k) · B (k × n); `n` a multiple of [`LANES`]. Row i of A is
/// zero outside columns `spans[i]`, so those products are skipped.
pub(crate) fn gemm_nn(
    shape: (usize, usize, usize),
    a: &[f64],
    b: &[f64],
    c: &mut [f64],
    spans: &[Span],
) {
    dispatch_nn(shape, (shape.1, 1), a, b, c, spans);
}

/// C (m × n) += Aᵀ · B for A (k × m): [`gemm_nn`] with A read by columns, the
/// same products in the same order as `gemm_nn` of the transposed A. Column i of
/// A is zero outside rows `spans[i]`.
pub(crate) fn gemm_tn(
    shape: (usize, usize, usize),
    a: &[f64],
    b: &[f64],
    c: &mut [f64],
    spans: &[Span],
) {
    dispatch_nn(shape, (1, shape.0), a, b, c, spans);
}

/// [`gemm_nn`] with A's element (i, j) at `a[i * a_strides.0 + j * a_strides.1]`.
fn dispatch_nn(
    (m, k, n): (usize, usize, usize),
    a_strides: (usize, usize),
    a: &[f64],
    b: &[f64],
    c: &mut [f64],
    spans: &[Span],
) {
    debug_assert_eq!(n % LANES, 0);
    debug_assert_eq!(spans.len(), m);
    Arch::new().dispatch(Nn {
        spans,
        m,
        n,
        a: &a[..m * k],
        a_strides,
        b: &b[..k * n],
        c: &mut c[..m * n],
    });
}

/// C (m × k) += A (m × n) · B (k × n)ᵀ: the weight gradient, summed over the
/// batch columns; `n` a multiple of [`LANES`]. Only the columns `spans[i]` of
/// row i are computed (at least: whole blocks of rows share their widest span).
pub(crate) fn gemm_nt(
    (m, k, n): (usize, usize, usize),
    a: &[f64],
    b: &[f64],
    c: &mut [f64],
    spans: &[Span],
) {
    debug_assert_eq!(n % LANES, 0);
    debug_assert_eq!(spans.len(), m);
    Arch::new().dispatch(Nt {
        spans,
        m,
        k,
        n,
        a: &a[..m * n],
        b: &b[..k * n],
        c: &mut c[..m * k],
    });
}

/// The union of the spans of a block of rows.
fn hull(spans: &[Span]) -> Span {
    spans
        .iter()
        .fold((usize::MAX, 0), |(lo, hi), &(a, b)| (lo.min(a), hi.max(b)))
}

struct Nn<'a> {
    spans: &'a [Span],
    m: usize,
    n: usize,
    a: &'a [f64],
    /// Steps in `a` between rows and between columns of the left factor.
    a_strides: Span,
    b: &'a [f64],
    c: &'a mut [f64],
}

impl WithSimd for Nn<'_> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let lanes = std::mem::size_of::<S::f64s>() / 8;
        if !self.n.is_multiple_of(lanes) {
            // Wider registers than LANES: the plain version (never on AVX2).
            return self.with_simd(pulp::Scalar);
        }
        let Nn {
            spans,
            m,
            n,
            a,
            a_strides: st,
            b,
            c,
        } = self;
        let (bv, _) = S::as_simd_f64s(b);
        let nv = n / lanes;
        let mut i = 0;
        // Six rows per block (12 accumulators), then 2 and 1 for the rest: a
        // block of one row has too few independent sums to keep the FMA units busy.
        while i + 6 <= m {
            let (ks, a, c) = (
                hull(&spans[i..i + 6]),
                &a[i * st.0..],
                &mut c[i * n..(i + 6) * n],
            );
            nn_block::<S, 6>(simd, (st, ks, nv), a, bv, c);
            i += 6;
        }
        while i + 2 <= m {
            let (ks, a, c) = (
                hull(&spans[i..i + 2]),
                &a[i * st.0..],
                &mut c[i * n..(i + 2) * n],
            );
            nn_block::<S, 2>(simd, (st, ks, nv), a, bv, c);
            i += 2;
        }
        if i < m {
            let (ks, a, c) = (spans[i], &a[i * st.0..], &mut c[i * n..(i + 1) * n]);
            nn_block::<S, 1>(simd, (st, ks, nv), a, bv, c);
        }
    }
}

/// MR rows of C += A[rows] · B, two vectors of columns at a time; entry (r, p)
/// of A at `a[r * strides.0 + p * strides.1]`.
#[inline(always)]
fn nn_block<S: Simd, const MR: usize>(
    simd: S,
    ((rs, cs), (lo, hi), nv): (Span, Span, usize),
    a: &[f64],
    bv: &[S::f64s],
    c: &mut [f64],
) {
    let n = c.len() / MR;
    let mut rows: [&mut [S::f64s]; MR] = {
        let mut it = c.chunks_exact_mut(n).map(|r| S::as_mut_simd_f64s(r).0);
        std::array::from_fn(|_| it.next().unwrap_or_default())
    };
    let a_at = |r: usize, p: usize| simd.splat_f64s(a[r * rs + p * cs]);
    let mut j = 0;
    while j + 2 <= nv {
        let mut acc: [[S::f64s; 2]; MR] = std::array::from_fn(|r| [rows[r][j], rows[r][j + 1]]);
        for p in lo..hi {
            let (b0, b1) = (bv[p * nv + j], bv[p * nv + j + 1]);
            for (r, acc_r) in acc.iter_mut().enumerate() {
                let av = a_at(r, p);
                acc_r[0] = simd.mul_add_e_f64s(av, b0, acc_r[0]);
                acc_r[1] = simd.mul_add_e_f64s(av, b1, acc_r[1]);
            }
        }
        for (row, acc_r) in rows.iter_mut().zip(&acc) {
            row[j] = acc_r[0];
            row[j + 1] = acc_r[1];
        }
        j += 2;
    }
    while j < nv {
        let mut acc: [S::f64s; MR] = std::array::from_fn(|r| rows[r][j]);
        for p in lo..hi {
            let b0 = bv[p * nv + j];
            for (r, acc_r) in acc.iter_mut().enumerate() {
                *acc_r = simd.mul_add_e_f64s(a_at(r, p), b0, *acc_r);
            }
        }
        for (row, acc_r) in rows.iter_mut().zip(&acc) {
            row[j] = *acc_r;
        }
        j += 1;
    }
}

struct Nt<'a> {
    spans: &'a [Span],
    m: usize,
    k: usize,
    n: usize,
    a: &'a [f64],
    b: &'a [f64],
    c: &'a mut [f64],
}

impl WithSimd for Nt<'_> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let lanes = std::mem::size_of::<S::f64s>() / 8;
        if !self.n.is_multiple_of(lanes) {
            // Wider registers than LANES: the plain version (never on AVX2).
            return self.with_simd(pulp::Scalar);
        }
        let Nt {
            spans,
            m,
            k,
            n,
            a,
            b,
            c,
        } = self;
        let (av, _) = S::as_simd_f64s(a);
        let (bv, _) = S::as_simd_f64s(b);
        let nv = n / lanes;
        let mut i = 0;
        // Two rows by four columns: 8 accumulators in registers (four rows would
        // need 16 and spill: measured slower).
        while i + 2 <= m {
            nt_rows::<S, 2>(simd, (i, k, nv), hull(&spans[i..i + 2]), (av, bv), c);
            i += 2;
        }
        if i < m {
            nt_rows::<S, 1>(simd, (i, k, nv), spans[i], (av, bv), c);
        }
    }
}

/// Rows i..i+MR of C += A · Bᵀ: four columns at a time where the registers hold
/// four lanes (AVX2), so one transpose sums four outputs at once; the rest two
/// and one at a time.
#[inline(always)]
fn nt_rows<S: Simd, const MR: usize>(
    simd: S,
    (i, k, nv): (usize, usize, usize),
    (lo, hi): Span,
    (av, bv): (&[S::f64s], &[S::f64s]),
    c: &mut [f64],
) {
    let mut j = lo;
    if std::mem::size_of::<S::f64s>() == 4 * 8 {
        while j + 4 <= hi {
            let acc = nt_block::<S, MR, 4>(simd, (i, j, nv), av, bv);
            for (r, acc_r) in acc.iter().enumerate() {
                let sums = sum_lanes_4x4(simd, *acc_r);
                let (cv, _) = S::as_mut_simd_f64s(&mut c[(i + r) * k + j..][..4]);
                cv[0] = simd.add_f64s(cv[0], sums);
            }
            j += 4;
        }
    }
    while j + 2 <= hi {
        let acc = nt_block::<S, MR, 2>(simd, (i, j, nv), av, bv);
        add_sums(simd, (i, j, k), &acc, c);
        j += 2;
    }
    while j < hi {
        let acc = nt_block::<S, MR, 1>(simd, (i, j, nv), av, bv);
        add_sums(simd, (i, j, k), &acc, c);
        j += 1;
    }
}

/// The MR × NR accumulators of rows i..i+MR of A against rows j..j+NR of B,
/// lane by lane (one fused multiply-add chain per lane).
#[inline(always)]
fn nt_block<S: Simd, const MR: usize, const NR: usize>(
    simd: S,
    (i, j, nv): (usize, usize, usize),
    av: &[S::f64s],
    bv: &[S::f64s],
) -> [[S::f64s; NR]; MR] {
    let zero = simd.splat_f64s(0.0);
    let mut acc = [[zero; NR]; MR];
    for v in 0..nv {
        let bs: [S::f64s; NR] = std::array::from_fn(|s| bv[(j + s) * nv + v]);
        for (r, acc_r) in acc.iter_mut().enumerate() {
            let x = av[(i + r) * nv + v];
            for (acc_rs, b) in acc_r.iter_mut().zip(&bs) {
                *acc_rs = simd.mul_add_e_f64s(x, *b, *acc_rs);
            }
        }
    }
    acc
}

/// C\[i + r, j + s\] += the lane sum of accumulator (r, s).
#[inline(always)]
fn add_sums<S: Simd, const MR: usize, const NR: usize>(
    simd: S,
    (i, j, k): (usize, usize, usize),
    acc: &[[S::f64s; NR]; MR],
    c: &mut [f64],
) {
    for (r, acc_r) in acc.iter().enumerate() {
        for (s, acc_rs) in acc_r.iter().enumerate() {
            c[(i + r) * k + j + s] += simd.reduce_sum_f64s(*acc_rs);
        }
    }
}

/// The lane sums of four 4-lane vectors as one vector: a transpose (pulp's
/// 4 × 4 deinterleave: unpacks and 128-bit permutes), then (l₀ + l₂) + (l₁ + l₃)
/// lane-wise, the order of pulp's AVX2 `reduce_sum_f64s`, so the same numbers
/// as four of those.
#[inline(always)]
fn sum_lanes_4x4<S: Simd>(simd: S, v: [S::f64s; 4]) -> S::f64s {
    let [l0, l1, l2, l3] = simd.deinterleave_shfl_f64s(v);
    simd.add_f64s(simd.add_f64s(l0, l2), simd.add_f64s(l1, l3))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(len: usize, seed: usize) -> Vec<f64> {
        (0..len)
            .map(|i| (((i + seed) * 7919) % 113) as f64 / 17.0 - 3.0)
            .collect()
    }

    /// The transposed lane sums are the per-vector sums bit for bit, at the SIMD
    /// level this CPU runs (tested where it has 4 lanes; elsewhere unused).
    #[test]
    fn transposed_lane_sums_equal_per_vector_sums() {
        struct Check;
        impl WithSimd for Check {
            type Output = usize;
            #[inline(always)]
            fn with_simd<S: Simd>(self, simd: S) -> usize {
                if std::mem::size_of::<S::f64s>() != 4 * 8 {
                    return 0;
                }
                // Magnitudes spread over 10¹⁶, so the summation order shows.
                let x: Vec<f64> = fill(64, 11)
                    .iter()
                    .enumerate()
                    .map(|(i, v)| v * 10f64.powi((i % 17) as i32 - 8))
                    .collect();
                let (xv, _) = S::as_simd_f64s(&x);
                for q in xv.chunks_exact(4) {
                    let v = [q[0], q[1], q[2], q[3]];
                    let mut sums = [0.0; 4];
                    S::as_mut_simd_f64s(&mut sums).0[0] = sum_lanes_4x4(simd, v);
                    for (s, vr) in sums.iter().zip(v) {
                        assert_eq!(s.to_bits(), simd.reduce_sum_f64s(vr).to_bits());
                    }
                }
                xv.len() / 4
            }
        }
        let checked = Arch::new().dispatch(Check);
        assert!(checked == 0 || checked == 4);
    }

    /// Both products against the definition for edge shapes (rows and inner
    /// dimensions not multiples of the blocking); error budget: 1e-12 relative to
    /// sums of ≤ 60 products of magnitude ≤ 9.
    #[test]
    fn products_match_the_definition() {
        for (m, k, n) in [(1, 1, 4), (4, 2, 8), (5, 7, 12), (11, 3, 24), (50, 50, 52)] {
            let (a, b) = (fill(m * k, 1), fill(k * n, 2));
            let mut c = fill(m * n, 3);
            let c0 = c.clone();
            gemm_nn((m, k, n), &a, &b, &mut c, &vec![(0, k); m]);
            for i in 0..m {
                for j in 0..n {
                    let want =
                        c0[i * n + j] + (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum::<f64>();
                    assert!((c[i * n + j] - want).abs() < 1e-12 * (1.0 + want.abs()) * 60.0);
                }
            }
            let (a, b) = (fill(m * n, 4), fill(k * n, 5));
            let mut c = fill(m * k, 6);
            let c0 = c.clone();
            gemm_nt((m, k, n), &a, &b, &mut c, &vec![(0, k); m]);
            for i in 0..m {
                for j in 0..k {
                    let want =
                        c0[i * k + j] + (0..n).map(|p| a[i * n + p] * b[j * n + p]).sum::<f64>();
                    assert!((c[i * k + j] - want).abs() < 1e-12 * (1.0 + want.abs()) * 60.0);
                }
            }
        }
        // Banded A (zero outside each row's span): the skipped products are zeros.
        let (m, k, n) = (13, 9, 12);
        let spans: Vec<Span> = (0..m)
            .map(|i| (i % 3, (i % 3 + 1 + i / 2).min(k)))
            .collect();
        let mut a = fill(m * k, 7);
        for (i, row) in a.chunks_exact_mut(k).enumerate() {
            for (p, v) in row.iter_mut().enumerate() {
                if p < spans[i].0 || p >= spans[i].1 {
                    *v = 0.0;
                }
            }
        }
        let b = fill(k * n, 8);
        let (mut banded, mut dense) = (fill(m * n, 9), fill(m * n, 9));
        gemm_nn((m, k, n), &a, &b, &mut banded, &spans);
        gemm_nn((m, k, n), &a, &b, &mut dense, &vec![(0, k); m]);
        for (x, y) in banded.iter().zip(&dense) {
            assert!((x - y).abs() < 1e-12 * (1.0 + y.abs()) * 60.0);
        }
        // Aᵀ B read from A (k × m) is the product with the transposed copy, bit for
        // bit (banded: column i of A zero outside rows spans[i]).
        let mut at = vec![0.0; m * k];
        for (i, row) in a.chunks_exact(k).enumerate() {
            for (p, v) in row.iter().enumerate() {
                at[p * m + i] = *v;
            }
        }
        let (mut by_cols, mut copied) = (fill(m * n, 10), fill(m * n, 10));
        gemm_tn((m, k, n), &at, &b, &mut by_cols, &spans);
        gemm_nn((m, k, n), &a, &b, &mut copied, &spans);
        assert_eq!(by_cols, copied);
    }
}
