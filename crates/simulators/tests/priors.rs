//! Priors: log densities against statrs and closed forms, draws against
//! their moments, and the error cases of constructors and evaluations.

mod common;

use common::{EXACT, assert_close, assert_mean, assert_var, column, rng};
use simulators::prior::{BoxUniform, Gamma, LogNormal, MultivariateNormal};
use simulators::{ConfigError, Interval, Prior, SimulationError};
use statrs::distribution::Continuous;

/// Draws `n` values from `prior`, row-major.
fn draws(prior: &dyn Prior, n: usize, seed: u64) -> Vec<f64> {
    let mut rng = rng(seed);
    let d = prior.dim();
    let mut out = vec![0.0; n * d];
    for row in out.chunks_exact_mut(d) {
        prior.sample_into(&mut rng, row).expect("right length");
    }
    out
}

/// Monte-Carlo budget of the moment checks.
const N_DRAWS: usize = 20_000;

#[test]
fn gamma_log_density_matches_statrs() {
    for (shape, rate) in [(2.0, 0.2), (0.5, 3.0), (7.5, 1.0)] {
        let ours = Gamma::new(shape, rate).unwrap();
        let theirs = statrs::distribution::Gamma::new(shape, rate).unwrap();
        for t in [1e-3, 0.3, 1.0, 4.2, 10.0, 55.0] {
            assert_close(
                "Gamma ln pdf",
                ours.log_prob(&[t]).unwrap(),
                theirs.ln_pdf(t),
                EXACT,
            );
        }
        assert_eq!(ours.log_prob(&[0.0]).unwrap(), f64::NEG_INFINITY);
        assert_eq!(ours.log_prob(&[-1.0]).unwrap(), f64::NEG_INFINITY);
        assert_eq!(ours.bounds(), vec![Interval::POSITIVE]);
    }
}

#[test]
fn gamma_draws_have_the_gamma_moments() {
    let g = Gamma::new(2.0, 0.2).unwrap();
    let x = draws(&g, N_DRAWS, 1);
    // Gamma(α, β): mean α/β, variance α/β², excess kurtosis 6/α.
    assert_mean("Gamma mean", &x, 10.0, 50.0);
    assert_var("Gamma variance", &x, 50.0, 3.0);
}

#[test]
fn lognormal_log_density_matches_statrs() {
    let loc = vec![0.4f64.ln(), -3.0];
    let scale = vec![0.5, 0.2];
    let ours = LogNormal::new(loc.clone(), scale.clone()).unwrap();
    for theta in [[0.4, 0.05], [1.3, 0.02], [0.01, 0.2]] {
        let want: f64 = (0..2)
            .map(|i| {
                statrs::distribution::LogNormal::new(loc[i], scale[i])
                    .unwrap()
                    .ln_pdf(theta[i])
            })
            .sum();
        assert_close(
            "LogNormal ln pdf",
            ours.log_prob(&theta).unwrap(),
            want,
            EXACT,
        );
    }
    assert_eq!(ours.log_prob(&[0.0, 1.0]).unwrap(), f64::NEG_INFINITY);
    assert_eq!(ours.log_prob(&[1.0, -1e-9]).unwrap(), f64::NEG_INFINITY);
    assert_eq!(ours.bounds(), vec![Interval::POSITIVE; 2]);
}

#[test]
fn lognormal_draws_have_normal_logs() {
    let ours = LogNormal::new(vec![-0.125, -3.0], vec![0.5, 0.5]).unwrap();
    let x = draws(&ours, N_DRAWS, 2);
    for (j, mu) in [-0.125, -3.0].into_iter().enumerate() {
        let logs: Vec<f64> = column(&x, 2, j).iter().map(|v| v.ln()).collect();
        assert_mean("ln θ mean", &logs, mu, 0.25);
        assert_var("ln θ variance", &logs, 0.25, 0.0);
    }
}

