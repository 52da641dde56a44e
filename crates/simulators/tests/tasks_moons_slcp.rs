//! two_moons and slcp against their definitions: known outputs for given
//! noise, likelihoods against independent formulas and quadrature, the
//! analytic posterior sampler against quadrature of the likelihood.

mod common;

use std::f64::consts::{FRAC_1_SQRT_2, PI};

use common::{EXACT, assert_close, assert_mean, assert_var, column, mean_var, rng};
use simulators::tasks::{Slcp, TwoMoons};
use simulators::{Likelihood, ReferencePosterior, SimulationError, Simulator, Task};

/// Monte-Carlo budget of the moment checks.
const N_SIMS: usize = 20_000;

#[test]
fn two_moons_known_outputs_for_given_noise() {
    let task = TwoMoons::new();
    // θ = 0 leaves the crescent point p = (r cos a + 0.25, r sin a) alone.
    let x = task.simulate_with_noise(&[0.0, 0.0], 0.0, 0.1).unwrap();
    assert_close("x0", x[0], 0.35, EXACT);
    assert_close("x1", x[1], 0.0, EXACT);
    // θ = (0.5, 0.5): z = R(−π/4) θ = (1/√2, 0), so x = p − (1/√2, 0).
    let x = task.simulate_with_noise(&[0.5, 0.5], 0.0, 0.1).unwrap();
    assert_close("x0", x[0], 0.35 - FRAC_1_SQRT_2, EXACT);
    assert_close("x1", x[1], 0.0, EXACT);
    // θ = (0.3, −0.1), a = π/6, r = 0.12: z₀ = 0.2/√2, z₁ = −0.4/√2.
    let x = task
        .simulate_with_noise(&[0.3, -0.1], PI / 6.0, 0.12)
        .unwrap();
    assert_close(
        "x0",
        x[0],
        0.12 * (PI / 6.0).cos() + 0.25 - 0.2 * FRAC_1_SQRT_2,
        EXACT,
    );
    assert_close("x1", x[1], 0.06 - 0.4 * FRAC_1_SQRT_2, EXACT);
    // |z₀| makes θ and its reflection across θ₀ = −θ₁ indistinguishable.
    let y = task
        .simulate_with_noise(&[0.1, -0.3], PI / 6.0, 0.12)
        .unwrap();
    assert_close("mirror x0", y[0], x[0], EXACT);
    assert_close("mirror x1", y[1], x[1], EXACT);
}

#[test]
fn two_moons_simulation_moments() {
    let task = TwoMoons::new();
    let theta = [0.2, -0.4];
    let x = simulate_many(&task, &theta, N_SIMS, 1);
    let (z0, z1) = (
        (theta[0] + theta[1]) * FRAC_1_SQRT_2,
        (theta[1] - theta[0]) * FRAC_1_SQRT_2,
    );
    // a ~ U(−π/2, π/2), r ~ N(0.1, 0.01²): E[cos a] = 2/π, E[r²] = 0.0101.
    let mean_rcos = 0.1 * 2.0 / PI;
    let var_rcos = 0.0101 * 0.5 - mean_rcos * mean_rcos;
    assert_mean(
        "x0",
        &column(&x, 2, 0),
        mean_rcos + 0.25 - z0.abs(),
        var_rcos,
    );
    assert_mean("x1", &column(&x, 2, 1), z1, 0.0101 * 0.5);
    assert_var("x1 variance", &column(&x, 2, 1), 0.0101 * 0.5, 1.0);
}

fn simulate_many(sim: &dyn Simulator, theta: &[f64], n: usize, seed: u64) -> Vec<f64> {
    let mut rng = rng(seed);
    let mut out = vec![0.0; n * sim.x_dim()];
    for row in out.chunks_exact_mut(sim.x_dim()) {
        sim.simulate(theta, &mut rng, row).unwrap();
    }
    out
}

#[test]
fn two_moons_likelihood_is_a_normalized_density_in_x() {
    let task = TwoMoons::new();
    for theta in [[0.0, 0.0], [0.4, -0.7]] {
        // The crescent lies within 0.16 of its centre (0.25 − |z₀|, z₁).
        let c = [
            0.25 - ((theta[0] + theta[1]) * FRAC_1_SQRT_2).abs(),
            (theta[1] - theta[0]) * FRAC_1_SQRT_2,
        ];
        let (n, half) = (800, 0.16);
        let h = 2.0 * half / n as f64;
        let mut total = 0.0;
        for i in 0..n {
            for j in 0..n {
                let x = [
                    c[0] - half + (i as f64 + 0.5) * h,
                    c[1] - half + (j as f64 + 0.5) * h,
                ];
                total += task.log_likelihood(&theta, &x).unwrap().exp() * h * h;
            }
        }
        assert_close("∫ p(x | θ) dx", total, 1.0, 1e-3);
    }
}

#[test]
fn two_moons_likelihood_is_sbibms_plus_the_polar_jacobian() {
    // sbibm's `_likelihood`: log N(ρ; 0.1, 0.01²), ρ = |x − (0.25 − |z₀|, z₁)|.
    let task = TwoMoons::new();
    let (theta, x) = ([0.3, -0.1], [0.2, -0.25]);
    let (z0, z1) = (
        (theta[0] + theta[1]) * FRAC_1_SQRT_2,
        (theta[1] - theta[0]) * FRAC_1_SQRT_2,
    );
    let (u, v) = (x[0] + z0.abs() - 0.25, x[1] - z1);
    let rho = u.hypot(v);
    let sbibm = -0.5 * ((rho - 0.1) / 0.01).powi(2) - 0.5 * (2.0 * PI * 0.01 * 0.01).ln();
    let ours = task.log_likelihood(&theta, &x).unwrap();
    assert_close("log likelihood", ours, sbibm - (PI * rho).ln(), 1e-12);
}

