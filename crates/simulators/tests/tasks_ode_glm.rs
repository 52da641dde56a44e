//! sir, lotka_volterra and bernoulli_glm against their definitions and
//! against sbibm's published observations: time grids, conserved quantities
//! of the ODE solutions, noise models, summaries.

mod common;

use common::{assert_close, assert_mean, assert_var, column, rng};
use simulators::ode::Dopri5;
use simulators::tasks::{BernoulliGlm, LotkaVolterra, Sir};
use simulators::{Likelihood, Simulator, Task};
use statrs::distribution::{Continuous, Discrete};

/// Monte-Carlo budget of the noise checks (simulations per check).
const N_SIMS: usize = 4_000;

#[test]
fn sir_observes_every_17th_day_of_sbibms_daily_grid() {
    // sbibm: saveat = 1 on 0..160 (161 points), then `us[:, 1, ::17]`.
    let grid: Vec<f64> = (0..=160).step_by(17).map(f64::from).collect();
    assert_eq!(grid, Sir::TIMES.to_vec());
}

#[test]
fn sir_solution_keeps_the_population_and_the_sir_invariant() {
    let task = Sir::new();
    let n = Sir::POPULATION;
    for theta in [[0.4, 0.125], [0.6148, 0.1917], [2.0, 0.05], [0.1, 0.3]] {
        let (beta, gamma) = (theta[0], theta[1]);
        let states = task.solve(&theta).unwrap();
        for s in &states {
            assert_close("S + I + R", s[0] + s[1] + s[2], n, 1e-9);
            // dS/dR = −β S / (γ N), so S = S(0) exp(−β R / (γ N)).
            let want = (n - 1.0) * (-beta * s[2] / (gamma * n)).exp();
            assert_close("S(R)", s[0], want, 1e-6);
        }
    }
}

#[test]
fn sir_solution_at_sbibms_tolerance_matches_a_tight_solve() {
    let tight = Sir::with_solver(Dopri5 {
        rtol: 1e-12,
        atol: 1e-12,
        ..Dopri5::default()
    });
    let task = Sir::new();
    let mut r = rng(1);
    for _ in 0..20 {
        let theta = task.prior().sample(&mut r).unwrap();
        let (a, b) = (task.solve(&theta).unwrap(), tight.solve(&theta).unwrap());
        for (sa, sb) in a.iter().zip(&b) {
            // In units of the binomial probability I / N.
            assert!((sa[1] - sb[1]).abs() / Sir::POPULATION < 1e-8, "{theta:?}");
        }
    }
}

#[test]
fn sir_observations_are_plausible_at_their_true_parameters() {
    let task = Sir::new();
    for num in 1..=10 {
        let obs = task.observation(num).unwrap();
        let states = task.solve(&obs.theta).unwrap();
        for (x, s) in obs.x.iter().zip(&states) {
            let p = s[1] / Sir::POPULATION;
            let sd = (1000.0 * p * (1.0 - p)).sqrt();
            assert!(
                (x - 1000.0 * p).abs() <= 5.0 * sd + 2.0,
                "obs {num}: {x} vs p = {p}"
            );
        }
        assert!(task.log_likelihood(&obs.theta, &obs.x).unwrap().is_finite());
    }
}

#[test]
fn sir_counts_are_binomial_in_the_infected_fraction() {
    let task = Sir::new();
    let theta = [0.5, 0.15];
    let states = task.solve(&theta).unwrap();
    let mut r = rng(2);
    let mut x = vec![0.0; N_SIMS * 10];
    for row in x.chunks_exact_mut(10) {
        task.simulate(&theta, &mut r, row).unwrap();
    }
    for (k, s) in states.iter().enumerate() {
        let p = s[1] / Sir::POPULATION;
        let c = column(&x, 10, k);
        if p * 1000.0 > 0.5 {
            assert_mean("binomial mean", &c, 1000.0 * p, 1000.0 * p * (1.0 - p));
        }
        assert!(
            c.iter()
                .all(|v| v.fract() == 0.0 && (0.0..=1000.0).contains(v))
        );
    }
    // The likelihood is the binomial mass at those probabilities.
    let row = &x[..10];
    let want: f64 = row
        .iter()
        .zip(&states)
        .map(|(k, s)| {
            statrs::distribution::Binomial::new(s[1] / Sir::POPULATION, 1000)
                .unwrap()
                .ln_pmf(*k as u64)
        })
        .sum();
    assert_close(
        "binomial likelihood",
        task.log_likelihood(&theta, row).unwrap(),
        want,
        1e-9,
    );
    let mut bad = row.to_vec();
    bad[3] = 0.5;
    assert_eq!(
        task.log_likelihood(&theta, &bad).unwrap(),
        f64::NEG_INFINITY
    );
}

