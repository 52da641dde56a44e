//! The mixed estimator: normalization over (choice, reaction time), sampling
//! against log_prob, gradients, training on a (choice, log-normal time) simulator,
//! save/load, the support.

mod common;

use common::{line, rng};
use flows::{ConditionalDensity, FlowError, Mnle, MnleConfig, Persist, Rows, Trainable};
use proptest::prelude::*;
use rand::RngExt;
use rand_distr::StandardNormal;

/// The toy simulator: θ ∈ [−1, 1]², choice c ∈ {0, 1} with P(c = 1) = σ(2θ₀),
/// reaction time rt | c ~ LogNormal(0.5θ₁ + 0.3c − 0.5, 0.3 + 0.2c).
fn simulate(n: usize, seed: u64) -> (Rows, Rows) {
    let mut r = rng(seed);
    let theta = common::rows_from(n, 2, |_, t| {
        t.iter_mut()
            .for_each(|v| *v = 2.0 * r.random::<f64>() - 1.0)
    });
    let x = common::rows_from(n, 2, |i, x| {
        let t = theta.row(i);
        let c = if r.random::<f64>() < 1.0 / (1.0 + (-2.0 * t[0]).exp()) {
            1.0
        } else {
            0.0
        };
        let (mu, sd) = (0.5 * t[1] + 0.3 * c - 0.5, 0.3 + 0.2 * c);
        x[0] = (mu + sd * r.sample::<f64, _>(StandardNormal)).exp();
        x[1] = c;
    });
    (x, theta)
}

fn true_log_prob(x: &[f64], t: &[f64]) -> f64 {
    let p1 = 1.0 / (1.0 + (-2.0 * t[0]).exp());
    let c = x[1];
    let (mu, sd) = (0.5 * t[1] + 0.3 * c - 0.5, 0.3 + 0.2 * c);
    let z = (x[0].ln() - mu) / sd;
    (if c == 1.0 { p1 } else { 1.0 - p1 }).ln()
        - 0.5 * z * z
        - sd.ln()
        - x[0].ln()
        - 0.5 * (2.0 * std::f64::consts::PI).ln()
}

fn config() -> MnleConfig {
    common::small_mnle_config()
}

fn estimator(seed: u64, gain: f64) -> Mnle {
    let (x, theta) = simulate(200, seed);
    let mut q = Mnle::new(&config(), x.view(), theta.view(), seed).unwrap();
    let p: Vec<f64> = q.parameters().iter().map(|v| v * gain).collect();
    q.set_parameters(&p).unwrap();
    q
}

/// ∑_c ∫ q(rt, c | θ) drt = 1, integrating over ln rt on the whole line; error
/// budget 1e-6 (spline knots limit Simpson's accuracy, see the NSF tests).
#[test]
fn mass_sums_and_integrates_to_one() {
    let q = estimator(1, 2.0);
    for theta in [[0.0, 0.0], [0.8, -0.5], [-2.0, 3.0]] {
        let mass: f64 = [0.0, 1.0]
            .iter()
            .map(|&c| {
                line(
                    |y| (q.log_prob(&[y.exp(), c], &theta).unwrap() + y).exp(),
                    -0.5,
                    3.0,
                    40_000,
                )
            })
            .sum();
        assert!((mass - 1.0).abs() < 1e-6, "mass {mass} at θ = {theta:?}");
        // the continuous part integrates to the discrete probability
        let p1 = q.discrete().log_prob(&[1.0], &theta).unwrap().exp();
        let m1 = line(
            |y| (q.log_prob(&[y.exp(), 1.0], &theta).unwrap() + y).exp(),
            -0.5,
            3.0,
            40_000,
        );
        assert!((m1 - p1).abs() < 1e-6, "{m1} vs {p1}");
    }
}

