//! sbibm's `sir`: an SIR epidemic ODE observed through binomial counts.

use rand::Rng;
use rand_distr::{Binomial, Distribution as _};

use super::{sbibm_data, stored_observation};
use crate::error::{SimulationError, check_theta, check_x, check_x_len};
use crate::interface::{Likelihood, Observation, Prior, Simulator, Task, TaskInfo};
use crate::ode::Dopri5;
use crate::prior::LogNormal;

/// Number of observation times.
const K: usize = 10;

/// sbibm's SIR task (`sbibm/tasks/sir/task.py`, summary `"subsample"`):
/// θ = (β, γ), contact and recovery rate, with ln β ~ N(ln 0.4, 0.5²) and
/// ln γ ~ N(ln 0.125, 0.2²); the ODE
/// S' = −β S I / N, I' = β S I / N − γ I, R' = γ I with N = 10⁶ and
/// (S, I, R)(0) = (N − 1, 1, 0); x_k ~ Binomial(1000, clamp(I(t_k) / N, 0, 1))
/// at t_k = 0, 17, 34, …, 153 days.
///
/// sbibm solves the ODE on days 0..160 with `saveat = 1` and keeps every 17th
/// point of I (`us[:, 1, ::17]`, 10 values); here the solver stops exactly
/// at those ten days. sbibm uses DifferentialEquations.jl's `Tsit5` at
/// `reltol = abstol = 1e-8` (diffeqtorch's defaults); this type uses
/// [`Dopri5`] at the same tolerances, and where sbibm's solve fails (its
/// output is then NaN) this simulator returns [`SimulationError::Ode`].
/// sbibm casts the solution to float32 before the binomial draw; this type
/// stays in f64. Given the ODE solution the likelihood is a product of
/// binomial masses ([`Likelihood`]; sbibm's MCMC reference posteriors use
/// the same one), exact up to the solver's tolerance.
#[derive(Debug, Clone, PartialEq)]
pub struct Sir {
    prior: LogNormal,
    solver: Dopri5,
}

impl Default for Sir {
    fn default() -> Self {
        Self::new()
    }
}

impl Sir {
    /// Population size N.
    pub const POPULATION: f64 = 1_000_000.0;
    /// Initially infected.
    pub const INITIAL_INFECTED: f64 = 1.0;
    /// Binomial trials per observation (sbibm's `total_count`).
    pub const TOTAL_COUNT: u64 = 1000;
    /// The observation days t_k = 17 k.
    pub const TIMES: [f64; K] = [
        0.0, 17.0, 34.0, 51.0, 68.0, 85.0, 102.0, 119.0, 136.0, 153.0,
    ];

    /// The sbibm task with sbibm's solver tolerances.
    pub fn new() -> Self {
        Sir {
            prior: LogNormal::trusted(vec![0.4f64.ln(), 0.125f64.ln()], vec![0.5, 0.2]),
            solver: Dopri5::default(),
        }
    }

    /// The same task with other solver settings.
    pub fn with_solver(solver: Dopri5) -> Self {
        Sir {
            solver,
            ..Self::new()
        }
    }

    /// The log-normal prior.
    pub fn lognormal_prior(&self) -> &LogNormal {
        &self.prior
    }

    /// The ODE solution (S, I, R) at [`TIMES`](Self::TIMES), the deterministic
    /// part of the simulator. Any finite θ is accepted (also outside the prior's
    /// support); a failed solve is an error.
    pub fn solve(&self, theta: &[f64]) -> Result<[[f64; 3]; K], SimulationError> {
        check_theta(theta, 2)?;
        let (beta, gamma) = (theta[0], theta[1]);
        let n = Self::POPULATION;
        let rhs = |_t: f64, u: &[f64; 3]| {
            let infection = beta * u[0] * u[1] / n;
            [-infection, infection - gamma * u[1], gamma * u[1]]
        };
        let i0 = Self::INITIAL_INFECTED;
        let mut out = [[0.0; 3]; K];
        self.solver
            .solve(rhs, 0.0, [n - i0, i0, 0.0], &Self::TIMES, &mut out)?;
        Ok(out)
    }
}

impl Simulator for Sir {
    fn theta_dim(&self) -> usize {
        2
    }

    fn x_dim(&self) -> usize {
        K
    }

    fn simulate(
        &self,
        theta: &[f64],
        rng: &mut dyn Rng,
        x: &mut [f64],
    ) -> Result<(), SimulationError> {
        check_theta(theta, 2)?;
        check_x_len(x, K)?;
        let states = self.solve(theta)?;
        for (xk, state) in x.iter_mut().zip(&states) {
            let p = (state[1] / Self::POPULATION).clamp(0.0, 1.0);
            let binomial = Binomial::new(Self::TOTAL_COUNT, p)
                .map_err(|e| SimulationError::Failed(format!("binomial with p = {p}: {e}")))?;
            *xk = binomial.sample(rng) as f64;
        }
        crate::error::check_output(x)
    }
}

impl Likelihood for Sir {
    /// Σ_k log Binomial(x_k; 1000, clamp(I(t_k) / N, 0, 1)); −∞ when some x_k is
    /// not an integer in 0..=1000.
    fn log_likelihood(&self, theta: &[f64], x: &[f64]) -> Result<f64, SimulationError> {
        check_theta(theta, 2)?;
        check_x(x, K)?;
        let states = self.solve(theta)?;
        let n = Self::TOTAL_COUNT as f64;
        let ln_n_factorial = libm::lgamma(n + 1.0);
        let mut lp = 0.0;
        for (k, state) in x.iter().zip(&states) {
            if !(*k >= 0.0 && *k <= n && k.fract() == 0.0) {
                return Ok(f64::NEG_INFINITY);
            }
            let p = (state[1] / Self::POPULATION).clamp(0.0, 1.0);
            // 0 · ln 0 = 0: a certain outcome has mass 1.
            let hits = if *k == 0.0 { 0.0 } else { k * p.ln() };
            let misses = if *k == n { 0.0 } else { (n - k) * (-p).ln_1p() };
            lp +=
                ln_n_factorial - libm::lgamma(k + 1.0) - libm::lgamma(n - k + 1.0) + hits + misses;
        }
        Ok(lp)
    }
}

impl Task for Sir {
    fn info(&self) -> TaskInfo {
        TaskInfo {
            name: "sir",
            display_name: "SIR",
            theta_dim: 2,
            x_dim: K,
            parameter_names: vec!["beta".to_string(), "gamma".to_string()],
            reference: "sbibm (Lueckmann et al. 2021), sbibm/tasks/sir/task.py",
        }
    }

    fn prior(&self) -> &dyn Prior {
        &self.prior
    }

    fn likelihood(&self) -> Option<&dyn Likelihood> {
        Some(self)
    }

    fn observation(&self, num: usize) -> Option<Observation> {
        stored_observation(&sbibm_data::SIR, num)
    }
}
