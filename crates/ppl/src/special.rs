//! Special functions in f64, accurate to a few ulp where it matters for log densities.
//!
//! `ln_gamma` and `erfc` come from `libm` (ports of musl/FreeBSD msun); `digamma`,
//! `log_ndtr` and friends are written here because their derivatives drive gradients.

use std::f64::consts::{LN_2, PI};
use std::sync::OnceLock;

/// ½·ln(2π).
pub const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

/// ln Γ(x) for x > 0 (ln|Γ(x)| elsewhere; +∞ at the poles).
pub fn ln_gamma(x: f64) -> f64 {
    libm::lgamma_r(x).0
}

/// The digamma function ψ(x) = d/dx ln Γ(x).
///
/// Recurrence up to x ≥ 10 (the first omitted series term is then < 1e-16), then the asymptotic series (Abramowitz & Stegun 6.3.18);
/// reflection ψ(1−x) − ψ(x) = π cot(πx) for x < 0. Absolute error ≲ 1e-15 for x ≥ 1.
pub fn digamma(x: f64) -> f64 {
    if x.is_nan() || x == f64::NEG_INFINITY {
        return f64::NAN;
    }
    if x <= 0.0 && x.floor() == x {
        return f64::NAN;
    }
    if x < 0.0 {
        return digamma(1.0 - x) - PI / (PI * x).tan();
    }
    let mut x = x;
    let mut acc = 0.0;
    while x < 10.0 {
        acc -= 1.0 / x;
        x += 1.0;
    }
    let inv = 1.0 / x;
    let inv2 = inv * inv;
    // Bernoulli terms B_{2k}/(2k): 1/12, -1/120, 1/252, -1/240, 1/132, -691/32760, 1/12
    let series = inv2
        * (1.0 / 12.0
            - inv2
                * (1.0 / 120.0
                    - inv2
                        * (1.0 / 252.0
                            - inv2
                                * (1.0 / 240.0
                                    - inv2
                                        * (1.0 / 132.0
                                            - inv2 * (691.0 / 32760.0 - inv2 / 12.0))))));
    acc + x.ln() - 0.5 * inv - series
}

/// ln B(a, b) = ln Γ(a) + ln Γ(b) − ln Γ(a + b).
pub fn ln_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

/// The complementary error function.
pub fn erfc(x: f64) -> f64 {
    libm::erfc(x)
}

/// ln Φ(x), the log of the standard normal CDF, accurate in both tails.
pub fn log_ndtr(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x > 6.0 {
        // Φ(x) = 1 − ½ erfc(x/√2), and ln(1 − ε) by log1p.
        return (-0.5 * erfc(x * std::f64::consts::FRAC_1_SQRT_2)).ln_1p();
    }
    if x > -20.0 {
        return (0.5 * erfc(-x * std::f64::consts::FRAC_1_SQRT_2)).ln();
    }
    // Asymptotic expansion (A&S 26.2.12): Φ(x) = φ(x)/(-x) · Σ (-1)^k (2k-1)!! / x^{2k}.
    let z2 = 1.0 / (x * x);
    let mut term = 1.0;
    let mut sum = 1.0;
    for k in 1..12 {
        term *= -((2 * k - 1) as f64) * z2;
        sum += term;
    }
    -0.5 * x * x - LN_SQRT_2PI - (-x).ln() + sum.ln()
}

/// d/dx ln Φ(x) = φ(x)/Φ(x) (the inverse Mills ratio), stable in both tails.
pub fn d_log_ndtr(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x < -20.0 {
        // φ/Φ = (-x) / Σ(...) from the same expansion as `log_ndtr`.
        let z2 = 1.0 / (x * x);
        let mut term = 1.0;
        let mut sum = 1.0;
        for k in 1..12 {
            term *= -((2 * k - 1) as f64) * z2;
            sum += term;
        }
        return -x / sum;
    }
    (-0.5 * x * x - LN_SQRT_2PI - log_ndtr(x)).exp()
}

