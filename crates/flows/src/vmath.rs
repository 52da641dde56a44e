//! tanh, exp and ln without library calls, for loops that should vectorize (the
//! networks' activations; the affine transform's softplus scale and its
//! log-determinant over a block of rows).
//! Cephes' formulas: 2^k times a Padé form on |r| ≤ ½ ln 2; 2^k and k from the
//! exponent bits, so every step is a plain arithmetic or bit operation.

use std::f64::consts::{LN_2, LOG2_E, SQRT_2};

/// 1.5 · 2⁵²: adding it rounds to an integer held in the low mantissa bits.
const MAGIC: f64 = 6_755_399_441_055_744.0;
/// ln 2 split so that k · LN2_HI is exact for |k| < 2¹¹.
const LN2_HI: f64 = 6.931_457_519_531_25e-1;
const LN2_LO: f64 = 1.428_606_820_309_417_2e-6;

/// eʸ for y ≤ 0 within 2 ulp; below −700 (eʸ < 10⁻³⁰⁴) it returns e⁻⁷⁰⁰.
#[inline(always)]
pub(crate) fn exp_nonpositive(y: f64) -> f64 {
    let y = y.clamp(-700.0, 0.0);
    let t = y * LOG2_E + MAGIC;
    let k = t - MAGIC;
    let r = (y - k * LN2_HI) - k * LN2_LO;
    let rr = r * r;
    let px = r * ((1.261_771_930_748_105_9e-4 * rr + 3.029_944_077_074_419_6e-2) * rr + 1.0);
    let qx = ((3.001_985_051_386_644_5e-6 * rr + 2.524_483_403_496_841e-3) * rr
        + 2.272_655_482_081_550_3e-1)
        * rr
        + 2.0;
    // e^r = (q + p)/(q − p); 2^k: k + 1023 into the exponent field.
    (qx + px) / (qx - px) * f64::from_bits(t.to_bits().wrapping_add(1023) << 52)
}

/// ln x for a positive normal x within 2 ulp: x = 2^k m with m ∈ [√½, √2),
/// ln m = 2 atanh(s), s = (m − 1)/(m + 1), |s| ≤ 0.172, as a series in s².
#[inline(always)]
pub(crate) fn ln_positive(x: f64) -> f64 {
    let bits = x.to_bits();
    let m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    let big = m > SQRT_2;
    let m = if big { 0.5 * m } else { m };
    // The biased exponent as an f64 by the 2⁵² trick (no integer conversion).
    let e = f64::from_bits((bits >> 52) | 0x4330_0000_0000_0000) - 4_503_599_627_371_519.0;
    let k = if big { e + 1.0 } else { e };
    let f = m - 1.0;
    let s = f / (2.0 + f);
    let z = s * s;
    let mut p = 1.0 / 23.0;
    for c in [21.0, 19.0, 17.0, 15.0, 13.0, 11.0, 9.0, 7.0, 5.0, 3.0] {
        p = p * z + 1.0 / c;
    }
    let two_s = 2.0 * s;
    k * LN2_HI + (two_s + (two_s * z * p + k * LN2_LO))
}

/// (softplus(a) + floor, σ(a)) for the affine scale, with [`exp_nonpositive`]
/// and [`ln_positive`]: ln(1 + e) as ln(u) · e/(u − 1), u = 1 + e (Goldberg's
/// log1p).
#[inline(always)]
pub(crate) fn softplus_sigmoid(a: f64, floor: f64) -> (f64, f64) {
    let e = exp_nonpositive(-a.abs());
    let u = 1.0 + e;
    let l = if u == 1.0 {
        e
    } else {
        ln_positive(u) * (e / (u - 1.0))
    };
    let inv = 1.0 / u;
    let sig = if a >= 0.0 { inv } else { e * inv };
    (a.max(0.0) + l + floor, sig)
}

/// tanh without a library call, one value at a time (the networks' row-by-row
/// passes): [`tanh_with`] with separate multiplies and adds, so the same values
/// as [`tanh_slice`] where that has no fused multiply-add.
#[inline(always)]
pub(crate) fn tanh(x: f64) -> f64 {
    tanh_with(x, |a, b, c| a * b + c)
}