/// Choice frequencies (binomial, 4.5 SE) and mean log reaction time per choice
/// (4.5 SE, against quadrature) of samples.
#[test]
fn samples_follow_log_prob() {
    let q = estimator(2, 1.5);
    let theta = [0.3, -0.4];
    let m = 20_000;
    let draws = q.sample(&theta, m, &mut rng(3)).unwrap();
    for c in [0.0, 1.0] {
        let p = q.discrete().log_prob(&[c], &theta).unwrap().exp();
        let ys: Vec<f64> = draws
            .view()
            .iter()
            .filter(|r| r[1] == c)
            .map(|r| r[0].ln())
            .collect();
        let freq = ys.len() as f64 / m as f64;
        assert!(
            (freq - p).abs() < 4.5 * (p * (1.0 - p) / m as f64).sqrt(),
            "P(c = {c}) {freq} vs {p}"
        );
        let dens = |y: f64| (q.log_prob(&[y.exp(), c], &theta).unwrap() + y).exp() / p;
        let mean = line(|y| y * dens(y), -0.5, 3.0, 20_000);
        let var = line(|y| (y - mean).powi(2) * dens(y), -0.5, 3.0, 20_000);
        let smean = ys.iter().sum::<f64>() / ys.len() as f64;
        assert!(
            (smean - mean).abs() < 4.5 * (var / ys.len() as f64).sqrt(),
            "E[ln rt | c = {c}] {smean} vs {mean}"
        );
        assert!(draws.view().iter().all(|r| r[0] > 0.0));
    }
}

#[test]
fn parameter_gradient_matches_finite_differences() {
    let q = estimator(4, 1.5);
    let (x, theta) = simulate(20, 5);
    common::check_parameter_gradient(&q, x.view(), theta.view(), 200).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    /// ∂/∂θ of the summed log-probability (rows of both choices, grouped by the hot
    /// path) against central differences.
    #[test]
    fn context_gradient_matches_finite_differences(
        theta in prop::collection::vec(-3.0f64..3.0, 2),
        seed in 0u64..1000,
        n in 1usize..16,
    ) {
        let q = estimator(6, 1.5);
        let (x, _) = simulate(n, seed);
        prop_assert_eq!(common::check_context_gradient(&q, x.view(), &theta), Ok(()));
    }

    /// No f64 makes the estimator panic.
    #[test]
    fn any_f64_is_a_value_or_an_error(rt in any::<f64>(), c in any::<f64>(), t in any::<f64>()) {
        let q = estimator(7, 1.0);
        match q.log_prob(&[rt, c], &[t, 0.0]) {
            Ok(lp) => prop_assert!(!lp.is_nan()),
            Err(e) => {
                let ok = matches!(e, FlowError::NonFinite { .. }) && (rt.is_nan() || c.is_nan() || !t.is_finite());
                prop_assert!(ok, "unexpected error {}", e);
            }
        }
    }
}

#[test]
fn outside_the_support_is_minus_infinity() {
    let q = estimator(8, 1.0);
    for x in [
        [0.0, 1.0],
        [-1.0, 0.0],
        [0.5, 2.0],
        [0.5, 0.5],
        [f64::INFINITY, 1.0],
    ] {
        assert_eq!(
            q.log_prob(&x, &[0.0, 0.0]).unwrap(),
            f64::NEG_INFINITY,
            "x = {x:?}"
        );
    }
    let xs = Rows::new(vec![0.5, 1.0, 0.7, 0.0, -0.1, 1.0], 2).unwrap();
    let mut g = [1.0, 2.0];
    assert_eq!(
        q.sum_log_prob_grad_context(xs.view(), &[0.0, 0.0], &mut g)
            .unwrap(),
        f64::NEG_INFINITY
    );
    assert_eq!(g, [1.0, 2.0]);
    let mut grad = vec![0.0; q.parameters().len()];
    let ctx = Rows::new(vec![0.0; 6], 2).unwrap();
    assert!(matches!(
        q.loss_grad(xs.view(), ctx.view(), &mut grad),
        Err(FlowError::OutOfSupport { .. })
    ));
    // without the log transform, negative continuous values are fine
    let (x, theta) = simulate(100, 9);
    let plain = Mnle::new(
        &MnleConfig {
            log_transform: false,
            ..config()
        },
        x.view(),
        theta.view(),
        9,
    )
    .unwrap();
    assert!(
        plain
            .log_prob(&[-1.0, 1.0], &[0.0, 0.0])
            .unwrap()
            .is_finite()
    );
    // a value so large that the flow's z² overflows: −∞, and `grad` untouched
    // (the categorical part alone would have added a gradient)
    let huge = Rows::new(vec![0.5, 1.0, f64::MAX, 0.0], 2).unwrap();
    let lp = plain.sum_log_prob_grad_context(huge.view(), &[0.0, 0.0], &mut g);
    assert!(lp.unwrap() == f64::NEG_INFINITY && g == [1.0, 2.0]);
    // training data outside the support is an error at construction
    let bad = Rows::new(vec![0.5, 3.0], 2).unwrap();
    assert!(matches!(
        Mnle::new(
            &config(),
            bad.view(),
            Rows::new(vec![0.0, 0.0], 2).unwrap().view(),
            0
        ),
        Err(FlowError::OutOfSupport { .. })
    ));
}