/// ln(1 + eˣ) without overflow or loss of precision.
pub fn softplus(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

/// The logistic function 1 / (1 + e^{−x}), stable for large |x|.
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// ln σ(x) = −softplus(−x).
pub fn log_sigmoid(x: f64) -> f64 {
    -softplus(-x)
}

/// ln Σ eˣⁱ with the maximum factored out; −∞ for an empty slice.
pub fn log_sum_exp(xs: &[f64]) -> f64 {
    let m = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !m.is_finite() {
        return if m == f64::INFINITY || xs.iter().any(|x| x.is_nan()) {
            if xs.iter().any(|x| x.is_nan()) {
                f64::NAN
            } else {
                f64::INFINITY
            }
        } else {
            f64::NEG_INFINITY
        };
    }
    m + xs.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

/// Counts below this have ln(k!) in a table (counts in observed data are small).
const LN_FACTORIAL_TABLE: usize = 1024;

static LN_FACTORIALS: OnceLock<Vec<f64>> = OnceLock::new();

/// ln(x!) = ln Γ(x + 1); for the integers 0 ≤ x < 1024 a table lookup of the same
/// values, because count likelihoods (Poisson, binomial, negative binomial) evaluate it
/// for every observation at every gradient evaluation.
#[inline]
pub fn ln_factorial(x: f64) -> f64 {
    if (0.0..LN_FACTORIAL_TABLE as f64).contains(&x) && x.fract() == 0.0 {
        let table = LN_FACTORIALS.get_or_init(|| {
            (0..LN_FACTORIAL_TABLE)
                .map(|k| ln_gamma(k as f64 + 1.0))
                .collect()
        });
        return table[x as usize];
    }
    ln_gamma(x + 1.0)
}

/// ln 2, re-exported for the half-distributions.
pub const LN2: f64 = LN_2;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_factorial_table_holds_ln_gamma_values() {
        // Table entries, the first values past the table, and non-integers.
        for k in (0..1100).map(f64::from).chain([0.5, 2.5, 1023.5, 1e6]) {
            assert_eq!(
                ln_factorial(k).to_bits(),
                ln_gamma(k + 1.0).to_bits(),
                "{k}"
            );
        }
        assert_eq!(ln_factorial(0.0), 0.0);
        assert!((ln_factorial(10.0) - 3_628_800f64.ln()).abs() < 1e-12);
    }

    #[test]
    fn digamma_matches_known_values() {
        // ψ(1) = −γ, ψ(1/2) = −γ − 2 ln 2, ψ(10) from A&S table 6.1.
        let euler = 0.577_215_664_901_532_9;
        assert!((digamma(1.0) + euler).abs() < 1e-14);
        assert!((digamma(0.5) + euler + 2.0 * LN_2).abs() < 1e-14);
        assert!((digamma(10.0) - 2.251_752_589_066_721).abs() < 1e-14);
        assert!((digamma(-0.5) - 0.036_489_973_978_576_52).abs() < 1e-13);
    }

    #[test]
    fn digamma_is_derivative_of_ln_gamma() {
        for &x in &[0.1_f64, 0.7, 1.3, 4.0, 17.5, 250.0] {
            let h = 1e-6 * x.max(1.0);
            let fd = (ln_gamma(x + h) - ln_gamma(x - h)) / (2.0 * h);
            assert!(
                (fd - digamma(x)).abs() < 1e-7 * (1.0 + digamma(x).abs()),
                "x={x}"
            );
        }
    }

    #[test]
    fn log_ndtr_is_continuous_across_branches_and_matches_erfc() {
        // Φ(−1.96) = 0.024997895148220435 (standard table value).
        assert!((log_ndtr(-1.96) - 0.024_997_895_148_220_435_f64.ln()).abs() < 1e-13);
        for &b in &[-20.0, 6.0] {
            let (lo, hi) = (log_ndtr(b - 1e-9), log_ndtr(b + 1e-9));
            assert!(
                (lo - hi).abs() < 1e-8 * (1.0 + lo.abs()),
                "branch at {b}: {lo} vs {hi}"
            );
            let (dlo, dhi) = (d_log_ndtr(b - 1e-9), d_log_ndtr(b + 1e-9));
            assert!((dlo - dhi).abs() < 1e-8 * (1.0 + dlo.abs()));
        }
        // Far tail: ln Φ(−40) ≈ −804.608442013754 (mpmath).
        assert!((log_ndtr(-40.0) + 804.608_442_013_754).abs() < 1e-9);
    }

    #[test]
    fn softplus_sigmoid_log_sum_exp_are_stable() {
        assert_eq!(softplus(1000.0), 1000.0);
        assert!(softplus(-1000.0) >= 0.0);
        assert_eq!(sigmoid(-1000.0), 0.0);
        assert_eq!(sigmoid(1000.0), 1.0);
        assert!((log_sum_exp(&[1000.0, 1000.0]) - (1000.0 + LN_2)).abs() < 1e-12);
        assert_eq!(log_sum_exp(&[]), f64::NEG_INFINITY);
        assert_eq!(
            log_sum_exp(&[f64::NEG_INFINITY, f64::NEG_INFINITY]),
            f64::NEG_INFINITY
        );
    }
}
