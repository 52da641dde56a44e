//! The mixed estimator with a delay coordinate (`MnleConfig::delay`, the DDM's
//! non-decision time): the delay is an exact shift, its gradient goes through the
//! flow's input, rows at or below the delay have no mass, sampling, save/load and
//! configuration errors; and the same with a left-tail scale
//! (`MnleConfig::tail_scale`, y = ln t − s/t): normalization, the gradient, the
//! tail's e^{−c/t²} decay, sampling.

mod common;

use common::{line, rng};
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

/// The tail scale s of the tests (in rt's units; decision times are ≳ e^{−3.5}).
const TAIL: f64 = 0.05;

fn tail_config() -> MnleConfig {
    MnleConfig {
        tail_scale: Some(TAIL),
        ..config()
    }
}

/// An untrained estimator with its weights scaled by `gain` (larger weights, less
/// trivial functions of θ).
fn estimator(seed: u64, gain: f64) -> Mnle {
    estimator_with(&config(), seed, gain)
}

fn estimator_with(config: &MnleConfig, seed: u64, gain: f64) -> Mnle {
    let (x, theta) = simulate(200, seed);
    let mut q = Mnle::new(config, x.view(), theta.view(), seed).unwrap();
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
    /// With and without the tail scale.
    #[test]
    fn context_gradient_matches_finite_differences(
        t0 in -3.0f64..3.0,
        t1 in -3.0f64..3.0,
        tau in 0.0f64..0.25,
        seed in 0u64..1000,
        n in 1usize..16,
        tail in any::<bool>(),
    ) {
        let q = estimator_with(&if tail { tail_config() } else { config() }, 6, 1.5);
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

/// The training loop's internal-order gradient gives the default path's numbers
/// exactly, with the delay and with the delay and a tail scale.
#[test]
fn internal_training_path_matches_the_default_path() {
    let (x, theta) = simulate(150, 13);
    for config in [config(), tail_config()] {
        let q = Mnle::new(&config, x.view(), theta.view(), 14).unwrap();
        common::check_internal_training_path(&q, x.view(), theta.view()).unwrap();
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

/// ∑_c ∫ q(τ + t, c | θ) dt = 1 with the tail scale (integrating over ln t on the
/// whole line; budget 1e-6 as for the plain MNLE's test), and each choice's part
/// integrates to its discrete probability: the Jacobian ln(t + s) − 2 ln t is right.
#[test]
fn with_a_tail_scale_the_mass_integrates_to_one() {
    let q = estimator_with(&tail_config(), 1, 2.0);
    for theta in [[0.0, 0.0, 0.2], [0.8, -0.5, 0.1], [-2.0, 3.0, 0.3]] {
        let part = |c: f64| {
            line(
                |u| (q.log_prob(&[theta[2] + u.exp(), c], &theta).unwrap() + u).exp(),
                -0.5,
                3.0,
                40_000,
            )
        };
        let (m0, m1) = (part(0.0), part(1.0));
        assert!(
            (m0 + m1 - 1.0).abs() < 1e-6,
            "mass {} at θ = {theta:?}",
            m0 + m1
        );
        let p1 = q.log_prob_discrete(1.0, &theta).unwrap().exp();
        assert!((m1 - p1).abs() < 1e-6, "{m1} vs {p1}");
    }
}

/// Below the spline range the flow is Gaussian in y = ln t − s/t ≈ −s/t, so
/// t² ln q(τ + t) tends to a negative constant −s²/(2σ²) as t → 0 (the relative
/// correction, ≈ 2 t |ln t| / s, is below 0.2% at t ≤ s/10⁴): the density vanishes
/// like e^{−c/t²}. Without the tail scale, t² ln q → 0 (a (ln t)² decay).
#[test]
fn the_tail_scale_makes_the_left_tail_vanish_like_exp_of_minus_c_over_t_squared() {
    let theta = [0.4, -0.2, 0.15];
    let scaled = |q: &Mnle, t: f64| t * t * q.log_prob(&[theta[2] + t, 1.0], &theta).unwrap();
    let q = estimator_with(&tail_config(), 3, 1.5);
    let (a, b) = (scaled(&q, TAIL * 1e-4), scaled(&q, TAIL * 5e-5));
    assert!(a < -1e-5 && (a - b).abs() < 5e-3 * a.abs(), "{a} vs {b}");

    let plain = estimator_with(&config(), 3, 1.5);
    let p = scaled(&plain, TAIL * 5e-5);
    assert!(p.abs() < 1e-3 * a.abs(), "plain {p} vs {a}");
}

/// With the tail scale, draws lie above the delay, and the fraction of draws with
/// decision time below 0.3 and the mean of ln(rt − τ) per choice agree with
/// quadrature of the density (4.5 standard errors): sampling inverts y = ln t − s/t.
#[test]
fn with_a_tail_scale_samples_follow_log_prob() {
    let q = estimator_with(&tail_config(), 2, 1.5);
    let theta = [0.3, -0.4, 0.7];
    let m = 20_000;
    let draws = q.sample(&theta, m, &mut rng(3)).unwrap();
    assert!(draws.view().iter().all(|r| r[0] > 0.7));
    for c in [0.0, 1.0] {
        let p = q.log_prob_discrete(c, &theta).unwrap().exp();
        let us: Vec<f64> = draws
            .view()
            .iter()
            .filter(|r| r[1] == c)
            .map(|r| (r[0] - 0.7).ln())
            .collect();
        let dens = |u: f64| (q.log_prob(&[0.7 + u.exp(), c], &theta).unwrap() + u).exp() / p;
        let below = line(
            |u| if u < 0.3f64.ln() { dens(u) } else { 0.0 },
            -0.5,
            3.0,
            40_000,
        );
        let n = us.len() as f64;
        let frac = us.iter().filter(|&&u| u < 0.3f64.ln()).count() as f64 / n;
        assert!(
            (frac - below).abs() < 4.5 * (below * (1.0 - below) / n).sqrt(),
            "P(t < 0.3 | c = {c}) {frac} vs {below}"
        );
        let mean = line(|u| u * dens(u), -0.5, 3.0, 20_000);
        let var = line(|u| (u - mean).powi(2) * dens(u), -0.5, 3.0, 20_000);
        let smean = us.iter().sum::<f64>() / n;
        assert!(
            (smean - mean).abs() < 4.5 * (var / n).sqrt(),
            "E[ln t | c = {c}] {smean} vs {mean}"
        );
    }
}

#[test]
fn the_tail_scale_is_saved_checked_and_optional_in_old_files() {
    let q = estimator_with(&tail_config(), 13, 1.5);
    let bytes = q.to_bytes().unwrap();
    let back = Mnle::from_bytes(&bytes).unwrap();
    assert_eq!(back.config().tail_scale, Some(TAIL));
    let (x, theta) = simulate(50, 14);
    let (mut a, mut b) = (vec![0.0; 50], vec![0.0; 50]);
    q.log_prob_batch(x.view(), theta.view(), &mut a).unwrap();
    back.log_prob_batch(x.view(), theta.view(), &mut b).unwrap();
    assert_eq!(a, b);
    // files written before tail scales existed have no field: plain ln t
    let text = String::from_utf8(estimator(13, 1.5).to_bytes().unwrap()).unwrap();
    assert!(text.contains(r#""tail_scale":null,"#));
    let old = Mnle::from_bytes(text.replace(r#""tail_scale":null,"#, "").as_bytes()).unwrap();
    assert_eq!(old.config().tail_scale, None);
    // a negative scale in a file is corrupt
    let bad = String::from_utf8(bytes)
        .unwrap()
        .replace(r#""tail_scale":0.05"#, r#""tail_scale":-0.05"#);
    assert!(matches!(
        Mnle::from_bytes(bad.as_bytes()),
        Err(FlowError::Corrupt(_))
    ));
    // configuration errors: not finite or not positive, or no log transform
    let (x, theta) = simulate(20, 1);
    for c in [
        MnleConfig {
            tail_scale: Some(0.0),
            ..config()
        },
        MnleConfig {
            tail_scale: Some(f64::NAN),
            ..config()
        },
        MnleConfig {
            tail_scale: Some(f64::INFINITY),
            ..config()
        },
        MnleConfig {
            log_transform: false,
            ..tail_config()
        },
    ] {
        assert!(matches!(
            Mnle::new(&c, x.view(), theta.view(), 0),
            Err(FlowError::InvalidConfig(_))
        ));
    }
}
