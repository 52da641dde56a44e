//! The categorical mass estimator: normalization, sampling, gradients, training,
//! save/load.

mod common;

use common::{prec, rng};
use flows::{
    Activation, Adam, AdamConfig, CategoricalConfig, CategoricalMass, ConditionalDensity,
    FlowError, Persist, Rows, Trainable,
};
use proptest::prelude::*;
use rand::RngExt;
use rand_distr::{Distribution, Poisson};
use statrs::distribution::{ChiSquared, ContinuousCDF, Discrete, Poisson as ExactPoisson};

fn estimator(context_dim: usize, activation: Activation, seed: u64) -> CategoricalMass {
    let mut r = rng(seed);
    let thetas = common::rows_from(50, context_dim, |_, row| {
        row.iter_mut()
            .for_each(|v| *v = 3.0 * r.random::<f64>() - 1.0)
    });
    let config = CategoricalConfig {
        activation,
        ..CategoricalConfig::new(-2, 6)
    };
    CategoricalMass::new(&config, thetas.view(), seed).unwrap()
}

#[test]
fn probabilities_sum_to_one() {
    let q = estimator(3, Activation::Relu, 1);
    let mut r = rng(2);
    for _ in 0..20 {
        let theta: Vec<f64> = (0..3).map(|_| 10.0 * r.random::<f64>() - 5.0).collect();
        let total: f64 = (-2..=6)
            .map(|k| q.log_prob(&[k as f64], &theta).unwrap().exp())
            .sum();
        assert!((total - 1.0).abs() < prec::MASS_TOL, "mass {total}");
        let mut lp = vec![0.0; q.num_categories()];
        q.log_probs(&theta, &mut lp).unwrap();
        assert_eq!(lp[3], q.log_prob(&[1.0], &theta).unwrap());
    }
}

#[test]
fn outside_the_range_is_minus_infinity_and_nan_is_an_error() {
    let q = estimator(1, Activation::Relu, 3);
    for x in [-3.0, 7.0, 0.5, f64::INFINITY, f64::NEG_INFINITY, 1e300] {
        assert_eq!(
            q.log_prob(&[x], &[0.0]).unwrap(),
            f64::NEG_INFINITY,
            "x = {x}"
        );
    }
    let xs = Rows::new(vec![1.0, 2.0, 9.0], 1).unwrap();
    let mut grad = [0.25];
    let lp = q
        .sum_log_prob_grad_context(xs.view(), &[0.0], &mut grad)
        .unwrap();
    assert_eq!(lp, f64::NEG_INFINITY);
    assert_eq!(grad, [0.25], "no gradient added for an impossible row");
    assert!(matches!(
        q.log_prob(&[f64::NAN], &[0.0]),
        Err(FlowError::NonFinite { .. })
    ));
    assert!(matches!(
        q.log_prob(&[1.0], &[f64::NAN]),
        Err(FlowError::NonFinite { .. })
    ));
    assert!(matches!(
        q.log_prob(&[1.0], &[f64::INFINITY]),
        Err(FlowError::NonFinite { .. })
    ));
    assert!(matches!(
        q.log_prob(&[1.0], &[0.0, 1.0]),
        Err(FlowError::DimensionMismatch { .. })
    ));
    assert!(matches!(
        q.log_prob(&[1.0, 2.0], &[0.0]),
        Err(FlowError::DimensionMismatch { .. })
    ));
    let bad = Rows::new(vec![1.0, 11.0], 1).unwrap();
    let mut g = vec![0.0; q.parameters().len()];
    assert!(matches!(
        q.loss_grad(bad.view(), Rows::new(vec![0.0, 0.0], 1).unwrap().view(), &mut g),
        Err(FlowError::OutOfSupport { value, .. }) if value == 11.0
    ));
}

#[test]
fn bad_configurations_are_errors() {
    let theta = Rows::new(vec![0.0, 1.0], 1).unwrap();
    for config in [
        CategoricalConfig::new(3, 2),
        CategoricalConfig::new(0, 1 << 40),
        CategoricalConfig {
            hidden_features: 0,
            ..CategoricalConfig::new(0, 3)
        },
    ] {
        assert!(matches!(
            CategoricalMass::new(&config, theta.view(), 0),
            Err(FlowError::InvalidConfig(_))
        ));
    }
    // a single category is a valid (if dull) estimator
    let q = CategoricalMass::new(&CategoricalConfig::new(4, 4), theta.view(), 0).unwrap();
    assert_eq!(q.log_prob(&[4.0], &[0.3]).unwrap(), 0.0);
}

