//! The hot path's kernels against the plain definitions, at the plain and at the
//! CPU's SIMD level.

use super::{Group, Head, Mode, exp};
use pulp::{Simd, WithSimd};

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

/// A pseudo-random value in [−3, 3.6] from an index.
fn fill(len: usize, seed: usize) -> Vec<f64> {
    (0..len)
        .map(|i| (((i + seed) * 7919) % 113) as f64 / 17.0 - 3.0)
        .collect()
}

/// What [`Group`] returns and writes, from the plain definitions in `f64`
/// (libm's exp and ln, every category, sums in index order).
struct Reference {
    total: f64,
    d_input: f64,
    adjoint: Vec<f64>,
    dh: Vec<f64>,
    logits: Vec<f64>,
    tangents: Vec<f64>,
}

fn reference(w: &[f64], b: &[f64], h: &[f64], v: &[f64], counts: &[f64]) -> Reference {
    let (n_in, k) = (h.len(), b.len());
    // In the documented order: the bias first, then input 0, 1, ….
    let dot = |s: f64, x: &[f64], o: usize| (0..n_in).fold(s, |s, j| s + x[j] * w[o * n_in + j]);
    let logits: Vec<f64> = (0..k).map(|o| dot(b[o], h, o)).collect();
    let tangents: Vec<f64> = (0..k).map(|o| dot(0.0, v, o)).collect();
    let m = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let lse = m + logits.iter().map(|l| (l - m).exp()).sum::<f64>().ln();
    let n: f64 = counts.iter().sum();
    let total = (0..k).map(|o| counts[o] * (logits[o] - lse)).sum();
    let adjoint: Vec<f64> = (0..k)
        .map(|o| counts[o] - n * (logits[o] - lse).exp())
        .collect();
    let d_input = (0..k).map(|o| adjoint[o] * tangents[o]).sum();
    let dh = (0..n_in)
        .map(|j| (0..k).map(|o| adjoint[o] * w[o * n_in + j]).sum())
        .collect();
    Reference {
        total,
        d_input,
        adjoint,
        dh,
        logits,
        tangents,
    }
}

/// One group in both modes at the SIMD level `simd`, checked against
/// [`reference`] within `tol` relative to each quantity's scale (the logits and
/// tangents: their sums of absolute terms; what follows from the logits: `cond`
/// below, times the sum of what multiplies the adjoints); with `exact`, the logits and tangents must equal the
/// in-order sums bit for bit (the plain level: no fused multiply-add).
fn check<S: Simd>(simd: S, n_in: usize, k: usize, seed: usize, tol: f64, exact: bool) {
    let w: Vec<f64> = fill(n_in * k, seed).iter().map(|x| 0.3 * x).collect();
    let b = fill(k, seed + 1);
    let h: Vec<f64> = fill(n_in, seed + 2).iter().map(|x| x.sin()).collect();
    let v: Vec<f64> = fill(n_in, seed + 3).iter().map(|x| x.cos()).collect();
    // Rows in every third category, none elsewhere.
    let counts: Vec<f64> = (0..k)
        .map(|o| {
            if o % 3 == seed % 3 {
                (1 + o % 4) as f64
            } else {
                0.0
            }
        })
        .collect();
    let want = reference(&w, &b, &h, &v, &counts);
    let n_rows = counts.iter().sum::<f64>() as usize;
    let head = Head::new(&w, &b, n_in);
    let stride = head.stride();
    assert!(stride >= k && stride.is_multiple_of(4) && stride < k + 4);
    let near = |got: f64, want: f64, scale: f64, what: &str, i: usize| {
        assert!(
            (got - want).abs() <= tol * scale,
            "{what} {i} of ({n_in}, {k}): {got} vs {want}"
        );
    };
    let abs_dot =
        |x: &[f64], o: usize| -> f64 { (0..n_in).map(|j| (x[j] * w[o * n_in + j]).abs()).sum() };
    // A logit's condition (the scale of its rounding errors); an error δ in the logits
    // moves lse by up to δ and N p_k by N p_k δ: the scale of everything after them.
    let logit_scale: Vec<f64> = (0..k).map(|o| b[o].abs() + abs_dot(&h, o)).collect();
    let cond = (1.0 + n_rows as f64) * (1.0 + logit_scale.iter().fold(0.0, |m, x| x.max(m)));
    for forward in [true, false] {
        let mut c = vec![0.0; stride];
        c[..k].copy_from_slice(&counts);
        let (mut logits, mut probs, mut tangents) =
            (vec![0.0; stride], vec![0.0; stride], vec![0.0; stride]);
        let mut dh = vec![0.0; n_in];
        let mode = if forward {
            Mode::Forward {
                v: &v,
                tangents: &mut tangents,
            }
        } else {
            Mode::Reverse { dh: &mut dh }
        };
        let got = Group {
            head: &head,
            h: &h,
            counts: &mut c,
            logits: &mut logits,
            probs: &mut probs,
            rows: n_rows,
            mode,
        }
        .with_simd(simd);
        for o in 0..k {
            if exact {
                assert_eq!(logits[o], want.logits[o], "logit {o} of ({n_in}, {k})");
            }
            near(logits[o], want.logits[o], logit_scale[o], "logit", o);
            if forward {
                if exact {
                    assert_eq!(tangents[o], want.tangents[o], "tangent {o}");
                }
                near(tangents[o], want.tangents[o], abs_dot(&v, o), "tangent", o);
            }
            near(c[o], want.adjoint[o], cond, "adjoint", o);
        }
        assert!(c[k..].iter().all(|&x| x == 0.0), "padding adjoints");
        near(got.total, want.total, cond, "total", 0);
        if forward {
            let tsum: f64 = want.tangents.iter().map(|t| t.abs()).sum();
            near(got.d_input, want.d_input, cond * (1.0 + tsum), "d_input", 0);
        } else {
            assert_eq!(got.d_input, 0.0);
            let wsum: f64 = w.iter().map(|x| x.abs()).sum();
            for (j, (g, r)) in dh.iter().zip(&want.dh).enumerate() {
                near(*g, *r, cond * (1.0 + wsum), "dh", j);
            }
        }
    }
}

/// Shapes around every block edge: category counts not multiples of 4 or 8
/// (padding), hidden widths below, at and between the register blocks.
const SHAPES: [(usize, usize); 9] = [
    (1, 1),
    (1, 5),
    (3, 8),
    (30, 41),
    (9, 17),
    (7, 3),
    (20, 61),
    (17, 16),
    (2, 45),
];

/// Error budget 1e-13 relative to each quantity's scale (see [`check`]: sums of ≤ 61
/// products with a rounding error of an ulp or two of that scale each, exp and ln
/// within 1 ulp, so ~10⁻¹⁴ at most); the plain level must also give the in-order
/// sums of the logits and tangents exactly.
#[test]
fn group_matches_the_plain_definitions() {
    for (seed, &(n_in, k)) in SHAPES.iter().enumerate() {
        check(pulp::Scalar, n_in, k, seed, 1e-13, true);
        pulp::Arch::new().dispatch(Dispatched { n_in, k, seed });
    }
}

/// [`check`] at the CPU's own SIMD level (AVX2/FMA on the development machines).
struct Dispatched {
    n_in: usize,
    k: usize,
    seed: usize,
}
impl WithSimd for Dispatched {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        check(simd, self.n_in, self.k, self.seed, 1e-13, false);
    }
}
