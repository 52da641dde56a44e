//! tanh, exp and ln without library calls, for loops that should vectorize (the
//! networks' activations; the affine transform's softplus scale and its
//! log-determinant over a block of rows).
//! Cephes' formulas: 2^k times a Padé form on |r| ≤ ½ ln 2; 2^k and k from the
//! exponent bits, so every step is a plain arithmetic or bit operation.

use std::f64::consts::{LOG2_E, SQRT_2};

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

/// tanh to within 2 ulp without a library call: Cephes' `tanh` — a rational
/// approximation in x² for |x| ≤ 0.625, 1 − 2/(e^{2|x|} + 1) beyond, with e^y by
/// Cephes' `exp` (Padé form on |r| ≤ ½ ln 2, 2^k from the exponent bits); |x| is
/// capped at 20, where tanh is 1 in f64. One value at a time (the networks'
/// row-by-row passes): only the branch taken is computed, with the operations of
/// [`tanh_slice`]'s branch-free form, so the same values where both use separate
/// multiply-adds.
#[inline(always)]
pub(crate) fn tanh(x: f64) -> f64 {
    let fma = |a: f64, b: f64, c: f64| a * b + c;
    if x.abs() > 0.625 {
        let (num, den) = tanh_big(x, fma);
        1.0f64.copysign(x) + num / den
    } else {
        let (num, den) = tanh_small(x, fma);
        x + num / den
    }
}

/// The |x| > 0.625 branch of tanh: 1 − 2/(e^{2|x|} + 1) = sign(x) + num/den.
#[inline(always)]
fn tanh_big(x: f64, fma: impl Fn(f64, f64, f64) -> f64) -> (f64, f64) {
    let a = x.abs();
    // e^{2a}, a ≤ 20: k = round(2a / ln 2) by the 1.5·2⁵² trick (its low bits are k).
    const MAGIC: f64 = 6_755_399_441_055_744.0;
    let y = 2.0 * a.min(20.0);
    let t = fma(y, std::f64::consts::LOG2_E, MAGIC);
    let k = t - MAGIC;
    let r = fma(
        -k,
        1.428_606_820_309_417_2e-6,
        fma(-k, 6.931_457_519_531_25e-1, y),
    );
    let rr = r * r;
    let px = r * fma(
        fma(1.261_771_930_748_105_9e-4, rr, 3.029_944_077_074_419_6e-2),
        rr,
        1.0,
    );
    let qx = fma(
        fma(
            fma(3.001_985_051_386_644_5e-6, rr, 2.524_483_403_496_841e-3),
            rr,
            2.272_655_482_081_550_3e-1,
        ),
        rr,
        2.0,
    );
    // e^{2a} = 2^k (q + p)/(q − p); 1 − 2/(e^{2a} + 1) = 1 − 2(q − p)/(2^k (q + p) + q − p).
    let scale = f64::from_bits(t.to_bits().wrapping_add(1023) << 52);
    let big_num = -2.0 * (qx - px);
    let big_den = fma(scale, qx + px, qx - px);
    (big_num.copysign(-x), big_den)
}

/// The |x| ≤ 0.625 branch of tanh: x + num/den.
#[inline(always)]
fn tanh_small(x: f64, fma: impl Fn(f64, f64, f64) -> f64) -> (f64, f64) {
    let s = x * x;
    let p = fma(
        fma(-9.643_991_794_250_523e-1, s, -9.928_772_310_019_186e1),
        s,
        -1.614_687_684_417_084_5e3,
    );
    let q = fma(
        fma(s + 1.128_116_784_916_329_3e2, s, 2.235_488_390_601_004_5e3),
        s,
        4.844_063_053_251_255e3,
    );
    (x * s * p, q)
}

/// Branch-free tanh (both branches up to one shared division), so a loop of it
/// vectorizes; multiply-adds by `fma` (fused where the CPU has it).
#[inline(always)]
fn tanh_with(x: f64, fma: impl Fn(f64, f64, f64) -> f64 + Copy) -> f64 {
    let (big_num, big_den) = tanh_big(x, fma);
    let (small_num, small_den) = tanh_small(x, fma);
    // One division for either branch: c + num/den.
    let (c, num, den) = if x.abs() > 0.625 {
        (1.0f64.copysign(x), big_num, big_den)
    } else {
        (x, small_num, small_den)
    };
    c + num / den
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

    /// The branching tanh of single values is the branch-free one without fused
    /// multiply-adds, bit for bit (both sides of 0.625, the cap at 20, ±0, ±∞).
    #[test]
    fn branching_tanh_equals_branch_free_tanh() {
        let plain = |a: f64, b: f64, c: f64| a * b + c;
        let specials = [0.0, -0.0, 0.625, -0.625, 20.0, 25.0, f64::INFINITY, -1e-300];
        for x in (0..=100_000)
            .map(|i| (i as f64 - 50_000.0) / 2_000.0)
            .chain(specials)
        {
            assert_eq!(
                tanh(x).to_bits(),
                tanh_with(x, plain).to_bits(),
                "tanh({x})"
            );
        }
        assert!(tanh(f64::NAN).is_nan() && tanh_with(f64::NAN, plain).is_nan());
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