/// Sample frequencies match the pmf: a chi-square test at a fixed seed.
#[test]
fn samples_follow_log_prob() {
    let q = estimator(2, Activation::Relu, 5);
    let theta = [0.7, -0.2];
    let n = 20_000;
    let draws = q.sample(&theta, n, &mut rng(6)).unwrap();
    let mut counts = [0usize; 9];
    for x in draws.as_slice() {
        counts[(*x as i64 + 2) as usize] += 1;
    }
    let mut chi2 = 0.0;
    for (k, &c) in counts.iter().enumerate() {
        let p = q.log_prob(&[k as f64 - 2.0], &theta).unwrap().exp();
        chi2 += (c as f64 - n as f64 * p).powi(2) / (n as f64 * p);
    }
    let p_value = 1.0 - ChiSquared::new(8.0).unwrap().cdf(chi2);
    assert!(p_value > 1e-3, "chi² = {chi2}, p = {p_value}");
}

#[test]
fn parameter_gradient_matches_finite_differences() {
    for act in [Activation::Relu, Activation::Tanh] {
        let q = estimator(2, act, 8);
        let mut r = rng(9);
        let xs = common::rows_from(30, 1, |_, x| x[0] = (r.random::<f64>() * 9.0).floor() - 2.0);
        let ctx = common::rows_from(30, 2, |_, t| {
            t.iter_mut().for_each(|v| *v = r.random::<f64>())
        });
        common::check_parameter_gradient(&q, xs.view(), ctx.view(), 60).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// ∂/∂θ of the summed log-probability against central differences, for any θ
    /// in a wide box and any rows in the range.
    #[test]
    fn context_gradient_matches_finite_differences(
        theta in prop::collection::vec(-4.0f64..4.0, 2),
        xs in prop::collection::vec(-2i64..=6, 1..40),
        tanh in any::<bool>(),
    ) {
        let q = estimator(2, if tanh { Activation::Tanh } else { Activation::Relu }, 11);
        let xs = Rows::new(xs.iter().map(|&k| k as f64).collect(), 1).unwrap();
        prop_assert_eq!(common::check_context_gradient(&q, xs.view(), &theta), Ok(()));
    }

    /// One θ coordinate (the forward-mode path of the gradient): ∂/∂θ against central
    /// differences with 0, 1 and 2 hidden layers.
    #[test]
    fn one_dimensional_context_gradient_matches_finite_differences(
        theta in -4.0f64..4.0,
        xs in prop::collection::vec(-2i64..=6, 1..40),
        layers in 0usize..=2,
        tanh in any::<bool>(),
    ) {
        let thetas: Vec<f64> = (0..50).map(|i| 0.06 * i as f64 - 1.0).collect();
        let config = CategoricalConfig {
            activation: if tanh { Activation::Tanh } else { Activation::Squareplus },
            num_layers: layers,
            ..CategoricalConfig::new(-2, 6)
        };
        let thetas = Rows::new(thetas, 1).unwrap();
        let q = CategoricalMass::new(&config, thetas.view(), 13).unwrap();
        let xs = Rows::new(xs.iter().map(|&k| k as f64).collect(), 1).unwrap();
        prop_assert_eq!(common::check_context_gradient(&q, xs.view(), &[theta]), Ok(()));
    }

    /// No f64 makes the estimator panic; NaN is an error, anything else a number.
    #[test]
    fn any_f64_is_a_value_or_an_error(x in any::<f64>(), t in any::<f64>()) {
        let q = estimator(1, Activation::Relu, 12);
        match q.log_prob(&[x], &[t]) {
            Ok(lp) => prop_assert!(lp <= 0.0),
            Err(e) => {
                let ok = matches!(e, FlowError::NonFinite { .. });
                prop_assert!(ok, "unexpected error {}", e);
            }
        }
    }
}

/// x | λ ~ Poisson(λ), λ ~ U(1, 10): training recovers the pmf. The budget: mean
/// KL(Poisson(λ) ‖ q(· | λ)) over a grid of λ below 0.01 nats (the budget of
/// 10 000 simulations and 60 epochs; an untrained net is at ~1.5 nats).
#[test]
fn training_recovers_a_poisson_pmf() {
    let mut r = rng(13);
    let n = 10_000;
    let lam = common::rows_from(n, 1, |_, t| t[0] = 1.0 + 9.0 * r.random::<f64>());
    let x = common::rows_from(n, 1, |i, x| {
        x[0] = Poisson::new(lam.row(i)[0])
            .unwrap()
            .sample(&mut r)
            .min(30.0)
    });
    let mut q = CategoricalMass::new(&CategoricalConfig::new(0, 30), lam.view(), 14).unwrap();
    let kl = |q: &CategoricalMass| {
        let grid: Vec<f64> = (0..50)
            .map(|i| 1.0 + 9.0 * (i as f64 + 0.5) / 50.0)
            .collect();
        let mut lp = vec![0.0; 31];
        grid.iter()
            .map(|&l| {
                q.log_probs(&[l], &mut lp).unwrap();
                let p = ExactPoisson::new(l).unwrap();
                (0..=30u64)
                    .map(|k| p.pmf(k) * (p.ln_pmf(k) - lp[k as usize]))
                    .sum::<f64>()
            })
            .sum::<f64>()
            / grid.len() as f64
    };
    let before = kl(&q);
    let mut adam = Adam::new(
        AdamConfig {
            learning_rate: 3e-3,
            ..AdamConfig::default()
        },
        q.parameters().len(),
    )
    .unwrap();
    for _epoch in 0..60 {
        for b in 0..n / 200 {
            q.train_step(
                &mut adam,
                x.view().slice(b * 200, b * 200 + 200),
                lam.view().slice(b * 200, b * 200 + 200),
            )
            .unwrap();
        }
    }
    let after = kl(&q);
    assert!(before > 0.5, "untrained KL {before}");
    assert!(after < 0.01, "trained KL {after} (untrained {before})");
}

#[test]
fn save_load_gives_identical_log_probabilities() {
    let q = estimator(2, Activation::Tanh, 15);
    let path = common::temp_path("categorical");
    q.save(&path).unwrap();
    let back = CategoricalMass::load(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let mut r = rng(16);
    for _ in 0..50 {
        let theta = [r.random::<f64>() * 4.0 - 2.0, r.random::<f64>()];
        for k in -2..=6 {
            let x = [k as f64];
            assert_eq!(
                q.log_prob(&x, &theta).unwrap(),
                back.log_prob(&x, &theta).unwrap()
            );
        }
    }
    assert_eq!(back.parameters(), q.parameters());
    assert_eq!(back.config(), q.config());
}

#[test]
fn bad_files_are_errors() {
    let q = estimator(1, Activation::Relu, 17);
    let bytes = q.to_bytes().unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(matches!(
        CategoricalMass::from_bytes(&bytes[..bytes.len() / 2]),
        Err(FlowError::Corrupt(_))
    ));
    assert!(matches!(
        CategoricalMass::from_bytes(b""),
        Err(FlowError::Corrupt(_))
    ));
    let v2 = text.replace("\"version\":1", "\"version\":2");
    assert!(matches!(
        CategoricalMass::from_bytes(v2.as_bytes()),
        Err(FlowError::UnsupportedVersion {
            found: 2,
            supported: 1
        })
    ));
    let maf = text.replace("\"kind\":\"categorical\"", "\"kind\":\"maf\"");
    assert!(
        matches!(CategoricalMass::from_bytes(maf.as_bytes()), Err(FlowError::WrongKind { found, .. }) if found == "maf")
    );
    let other = text.replace("flows-estimator", "something-else");
    assert!(matches!(
        CategoricalMass::from_bytes(other.as_bytes()),
        Err(FlowError::Corrupt(_))
    ));
    let short = text.replace("\"params\":[", "\"params\":[0.5,");
    assert!(matches!(
        CategoricalMass::from_bytes(short.as_bytes()),
        Err(FlowError::Corrupt(_))
    ));
    let missing = std::env::temp_dir().join("flows-test-no-such-file.json");
    assert!(matches!(
        CategoricalMass::load(&missing),
        Err(FlowError::Io { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    /// Corrupted bytes give an error or a valid estimator, never a panic.
    #[test]
    fn corrupted_bytes_never_panic(pos in 0usize..10_000, byte in any::<u8>(), cut in any::<bool>()) {
        let q = estimator(1, Activation::Relu, 18);
        let mut bytes = q.to_bytes().unwrap();
        let i = pos % bytes.len();
        if cut { bytes.truncate(i) } else { bytes[i] = byte }
        if let Ok(back) = CategoricalMass::from_bytes(&bytes) {
            let lp = back.log_prob(&[1.0], &[0.5]);
            prop_assert!(lp.is_ok());
        }
    }
}
