//! Continuous distributions (HalfNormal, HalfCauchy, LogNormal, InverseGamma, Beta,
//! Uniform, StudentT, Cauchy): log densities against statrs, gradients against finite
//! differences, moments and quantiles against closed forms, constructor errors, and no
//! panic or NaN for any f64.

mod common;

use std::f64::consts::{LN_2, PI};

use common::*;
use ppl::{
    Beta, Cauchy, Constraint, Distribution, HalfCauchy, HalfNormal, InverseGamma, LogNormal,
    Normal, Operand, PplError, Shape, StudentT, Tape, Uniform, Var,
};
use proptest::prelude::*;
use statrs::distribution::Continuous;

/// Out-of-support values shared by the positive-support distributions.
const NOT_POSITIVE: [f64; 5] = [-1.0, -1e-300, f64::NEG_INFINITY, f64::INFINITY, f64::NAN];

/// Asserts `log_prob` is exactly −∞ at each value.
fn assert_neg_inf<'t>(d: &dyn Distribution<'t>, tape: &'t Tape, xs: &[f64]) {
    for &x in xs {
        assert_eq!(lp(d, tape, x), f64::NEG_INFINITY, "{} at {x}", d.name());
    }
}

/// Asserts a constructor result is `InvalidParameter` naming `distribution` and `parameter`.
fn assert_invalid<T>(r: Result<T, PplError>, distribution: &str, parameter: &str) {
    match r {
        Err(PplError::InvalidParameter {
            distribution: d,
            parameter: p,
            ..
        }) => {
            assert_eq!((d, p), (distribution, parameter));
        }
        Err(e) => panic!("{distribution}.{parameter}: wrong error {e:?}"),
        Ok(_) => panic!("{distribution}.{parameter}: accepted an invalid value"),
    }
}

/// Values every "finite" parameter must reject.
const NOT_FINITE: [f64; 3] = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY];
/// Values every "finite and > 0" parameter must reject.
const NOT_POSITIVE_PARAM: [f64; 6] = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -0.0, -2.5];

// ---------------------------------------------------------------------------------------
// Log densities against statrs (or closed forms built from statrs).
// ---------------------------------------------------------------------------------------

#[test]
fn half_normal_is_twice_the_normal_density() {
    let tape = Tape::new();
    for &sigma in &[0.5, 1.0, 7.0] {
        let d = HalfNormal::new(sigma).unwrap();
        let s = statrs::distribution::Normal::new(0.0, sigma).unwrap();
        for &x in &[0.0, 0.1, 1.0, 5.0, 30.0] {
            assert_close(
                lp(&d, &tape, x),
                LN_2 + s.ln_pdf(x),
                LOGPDF_RTOL,
                "HalfNormal",
            );
        }
        assert_neg_inf(&d, &tape, &NOT_POSITIVE);
        assert_eq!(d.support(), Constraint::Positive);
    }
}

#[test]
fn half_cauchy_is_twice_the_cauchy_density() {
    let tape = Tape::new();
    for &s in &[0.2, 1.0, 25.0] {
        let d = HalfCauchy::new(s).unwrap();
        let c = statrs::distribution::Cauchy::new(0.0, s).unwrap();
        for &x in &[0.0, 0.1, 1.0, 5.0, 300.0, 1e7] {
            assert_close(
                lp(&d, &tape, x),
                LN_2 + c.ln_pdf(x),
                LOGPDF_RTOL,
                "HalfCauchy",
            );
        }
        assert_neg_inf(&d, &tape, &NOT_POSITIVE);
        assert_eq!(d.support(), Constraint::Positive);
    }
}

#[test]
fn lognormal_matches_statrs() {
    let tape = Tape::new();
    for &(mu, sigma) in &[(0.0, 1.0), (-1.0, 0.3), (2.0, 2.0)] {
        let d = LogNormal::new(mu, sigma).unwrap();
        let s = statrs::distribution::LogNormal::new(mu, sigma).unwrap();
        for &x in &[1e-3, 0.5, 1.0, 4.0, 100.0] {
            assert_close(lp(&d, &tape, x), s.ln_pdf(x), LOGPDF_RTOL, "LogNormal");
        }
        assert_neg_inf(&d, &tape, &[0.0]);
        assert_neg_inf(&d, &tape, &NOT_POSITIVE);
    }
}