#[test]
fn box_uniform_log_density_matches_statrs_inside_and_is_half_open() {
    let ours = BoxUniform::new(vec![-1.0, 0.0], vec![1.0, 4.0]).unwrap();
    let want = statrs::distribution::Uniform::new(-1.0, 1.0)
        .unwrap()
        .ln_pdf(0.3)
        + statrs::distribution::Uniform::new(0.0, 4.0)
            .unwrap()
            .ln_pdf(2.0);
    assert_close(
        "Uniform ln pdf",
        ours.log_prob(&[0.3, 2.0]).unwrap(),
        want,
        EXACT,
    );
    // torch's Uniform (sbibm's BoxUniform) includes `low` and excludes `high`.
    assert_close("at low", ours.log_prob(&[-1.0, 0.0]).unwrap(), want, EXACT);
    assert_eq!(ours.log_prob(&[1.0, 2.0]).unwrap(), f64::NEG_INFINITY);
    assert_eq!(ours.log_prob(&[0.0, -0.1]).unwrap(), f64::NEG_INFINITY);
    assert_eq!(
        ours.log_prob(&[0.0, f64::INFINITY]).unwrap(),
        f64::NEG_INFINITY
    );
    assert_eq!(
        ours.bounds(),
        vec![
            Interval {
                low: -1.0,
                high: 1.0
            },
            Interval {
                low: 0.0,
                high: 4.0
            }
        ]
    );
    assert!(ours.bounds().iter().all(Interval::is_bounded));
}

#[test]
fn box_uniform_draws_stay_inside_with_uniform_moments() {
    let ours = BoxUniform::symmetric(3, 2.5).unwrap();
    let x = draws(&ours, N_DRAWS, 3);
    assert!(x.chunks_exact(3).all(|t| ours.contains(t)));
    for j in 0..3 {
        // U(-b, b): mean 0, variance (2b)²/12, excess kurtosis -1.2.
        let c = column(&x, 3, j);
        assert_mean("uniform mean", &c, 0.0, 25.0 / 12.0);
        assert_var("uniform variance", &c, 25.0 / 12.0, -1.2);
    }
}

#[test]
fn diagonal_normal_log_density_matches_statrs() {
    let mvn = MultivariateNormal::diagonal(vec![0.5, -1.0, 0.0], &[0.1, 2.0, 1.0]).unwrap();
    let theta = [0.7, 0.3, -2.0];
    let want: f64 = [(0.5, 0.1f64), (-1.0, 2.0), (0.0, 1.0)]
        .iter()
        .zip(theta)
        .map(|(&(m, v), t)| {
            statrs::distribution::Normal::new(m, v.sqrt())
                .unwrap()
                .ln_pdf(t)
        })
        .sum();
    assert_close("MVN ln pdf", mvn.log_prob(&theta).unwrap(), want, EXACT);
    assert_eq!(
        mvn.log_prob(&[f64::INFINITY, 0.0, 0.0]).unwrap(),
        f64::NEG_INFINITY
    );
    assert_eq!(mvn.bounds(), vec![Interval::REAL; 3]);
}

/// Determinant by Gaussian elimination with partial pivoting: independent of
/// the Cholesky factorization the crate uses.
fn determinant(a: &[f64], n: usize) -> f64 {
    let mut m = a.to_vec();
    let mut det = 1.0;
    for c in 0..n {
        let p = (c..n)
            .max_by(|&i, &j| m[i * n + c].abs().total_cmp(&m[j * n + c].abs()))
            .unwrap();
        if p != c {
            for k in 0..n {
                m.swap(c * n + k, p * n + k);
            }
            det = -det;
        }
        det *= m[c * n + c];
        for r in c + 1..n {
            let f = m[r * n + c] / m[c * n + c];
            for k in c..n {
                m[r * n + k] -= f * m[c * n + k];
            }
        }
    }
    det
}

#[test]
fn correlated_normal_from_precision_matches_the_closed_form() {
    let precision = [4.0, 2.0, 0.4, 2.0, 5.0, 1.0, 0.4, 1.0, 3.0];
    let mean = vec![1.0, -0.5, 0.25];
    let mvn = MultivariateNormal::from_precision(mean.clone(), &precision).unwrap();
    let theta = [0.3, 0.2, -0.9];
    let r: Vec<f64> = theta.iter().zip(&mean).map(|(t, m)| t - m).collect();
    let quad: f64 = (0..3)
        .flat_map(|i| (0..3).map(move |j| (i, j)))
        .map(|(i, j)| r[i] * precision[i * 3 + j] * r[j])
        .sum();
    let want = 0.5 * determinant(&precision, 3).ln()
        - 1.5 * (2.0 * std::f64::consts::PI).ln()
        - 0.5 * quad;
    assert_close("MVN ln pdf", mvn.log_prob(&theta).unwrap(), want, 1e-12);
    // The covariance is the inverse of the precision.
    let cov = mvn.covariance();
    for i in 0..3 {
        for j in 0..3 {
            let s: f64 = (0..3).map(|k| precision[i * 3 + k] * cov[k * 3 + j]).sum();
            assert_close("P Σ = I", s, if i == j { 1.0 } else { 0.0 }, 1e-12);
        }
    }
    // Draws have that mean and covariance.
    let x = draws(&mvn, N_DRAWS, 4);
    for i in 0..3 {
        assert_mean("MVN mean", &column(&x, 3, i), mean[i], cov[i * 3 + i]);
        assert_var("MVN variance", &column(&x, 3, i), cov[i * 3 + i], 0.0);
    }
    // Covariance of coordinates 0 and 1: the mean of the centered products.
    let prod: Vec<f64> = x
        .chunks_exact(3)
        .map(|t| (t[0] - mean[0]) * (t[1] - mean[1]))
        .collect();
    let var_prod = cov[0] * cov[4] + cov[1] * cov[1];
    assert_mean("MVN covariance", &prod, cov[1], var_prod);
}

