//! Distributions: log densities against statrs, gradients against finite differences,
//! moments against closed forms, constructor errors, and no panic for any f64.

mod common;

use common::*;
use ppl::{Distribution, Exponential, Gamma, Normal, Operand, Poisson, PplError, Shape, Tape};
use proptest::prelude::*;
use statrs::distribution::{Continuous, Discrete};

#[test]
fn normal_matches_statrs() {
    let tape = Tape::new();
    for &(mu, sigma) in &[(0.0, 1.0), (-3.0, 0.1), (5.0, 20.0)] {
        let d = Normal::new(mu, sigma).unwrap();
        let s = statrs::distribution::Normal::new(mu, sigma).unwrap();
        for &x in &[-10.0, -1.0, 0.0, 0.3, 4.0, 25.0] {
            assert_close(lp(&d, &tape, x), s.ln_pdf(x), LOGPDF_RTOL, "Normal");
        }
    }
    assert_eq!(
        lp(&Normal::new(0.0, 1.0).unwrap(), &tape, f64::INFINITY),
        f64::NEG_INFINITY
    );
}

#[test]
fn gamma_matches_statrs_with_rate() {
    let tape = Tape::new();
    for &(a, b) in &[(2.0, 0.2), (0.5, 3.0), (30.0, 1.5)] {
        let d = Gamma::new(a, b).unwrap();
        let s = statrs::distribution::Gamma::new(a, b).unwrap(); // statrs: shape, rate
        for &x in &[0.01, 0.5, 1.0, 9.3, 40.0] {
            assert_close(lp(&d, &tape, x), s.ln_pdf(x), LOGPDF_RTOL, "Gamma");
        }
        assert_eq!(lp(&d, &tape, -1.0), f64::NEG_INFINITY);
        assert_eq!(lp(&d, &tape, 0.0), f64::NEG_INFINITY);
    }
}

#[test]
fn exponential_matches_statrs() {
    let tape = Tape::new();
    let d = Exponential::new(1.7).unwrap();
    let s = statrs::distribution::Exp::new(1.7).unwrap();
    for &x in &[0.0, 0.2, 3.0] {
        assert_close(lp(&d, &tape, x), s.ln_pdf(x), LOGPDF_RTOL, "Exponential");
    }
    assert_eq!(lp(&d, &tape, -0.1), f64::NEG_INFINITY);
}

#[test]
fn poisson_matches_statrs_and_rejects_non_counts() {
    let tape = Tape::new();
    for &l in &[0.3, 9.158, 250.0] {
        let d = Poisson::new(l).unwrap();
        let s = statrs::distribution::Poisson::new(l).unwrap();
        for k in [0u64, 1, 7, 12, 300] {
            assert_close(lp(&d, &tape, k as f64), s.ln_pmf(k), LOGPDF_RTOL, "Poisson");
        }
        for bad in [-1.0, 2.5, f64::NAN, f64::INFINITY] {
            assert_eq!(lp(&d, &tape, bad), f64::NEG_INFINITY);
        }
    }
}

#[test]
fn batched_parameters_broadcast_like_numpyro() {
    let tape = Tape::new();
    let d = Normal::new(vec![0.0, 1.0, 2.0], 1.0).unwrap();
    assert_eq!(d.batch_shape(), Shape::vector(3));
    let x = [0.0, 0.0, 0.0];
    let out = d.log_prob(&tape, Operand::from(&x[..])).value();
    let s = statrs::distribution::Normal::new(0.0, 1.0).unwrap();
    for (i, v) in out.iter().enumerate() {
        assert_close(*v, s.ln_pdf(-(i as f64)), LOGPDF_RTOL, "batched Normal");
    }
    // A scalar value broadcasts against the batch; a mismatched length is an error on the tape.
    assert_eq!(d.log_prob(&tape, Operand::Scalar(0.0)).len(), 3);
    let bad = [0.0; 4];
    let _ = d.log_prob(&tape, Operand::from(&bad[..]));
    assert!(matches!(tape.error(), Some(PplError::ShapeMismatch { .. })));
    assert!(matches!(
        Normal::new(vec![0.0, 1.0], vec![1.0, 1.0, 1.0]),
        Err(PplError::ShapeMismatch { .. })
    ));
}

#[test]
fn constructors_name_the_bad_parameter() {
    let e = Normal::new(0.0, -1.0).unwrap_err();
    assert!(matches!(
        e,
        PplError::InvalidParameter {
            distribution: "Normal",
            parameter: "scale",
            ..
        }
    ));
    assert!(matches!(
        Normal::new(f64::NAN, 1.0),
        Err(PplError::InvalidParameter {
            parameter: "loc",
            ..
        })
    ));
    assert!(matches!(
        Normal::new(f64::INFINITY, 1.0),
        Err(PplError::InvalidParameter {
            parameter: "loc",
            ..
        })
    ));
    assert!(matches!(
        Gamma::new(0.0, 1.0),
        Err(PplError::InvalidParameter {
            parameter: "concentration",
            ..
        })
    ));
    assert!(matches!(
        Gamma::new(1.0, f64::INFINITY),
        Err(PplError::InvalidParameter {
            parameter: "rate",
            ..
        })
    ));
    assert!(matches!(
        Exponential::new(f64::NAN),
        Err(PplError::InvalidParameter {
            parameter: "rate",
            ..
        })
    ));
    assert!(matches!(
        Poisson::new(-2.0),
        Err(PplError::InvalidParameter {
            parameter: "rate",
            ..
        })
    ));
    // A tape value is checked too.
    let tape = Tape::new();
    let s = tape.vector(&[1.0, -1.0]);
    assert!(
        matches!(Normal::new(0.0, s), Err(PplError::InvalidParameter { value, .. }) if value == -1.0)
    );
}