#[test]
fn inverse_gamma_matches_statrs_shape_rate() {
    // statrs::InverseGamma::new(shape α, rate β) has density βᵅ x^{−α−1} e^{−β/x} / Γ(α):
    // the same parameterization as NumPyro's (concentration, rate).
    let tape = Tape::new();
    for &(a, b) in &[(3.0, 2.0), (0.7, 0.5), (12.0, 30.0), (45.0, 4.0)] {
        let d = InverseGamma::new(a, b).unwrap();
        let s = statrs::distribution::InverseGamma::new(a, b).unwrap();
        for &x in &[0.05, 0.4, 1.0, 3.0, 15.0] {
            assert_close(lp(&d, &tape, x), s.ln_pdf(x), LOGPDF_RTOL, "InverseGamma");
        }
        assert_neg_inf(&d, &tape, &[0.0]);
        assert_neg_inf(&d, &tape, &NOT_POSITIVE);
    }
}

#[test]
fn beta_matches_statrs_and_excludes_the_endpoints() {
    let tape = Tape::new();
    for &(a, b) in &[(2.0, 5.0), (0.5, 0.5), (30.0, 4.0), (1.0, 3.0), (1.0, 1.0)] {
        let d = Beta::new(a, b).unwrap();
        let s = statrs::distribution::Beta::new(a, b).unwrap();
        for &x in &[1e-3, 0.2, 0.5, 0.9, 0.999] {
            assert_close(lp(&d, &tape, x), s.ln_pdf(x), LOGPDF_RTOL, "Beta");
        }
        // The support is the open interval, also where statrs gives a finite limit.
        assert_neg_inf(&d, &tape, &[0.0, 1.0, -0.1, 1.1, f64::NAN, f64::INFINITY]);
        assert_eq!(d.support(), Constraint::UnitInterval);
    }
}

#[test]
fn uniform_matches_statrs_on_the_closed_interval() {
    let tape = Tape::new();
    for &(lo, hi) in &[(0.0, 1.0), (-3.0, 2.5), (1e3, 1e3 + 1e-3)] {
        let d = Uniform::new(lo, hi).unwrap();
        let s = statrs::distribution::Uniform::new(lo, hi).unwrap();
        for t in [0.0, 0.1, 0.5, 0.99, 1.0] {
            let x = lo + t * (hi - lo);
            assert_close(lp(&d, &tape, x), s.ln_pdf(x), LOGPDF_RTOL, "Uniform");
        }
        assert_neg_inf(
            &d,
            &tape,
            &[
                lo - 1e-9 * (1.0 + lo.abs()),
                hi + 1.0,
                f64::NAN,
                f64::INFINITY,
            ],
        );
        assert_eq!(d.support(), Constraint::Interval(lo, hi));
    }
    // high − low = 2e308 overflows f64; its logarithm does not.
    let wide = Uniform::new(-1e308, 1e308).unwrap();
    assert_close(
        lp(&wide, &tape, 0.0),
        -(1e308_f64.ln() + LN_2),
        LOGPDF_RTOL,
        "wide Uniform",
    );
}

#[test]
fn student_t_matches_statrs() {
    // statrs::StudentsT::new(location, scale, freedom): df comes last there, first here.
    let tape = Tape::new();
    for &(nu, mu, sigma) in &[
        (3.0, 0.0, 1.0),
        (0.5, -2.0, 3.0),
        (30.0, 1.0, 0.5),
        (1.0, 0.0, 2.0),
        (250.0, 4.0, 1.5),
    ] {
        let d = StudentT::new(nu, mu, sigma).unwrap();
        let s = statrs::distribution::StudentsT::new(mu, sigma, nu).unwrap();
        for &x in &[-50.0, -1.0, 0.0, 0.7, 3.0, 1e3] {
            assert_close(lp(&d, &tape, x), s.ln_pdf(x), LOGPDF_RTOL, "StudentT");
        }
        assert_neg_inf(&d, &tape, &NOT_FINITE);
        assert_eq!(d.support(), Constraint::Real);
    }
}

