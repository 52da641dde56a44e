//! The cookie, gaussian_linear and gaussian_mixture tasks against their
//! definitions: simulation moments at fixed θ, likelihoods against
//! independent formulas, posteriors against closed forms and quadrature.

mod common;

use common::{EXACT, assert_close, assert_mean, assert_var, column, mean_var, rng};
use simulators::tasks::{Cookie, GaussianLinear, GaussianMixture};
use simulators::{
    ConfigError, Likelihood, Prior, ReferencePosterior, SimulationError, Simulator, Task,
};
use statrs::distribution::{Continuous, Discrete};

/// Monte-Carlo budget of the moment checks: simulations per check.
const N_SIMS: usize = 20_000;

/// `n` simulations at one θ, row-major.
fn simulate_many(sim: &dyn Simulator, theta: &[f64], n: usize, seed: u64) -> Vec<f64> {
    let mut rng = rng(seed);
    let d = sim.x_dim();
    let mut out = vec![0.0; n * d];
    for row in out.chunks_exact_mut(d) {
        sim.simulate(theta, &mut rng, row).unwrap();
    }
    out
}

#[test]
fn cookie_counts_are_poisson() {
    let task = Cookie::new();
    let x = simulate_many(&task, &[4.5], N_SIMS, 1);
    assert!(x.iter().all(|v| *v >= 0.0 && v.fract() == 0.0));
    // Poisson(λ): mean = variance = λ, excess kurtosis 1/λ.
    assert_mean("Poisson mean", &x, 4.5, 4.5);
    assert_var("Poisson variance", &x, 4.5, 1.0 / 4.5);
    let mut r = rng(2);
    assert_eq!(task.simulate_vec(&[0.0], &mut r).unwrap(), vec![0.0]);
}

#[test]
fn cookie_likelihood_is_the_poisson_mass() {
    let task = Cookie::new();
    for rate in [0.5, 9.2, 40.0] {
        let p = statrs::distribution::Poisson::new(rate).unwrap();
        for k in 0..60u64 {
            let ours = task.log_likelihood(&[rate], &[k as f64]).unwrap();
            assert_close("Poisson ln pmf", ours, p.ln_pmf(k), EXACT);
        }
    }
    assert_eq!(
        task.log_likelihood(&[3.0], &[2.5]).unwrap(),
        f64::NEG_INFINITY
    );
    assert_eq!(
        task.log_likelihood(&[3.0], &[-1.0]).unwrap(),
        f64::NEG_INFINITY
    );
    assert_eq!(task.log_likelihood(&[0.0], &[0.0]).unwrap(), 0.0);
    assert_eq!(
        task.log_likelihood(&[0.0], &[1.0]).unwrap(),
        f64::NEG_INFINITY
    );
    assert!(matches!(
        task.log_likelihood(&[-1.0], &[1.0]),
        Err(SimulationError::InvalidTheta { index: 0, .. })
    ));
    assert!(matches!(
        task.log_likelihood(&[1.0], &[f64::NAN]),
        Err(SimulationError::InvalidX { index: 0, .. })
    ));
}

#[test]
fn cookie_posterior_is_the_conjugate_gamma() {
    let task = Cookie::new();
    let x = [7.0];
    let post = task.posterior(&x).unwrap();
    assert_eq!((post.shape(), post.rate()), (9.0, 1.2));
    // log prior + log likelihood − log posterior is the log evidence: constant in θ.
    let evidence: Vec<f64> = [0.5, 3.0, 6.0, 11.0, 25.0]
        .iter()
        .map(|&t| task.log_posterior(&[t], &x).unwrap().unwrap() - post.ln_pdf(t))
        .collect();
    for e in &evidence {
        assert_close("log evidence", *e, evidence[0], 1e-12);
    }
    let draws = task.sample_posterior(&x, N_SIMS, &mut rng(3)).unwrap();
    assert_mean("posterior mean", &draws, post.mean(), post.variance());
    assert!(matches!(
        task.posterior(&[1.5]),
        Err(SimulationError::InvalidX { index: 0, .. })
    ));
    assert!(task.observation(1).is_none());
}