/// Training recovers the simulator: the mean log-likelihood gap to the true
/// density on 2 000 held-out simulations is below 0.05 nats.
#[test]
fn training_recovers_the_simulator() {
    let (x, theta) = simulate(4_000, 10);
    let (xv, tv) = simulate(2_000, 11);
    let mut q = Mnle::new(&config(), x.view(), theta.view(), 12).unwrap();
    let gap = |q: &Mnle| {
        let mut lp = vec![0.0; xv.len()];
        q.log_prob_batch(xv.view(), tv.view(), &mut lp).unwrap();
        (0..xv.len())
            .map(|i| true_log_prob(xv.row(i), tv.row(i)) - lp[i])
            .sum::<f64>()
            / xv.len() as f64
    };
    let before = gap(&q);
    common::train_epochs(&mut q, &x, &theta, 1e-3, 40);
    let after = gap(&q);
    assert!(before > 0.3, "untrained gap {before}");
    assert!(
        after < 0.05,
        "trained gap {after} nats (untrained {before})"
    );
}

/// The training loop's internal-order gradient gives the default path's numbers
/// exactly (the discrete part as it is, the flow's in its sorted order), with the
/// one reaction time and with a second positive column (a 2-D flow, whose sorted
/// order is not the layout's); with a delay in `mnle_delay.rs`.
#[test]
fn internal_training_path_matches_the_default_path() {
    let (x, theta) = simulate(150, 13);
    let wide = common::rows_from(150, 3, |i, r| {
        r[0] = x.row(i)[0];
        r[1] = (0.3 * i as f64).sin().exp();
        r[2] = x.row(i)[1];
    });
    for x in [x, wide] {
        let q = Mnle::new(&config(), x.view(), theta.view(), 14).unwrap();
        common::check_internal_training_path(&q, x.view(), theta.view()).unwrap();
    }
}

#[test]
fn save_load_gives_identical_log_probabilities() {
    let q = estimator(13, 1.5);
    let path = common::temp_path("mnle");
    q.save(&path).unwrap();
    let back = Mnle::load(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let (x, theta) = simulate(50, 14);
    let (mut a, mut b) = (vec![0.0; 50], vec![0.0; 50]);
    q.log_prob_batch(x.view(), theta.view(), &mut a).unwrap();
    back.log_prob_batch(x.view(), theta.view(), &mut b).unwrap();
    assert_eq!(a, b);
    assert_eq!(back.config(), q.config());
    assert!(matches!(
        flows::Nsf::from_bytes(&q.to_bytes().unwrap()),
        Err(FlowError::WrongKind { .. })
    ));
    let bytes = q.to_bytes().unwrap();
    assert!(matches!(
        Mnle::from_bytes(&bytes[..bytes.len() / 3]),
        Err(FlowError::Corrupt(_))
    ));
    // any kind, as a trait object
    let any = flows::io::from_bytes_any(&bytes).unwrap();
    assert_eq!(any.log_prob(x.row(0), theta.row(0)).unwrap(), a[0]);
    let text = String::from_utf8(bytes)
        .unwrap()
        .replace(r#""kind":"mnle""#, r#""kind":"unknown""#);
    assert!(matches!(
        flows::io::from_bytes_any(text.as_bytes()),
        Err(FlowError::WrongKind { .. })
    ));
}
