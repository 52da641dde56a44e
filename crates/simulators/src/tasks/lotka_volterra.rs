//! sbibm's `lotka_volterra`: predator–prey ODE observed through log-normal noise.

use rand::Rng;
use rand_distr::{Distribution as _, StandardNormal};

use super::{sbibm_data, stored_observation};
use crate::error::{SimulationError, check_theta, check_x, check_x_len};
use crate::interface::{Likelihood, Observation, Prior, Simulator, Task, TaskInfo};
use crate::ode::Dopri5;
use crate::prior::{LogNormal, normal_ln_pdf};

/// Number of observation times.
const K: usize = 10;

/// sbibm's Lotka–Volterra task (`sbibm/tasks/lotka_volterra/task.py`,
/// summary `"subsample"`): θ = (α, β, γ, δ) with ln θ ~ N(μ, 0.5²),
/// μ = (−0.125, −3, −0.125, −3); the ODE
/// x' = α x − β x y (prey), y' = −γ y + δ x y (predators), (x, y)(0) = (30, 1);
/// observed at t_k = 2.1 k (k = 0..9) with log-normal noise:
/// obs = exp(ln clamp(u, 10⁻¹⁰, 10⁴) + 0.1 ε), ε ~ N(0, 1).
///
/// x is ordered as sbibm flattens `us[:, :, ::21]`: the ten prey values,
/// then the ten predator values. sbibm solves on 0..20 with `saveat = 0.1`
/// (201 points) and keeps every 21st, i.e. t = 0, 2.1, …, 18.9; here the
/// solver stops exactly at those times. sbibm uses DifferentialEquations.jl's
/// `Tsit5` at `reltol = abstol = 1e-8`; this type uses [`Dopri5`] at the same
/// tolerances, and where sbibm's solve fails (its output is then NaN) this
/// simulator returns [`SimulationError::Ode`]. sbibm casts the solution to
/// float32 before the noise; this type stays in f64. Given the ODE solution
/// the likelihood is a product of log-normal densities ([`Likelihood`];
/// sbibm's MCMC reference posteriors use the same one), exact up to the
/// solver's tolerance.
#[derive(Debug, Clone, PartialEq)]
pub struct LotkaVolterra {
    prior: LogNormal,
    solver: Dopri5,
}

impl Default for LotkaVolterra {
    fn default() -> Self {
        Self::new()
    }
}

impl LotkaVolterra {
    /// Initial (prey, predator) populations.
    pub const INITIAL: [f64; 2] = [30.0, 1.0];
    /// Standard deviation of the log-normal observation noise.
    pub const NOISE_SCALE: f64 = 0.1;
    /// Populations are clamped to `[CLAMP_LOW, CLAMP_HIGH]` before the log.
    pub const CLAMP_LOW: f64 = 1e-10;
    /// See [`CLAMP_LOW`](Self::CLAMP_LOW).
    pub const CLAMP_HIGH: f64 = 1e4;
    /// The observation times t_k = 2.1 k.
    pub const TIMES: [f64; K] = [0.0, 2.1, 4.2, 6.3, 8.4, 10.5, 12.6, 14.7, 16.8, 18.9];

    /// The sbibm task with sbibm's solver tolerances.
    pub fn new() -> Self {
        let (a, b, s) = (-0.125, -3.0, 0.5);
        LotkaVolterra {
            prior: LogNormal::trusted(vec![a, b, a, b], vec![s; 4]),
            solver: Dopri5::default(),
        }
    }

    /// The same task with other solver settings.
    pub fn with_solver(solver: Dopri5) -> Self {
        LotkaVolterra {
            solver,
            ..Self::new()
        }
    }

    /// The log-normal prior.
    pub fn lognormal_prior(&self) -> &LogNormal {
        &self.prior
    }

    /// The ODE solution (prey, predators) at [`TIMES`](Self::TIMES), the
    /// deterministic part of the simulator. Any finite θ is accepted (also
    /// outside the prior's support); a failed solve is an error.
    pub fn solve(&self, theta: &[f64]) -> Result<[[f64; 2]; K], SimulationError> {
        check_theta(theta, 4)?;
        let (alpha, beta, gamma, delta) = (theta[0], theta[1], theta[2], theta[3]);
        let rhs = |_t: f64, u: &[f64; 2]| {
            let (x, y) = (u[0], u[1]);
            [alpha * x - beta * x * y, -gamma * y + delta * x * y]
        };
        let mut out = [[0.0; 2]; K];
        self.solver
            .solve(rhs, 0.0, Self::INITIAL, &Self::TIMES, &mut out)?;
        Ok(out)
    }
}

impl Simulator for LotkaVolterra {
    fn theta_dim(&self) -> usize {
        4
    }

    fn x_dim(&self) -> usize {
        2 * K
    }

    fn simulate(
        &self,
        theta: &[f64],
        rng: &mut dyn Rng,
        x: &mut [f64],
    ) -> Result<(), SimulationError> {
        check_theta(theta, 4)?;
        check_x_len(x, 2 * K)?;
        let states = self.solve(theta)?;
        for species in 0..2 {
            for (k, state) in states.iter().enumerate() {
                let u = state[species].clamp(Self::CLAMP_LOW, Self::CLAMP_HIGH);
                let z: f64 = StandardNormal.sample(rng);
                x[species * K + k] = (u.ln() + Self::NOISE_SCALE * z).exp();
            }
        }
        crate::error::check_output(x)
    }
}

impl Likelihood for LotkaVolterra {
    /// Σ_j [log N(ln x_j; ln clamp(u_j), 0.1²) − ln x_j]; −∞ when some x_j ≤ 0.
    fn log_likelihood(&self, theta: &[f64], x: &[f64]) -> Result<f64, SimulationError> {
        check_theta(theta, 4)?;
        check_x(x, 2 * K)?;
        let states = self.solve(theta)?;
        let mut lp = 0.0;
        for species in 0..2 {
            for (k, state) in states.iter().enumerate() {
                let xj = x[species * K + k];
                if !(xj > 0.0 && xj.is_finite()) {
                    return Ok(f64::NEG_INFINITY);
                }
                let u = state[species].clamp(Self::CLAMP_LOW, Self::CLAMP_HIGH);
                lp += normal_ln_pdf(xj.ln(), u.ln(), Self::NOISE_SCALE) - xj.ln();
            }
        }
        Ok(lp)
    }
}

impl Task for LotkaVolterra {
    fn info(&self) -> TaskInfo {
        TaskInfo {
            name: "lotka_volterra",
            display_name: "Lotka-Volterra",
            theta_dim: 4,
            x_dim: 2 * K,
            parameter_names: ["alpha", "beta", "gamma", "delta"]
                .map(String::from)
                .to_vec(),
            reference: "sbibm (Lueckmann et al. 2021), sbibm/tasks/lotka_volterra/task.py",
        }
    }

    fn prior(&self) -> &dyn Prior {
        &self.prior
    }

    fn likelihood(&self) -> Option<&dyn Likelihood> {
        Some(self)
    }

    fn observation(&self, num: usize) -> Option<Observation> {
        stored_observation(&sbibm_data::LOTKA_VOLTERRA, num)
    }
}