#[test]
fn lotka_volterra_observes_every_21st_point_of_sbibms_grid() {
    // sbibm: saveat = 0.1 on 0..20 (201 points), then `us[:, :, ::21]`.
    let grid: Vec<f64> = (0..=200).step_by(21).map(|i| f64::from(i) / 10.0).collect();
    assert_eq!(grid, LotkaVolterra::TIMES.to_vec());
}

#[test]
fn lotka_volterra_solution_keeps_its_first_integral() {
    let task = LotkaVolterra::new();
    let obs = task.observation(1).unwrap();
    let [a, b, g, d] = [obs.theta[0], obs.theta[1], obs.theta[2], obs.theta[3]];
    let v = |u: [f64; 2]| d * u[0] - g * u[0].ln() + b * u[1] - a * u[1].ln();
    let v0 = v(LotkaVolterra::INITIAL);
    for s in task.solve(&obs.theta).unwrap() {
        assert_close("first integral", v(s), v0, 1e-6);
    }
}

#[test]
fn lotka_volterra_observations_are_plausible_at_their_true_parameters() {
    // x is [prey at 10 times, predators at 10 times], with log-normal noise of
    // scale 0.1: every log-residual within 5 noise standard deviations.
    let task = LotkaVolterra::new();
    for num in 1..=10 {
        let obs = task.observation(num).unwrap();
        let states = task.solve(&obs.theta).unwrap();
        for species in 0..2 {
            for (k, s) in states.iter().enumerate() {
                let u = s[species].clamp(1e-10, 1e4);
                let resid = obs.x[species * 10 + k].ln() - u.ln();
                assert!(
                    resid.abs() < 0.5,
                    "obs {num}, species {species}, t_{k}: {resid}"
                );
            }
        }
        assert!(task.log_likelihood(&obs.theta, &obs.x).unwrap().is_finite());
    }
}

#[test]
fn lotka_volterra_noise_is_lognormal_with_scale_point_one() {
    let task = LotkaVolterra::new();
    let theta = [0.7, 0.1, 0.9, 0.12];
    let states = task.solve(&theta).unwrap();
    let mut r = rng(3);
    let mut resid = Vec::with_capacity(N_SIMS * 20);
    let mut x = [0.0; 20];
    for _ in 0..N_SIMS {
        task.simulate(&theta, &mut r, &mut x).unwrap();
        for species in 0..2 {
            for (k, s) in states.iter().enumerate() {
                resid.push(x[species * 10 + k].ln() - s[species].clamp(1e-10, 1e4).ln());
            }
        }
    }
    assert_mean("log-residual mean", &resid, 0.0, 0.01);
    assert_var("log-residual variance", &resid, 0.01, 0.0);
    // The likelihood is the product of the log-normal densities.
    let want: f64 = (0..2)
        .flat_map(|sp| (0..10).map(move |k| (sp, k)))
        .map(|(sp, k)| {
            statrs::distribution::LogNormal::new(states[k][sp].clamp(1e-10, 1e4).ln(), 0.1)
                .unwrap()
                .ln_pdf(x[sp * 10 + k])
        })
        .sum();
    assert_close(
        "log-normal likelihood",
        task.log_likelihood(&theta, &x).unwrap(),
        want,
        1e-9,
    );
}

/// sbibm's `observation_raw.csv` of observations 1 and 2 (spike trains).
const RAW_SPIKES: [&str; 2] = [
    "1101111111100000011111110001110111100000111100001110001111001100011111001110000000111000111110000111",
    "1000000000011111111111001111111000011111100111111111110100110011100000100001111111110011011110111111",
];