#[test]
fn gaussian_linear_simulates_theta_plus_noise_of_variance_point_one() {
    let task = GaussianLinear::new();
    let theta: Vec<f64> = (0..10).map(|i| 0.1 * i as f64 - 0.4).collect();
    let x = simulate_many(&task, &theta, N_SIMS, 4);
    for (i, t) in theta.iter().enumerate() {
        let c = column(&x, 10, i);
        assert_mean("x mean", &c, *t, 0.1);
        assert_var("x variance", &c, 0.1, 0.0);
    }
    // Prior: N(0, 0.1 I) (sbibm's "scale" 0.1 is a variance).
    assert_eq!(task.gaussian_prior().covariance()[0], 0.1);
    assert_eq!(task.gaussian_prior().covariance()[1], 0.0);
}

#[test]
fn gaussian_linear_posterior_is_the_closed_form() {
    let task = GaussianLinear::new();
    let obs = task.observation(1).unwrap();
    let x = &obs.x;
    let post = task.posterior(x).unwrap();
    for (i, xi) in x.iter().enumerate() {
        assert_close("posterior mean x/2", post.mean()[i], xi / 2.0, EXACT);
        assert_close("posterior variance", post.covariance()[i * 11], 0.05, EXACT);
    }
    // Bayes' rule: log p(θ|x) = log p(θ) + log p(x|θ) − log p(x), with the
    // evidence p(x) = N(x; 0, (0.1 + 0.1) I).
    let log_evidence: f64 = x
        .iter()
        .map(|xi| {
            statrs::distribution::Normal::new(0.0, 0.2f64.sqrt())
                .unwrap()
                .ln_pdf(*xi)
        })
        .sum();
    let mut r = rng(5);
    for _ in 0..5 {
        let theta = task.prior().sample(&mut r).unwrap();
        let bayes = task.log_posterior(&theta, x).unwrap().unwrap() - log_evidence;
        assert_close(
            "log posterior",
            post.log_prob(&theta).unwrap(),
            bayes,
            1e-10,
        );
    }
    let draws = task.sample_posterior(x, N_SIMS, &mut rng(6)).unwrap();
    assert_eq!(draws.len(), N_SIMS * 10);
    for (i, xi) in x.iter().enumerate() {
        let c = column(&draws, 10, i);
        assert_mean("posterior draw mean", &c, xi / 2.0, 0.05);
        assert_var("posterior draw variance", &c, 0.05, 0.0);
    }
}

#[test]
fn gaussian_linear_likelihood_and_dimensions() {
    let task = GaussianLinear::with_dim(3).unwrap();
    let (theta, x) = ([0.1, -0.2, 0.3], [0.0, 0.5, 0.25]);
    let want: f64 = (0..3)
        .map(|i| {
            statrs::distribution::Normal::new(theta[i], 0.1f64.sqrt())
                .unwrap()
                .ln_pdf(x[i])
        })
        .sum();
    assert_close(
        "likelihood",
        task.log_likelihood(&theta, &x).unwrap(),
        want,
        EXACT,
    );
    assert_eq!(
        (task.theta_dim(), task.x_dim(), task.info().theta_dim),
        (3, 3, 3)
    );
    assert!(
        task.observation(1).is_none(),
        "sbibm's observations are 10-D"
    );
    assert_eq!(GaussianLinear::with_dim(0), Err(ConfigError::ZeroDimension));
    assert!(matches!(
        task.posterior(&[0.0, f64::INFINITY, 0.0]),
        Err(SimulationError::InvalidX { index: 1, .. })
    ));
}

