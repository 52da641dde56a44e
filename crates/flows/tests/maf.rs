//! The masked autoregressive flow: normalization by quadrature, sampling against
//! log_prob, gradients, training on a linear-Gaussian model, save/load.

mod common;

use common::{line, rng, simpson};
use flows::{
    CategoricalConfig, CategoricalMass, ConditionalDensity, FlowError, Maf, MafConfig, Permutation,
    Persist, Rows, Trainable,
};
use proptest::prelude::*;
use rand::RngExt;
use rand_distr::StandardNormal;

/// A flow with random weights made more nonlinear by scaling them up (so the tests
/// do not only see a near-Gaussian).
fn flow(d: usize, c: usize, config: &MafConfig, seed: u64, gain: f64) -> Maf {
    let mut r = rng(seed);
    let xs = common::rows_from(100, d, |_, row| {
        row.iter_mut()
            .for_each(|v| *v = 2.0 + 3.0 * r.sample::<f64, _>(StandardNormal))
    });
    let ctx = common::rows_from(100, c, |_, row| {
        row.iter_mut().for_each(|v| *v = r.random::<f64>())
    });
    let mut q = Maf::new(config, xs.view(), ctx.view(), seed).unwrap();
    let scaled: Vec<f64> = q.parameters().iter().map(|p| p * gain).collect();
    q.set_parameters(&scaled).unwrap();
    q
}

fn small() -> MafConfig {
    MafConfig {
        hidden_features: 16,
        num_transforms: 3,
        ..MafConfig::default()
    }
}

/// ∫ q(x | θ) dx = 1 in 1-D: Simpson's rule over the whole line, error budget 1e-9.
#[test]
fn density_integrates_to_one_in_1d() {
    for (seed, config) in [(1, MafConfig::default()), (2, small())] {
        let q = flow(1, 2, &config, seed, 2.0);
        for theta in [[0.0, 0.0], [0.9, -0.3], [3.0, 2.0]] {
            let mass = line(
                |x| q.log_prob(&[x], &theta).unwrap().exp(),
                2.0,
                30.0,
                20_000,
            );
            assert!((mass - 1.0).abs() < 1e-9, "mass {mass} at θ = {theta:?}");
        }
    }
}

/// ∫∫ q(x | θ) dx = 1 in 2-D: Simpson's rule in both coordinates over the plane,
/// error budget 1e-8 (a 601 × 601 grid).
#[test]
fn density_integrates_to_one_in_2d() {
    let q = flow(2, 1, &small(), 3, 1.5);
    let mass = line(
        |x1| {
            line(
                |x2| q.log_prob(&[x1, x2], &[0.4]).unwrap().exp(),
                2.0,
                30.0,
                600,
            )
        },
        2.0,
        30.0,
        600,
    );
    assert!((mass - 1.0).abs() < 1e-8, "mass {mass}");
}