#[test]
fn bernoulli_glm_summary_reproduces_sbibms_observations() {
    let task = BernoulliGlm::new();
    for (num, raw) in [1, 2].into_iter().zip(RAW_SPIKES) {
        let spikes: Vec<f64> = raw.bytes().map(|b| f64::from(b - b'0')).collect();
        let x = task.summary(&spikes).unwrap();
        let obs = task.observation(num).unwrap();
        for (ours, theirs) in x.iter().zip(&obs.x) {
            // sbibm stored float32 sums.
            assert!(
                (ours - theirs).abs() < 1e-5,
                "obs {num}: {ours} vs {theirs}"
            );
        }
    }
}

#[test]
fn bernoulli_glm_prior_precision_has_sbibms_entries() {
    let b = BernoulliGlm::prior_precision();
    let at = |i: usize, j: usize| b[i * 10 + j];
    // B₀₀ = 0.5 (offset), no offset–filter coupling.
    assert_eq!(at(0, 0), 0.5);
    assert!((1..10).all(|j| at(0, j) == 0.0 && at(j, 0) == 0.0));
    // F = D² + diag(√(i/9)): column 0 of F is (1, −2, 1, 0, …), column 1 is
    // (0, 1 + 1/3, −2, 1, 0, …).
    assert_close("B11", at(1, 1), 6.0, 1e-12);
    assert_close("B12", at(1, 2), -2.0 * (4.0 / 3.0) - 2.0, 1e-12);
    assert_close(
        "B99",
        at(9, 9),
        (1.0 + (8.0f64 / 9.0).sqrt()).powi(2),
        1e-12,
    );
    // The prior covariance is its inverse.
    let task = BernoulliGlm::new();
    let cov = task.gaussian_prior().covariance();
    for i in 0..10 {
        for j in 0..10 {
            let s: f64 = (0..10).map(|k| b[i * 10 + k] * cov[k * 10 + j]).sum();
            assert!((s - if i == j { 1.0 } else { 0.0 }).abs() < 1e-9);
        }
    }
}

#[test]
fn bernoulli_glm_filter_lags_index_the_stimulus_like_sbibms_design_matrix() {
    // ψ_t = −10⁵ + 2·10⁵ I_{t−3}: a spike exactly when I_{t−3} > ½ (t ≥ 3).
    let task = BernoulliGlm::new();
    let mut theta = [0.0; 10];
    theta[0] = -1e5;
    theta[4] = 2e5;
    let stim = task.stimulus();
    let spikes: Vec<f64> = (0..100)
        .map(|t| {
            if t >= 3 && stim[t - 3] > 0.5 {
                1.0
            } else {
                0.0
            }
        })
        .collect();
    let x = task.simulate_vec(&theta, &mut rng(4)).unwrap();
    assert_eq!(x, task.summary(&spikes).unwrap().to_vec());
}

#[test]
fn bernoulli_glm_moments_at_theta_zero() {
    // θ = 0: y_t iid Bernoulli(½), so x₀ ~ Binomial(100, ½) and
    // x_{j+1} = Σ_{t≥j} y_t I_{t−j} has mean ½ Σ I_s, variance ¼ Σ I_s² (s < 100 − j).
    let task = BernoulliGlm::new();
    let mut r = rng(5);
    let mut x = vec![0.0; N_SIMS * 10];
    for row in x.chunks_exact_mut(10) {
        task.simulate(&[0.0; 10], &mut r, row).unwrap();
    }
    assert_mean("spike count", &column(&x, 10, 0), 50.0, 25.0);
    assert_var("spike count variance", &column(&x, 10, 0), 25.0, -0.02);
    let stim = task.stimulus();
    for j in 0..9 {
        let s1: f64 = stim[..100 - j].iter().sum();
        let s2: f64 = stim[..100 - j].iter().map(|v| v * v).sum();
        let c = column(&x, 10, j + 1);
        assert_mean("spike-triggered sum", &c, 0.5 * s1, 0.25 * s2);
        assert_var("spike-triggered sum variance", &c, 0.25 * s2, 0.0);
    }
}