#[test]
fn gaussian_mixture_shares_one_component_across_coordinates() {
    let task = GaussianMixture::new();
    let theta = [2.0, -3.0];
    let x = simulate_many(&task, &theta, N_SIMS, 7);
    // ½ N(θ, I) + ½ N(θ, 0.01 I): variance 0.505, E[(x−θ)⁴] = 3 (½ + ½ 10⁻⁴),
    // so excess kurtosis 3 · 0.50005 / 0.505² − 3.
    let kurt = 3.0 * 0.50005 / (0.505 * 0.505) - 3.0;
    for (i, t) in theta.iter().enumerate() {
        let c = column(&x, 2, i);
        assert_mean("mixture mean", &c, *t, 0.505);
        assert_var("mixture variance", &c, 0.505, kurt);
    }
    // One component per simulation: the squared deviations are correlated,
    // Cov((x₀−θ₀)², (x₁−θ₁)²) = ½ + ½ 10⁻⁴ − 0.505² ≈ 0.245 (0 if independent).
    let sq: Vec<f64> = x
        .chunks_exact(2)
        .map(|p| (p[0] - theta[0]).powi(2) * (p[1] - theta[1]).powi(2))
        .collect();
    let (m, v) = mean_var(&sq);
    let cov = m - 0.505 * 0.505;
    let se = (v / N_SIMS as f64).sqrt();
    assert!(
        (cov - (0.50005 - 0.505 * 0.505)).abs() < common::Z_BUDGET * se,
        "{cov}"
    );
}

#[test]
fn gaussian_mixture_likelihood_is_the_mixture_density() {
    let task = GaussianMixture::new();
    for (theta, x) in [
        ([0.0, 0.0], [0.05, -0.02]),
        ([3.0, -1.0], [1.0, 1.0]),
        ([0.0, 0.0], [0.0, 0.0]),
    ] {
        let pdf = |s: f64| {
            (0..2)
                .map(|i| {
                    statrs::distribution::Normal::new(theta[i], s)
                        .unwrap()
                        .pdf(x[i])
                })
                .product::<f64>()
        };
        let want = (0.5 * pdf(1.0) + 0.5 * pdf(0.1)).ln();
        assert_close(
            "mixture ln pdf",
            task.log_likelihood(&theta, &x).unwrap(),
            want,
            1e-12,
        );
    }
    // Far in the tails both terms underflow in linear space, not in log space.
    assert!(
        task.log_likelihood(&[0.0, 0.0], &[60.0, 0.0])
            .unwrap()
            .is_finite()
    );
}

/// Posterior mean and variance of each coordinate by midpoint quadrature of
/// exp(log posterior) over the rectangle `[lo, hi]` with `n × n` cells.
fn grid_moments(
    task: &dyn Task,
    x: &[f64],
    lo: [f64; 2],
    hi: [f64; 2],
    n: usize,
) -> [(f64, f64); 2] {
    let h = [(hi[0] - lo[0]) / n as f64, (hi[1] - lo[1]) / n as f64];
    let (mut z, mut m1, mut m2) = (0.0, [0.0; 2], [0.0; 2]);
    for i in 0..n {
        for j in 0..n {
            let t = [
                lo[0] + (i as f64 + 0.5) * h[0],
                lo[1] + (j as f64 + 0.5) * h[1],
            ];
            let w = task.log_posterior(&t, x).unwrap().unwrap().exp();
            z += w;
            for k in 0..2 {
                m1[k] += w * t[k];
                m2[k] += w * t[k] * t[k];
            }
        }
    }
    std::array::from_fn(|k| (m1[k] / z, m2[k] / z - (m1[k] / z).powi(2)))
}

#[test]
fn gaussian_mixture_reference_posterior_matches_quadrature_near_the_prior_edge() {
    // Observation 1, x = (-9.47, -1.50): the prior bound at -10 truncates the
    // broad component, so the posterior is not the untruncated mixture.
    let task = GaussianMixture::new();
    let x = task.observation(1).unwrap().x;
    let moments = grid_moments(&task, &x, [-10.0, -7.0], [-3.0, 4.0], 1400);
    let draws = task.sample_posterior(&x, N_SIMS, &mut rng(8)).unwrap();
    assert!(draws.chunks_exact(2).all(|t| task.box_prior().contains(t)));
    for (k, (mean, var)) in moments.iter().enumerate() {
        assert_mean("posterior mean", &column(&draws, 2, k), *mean, *var);
    }
    assert!(moments[0].0 > x[0], "truncation pushes the mean inwards");
}

#[test]
fn rejection_sampling_gives_up_with_an_error() {
    let task = GaussianMixture::new();
    let err = task
        .sample_posterior(&[200.0, 200.0], 10, &mut rng(9))
        .unwrap_err();
    assert!(
        matches!(err, SimulationError::Rejection { accepted: 0, attempts } if attempts == 110_000)
    );
}