/// Sample moments agree with moments of exp(log_prob) computed by quadrature (1-D:
/// mean, variance; also a Kolmogorov–Smirnov test against the quadrature CDF).
#[test]
fn samples_follow_log_prob_in_1d() {
    let q = flow(1, 2, &MafConfig::default(), 4, 2.0);
    let theta = [0.5, -1.0];
    let pdf = |x: f64| q.log_prob(&[x], &theta).unwrap().exp();
    let mean = line(|x| x * pdf(x), 2.0, 30.0, 20_000);
    let var = line(|x| (x - mean).powi(2) * pdf(x), 2.0, 30.0, 20_000);
    let m = 20_000;
    let draws = q.sample(&theta, m, &mut rng(5)).unwrap();
    let s = draws.as_slice();
    let smean = s.iter().sum::<f64>() / m as f64;
    let svar = s.iter().map(|x| (x - smean).powi(2)).sum::<f64>() / (m - 1) as f64;
    // 4.5 standard errors; the variance's SE uses a generous kurtosis of 10.
    assert!(
        (smean - mean).abs() < 4.5 * (var / m as f64).sqrt(),
        "mean {smean} vs {mean}"
    );
    assert!(
        (svar - var).abs() < 4.5 * var * (9.0 / m as f64).sqrt(),
        "var {svar} vs {var}"
    );
    // KS: the empirical CDF against the quadrature CDF on a grid of 2 000 cells.
    let mut sorted = s.to_vec();
    sorted.sort_by(f64::total_cmp);
    let (lo, hi) = (sorted[0] - 1.0, sorted[m - 1] + 1.0);
    let cells = 2_000;
    let h = (hi - lo) / cells as f64;
    let mut cdf = line(
        |x| if x < lo { pdf(x) } else { 0.0 },
        lo - 30.0,
        30.0,
        20_000,
    );
    let mut ks: f64 = 0.0;
    let mut k = 0;
    for i in 0..cells {
        let x1 = lo + (i + 1) as f64 * h;
        cdf += simpson(pdf, x1 - h, x1, 8);
        while k < m && sorted[k] <= x1 {
            k += 1;
        }
        ks = ks.max((k as f64 / m as f64 - cdf).abs());
    }
    // Critical value of the KS statistic at level 1e-3: 1.95 / √m.
    assert!(ks < 1.95 / (m as f64).sqrt(), "KS statistic {ks}");
}

/// 2-D: sample means, variances and the covariance against quadrature moments.
#[test]
fn samples_follow_log_prob_in_2d() {
    let q = flow(2, 1, &small(), 6, 1.5);
    let theta = [-0.3];
    let pdf = |x1: f64, x2: f64| q.log_prob(&[x1, x2], &theta).unwrap().exp();
    let [mass, m1, m2, v1, v2, c12] = common::moments_2d(pdf, 2.0, 30.0, 400);
    assert!((mass - 1.0).abs() < 1e-4, "mass {mass}");
    let m = 20_000;
    let draws = q.sample(&theta, m, &mut rng(7)).unwrap();
    let mean = |j: usize| draws.view().iter().map(|r| r[j]).sum::<f64>() / m as f64;
    let (s1, s2) = (mean(0), mean(1));
    let sc12 = draws
        .view()
        .iter()
        .map(|r| (r[0] - s1) * (r[1] - s2))
        .sum::<f64>()
        / (m - 1) as f64;
    let se = |v: f64| (v / m as f64).sqrt();
    assert!((s1 - m1).abs() < 4.5 * se(v1), "mean₁ {s1} vs {m1}");
    assert!((s2 - m2).abs() < 4.5 * se(v2), "mean₂ {s2} vs {m2}");
    // SE of a sample covariance ≤ √(E[(x−μ₁)²(y−μ₂)²]/m); bound that by 3·v1·v2.
    assert!(
        (sc12 - c12).abs() < 4.5 * (3.0 * v1 * v2 / m as f64).sqrt(),
        "cov {sc12} vs {c12}"
    );
}