/// Posterior moments of θ by midpoint quadrature over the prior box.
fn grid_moments(task: &dyn Task, x: &[f64], n: usize) -> [(f64, f64); 2] {
    let h = 2.0 / n as f64;
    let (mut z, mut m1, mut m2) = (0.0, [0.0; 2], [0.0; 2]);
    for i in 0..n {
        for j in 0..n {
            let t = [-1.0 + (i as f64 + 0.5) * h, -1.0 + (j as f64 + 0.5) * h];
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
fn two_moons_reference_posterior_matches_quadrature_of_the_likelihood() {
    let task = TwoMoons::new();
    // Observations 1 and 7 (x₀ = 0.19, where the two moons nearly meet).
    for num in [1, 7] {
        let x = task.observation(num).unwrap().x;
        let moments = grid_moments(&task, &x, 1000);
        let draws = task
            .sample_posterior(&x, N_SIMS, &mut rng(num as u64))
            .unwrap();
        for (k, (mean, var)) in moments.iter().enumerate() {
            let c = column(&draws, 2, k);
            assert_mean("posterior mean", &c, *mean, *var);
            // The draws' spread: within 5% of the quadrature variance.
            let (_, v) = mean_var(&c);
            assert_close("posterior variance", v, *var, 0.05 * var / var.max(1.0));
        }
    }
}

#[test]
fn slcp_mean_and_covariance_at_a_fixed_theta() {
    let task = Slcp::new();
    let theta = [0.5, -1.0, 0.7, 1.2, 0.3];
    let (m, s) = task.mean_cov(&theta).unwrap();
    let (s1, s2, rho) = (0.49, 1.44, 0.3f64.tanh());
    assert_eq!(m, [0.5, -1.0]);
    assert_close("S00", s[0][0], s1 * s1 + 1e-6, EXACT);
    assert_close("S11", s[1][1], s2 * s2 + 1e-6, EXACT);
    assert_close("S01", s[0][1], rho * s1 * s2, EXACT);
    assert_eq!(s[0][1], s[1][0]);

    let x = simulate_many(&task, &theta, N_SIMS, 2);
    // The four draws of a simulation are iid: pool them.
    let p0: Vec<f64> = column(&x, 2, 0);
    let p1: Vec<f64> = column(&x, 2, 1);
    assert_mean("mean 0", &p0, m[0], s[0][0]);
    assert_mean("mean 1", &p1, m[1], s[1][1]);
    assert_var("var 0", &p0, s[0][0], 0.0);
    assert_var("var 1", &p1, s[1][1], 0.0);
    let prod: Vec<f64> = p0
        .iter()
        .zip(&p1)
        .map(|(a, b)| (a - m[0]) * (b - m[1]))
        .collect();
    assert_mean(
        "covariance",
        &prod,
        s[0][1],
        s[0][0] * s[1][1] + s[0][1] * s[0][1],
    );
}

/// log N(x; m, S) for one 2-D point by the explicit inverse and determinant.
fn ln_normal2(x: &[f64], m: [f64; 2], s: [[f64; 2]; 2]) -> f64 {
    let det = s[0][0] * s[1][1] - s[0][1] * s[1][0];
    let (d0, d1) = (x[0] - m[0], x[1] - m[1]);
    let quad = (s[1][1] * d0 * d0 - 2.0 * s[0][1] * d0 * d1 + s[0][0] * d1 * d1) / det;
    -(2.0 * PI).ln() - 0.5 * det.ln() - 0.5 * quad
}

#[test]
fn slcp_likelihood_is_four_gaussian_densities() {
    let task = Slcp::new();
    let obs = task.observation(1).unwrap();
    assert_eq!((obs.theta.len(), obs.x.len()), (5, 8));
    let mut r = rng(3);
    let thetas = [
        obs.theta.clone(),
        vec![0.1, 0.2, -1.5, 2.0, -0.7],
        task.prior().sample(&mut r).unwrap(),
    ];
    for theta in thetas {
        let (m, s) = task.mean_cov(&theta).unwrap();
        let want: f64 = obs.x.chunks_exact(2).map(|p| ln_normal2(p, m, s)).sum();
        assert_close(
            "SLCP likelihood",
            task.log_likelihood(&theta, &obs.x).unwrap(),
            want,
            1e-9,
        );
    }
    // sbibm's observation 1 is a plausible draw at its true parameters.
    let (m, s) = task.mean_cov(&obs.theta).unwrap();
    for p in obs.x.chunks_exact(2) {
        let mahalanobis2 = -2.0
            * (ln_normal2(p, m, s)
                + (2.0 * PI).ln()
                + 0.5 * (s[0][0] * s[1][1] - s[0][1] * s[0][1]).ln());
        assert!(mahalanobis2 < 25.0, "{mahalanobis2}");
    }
}

#[test]
fn slcp_stays_finite_as_the_correlation_saturates() {
    // tanh(25) == 1 in f64: only the 1e-6 jitter keeps S positive definite.
    let task = Slcp::new();
    let theta = [0.0, 0.0, 3.0, 3.0, 25.0];
    let x = task.simulate_vec(&theta, &mut rng(4)).unwrap();
    let lp = task.log_likelihood(&theta, &x).unwrap();
    assert!(lp.is_finite(), "{lp}");
    assert!(matches!(
        task.log_likelihood(&theta, &[0.0; 7]),
        Err(SimulationError::XLength {
            expected: 8,
            got: 7
        })
    ));
}