#[test]
fn cauchy_matches_statrs() {
    let tape = Tape::new();
    for &(mu, s) in &[(0.0, 1.0), (-3.0, 0.2), (10.0, 50.0)] {
        let d = Cauchy::new(mu, s).unwrap();
        let c = statrs::distribution::Cauchy::new(mu, s).unwrap();
        for &x in &[-1e6, -3.0, 0.0, 0.5, 9.0, 1e8] {
            assert_close(lp(&d, &tape, x), c.ln_pdf(x), LOGPDF_RTOL, "Cauchy");
        }
        assert_neg_inf(&d, &tape, &NOT_FINITE);
        assert_eq!(d.support(), Constraint::Real);
    }
}

#[test]
fn heavy_tails_stay_finite_where_z_squared_overflows() {
    // At |x − μ| = 1e300, z² overflows; the log densities are still ordinary numbers:
    // Cauchy: −ln π − 2 ln|x| (ln1p(1/z²) = 0 in f64); StudentT(ν): the same power law.
    let tape = Tape::new();
    let ln_x = 1e300_f64.ln();
    let c = Cauchy::new(0.0, 1.0).unwrap();
    assert_close(
        lp(&c, &tape, 1e300),
        -PI.ln() - 2.0 * ln_x,
        LOGPDF_RTOL,
        "Cauchy tail",
    );
    assert_close(
        lp(&c, &tape, -1e300),
        -PI.ln() - 2.0 * ln_x,
        LOGPDF_RTOL,
        "Cauchy tail",
    );
    let h = HalfCauchy::new(1.0).unwrap();
    assert_close(
        lp(&h, &tape, 1e300),
        LN_2 - PI.ln() - 2.0 * ln_x,
        LOGPDF_RTOL,
        "HalfCauchy tail",
    );
    // x − μ itself overflows.
    let far = lp(&Cauchy::new(-1e308, 1.0).unwrap(), &tape, 1e308);
    assert_close(
        far,
        -PI.ln() - 2.0 * (1e308_f64.ln() + LN_2),
        LOGPDF_RTOL,
        "Cauchy far",
    );
    let nu = 3.0_f64;
    let t = StudentT::new(nu, 0.0, 1.0).unwrap();
    let s = statrs::distribution::StudentsT::new(0.0, 1.0, nu).unwrap();
    // ln t(x) = ln t(1e3) − (ν+1)/2 · ln((ν + x²)/(ν + 1e6)) — exact in logs.
    let expected = s.ln_pdf(1e3) - 0.5 * (nu + 1.0) * (2.0 * ln_x - (nu + 1e6).ln());
    assert_close(lp(&t, &tape, 1e300), expected, LOGPDF_RTOL, "StudentT tail");
}

#[test]
fn student_t_tends_to_normal_for_large_df() {
    // ln t_ν(x) − ln N(x) = O(z⁴/ν): below 1e-10 for |z| ≤ 3 and ν = 1e12.
    const LARGE_DF_TOL: f64 = 1e-10;
    let tape = Tape::new();
    let t = StudentT::new(1e12, 1.0, 2.0).unwrap();
    let n = Normal::new(1.0, 2.0).unwrap();
    for &x in &[-5.0, 0.0, 1.0, 2.5, 7.0] {
        assert_close(
            lp(&t, &tape, x),
            lp(&n, &tape, x),
            LARGE_DF_TOL,
            "StudentT(1e12)",
        );
    }
}

#[test]
fn batched_parameters_broadcast() {
    let tape = Tape::new();
    let d = Beta::new(vec![2.0, 0.5, 30.0], 4.0).unwrap();
    assert_eq!(d.batch_shape(), Shape::vector(3));
    let out = d.log_prob(&tape, Operand::Scalar(0.3)).value();
    for (i, &a) in [2.0, 0.5, 30.0].iter().enumerate() {
        let s = statrs::distribution::Beta::new(a, 4.0).unwrap();
        assert_close(out[i], s.ln_pdf(0.3), LOGPDF_RTOL, "batched Beta");
    }
    let t = StudentT::new(vec![1.0, 5.0], 0.0, vec![1.0, 3.0]).unwrap();
    let xs = [0.5, -2.0];
    let out = t.log_prob(&tape, Operand::from(&xs[..])).value();
    for (i, &(nu, s)) in [(1.0, 1.0), (5.0, 3.0)].iter().enumerate() {
        let r = statrs::distribution::StudentsT::new(0.0, s, nu).unwrap();
        assert_close(out[i], r.ln_pdf(xs[i]), LOGPDF_RTOL, "batched StudentT");
    }
    assert!(matches!(
        Cauchy::new(vec![0.0, 1.0], vec![1.0, 2.0, 3.0]),
        Err(PplError::ShapeMismatch { .. })
    ));
    assert!(matches!(
        StudentT::new(vec![1.0; 2], 0.0, vec![1.0; 3]),
        Err(PplError::ShapeMismatch { .. })
    ));
}