#[test]
fn constructors_refuse_bad_parameters() {
    assert!(matches!(
        Gamma::new(0.0, 1.0),
        Err(ConfigError::BadParameter { name: "shape", .. })
    ));
    assert!(matches!(
        Gamma::new(1.0, f64::NAN),
        Err(ConfigError::BadParameter { name: "rate", .. })
    ));
    assert!(matches!(
        LogNormal::new(vec![0.0, 0.0], vec![1.0]),
        Err(ConfigError::Length {
            name: "scale",
            expected: 2,
            got: 1
        })
    ));
    assert!(matches!(
        LogNormal::new(vec![0.0], vec![-1.0]),
        Err(ConfigError::BadParameter {
            name: "scale",
            index: 0,
            ..
        })
    ));
    assert!(matches!(
        LogNormal::new(vec![], vec![]),
        Err(ConfigError::ZeroDimension)
    ));
    assert!(matches!(
        BoxUniform::new(vec![0.0, 1.0], vec![1.0, 1.0]),
        Err(ConfigError::BadParameter {
            name: "high",
            index: 1,
            ..
        })
    ));
    assert!(matches!(
        BoxUniform::new(vec![f64::NEG_INFINITY], vec![1.0]),
        Err(ConfigError::BadParameter {
            name: "low",
            index: 0,
            ..
        })
    ));
    assert!(matches!(
        MultivariateNormal::from_covariance(vec![0.0, 0.0], &[1.0, 2.0, 2.0, 1.0]),
        Err(ConfigError::NotPositiveDefinite("covariance"))
    ));
    assert!(matches!(
        MultivariateNormal::from_precision(vec![0.0, 0.0], &[1.0, 0.0, 0.0]),
        Err(ConfigError::Length {
            name: "precision",
            expected: 4,
            got: 3
        })
    ));
    assert!(matches!(
        MultivariateNormal::diagonal(vec![0.0, f64::NAN], &[1.0, 1.0]),
        Err(ConfigError::BadParameter {
            name: "mean",
            index: 1,
            ..
        })
    ));
    assert_eq!(
        ConfigError::NotPositiveDefinite("covariance").to_string(),
        "the covariance matrix is not symmetric positive definite"
    );
}

#[test]
fn evaluations_refuse_nan_and_wrong_lengths() {
    let priors: Vec<Box<dyn Prior>> = vec![
        Box::new(Gamma::new(2.0, 0.2).unwrap()),
        Box::new(LogNormal::new(vec![0.0; 2], vec![1.0; 2]).unwrap()),
        Box::new(BoxUniform::symmetric(2, 1.0).unwrap()),
        Box::new(MultivariateNormal::diagonal(vec![0.0; 2], &[1.0; 2]).unwrap()),
    ];
    let mut rng = rng(5);
    for p in &priors {
        let d = p.dim();
        let mut theta = vec![0.5; d];
        theta[d - 1] = f64::NAN;
        assert!(
            matches!(
                p.log_prob(&theta),
                Err(SimulationError::InvalidTheta { index, value }) if index == d - 1 && value.is_nan()
            ),
            "{:?}",
            p.log_prob(&theta)
        );
        assert_eq!(
            p.log_prob(&vec![0.5; d + 1]),
            Err(SimulationError::ThetaLength {
                expected: d,
                got: d + 1
            })
        );
        let mut short = vec![0.0; d + 2];
        assert_eq!(
            p.sample_into(&mut rng, &mut short),
            Err(SimulationError::ThetaLength {
                expected: d,
                got: d + 2
            })
        );
        assert_eq!(p.sample(&mut rng).unwrap().len(), d);
    }
}
