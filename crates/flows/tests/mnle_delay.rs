//! The mixed estimator with a delay coordinate (`MnleConfig::delay`, the DDM's
//! non-decision time): the delay is an exact shift, its gradient goes through the
//! flow's input, rows at or below the delay have no mass, sampling, save/load and
//! configuration errors.

mod common;

use common::rng;
use flows::{ConditionalDensity, FlowError, Mnle, MnleConfig, Persist, Rows};
use proptest::prelude::*;
use rand::RngExt;
use rand_distr::StandardNormal;

/// θ = (θ₀, θ₁, τ) ∈ [−1, 1]² × [0.1, 0.3]; choice c with P(c = 1) = σ(2θ₀);
/// rt = τ + T with ln T | c ~ Normal(0.5θ₁ + 0.3c − 0.5, 0.3 + 0.2c).
fn simulate(n: usize, seed: u64) -> (Rows, Rows) {
    let mut r = rng(seed);
    let theta = common::rows_from(n, 3, |_, t| {
        t[0] = 2.0 * r.random::<f64>() - 1.0;
        t[1] = 2.0 * r.random::<f64>() - 1.0;
        t[2] = 0.1 + 0.2 * r.random::<f64>();
    });
    let x = common::rows_from(n, 2, |i, x| {
        let t = theta.row(i);
        let c = f64::from(u8::from(
            r.random::<f64>() < 1.0 / (1.0 + (-2.0 * t[0]).exp()),
        ));
        let (mu, sd) = (0.5 * t[1] + 0.3 * c - 0.5, 0.3 + 0.2 * c);
        x[0] = t[2] + (mu + sd * r.sample::<f64, _>(StandardNormal)).exp();
        x[1] = c;
    });
    (x, theta)
}

fn config() -> MnleConfig {
    MnleConfig {
        delay: Some(2),
        ..common::small_mnle_config()
    }
}

/// An untrained estimator with its weights scaled by `gain` (larger weights, less
/// trivial functions of θ).
fn estimator(seed: u64, gain: f64) -> Mnle {
    let (x, theta) = simulate(200, seed);
    let mut q = Mnle::new(&config(), x.view(), theta.view(), seed).unwrap();
    let p: Vec<f64> = flows::Trainable::parameters(&q)
        .iter()
        .map(|v| v * gain)
        .collect();
    flows::Trainable::set_parameters(&mut q, &p).unwrap();
    q
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    /// ∂/∂θ of the summed log-probability, the delay coordinate included, against
    /// central differences. The rows' reaction times exceed 0.3 + e^{−3.5} > 0.33, the
    /// largest delay tried is 0.25: every difference stays inside the support.
    #[test]
    fn context_gradient_matches_finite_differences(
        t0 in -3.0f64..3.0,
        t1 in -3.0f64..3.0,
        tau in 0.0f64..0.25,
        seed in 0u64..1000,
        n in 1usize..16,
    ) {
        let q = estimator(6, 1.5);
        let (mut x, _) = simulate(n, seed);
        for i in 0..n {
            // move every row's own delay (≤ 0.3) to exactly 0.3
            let t = 0.3 - simulate(n, seed).1.row(i)[2];
            x.row_mut(i)[0] += t;
        }
        prop_assert_eq!(common::check_context_gradient(&q, x.view(), &[t0, t1, tau]), Ok(()));
    }

    /// q(x + s | θ₀, θ₁, τ + s) = q(x | θ₀, θ₁, τ) to rounding: the delay is a shift.
    #[test]
    fn the_delay_is_a_shift(
        rt in 0.01f64..5.0,
        c in 0u8..2,
        t0 in -2.0f64..2.0,
        s in -0.5f64..2.0,
    ) {
        let q = estimator(7, 1.5);
        let tau = 0.2;
        let a = q.log_prob(&[tau + rt, f64::from(c)], &[t0, 0.3, tau]).unwrap();
        let b = q.log_prob(&[tau + s + rt, f64::from(c)], &[t0, 0.3, tau + s]).unwrap();
        // rounding of τ + s + rt − (τ + s) against τ + rt − τ, amplified by 1/T in ln T
        prop_assert!((a - b).abs() < 1e-9 * (1.0 + 1.0 / rt), "{} vs {}", a, b);
    }
}