#[test]
fn uniform_with_batched_bounds() {
    let tape = Tape::new();
    let d = Uniform::new(vec![0.0, -2.0, 1.0], 3.0).unwrap();
    let out = d.log_prob(&tape, Operand::Scalar(0.5)).value();
    assert_eq!(out[0], -(3.0_f64).ln());
    assert_eq!(out[1], -(5.0_f64).ln());
    assert_eq!(out[2], f64::NEG_INFINITY);
    // The support is the hull of the element supports; checked_support refuses it.
    assert_eq!(d.support(), Constraint::Interval(-2.0, 3.0));
    assert!(matches!(d.checked_support(), Err(PplError::Unsupported(_))));
    let same = Uniform::new(vec![1.0, 1.0], vec![2.0, 2.0]).unwrap();
    assert_eq!(same.checked_support(), Ok(Constraint::Interval(1.0, 2.0)));
    assert_eq!(
        Uniform::new(-1.0, 1.0).unwrap().checked_support(),
        Ok(Constraint::Interval(-1.0, 1.0))
    );
}

// ---------------------------------------------------------------------------------------
// Gradients: analytic partials against central finite differences.
// ---------------------------------------------------------------------------------------

#[test]
fn uniform_gradient_in_the_bounds() {
    let tape = Tape::new();
    let (lo, hi) = (tape.scalar(-1.0), tape.scalar(3.0));
    let x = tape.scalar(0.5);
    let d = Uniform::new(lo, hi).unwrap();
    tape.backward(d.log_prob(&tape, Operand::Var(x)).sum())
        .unwrap();
    assert_eq!(lo.grad(), vec![0.25]);
    assert_eq!(hi.grad(), vec![-0.25]);
    assert_eq!(x.grad(), vec![0.0]);
}

#[test]
fn out_of_support_has_zero_partials() {
    let tape = Tape::new();
    let (a, b) = (tape.scalar(2.0), tape.scalar(3.0));
    let x = tape.scalar(1.5);
    let lps = [
        Beta::new(a, b).unwrap().log_prob(&tape, Operand::Var(x)),
        Uniform::new(a, b).unwrap().log_prob(&tape, Operand::Var(x)),
        InverseGamma::new(a, b)
            .unwrap()
            .log_prob(&tape, Operand::Scalar(-1.0)),
        HalfNormal::new(a)
            .unwrap()
            .log_prob(&tape, Operand::Scalar(-1.0)),
    ];
    for v in lps {
        assert_eq!(v.scalar(), f64::NEG_INFINITY);
    }
    let total = lps.iter().skip(1).fold(lps[0], |acc, v| acc + *v);
    tape.backward(total).unwrap();
    assert_eq!(
        (a.grad(), b.grad(), x.grad()),
        (vec![0.0], vec![0.0], vec![0.0])
    );
}