#[test]
fn moments_match_closed_forms() {
    // 40,000 draws: the mean and variance checks have a 5-standard-error budget.
    check_moments(&Normal::new(1.5, 2.0).unwrap(), 40_000, 1);
    check_moments(&Gamma::new(2.0, 0.2).unwrap(), 40_000, 2);
    check_moments(&Gamma::new(0.3, 4.0).unwrap(), 40_000, 3);
    check_moments(&Exponential::new(0.5).unwrap(), 40_000, 4);
    check_moments(&Poisson::new(9.3).unwrap(), 40_000, 5);
    check_moments(&Poisson::new(0.2).unwrap(), 40_000, 6);
}

proptest! {
    #[test]
    fn normal_gradient(mu in -5.0..5.0f64, sigma in 0.1..5.0f64, x in -10.0..10.0f64) {
        check_gradient(|p| Box::new(Normal::new(p[0], p[1]).unwrap()), &[mu, sigma], x, true);
    }

    #[test]
    fn gamma_gradient(a in 0.2..20.0f64, b in 0.05..5.0f64, x in 0.05..30.0f64) {
        check_gradient(|p| Box::new(Gamma::new(p[0], p[1]).unwrap()), &[a, b], x, true);
    }

    #[test]
    fn exponential_gradient(l in 0.05..10.0f64, x in 0.01..10.0f64) {
        check_gradient(|p| Box::new(Exponential::new(p[0]).unwrap()), &[l], x, true);
    }

    #[test]
    fn poisson_gradient(l in 0.05..50.0f64, k in 0u32..60) {
        check_gradient(|p| Box::new(Poisson::new(p[0]).unwrap()), &[l], k as f64, false);
    }

    #[test]
    fn constructors_never_panic(a in proptest::num::f64::ANY, b in proptest::num::f64::ANY, x in proptest::num::f64::ANY) {
        let tape = Tape::new();
        if let Ok(d) = Normal::new(a, b) { let v = lp(&d, &tape, x); prop_assert!(!v.is_nan() || x.is_nan()); }
        if let Ok(d) = Gamma::new(a, b) { let _ = lp(&d, &tape, x); }
        if let Ok(d) = Exponential::new(a) { let _ = lp(&d, &tape, x); }
        if let Ok(d) = Poisson::new(a) { let v = lp(&d, &tape, x); prop_assert!(!v.is_nan()); }
    }
}

#[test]
fn poisson_at_extreme_values_is_not_nan() {
    let tape = Tape::new();
    let d = Poisson::new(6.539190422885411e192).unwrap();
    assert_eq!(lp(&d, &tape, 2.5216526820777835e307), f64::NEG_INFINITY);
}

#[test]
fn poisson_with_rate_zero_puts_all_mass_at_zero() {
    let tape = Tape::new();
    let d = Poisson::new(0.0).unwrap();
    assert_eq!(lp(&d, &tape, 0.0), 0.0);
    assert_eq!(lp(&d, &tape, 1.0), f64::NEG_INFINITY);
    assert_eq!(d.sample(&mut rng(1)), vec![0.0]);
    let l = tape.scalar(0.0);
    let v = Poisson::new(l)
        .unwrap()
        .log_prob(&tape, Operand::Scalar(0.0))
        .sum();
    tape.backward(v).unwrap();
    assert_eq!(l.grad(), vec![-1.0]);
}

#[test]
fn gamma_draws_stay_inside_the_support_for_tiny_shapes() {
    // Gamma(1e-3) underflows to exactly 0 about half the time without the clamp.
    let d = Gamma::new(1e-3, 1.0).unwrap();
    let mut r = rng(3);
    assert!((0..2000).all(|_| d.sample(&mut r)[0] > 0.0));
}

#[test]
fn normal_with_a_subnormal_scale_is_not_nan_at_its_mean() {
    // Found by `constructors_never_panic`: 1/σ overflows for σ = 4.2e-309.
    let tape = Tape::new();
    let d = Normal::new(-0.0, 4.2e-309).unwrap();
    let v = lp(&d, &tape, -0.0);
    assert!(!v.is_nan() && v > 700.0, "{v}");
    let s = tape.scalar(4.2e-309);
    let lp = Normal::new(0.0, s)
        .unwrap()
        .log_prob(&tape, Operand::Scalar(0.0))
        .sum();
    tape.backward(lp).unwrap();
    assert!(!s.grad()[0].is_nan());
}
