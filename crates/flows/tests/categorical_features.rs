//! The categorical estimator's ln θ feature (`log_context`), the smooth activations
//! (softplus, ELU, squareplus), and the gradient hot path's cut of negligible categories.

mod common;

use common::{prec, rng};
use flows::{
    Activation, CategoricalConfig, CategoricalMass, ConditionalDensity, FlowError, Persist, Rows,
    Trainable,
};
use proptest::prelude::*;
use rand::RngExt;

const SMOOTH: [Activation; 4] = [
    Activation::Tanh,
    Activation::Softplus,
    Activation::Elu,
    Activation::Squareplus,
];

/// Positive training θ (log-uniform on (0.1, 50)) in `context_dim` columns.
fn positive_thetas(context_dim: usize, seed: u64) -> Rows {
    let mut r = rng(seed);
    common::rows_from(60, context_dim, |_, row| {
        row.iter_mut()
            .for_each(|v| *v = (0.1f64.ln() + r.random::<f64>() * 500.0f64.ln()).exp())
    })
}

fn config(activation: Activation, log: bool) -> CategoricalConfig {
    CategoricalConfig {
        activation,
        hidden_features: 12,
        num_layers: 1,
        log_context: log,
        ..CategoricalConfig::new(0, 9)
    }
}

fn log_estimator(context_dim: usize, activation: Activation, seed: u64) -> CategoricalMass {
    let thetas = positive_thetas(context_dim, seed);
    CategoricalMass::new(&config(activation, true), thetas.view(), seed).unwrap()
}

/// An independent route to the same density: the plain estimator fitted to ln θ (same
/// seed, so the same initial weights) and fed ln θ gives the log-feature estimator's
/// values at θ, to rounding.
#[test]
fn log_context_is_the_plain_estimator_on_ln_theta() {
    for act in SMOOTH {
        let thetas = positive_thetas(2, 1);
        let logs = Rows::new(thetas.as_slice().iter().map(|v| v.ln()).collect(), 2).unwrap();
        let q = CategoricalMass::new(&config(act, true), thetas.view(), 7).unwrap();
        let plain = CategoricalMass::new(&config(act, false), logs.view(), 7).unwrap();
        assert_eq!(q.parameters(), plain.parameters());
        assert_eq!(q.context_zscore(), plain.context_zscore());
        let mut r = rng(2);
        for _ in 0..20 {
            let theta = [30.0 * r.random::<f64>() + 0.01, 0.5 + r.random::<f64>()];
            let ln = [theta[0].ln(), theta[1].ln()];
            for k in 0..=9 {
                let (a, b) = (
                    q.log_prob(&[k as f64], &theta).unwrap(),
                    plain.log_prob(&[k as f64], &ln).unwrap(),
                );
                assert!(
                    common::close(a, b, prec::SUM_TOL),
                    "{act:?} k {k}: {a} vs {b}"
                );
            }
        }
    }
}

#[test]
fn parameter_gradient_matches_finite_differences_with_log_context() {
    for act in SMOOTH {
        let q = log_estimator(2, act, 3);
        let mut r = rng(4);
        let xs = common::rows_from(30, 1, |_, x| x[0] = (r.random::<f64>() * 10.0).floor());
        let ctx = positive_thetas(2, 5);
        let ctx = Rows::new(ctx.as_slice()[..60].to_vec(), 2).unwrap();
        common::check_parameter_gradient(&q, xs.view(), ctx.view(), 60)
            .unwrap_or_else(|e| panic!("{act:?}: {e}"));
    }
}