proptest! {
    #[test]
    fn half_normal_gradient(sigma in 0.1..5.0f64, x in 0.01..10.0f64) {
        check_gradient(|p| Box::new(HalfNormal::new(p[0]).unwrap()), &[sigma], x, true);
    }

    #[test]
    fn half_cauchy_gradient(s in 0.1..5.0f64, x in 0.01..50.0f64) {
        check_gradient(|p| Box::new(HalfCauchy::new(p[0]).unwrap()), &[s], x, true);
    }

    #[test]
    fn lognormal_gradient(mu in -2.0..2.0f64, sigma in 0.2..3.0f64, x in 0.05..20.0f64) {
        check_gradient(|p| Box::new(LogNormal::new(p[0], p[1]).unwrap()), &[mu, sigma], x, true);
    }

    #[test]
    fn inverse_gamma_gradient(a in 0.3..30.0f64, b in 0.1..10.0f64, x in 0.05..20.0f64) {
        check_gradient(|p| Box::new(InverseGamma::new(p[0], p[1]).unwrap()), &[a, b], x, true);
    }

    #[test]
    fn beta_gradient(a in 0.3..20.0f64, b in 0.3..20.0f64, x in 0.02..0.98f64) {
        check_gradient(|p| Box::new(Beta::new(p[0], p[1]).unwrap()), &[a, b], x, true);
    }

    #[test]
    fn uniform_gradient(lo in -5.0..0.0f64, hi in 0.5..5.0f64, t in 0.05..0.95f64) {
        // x strictly inside, so the ±step evaluations stay inside too.
        let x = lo + t * (hi - lo);
        check_gradient(|p| Box::new(Uniform::new(p[0], p[1]).unwrap()), &[lo, hi], x, true);
    }

    #[test]
    fn student_t_gradient(nu in 0.5..50.0f64, mu in -3.0..3.0f64, sigma in 0.2..4.0f64, x in -10.0..10.0f64) {
        check_gradient(|p| Box::new(StudentT::new(p[0], p[1], p[2]).unwrap()), &[nu, mu, sigma], x, true);
    }

    #[test]
    fn student_t_gradient_in_the_tail(nu in 0.5..10.0f64, x in 1e3..1e8f64) {
        // |z|/√ν > 1: the log-space branch of the kernel.
        check_gradient(|p| Box::new(StudentT::new(p[0], p[1], p[2]).unwrap()), &[nu, 0.5, 1.5], x, true);
    }

    #[test]
    fn cauchy_gradient(mu in -3.0..3.0f64, s in 0.1..5.0f64, x in -30.0..30.0f64) {
        check_gradient(|p| Box::new(Cauchy::new(p[0], p[1]).unwrap()), &[mu, s], x, true);
    }

    #[test]
    fn cauchy_gradient_in_the_tail(s in 0.1..5.0f64, x in 1e3..1e8f64) {
        check_gradient(|p| Box::new(Cauchy::new(p[0], p[1]).unwrap()), &[-2.0, s], -x, true);
    }
}

// ---------------------------------------------------------------------------------------
// Moments and quantiles of the samplers.
// ---------------------------------------------------------------------------------------

/// Draws for the Monte-Carlo checks.
const DRAWS: usize = 40_000;

#[test]
fn moments_match_closed_forms() {
    // 40,000 draws, 5-standard-error budget (check_moments); heavy-tailed cases are
    // chosen so the fourth moment exists (the variance's standard error needs it).
    check_moments(&HalfNormal::new(2.0).unwrap(), DRAWS, 11);
    check_moments(&LogNormal::new(0.3, 0.5).unwrap(), DRAWS, 12);
    check_moments(&InverseGamma::new(9.0, 3.0).unwrap(), DRAWS, 13);
    check_moments(&Beta::new(2.0, 5.0).unwrap(), DRAWS, 14);
    check_moments(&Beta::new(0.5, 0.5).unwrap(), DRAWS, 15);
    check_moments(&Uniform::new(-3.0, 2.5).unwrap(), DRAWS, 16);
    check_moments(&StudentT::new(9.0, 1.0, 2.0).unwrap(), DRAWS, 17);
}

/// The sample p-quantile (order statistic ⌊p·n⌋ of the sorted draws).
fn sample_quantile(sorted: &[f64], p: f64) -> f64 {
    sorted[(p * sorted.len() as f64) as usize]
}

/// Checks the sample quartiles of `n` draws of a scalar distribution against the exact
/// quantiles `q(p)` with density `f(q)`: the sample quantile is asymptotically normal with
/// standard error √(p(1−p)/n) / f(q), and must lie within [`MC_SIGMAS`] of them.
fn check_quartiles(
    d: &dyn Distribution<'_>,
    seed: u64,
    q: impl Fn(f64) -> f64,
    f: impl Fn(f64) -> f64,
) {
    let mut r = rng(seed);
    let mut xs: Vec<f64> = (0..DRAWS).map(|_| d.sample(&mut r)[0]).collect();
    assert!(
        xs.iter().all(|x| x.is_finite()),
        "{}: non-finite draw",
        d.name()
    );
    xs.sort_by(f64::total_cmp);
    for p in [0.25, 0.5, 0.75] {
        let (qp, got) = (q(p), sample_quantile(&xs, p));
        let se = (p * (1.0 - p) / DRAWS as f64).sqrt() / f(qp);
        assert!(
            (got - qp).abs() <= MC_SIGMAS * se,
            "{} q{p}: {got} vs {qp} (se {se})",
            d.name()
        );
    }
}