#[test]
fn at_or_below_the_delay_there_is_no_mass() {
    let q = estimator(8, 1.0);
    let theta = [0.2, -0.1, 0.4];
    for rt in [0.4, 0.3, 0.0, -1.0] {
        assert_eq!(q.log_prob(&[rt, 1.0], &theta).unwrap(), f64::NEG_INFINITY);
    }
    assert!(q.log_prob(&[0.41, 1.0], &theta).unwrap().is_finite());
    let xs = Rows::new(vec![0.9, 1.0, 0.35, 0.0], 2).unwrap();
    let mut g = [1.0, 2.0, 3.0];
    let lp = q
        .sum_log_prob_grad_context(xs.view(), &theta, &mut g)
        .unwrap();
    assert!(lp == f64::NEG_INFINITY && g == [1.0, 2.0, 3.0]);
    // training rows at or below their delay are refused
    let mut grad = vec![0.0; flows::Trainable::parameters(&q).len()];
    let ctx = Rows::new(theta.repeat(2), 3).unwrap();
    assert!(matches!(
        flows::Trainable::loss_grad(&q, xs.view(), ctx.view(), &mut grad),
        Err(FlowError::OutOfSupport { .. })
    ));
}

/// Draws lie above the delay, and the choice frequencies and mean ln(rt − τ) per
/// choice of 20,000 draws equal the same estimator's at τ = 0 moved by the delay
/// (4.5 standard errors).
#[test]
fn samples_lie_above_the_delay() {
    let q = estimator(2, 1.5);
    let theta = [0.3, -0.4, 0.7];
    let m = 20_000;
    let draws = q.sample(&theta, m, &mut rng(3)).unwrap();
    assert!(draws.view().iter().all(|r| r[0] > 0.7));
    let base = q.sample(&[0.3, -0.4, 0.0], m, &mut rng(3)).unwrap();
    for c in [0.0, 1.0] {
        let pick = |d: &Rows, tau: f64| -> Vec<f64> {
            d.view()
                .iter()
                .filter(|r| r[1] == c)
                .map(|r| (r[0] - tau).ln())
                .collect()
        };
        let (a, b) = (pick(&draws, 0.7), pick(&base, 0.0));
        // the same stream: the same choices and decision times up to rounding
        assert_eq!(a.len(), b.len());
        for (u, v) in a.iter().zip(&b) {
            assert!((u - v).abs() < 1e-9, "{u} vs {v}");
        }
    }
}

#[test]
fn save_load_keeps_the_delay_and_old_files_load() {
    let q = estimator(13, 1.5);
    let bytes = q.to_bytes().unwrap();
    let back = Mnle::from_bytes(&bytes).unwrap();
    assert_eq!(back.config().delay, Some(2));
    let (x, theta) = simulate(50, 14);
    let (mut a, mut b) = (vec![0.0; 50], vec![0.0; 50]);
    q.log_prob_batch(x.view(), theta.view(), &mut a).unwrap();
    back.log_prob_batch(x.view(), theta.view(), &mut b).unwrap();
    assert_eq!(a, b);
    // a file written before delays existed has no "delay" field: no delay
    let plain = Mnle::new(
        &MnleConfig {
            delay: None,
            ..config()
        },
        x.view(),
        theta.view(),
        1,
    )
    .unwrap();
    let text = String::from_utf8(plain.to_bytes().unwrap()).unwrap();
    assert!(text.contains(r#""delay":null,"#));
    let old = text.replace(r#""delay":null,"#, "");
    let loaded = Mnle::from_bytes(old.as_bytes()).unwrap();
    assert_eq!(loaded.config().delay, None);
    assert_eq!(loaded.context_dim(), 3);
    // a delay coordinate outside θ is corrupt
    let bad = String::from_utf8(bytes)
        .unwrap()
        .replace(r#""delay":2"#, r#""delay":7"#);
    assert!(matches!(
        Mnle::from_bytes(bad.as_bytes()),
        Err(FlowError::Corrupt(_))
    ));
}

#[test]
fn a_delay_outside_theta_is_a_configuration_error() {
    let (x, theta) = simulate(20, 1);
    for k in [3, 9] {
        let c = MnleConfig {
            delay: Some(k),
            ..config()
        };
        assert!(matches!(
            Mnle::new(&c, x.view(), theta.view(), 0),
            Err(FlowError::InvalidConfig(_))
        ));
    }
    // θ with the delay alone leaves the networks nothing
    let one = Rows::new(theta.view().iter().map(|t| t[2]).collect(), 1).unwrap();
    let c = MnleConfig {
        delay: Some(0),
        ..config()
    };
    assert!(matches!(
        Mnle::new(&c, x.view(), one.view(), 0),
        Err(FlowError::InvalidConfig(_))
    ));
}