/// tanh within 3 ulp (see the test `tanh_is_within_3_ulp`), branch-free with
/// one division, so a loop of it vectorizes; multiply-adds by `fma` (fused where
/// the CPU has it).
///
/// tanh|x| = m/(m + 2) with m = e^{2|x|} − 1, and e^{2|x|} as in Cephes' `exp`:
/// 2|x| = k ln 2 + r, |r| ≤ ½ ln 2, e^r = (q + p)/(q − p) with p = r P(r²),
/// q = Q(r²), a Padé form, so p/q is tanh(r/2) to the same accuracy. Then
/// m = (2^k · 2p + (2^k − 1)(q − p))/(q − p) and tanh|x| = n/(n + 2(q − p)) with
/// n = 2^k · 2p + (2^k − 1)(q − p): one division, and none of the cancellation of
/// 1 − 2/(e^{2|x|} + 1) near 0 (below ¼ ln 2, k = 0, r = 2|x| exactly and the
/// result is p/q). r = 2|x| − k ln 2 in one step: the error k · 2.3·10⁻¹⁷ of the
/// f64 ln 2 moves tanh by under 0.3 ulp. |x| is capped at 20, where tanh is 1 in
/// f64; NaN stays NaN. It replaced Cephes' two-branch tanh (1.4 ulp), whose
/// vectorized form computed both branches' rational parts.
#[inline(always)]
fn tanh_with(x: f64, fma: impl Fn(f64, f64, f64) -> f64) -> f64 {
    let y = 2.0 * x.abs();
    // Not `min`, which would turn NaN into the cap.
    let y = if y > 40.0 { 40.0 } else { y };
    let t = fma(y, LOG2_E, MAGIC);
    let k = t - MAGIC;
    let r = fma(-k, LN_2, y);
    let rr = r * r;
    // 2p, the factor 2 folded into the coefficients.
    let p2 = r * fma(
        fma(2.523_543_861_496_211_7e-4, rr, 6.059_888_154_148_839e-2),
        rr,
        2.0,
    );
    let q = fma(
        fma(
            fma(3.001_985_051_386_644_5e-6, rr, 2.524_483_403_496_841e-3),
            rr,
            2.272_655_482_081_550_3e-1,
        ),
        rr,
        2.0,
    );
    // 2^k: k + 1023 into the exponent field (0 ≤ k ≤ 58); 2^k − 1 is exact.
    let scale = f64::from_bits(t.to_bits().wrapping_add(1023) << 52);
    let qmp = fma(p2, -0.5, q);
    let n = fma(scale, p2, (scale - 1.0) * qmp);
    let den = fma(2.0, qmp, n);
    (n / den).copysign(x)
}

/// tanh of every entry, in place, vectorized at run time.
pub(crate) fn tanh_slice(v: &mut [f64]) {
    pulp::Arch::new().dispatch(TanhSlice(v));
}

struct TanhSlice<'a>(&'a mut [f64]);