#[test]
fn cauchy_quartiles_match_closed_forms() {
    // No moments: compare the median and quartiles, q(p) = μ + s tan(π(p − ½)).
    let (mu, s) = (1.5, 2.0);
    let d = Cauchy::new(mu, s).unwrap();
    let q = |p: f64| mu + s * (PI * (p - 0.5)).tan();
    let f = |x: f64| 1.0 / (PI * s * (1.0 + ((x - mu) / s).powi(2)));
    check_quartiles(&d, 21, q, f);
    assert!(d.mean().is_none() && d.variance().is_none());
}

#[test]
fn half_cauchy_quartiles_match_closed_forms() {
    // q(p) = s tan(πp/2), f(x) = 2 / (π s (1 + (x/s)²)).
    let s = 1.5;
    let d = HalfCauchy::new(s).unwrap();
    let q = |p: f64| s * (0.5 * PI * p).tan();
    let f = |x: f64| 2.0 / (PI * s * (1.0 + (x / s).powi(2)));
    check_quartiles(&d, 22, q, f);
    assert!(d.mean().is_none() && d.variance().is_none());
}

#[test]
fn moments_are_none_where_they_do_not_exist() {
    assert!(StudentT::new(1.0, 0.0, 1.0).unwrap().mean().is_none());
    assert_eq!(
        StudentT::new(1.5, 2.0, 1.0).unwrap().mean(),
        Some(vec![2.0])
    );
    assert!(StudentT::new(1.5, 2.0, 1.0).unwrap().variance().is_none());
    // A batch that mixes: None unless every element has the moment.
    let mixed = StudentT::new(vec![3.0, 0.9], 0.0, 1.0).unwrap();
    assert!(mixed.mean().is_none() && mixed.variance().is_none());
    assert_eq!(
        StudentT::new(vec![3.0, 4.0], 0.0, 2.0).unwrap().variance(),
        Some(vec![12.0, 8.0])
    );
    assert!(InverseGamma::new(1.0, 2.0).unwrap().mean().is_none());
    assert!(InverseGamma::new(2.0, 2.0).unwrap().variance().is_none());
    assert_eq!(InverseGamma::new(3.0, 4.0).unwrap().mean(), Some(vec![2.0]));
    assert!(
        InverseGamma::new(vec![3.0, 0.5], 4.0)
            .unwrap()
            .mean()
            .is_none()
    );
}

