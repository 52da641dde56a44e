//! Small statistical tests used by the validation checks.
#![allow(
    dead_code,
    reason = "used by the NUTS cookie checks, which land with the mcmc sampler"
)]

/// The Kolmogorov–Smirnov statistic D = sup |F_n(x) − F(x)| of `xs` against the CDF `cdf`.
pub(crate) fn ks_statistic(xs: &[f64], cdf: impl Fn(f64) -> f64) -> f64 {
    let mut s: Vec<f64> = xs.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len() as f64;
    s.iter()
        .enumerate()
        .map(|(i, &x)| {
            let f = cdf(x);
            (f - i as f64 / n).max((i + 1) as f64 / n - f)
        })
        .fold(0.0, f64::max)
}

/// The asymptotic p-value of a KS statistic `d` from a sample of effective size `n`:
/// Q_KS((√n + 0.12 + 0.11/√n)·d) with Q_KS(λ) = 2 Σ_{k≥1} (−1)^{k−1} e^{−2k²λ²}
/// (Stephens 1970, as in Numerical Recipes §14.3).
///
/// MCMC draws are autocorrelated; callers pass the effective sample size (ESS) rather
/// than the number of draws, so the test keeps its nominal level.
pub(crate) fn ks_p_value(d: f64, n: f64) -> f64 {
    let sn = n.sqrt();
    let lambda = (sn + 0.12 + 0.11 / sn) * d;
    if lambda < 0.2 {
        return 1.0;
    }
    let mut sum = 0.0;
    for k in 1..=100 {
        let kf = k as f64;
        let term = (-2.0 * kf * kf * lambda * lambda).exp();
        sum += if k % 2 == 1 { term } else { -term };
        if term < 1e-16 {
            break;
        }
    }
    (2.0 * sum).clamp(0.0, 1.0)
}

/// The CDF of Gamma(shape a, rate b) (regularized lower incomplete gamma, statrs).
pub(crate) fn gamma_cdf(a: f64, b: f64) -> impl Fn(f64) -> f64 {
    move |x| {
        if x <= 0.0 {
            0.0
        } else {
            statrs::function::gamma::gamma_lr(a, b * x)
        }
    }
}

/// P(χ²_k > x), the upper tail of the chi-squared distribution (regularized upper
/// incomplete gamma, statrs).
pub(crate) fn chi2_sf(x: f64, k: f64) -> f64 {
    if x <= 0.0 {
        1.0
    } else {
        statrs::function::gamma::gamma_ur(k / 2.0, x / 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ks_p_value_matches_the_kolmogorov_distribution() {
        // Q_KS(1.358) ≈ 0.05 and Q_KS(1.628) ≈ 0.01 (the classical critical values).
        let big = 1e12_f64;
        assert!((ks_p_value(1.358 / big.sqrt(), big) - 0.05).abs() < 1e-3);
        assert!((ks_p_value(1.628 / big.sqrt(), big) - 0.01).abs() < 1e-3);
        assert_eq!(ks_p_value(0.0, 100.0), 1.0);
    }

    #[test]
    fn ks_statistic_of_uniform_quantiles_is_small_and_of_a_shift_large() {
        let xs: Vec<f64> = (0..1000).map(|i| (i as f64 + 0.5) / 1000.0).collect();
        let d = ks_statistic(&xs, |x| x.clamp(0.0, 1.0));
        assert!(d <= 0.0005 + 1e-12, "{d}");
        let shifted: Vec<f64> = xs.iter().map(|x| x * 0.8).collect();
        let d = ks_statistic(&shifted, |x| x.clamp(0.0, 1.0));
        assert!((d - 0.2).abs() < 1e-3);
        assert!(ks_p_value(d, 1000.0) < 1e-10);
    }

    #[test]
    fn chi2_sf_matches_tables() {
        // χ²₉ critical values: 16.919 at 0.05, 21.666 at 0.01.
        assert!((chi2_sf(16.919, 9.0) - 0.05).abs() < 1e-4);
        assert!((chi2_sf(21.666, 9.0) - 0.01).abs() < 1e-4);
        assert_eq!(chi2_sf(0.0, 9.0), 1.0);
    }

    #[test]
    fn gamma_cdf_matches_closed_form_for_integer_shape() {
        // Gamma(2, rate 1): F(x) = 1 − e^{−x}(1 + x).
        let f = gamma_cdf(2.0, 1.0);
        for x in [0.1, 1.0, 3.5] {
            assert!((f(x) - (1.0 - (-x).exp() * (1.0 + x))).abs() < 1e-14);
        }
        assert_eq!(f(-1.0), 0.0);
    }
}