/// A θ with a non-positive coordinate has probability 0 under the ln θ feature; where
/// a number cannot be returned (sampling, training) it is an error.
#[test]
fn non_positive_theta_under_log_context() {
    let q = log_estimator(2, Activation::Squareplus, 6);
    for theta in [[0.0, 1.0], [1.0, -0.0], [-3.0, 2.0]] {
        assert_eq!(q.log_prob(&[2.0], &theta).unwrap(), f64::NEG_INFINITY);
        let xs = Rows::new(vec![1.0, 2.0], 1).unwrap();
        let mut grad = [0.5, 0.25];
        let lp = q.sum_log_prob_grad_context(xs.view(), &theta, &mut grad);
        assert_eq!(lp.unwrap(), f64::NEG_INFINITY);
        assert_eq!(grad, [0.5, 0.25], "no gradient added");
        let mut out = vec![0.0; q.num_categories()];
        q.log_probs(&theta, &mut out).unwrap();
        assert!(out.iter().all(|v| *v == f64::NEG_INFINITY));
        assert!(matches!(
            q.sample(&theta, 3, &mut rng(7)),
            Err(FlowError::OutOfSupport { .. })
        ));
        let ctx = Rows::new(theta.to_vec(), 2).unwrap();
        let x = Rows::new(vec![1.0], 1).unwrap();
        let mut g = vec![0.0; q.parameters().len()];
        assert!(matches!(
            q.loss_grad(x.view(), ctx.view(), &mut g),
            Err(FlowError::OutOfSupport { .. })
        ));
    }
    let bad = Rows::new(vec![1.0, 2.0, 0.0, 3.0], 2).unwrap();
    assert!(matches!(
        CategoricalMass::new(&config(Activation::Tanh, true), bad.view(), 0),
        Err(FlowError::OutOfSupport { value, .. }) if value == 0.0
    ));
}

/// Saved estimators keep the feature; files written before it existed read as θ.
#[test]
fn save_load_keeps_log_context() {
    let q = log_estimator(1, Activation::Squareplus, 8);
    let back = CategoricalMass::from_bytes(&q.to_bytes().unwrap()).unwrap();
    assert!(back.config().log_context);
    assert_eq!(
        back.log_prob(&[3.0], &[4.5]).unwrap(),
        q.log_prob(&[3.0], &[4.5]).unwrap()
    );
    let plain = CategoricalMass::new(
        &config(Activation::Tanh, false),
        positive_thetas(1, 9).view(),
        9,
    )
    .unwrap();
    let text = String::from_utf8(plain.to_bytes().unwrap()).unwrap();
    let old = text.replace(",\"log_context\":false", "");
    assert_ne!(old, text, "the field is in the saved form");
    let back = CategoricalMass::from_bytes(old.as_bytes()).unwrap();
    assert!(!back.config().log_context);
    assert_eq!(back.parameters(), plain.parameters());
}

/// With weights scaled up, most categories fall below e^−40 of the most probable one
/// and the hot path leaves them out: its value still matches the single-row sum, and
/// its gradient the finite differences.
#[test]
fn negligible_categories_change_nothing_measurable() {
    let mut q = log_estimator(1, Activation::Squareplus, 10);
    let big: Vec<f64> = q.parameters().iter().map(|p| 40.0 * p).collect();
    q.set_parameters(&big).unwrap();
    let mut lp = vec![0.0; q.num_categories()];
    q.log_probs(&[3.0], &mut lp).unwrap();
    let top = lp.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let cut = lp.iter().filter(|l| **l < top - 40.0).count();
    assert!(cut >= 2, "only {cut} negligible categories: {lp:?}");
    // Rows at the most probable categories (a row at a negligible one would make the
    // finite differences meaningless at this scale).
    let best = lp.iter().position(|l| *l == top).unwrap() as f64;
    let xs = Rows::new(vec![best; 5], 1).unwrap();
    common::check_context_gradient(&q, xs.view(), &[3.0]).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// ∂/∂θ with the ln θ feature against central differences, for any positive θ and
    /// rows in the range, with every smooth activation.
    #[test]
    fn log_context_gradient_matches_finite_differences(
        theta in prop::collection::vec(0.2f64..50.0, 2),
        xs in prop::collection::vec(0i64..=9, 1..40),
        act in 0usize..4,
    ) {
        let q = log_estimator(2, SMOOTH[act], 11);
        let xs = Rows::new(xs.iter().map(|&k| k as f64).collect(), 1).unwrap();
        prop_assert_eq!(common::check_context_gradient(&q, xs.view(), &theta), Ok(()));
    }

    /// No f64 θ makes the log-feature estimator panic: NaN and ±∞ are errors,
    /// anything else a log-probability (−∞ at θ ≤ 0).
    #[test]
    fn any_theta_is_a_value_or_an_error(t in any::<f64>()) {
        let q = log_estimator(1, Activation::Squareplus, 12);
        match q.log_prob(&[2.0], &[t]) {
            Ok(lp) => prop_assert!(lp <= 0.0 && (t > 0.0 || lp == f64::NEG_INFINITY)),
            Err(e) => {
                let ok = matches!(e, FlowError::NonFinite { .. });
                prop_assert!(ok, "unexpected error {}", e);
            }
        }
    }
}