#[test]
fn samples_lie_in_the_support() {
    let mut r = rng(31);
    let tape = Tape::new();
    let cases: Vec<Box<dyn Distribution<'_>>> = vec![
        Box::new(HalfNormal::new(vec![0.1, 3.0]).unwrap()),
        Box::new(HalfCauchy::new(2.0).unwrap()),
        Box::new(LogNormal::new(-1.0, vec![0.5, 2.0]).unwrap()),
        Box::new(InverseGamma::new(vec![0.5, 7.0], 2.0).unwrap()),
        // Tiny concentrations: draws underflow to 0 or round to 1 unless clamped.
        Box::new(Beta::new(vec![0.01, 0.5, 300.0], vec![0.01, 2.0, 0.02]).unwrap()),
        Box::new(Uniform::new(vec![-1.0, 10.0], vec![1.0, 10.5]).unwrap()),
        Box::new(StudentT::new(vec![0.7, 30.0], 1.0, 2.0).unwrap()),
        Box::new(Cauchy::new(1.0, vec![0.5, 4.0]).unwrap()),
    ];
    for d in &cases {
        for _ in 0..2_000 {
            let xs = d.sample(&mut r);
            assert_eq!(xs.len(), d.batch_shape().len());
            let lps = d.log_prob(&tape, Operand::from(&xs[..])).value();
            assert!(
                lps.iter().all(|v| v.is_finite()),
                "{}: draw {xs:?} has log density {lps:?}",
                d.name()
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Constructor errors.
// ---------------------------------------------------------------------------------------

#[test]
fn constructors_name_the_bad_parameter() {
    for &bad in &NOT_POSITIVE_PARAM {
        assert_invalid(HalfNormal::new(bad), "HalfNormal", "scale");
        assert_invalid(HalfCauchy::new(bad), "HalfCauchy", "scale");
        assert_invalid(LogNormal::new(0.0, bad), "LogNormal", "scale");
        assert_invalid(InverseGamma::new(bad, 1.0), "InverseGamma", "concentration");
        assert_invalid(InverseGamma::new(1.0, bad), "InverseGamma", "rate");
        assert_invalid(Beta::new(bad, 1.0), "Beta", "concentration1");
        assert_invalid(Beta::new(1.0, bad), "Beta", "concentration0");
        assert_invalid(StudentT::new(bad, 0.0, 1.0), "StudentT", "df");
        assert_invalid(StudentT::new(1.0, 0.0, bad), "StudentT", "scale");
        assert_invalid(Cauchy::new(0.0, bad), "Cauchy", "scale");
    }
    for &bad in &NOT_FINITE {
        assert_invalid(LogNormal::new(bad, 1.0), "LogNormal", "loc");
        assert_invalid(StudentT::new(1.0, bad, 1.0), "StudentT", "loc");
        assert_invalid(Cauchy::new(bad, 1.0), "Cauchy", "loc");
        assert_invalid(Uniform::new(bad, 1.0), "Uniform", "low");
        assert_invalid(Uniform::new(0.0, bad), "Uniform", "high");
    }
    // Negative locations are fine.
    assert!(LogNormal::new(-3.0, 1.0).is_ok() && Cauchy::new(-3.0, 1.0).is_ok());
}

#[test]
fn uniform_requires_low_below_high() {
    for (lo, hi) in [(1.0, 1.0), (2.0, 1.0), (-0.0, 0.0)] {
        match Uniform::new(lo, hi) {
            Err(PplError::InvalidParameter {
                distribution: "Uniform",
                parameter: "high",
                value,
                requirement,
            }) => {
                assert_eq!((value, requirement), (hi, "> low"));
            }
            other => panic!("Uniform({lo}, {hi}): {other:?}"),
        }
    }
    // Checked after broadcasting: the second element fails.
    assert!(matches!(
        Uniform::new(vec![0.0, 2.0], 1.0),
        Err(PplError::InvalidParameter { parameter: "high", value, .. }) if value == 1.0
    ));
    assert!(matches!(
        Uniform::new(vec![0.0, 1.0], vec![1.0, 2.0, 3.0]),
        Err(PplError::ShapeMismatch { .. })
    ));
}

#[test]
fn tape_parameters_are_checked_too() {
    let tape = Tape::new();
    let s = tape.vector(&[1.0, -1.0]);
    assert!(matches!(
        Beta::new(1.0, s),
        Err(PplError::InvalidParameter { parameter: "concentration0", value, .. }) if value == -1.0
    ));
    let hi = tape.vector(&[1.0, 0.0]);
    assert!(matches!(
        Uniform::new(0.0, hi),
        Err(PplError::InvalidParameter {
            parameter: "high",
            ..
        })
    ));
}

// ---------------------------------------------------------------------------------------
// No panic, no NaN, for any f64.
// ---------------------------------------------------------------------------------------

/// Builds a distribution from tape parameters, or fails.
type Make = for<'t> fn(&[Var<'t>]) -> Result<Box<dyn Distribution<'t> + 't>, PplError>;

/// Every continuous distribution of this file, by arity.
fn all_constructors() -> Vec<(&'static str, usize, Make)> {
    fn boxed<'t, D: Distribution<'t> + 't>(
        r: Result<D, PplError>,
    ) -> Result<Box<dyn Distribution<'t> + 't>, PplError> {
        r.map(|d| Box::new(d) as Box<dyn Distribution<'t> + 't>)
    }
    vec![
        ("HalfNormal", 1, |p| boxed(HalfNormal::new(p[0]))),
        ("HalfCauchy", 1, |p| boxed(HalfCauchy::new(p[0]))),
        ("LogNormal", 2, |p| boxed(LogNormal::new(p[0], p[1]))),
        ("InverseGamma", 2, |p| boxed(InverseGamma::new(p[0], p[1]))),
        ("Beta", 2, |p| boxed(Beta::new(p[0], p[1]))),
        ("Uniform", 2, |p| boxed(Uniform::new(p[0], p[1]))),
        ("StudentT", 3, |p| boxed(StudentT::new(p[0], p[1], p[2]))),
        ("Cauchy", 2, |p| boxed(Cauchy::new(p[0], p[1]))),
    ]
}