impl pulp::WithSimd for TanhSlice<'_> {
    type Output = ();
    // Inlined into pulp's target-feature function, so the loop vectorizes there.
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        // 256-bit registers on x86 come with FMA (pulp's V3 level): fused
        // multiply-adds halve the dependency chains. Elsewhere the plain ones.
        if cfg!(target_arch = "x86_64") && std::mem::size_of::<S::f64s>() == 32 {
            for x in self.0.iter_mut() {
                *x = tanh_with(*x, f64::mul_add);
            }
        } else {
            for x in self.0.iter_mut() {
                *x = tanh_with(*x, |a, b, c| a * b + c);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (x, hi, lo): tanh x ≈ hi + lo to 160 bits (mpmath), hi the nearest f64.
    #[rustfmt::skip]
    const TANH_REFERENCE: [(f64, f64, f64); 42] = [
        (0.19432671940606108, 0.19191700024146713, 6.407049703865548e-18),
        (0.1895811033332808, 0.18734204297619478, 6.976503369216594e-18),
        (0.17396237595067665, 0.1722284927290071, 8.536851484527288e-18),
        (0.007803221049443331, 0.007803062673251171, 2.843907665504432e-19),
        (0.19882324782949076, 0.19624414860287592, 9.188291569129167e-18),
        (0.0004866292410252248, 0.00048662920261265976, -1.990201935707789e-20),
        (0.17694952054030894, 0.17512553162263125, 1.0422661660114331e-17),
        (0.2347, 0.23048346921996443, 1.0625311826509416e-17),
        (0.2539970880013826, 0.24867228983027084, 1.1071462147136345e-17),
        (5.366240601755784e-05, 5.366240596604812e-05, 2.7282411762882004e-21),
        (0.11665379917824936, 0.116127517804265, -5.6236181889349e-18),
        (0.0019387945552032302, 0.0019387921259462096, 8.844816615438198e-20),
        (0.5424, 0.4948025271311547, 2.309224716496368e-17),
        (2.3649988378465554e-07, 2.3649988378465112e-07, 1.1133985332651154e-23),
        (0.00024237471885755457, 0.000242374714111413, -1.1556489286231455e-20),
        (0.00023534336860328144, 0.00023534336425833294, 1.1729246475374409e-20),
        (0.17457156637765522, 0.17281955086440226, 1.2439474608393254e-17),
        (0.5454271725837648, 0.4970851324622927, 2.5199704052683485e-17),
        (0.5379976160277152, 0.49147074066371804, 2.651698807038286e-17),
        (0.00011396394864025553, 0.00011396394814687592, -6.52442775787882e-21),
        (0.00023155271015405724, 0.00023155270601569653, 1.340342115862762e-20),
        (0.22708496634374264, 0.22326042835025642, 1.3790093975032015e-17),
        (0.5221, 0.47931917116315076, 2.7652733864644793e-17),
        (0.5282343300309291, 0.4840302470050407, 2.7045107000982565e-17),
        (1e-10, 1e-10, -3.3333333333333338e-31),
        (3e-05, 2.9999999991e-05, -4.935081491892927e-22),
        (0.01, 0.00999966667999946, 2.249494707259477e-19),
        (0.1, 0.09966799462495582, 3.542433877641546e-18),
        (0.17, 0.16838104587081473, -1.2752534850649842e-17),
        (0.18, 0.1780808681173302, -1.1069666858807237e-17),
        (0.3, 0.2913126124515909, -6.4602656586469586e-18),
        (0.5, 0.46211715726000974, 2.1916603238260928e-17),
        (0.625, 0.5545997223493823, 3.145617845100655e-17),
        (0.9, 0.7162978701990245, -3.514093391268979e-17),
        (1.3, 0.8617231593133063, 3.4082750348316456e-17),
        (2.0, 0.9640275800758169, -1.9413550547557176e-17),
        (3.7, 0.9987782412811312, -4.246277383496195e-17),
        (6.0, 0.9999877116507956, -1.486308258098996e-17),
        (9.5, 0.9999999887944072, -2.5291594875064477e-17),
        (14.0, 0.9999999999986171, 1.3778086010563447e-17),
        (18.4, 0.9999999999999998, 1.3598846813112926e-17),
        (19.9, 1.0, -1.0377903210109311e-17),
    ];

    /// tanh's error in ulp at the worst points found in a scan of 4·10⁵ points of
    /// [10⁻¹², 32] (both multiply-add forms) and a spread of others, against tanh
    /// to 160 bits (mpmath) held as a sum hi + lo of two f64: at most 3 ulp for the
    /// separate and the fused multiply-adds and for the vectorized slice (measured
    /// worst 2.77 ulp, at x = 0.1943, just past the first range reduction step).
    #[test]
    fn tanh_is_within_3_ulp() {
        let xs: Vec<f64> = TANH_REFERENCE.iter().map(|r| r.0).collect();
        let mut sliced = xs.clone();
        tanh_slice(&mut sliced);
        let plain = |a: f64, b: f64, c: f64| a * b + c;
        for (&(x, hi, lo), &s) in TANH_REFERENCE.iter().zip(&sliced) {
            // Spacing of the f64 just below hi (tanh x < 1, also where hi = 1).
            let ulp = hi - f64::from_bits(hi.to_bits() - 1);
            for (form, got) in [
                ("plain", tanh_with(x, plain)),
                ("fused", tanh_with(x, f64::mul_add)),
                ("slice", s),
                ("single", tanh(x)),
            ] {
                let err = ((got - hi) - lo).abs() / ulp;
                assert!(err <= 3.0, "{form} tanh({x}): {err} ulp");
            }
            assert_eq!(tanh(-x), -tanh(x));
        }
        for (x, want) in [
            (0.0, 0.0),
            (1e-300, 1e-300),
            (20.0, 1.0),
            (800.0, 1.0),
            (f64::INFINITY, 1.0),
        ] {
            for sign in [1.0, -1.0] {
                let got = tanh(sign * x);
                assert_eq!(got.to_bits(), (sign * want).to_bits(), "tanh({})", sign * x);
            }
        }
        let mut nan = [f64::NAN, -f64::NAN];
        tanh_slice(&mut nan);
        assert!(tanh(f64::NAN).is_nan() && nan.iter().all(|v| v.is_nan()));
    }

    /// Against the standard library over wide grids: relative error below 1e-15
    /// (the formulas' 2 ulp is 4.4e-16).
    #[test]
    fn exp_ln_and_softplus_match_std() {
        for i in 0..=70_000 {
            let y = -(i as f64) / 100.0;
            let (got, want) = (exp_nonpositive(y), y.exp());
            assert!(
                ((got - want) / want).abs() < 1e-15,
                "exp({y}): {got} vs {want}"
            );
        }
        for i in 0..=100_000 {
            let x = 1e-3 * (1.0 + i as f64 * 0.37).powf(1.7);
            let (got, want) = (ln_positive(x), x.ln());
            assert!(
                (got - want).abs() < 1e-15 * want.abs().max(1e-300) || got == want,
                "ln({x}): {got} vs {want}"
            );
        }
        for x in [1.0, 2.0, 0.5, std::f64::consts::E, 1e-300, 1e300] {
            assert!((ln_positive(x) - x.ln()).abs() <= 1e-15 * x.ln().abs().max(1.0));
        }
        for i in 0..=8_000 {
            let a = (i as f64 - 4_000.0) / 100.0;
            let (sp, sig) = softplus_sigmoid(a, 0.0);
            let want_sp = a.max(0.0) + (-a.abs()).exp().ln_1p();
            let want_sig = 1.0 / (1.0 + (-a).exp());
            assert!(((sp - want_sp) / want_sp).abs() < 1e-15, "softplus({a})");
            assert!(((sig - want_sig) / want_sig).abs() < 1e-15, "sigmoid({a})");
        }
    }
}