#[test]
fn parameter_gradient_matches_finite_differences() {
    for (d, perm) in [
        (1, Permutation::Reverse),
        (2, Permutation::Reverse),
        (3, Permutation::Random),
    ] {
        let config = MafConfig {
            permutation: perm,
            ..small()
        };
        let q = flow(d, 2, &config, 8 + d as u64, 1.5);
        let mut r = rng(9);
        let xs = common::rows_from(20, d, |_, x| {
            x.iter_mut()
                .for_each(|v| *v = 2.0 + 3.0 * r.sample::<f64, _>(StandardNormal))
        });
        let ctx = common::rows_from(20, 2, |_, t| {
            t.iter_mut().for_each(|v| *v = r.random::<f64>())
        });
        common::check_parameter_gradient(&q, xs.view(), ctx.view(), 150).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    /// ∂/∂θ of the summed log-probability against central differences.
    #[test]
    fn context_gradient_matches_finite_differences(
        d in 1usize..=3,
        theta in prop::collection::vec(-3.0f64..3.0, 2),
        seed in 0u64..1000,
        n in 1usize..12,
    ) {
        let q = flow(d, 2, &small(), seed, 1.5);
        let mut r = rng(seed + 1);
        let xs = common::rows_from(n, d, |_, x| {
            x.iter_mut().for_each(|v| *v = 2.0 + 4.0 * r.sample::<f64, _>(StandardNormal))
        });
        prop_assert_eq!(common::check_context_gradient(&q, xs.view(), &theta), Ok(()));
    }

    /// No f64 makes the flow panic: NaN is an error, ±∞ in x is −∞; the hot path
    /// adds a finite gradient or, for −∞, none.
    #[test]
    fn any_f64_is_a_value_or_an_error(x in any::<f64>(), y in -1e3f64..1e3, t in any::<f64>()) {
        let q = flow(2, 1, &small(), 10, 1.0);
        match q.log_prob(&[x, y], &[t]) {
            Ok(lp) => prop_assert!(!lp.is_nan() && (x.is_finite() || lp == f64::NEG_INFINITY)),
            Err(e) => {
                let ok = matches!(e, FlowError::NonFinite { .. }) && (x.is_nan() || !t.is_finite());
                prop_assert!(ok, "unexpected error {}", e);
            }
        }
        let mut g = [0.5];
        let xs = Rows::new(vec![x, y], 2).unwrap();
        if let Ok(lp) = q.sum_log_prob_grad_context(xs.view(), &[t], &mut g) {
            let ok = if lp.is_finite() { g[0].is_finite() } else { lp == f64::NEG_INFINITY && g[0] == 0.5 };
            prop_assert!(ok, "lp {} grad {}", lp, g[0]);
        }
    }
}

/// The training loop's internal-order gradient and in-place Adam step give the
/// default path's numbers exactly (two blocks of rows, one of them over 64 rows).
#[test]
fn internal_training_path_matches_the_default_path() {
    for d in [1, 3] {
        let q = flow(d, 2, &small(), 13, 1.5);
        let (xs, ctx) = common::training_data(d, 2, 14);
        let (xs, ctx) = (xs.view().slice(0, 100), ctx.view().slice(0, 100));
        common::check_internal_training_path(&q, xs, ctx).unwrap();
    }
}

/// The default (sbi-sized) flow gives the same sum through the hot path as row by row.
#[test]
fn hot_path_matches_single_rows_at_sbi_size() {
    let q = flow(3, 4, &MafConfig::default(), 11, 1.0);
    let mut r = rng(12);
    let xs = common::rows_from(50, 3, |_, x| {
        x.iter_mut()
            .for_each(|v| *v = 2.0 + 3.0 * r.sample::<f64, _>(StandardNormal))
    });
    common::check_context_gradient(&q, xs.view(), &[0.1, 0.5, 0.9, 0.3]).unwrap();
}

/// Training recovers x | θ ~ N(Aθ + b, Σ) (x ∈ ℝ², θ ∈ [−2, 2]²). Budget: the mean
/// log-likelihood gap to the true density on 2 000 held-out simulations is below
/// 0.05 nats (an untrained flow is several nats off).
#[test]
fn training_recovers_a_linear_gaussian() {
    let config = MafConfig {
        hidden_features: 20,
        num_transforms: 3,
        ..MafConfig::default()
    };
    let (before, after) = common::linear_gaussian_gaps(|x, t| Maf::new(&config, x, t, 15).unwrap());
    assert!(before > 1.0, "untrained gap {before}");
    assert!(
        after < 0.05,
        "trained gap {after} nats (untrained {before})"
    );
}

#[test]
fn save_load_gives_identical_log_probabilities() {
    for perm in [Permutation::Reverse, Permutation::Random] {
        let config = MafConfig {
            permutation: perm,
            ..MafConfig::default()
        };
        let q = flow(3, 2, &config, 16, 1.0);
        let path = common::temp_path("maf");
        q.save(&path).unwrap();
        let back = Maf::load(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let mut r = rng(17);
        for _ in 0..50 {
            let x: Vec<f64> = (0..3)
                .map(|_| 2.0 + 3.0 * r.sample::<f64, _>(StandardNormal))
                .collect();
            let theta = [r.random::<f64>(), r.random::<f64>()];
            assert_eq!(
                q.log_prob(&x, &theta).unwrap(),
                back.log_prob(&x, &theta).unwrap()
            );
        }
        assert_eq!(back.parameters(), q.parameters());
    }
}

#[test]
fn bad_files_are_errors() {
    let q = flow(2, 1, &small(), 18, 1.0);
    let bytes = q.to_bytes().unwrap();
    assert!(matches!(
        Maf::from_bytes(&bytes[..bytes.len() - 3]),
        Err(FlowError::Corrupt(_))
    ));
    // a categorical file is not a MAF
    let cat = CategoricalMass::new(
        &CategoricalConfig::new(0, 3),
        Rows::new(vec![1.0, 2.0], 1).unwrap().view(),
        0,
    )
    .unwrap();
    assert!(matches!(
        Maf::from_bytes(&cat.to_bytes().unwrap()),
        Err(FlowError::WrongKind {
            expected: "maf",
            ..
        })
    ));
    // a masked weight set to non-zero: refused by set_parameters and by load
    let i = q.parameters().iter().position(|&p| p == 0.0).unwrap();
    let mut p = q.parameters().to_vec();
    p[i] = 0.5;
    let mut bad = q.clone();
    assert!(matches!(
        bad.set_parameters(&p),
        Err(FlowError::InvalidConfig(_))
    ));
    let mut json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    json["estimator"]["params"][i] = serde_json::json!(0.5);
    assert!(matches!(
        Maf::from_bytes(&serde_json::to_vec(&json).unwrap()),
        Err(FlowError::Corrupt(_))
    ));
    // bad permutations
    let text = String::from_utf8(bytes).unwrap();
    let broken = text.replace("\"permutations\":[[1,0]", "\"permutations\":[[1,1]");
    assert_ne!(broken, text);
    assert!(matches!(
        Maf::from_bytes(broken.as_bytes()),
        Err(FlowError::Corrupt(_))
    ));
}

#[test]
fn bad_configurations_and_inputs_are_errors() {
    let xs = Rows::new(vec![1.0, 2.0, 3.0, 4.0], 2).unwrap();
    let ctx = Rows::new(vec![1.0, 2.0], 1).unwrap();
    let zero = MafConfig {
        num_transforms: 0,
        ..MafConfig::default()
    };
    assert!(matches!(
        Maf::new(&zero, xs.view(), ctx.view(), 0),
        Err(FlowError::InvalidConfig(_))
    ));
    let q = Maf::new(&small(), xs.view(), ctx.view(), 0).unwrap();
    let mut g = [0.0; 2];
    assert!(matches!(
        q.sum_log_prob_grad_context(xs.view(), &[0.0], &mut g),
        Err(FlowError::DimensionMismatch { what: "grad", .. })
    ));
    let mut out = [0.0; 2];
    assert!(matches!(
        q.log_prob_batch(xs.view(), Rows::new(vec![1.0], 1).unwrap().view(), &mut out),
        Err(FlowError::RowCountMismatch { .. })
    ));
    let mut grad = vec![0.0; q.parameters().len()];
    let inf = Rows::new(vec![1.0, f64::INFINITY], 2).unwrap();
    assert!(matches!(
        q.loss_grad(
            inf.view(),
            Rows::new(vec![1.0], 1).unwrap().view(),
            &mut grad
        ),
        Err(FlowError::NonFinite { .. })
    ));
}

#[test]
fn sampling_is_reproducible_from_a_seed() {
    let q = flow(2, 1, &small(), 19, 1.0);
    let a = q.sample(&[0.2], 10, &mut rng(20)).unwrap();
    let b = q.sample(&[0.2], 10, &mut rng(20)).unwrap();
    assert_eq!(a, b);
    assert!(a.as_slice().iter().all(|v| v.is_finite()));
    assert_ne!(a, q.sample(&[0.2], 10, &mut rng(21)).unwrap());
}