/// log p(x) and the gradient in (params…, x), with every input a tape scalar; `None` if
/// the constructor rejects the parameters.
fn lp_and_grad(make: Make, params: &[f64], x: f64) -> Option<(f64, Vec<f64>)> {
    let tape = Tape::new();
    let ps: Vec<Var<'_>> = params.iter().map(|&p| tape.scalar(p)).collect();
    let d = make(&ps).ok()?;
    let xv = tape.scalar(x);
    let v = d.log_prob(&tape, Operand::Var(xv)).sum();
    tape.backward(v).ok()?;
    let grads = ps.iter().chain([&xv]).map(|p| p.grad()[0]).collect();
    Some((v.scalar(), grads))
}

/// Asserts no NaN in the log density or its gradient at (params, x).
fn assert_no_nan(params: &[f64; 3], x: f64) -> Result<(), TestCaseError> {
    for (name, arity, make) in all_constructors() {
        if let Some((v, g)) = lp_and_grad(make, &params[..arity], x) {
            prop_assert!(
                !v.is_nan(),
                "{name}{:?} at {x}: log_prob NaN",
                &params[..arity]
            );
            prop_assert!(
                v < f64::INFINITY,
                "{name}{:?} at {x}: log_prob +inf",
                &params[..arity]
            );
            prop_assert!(
                !g.iter().any(|g| g.is_nan()),
                "{name}{:?} at {x}: gradient {g:?}",
                &params[..arity]
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn never_panics_nor_nan_for_any_f64(
        a in proptest::num::f64::ANY,
        b in proptest::num::f64::ANY,
        c in proptest::num::f64::ANY,
        x in proptest::num::f64::ANY,
    ) {
        assert_no_nan(&[a, b, c], x)?;
    }

    #[test]
    fn never_nan_for_extreme_magnitudes(
        a in prop_oneof![1e-320..1e-300f64, 1e300..f64::MAX, -f64::MAX..-1e300],
        b in prop_oneof![1e-320..1e-300f64, 1e300..f64::MAX, 0.1..10.0f64],
        c in prop_oneof![1e-320..1e-300f64, 1e300..f64::MAX, 0.1..10.0f64],
        x in prop_oneof![1e-320..1e-300f64, 1e300..f64::MAX, -f64::MAX..-1e300, 0.0..1.0f64],
    ) {
        assert_no_nan(&[a, b, c], x)?;
    }
}

#[test]
fn extreme_points_found_while_hardening() {
    // Each of these gave NaN, ±∞ or a spurious −∞ in a naive kernel.
    let tape = Tape::new();
    // StudentT with ν/2 underflowing to 0: ln Γ(ν/2) is +∞, the density is not.
    assert!(lp(&StudentT::new(5e-324, 0.0, 1.0).unwrap(), &tape, 0.0).is_finite());
    // StudentT at its centre with (ν+1)/ν overflowing: ∂x is 0, not ∞·0.
    let make: Make = |p| Ok(Box::new(StudentT::new(p[0], p[1], p[2])?));
    let (v, g) = lp_and_grad(
        make,
        &[4.457067879779346e-309, -0.0, 7.125322401145452e91],
        0.0,
    )
    .unwrap();
    assert!(v.is_finite() && !g.iter().any(|g| g.is_nan()), "{v} {g:?}");
    // Beta with subnormal α, β: ψ(α + β) − ψ(α) is not −∞ + ∞.
    let make: Make = |p| Ok(Box::new(Beta::new(p[0], p[1])?));
    let (v, g) = lp_and_grad(
        make,
        &[1.152025395330325e-309, 3.95505057486171e-309],
        2.05813563510047e-31,
    )
    .unwrap();
    assert!(v.is_finite() && !g.iter().any(|g| g.is_nan()), "{v} {g:?}");
    // InverseGamma at its mode with α, β near f64::MAX.
    assert!(lp(&InverseGamma::new(1e308, 1e308).unwrap(), &tape, 1.0).is_finite());
    // Uniform whose width overflows.
    assert!(lp(&Uniform::new(-f64::MAX, f64::MAX).unwrap(), &tape, 0.0).is_finite());
    // Beta whose ln Γ(α + β) overflows: the kernel cannot represent ln B(α, β), and
    // reports −∞ rather than NaN (a documented limitation for α + β beyond ~1e305).
    assert_eq!(
        lp(&Beta::new(1.5e305, 1.5e305).unwrap(), &tape, 0.5),
        f64::NEG_INFINITY
    );
}
