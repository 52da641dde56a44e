//! The cookie process: θ ~ Gamma(2, rate 0.2), x ~ Poisson(θ).

use rand::Rng;
use rand_distr::{Distribution as _, Poisson};

use crate::error::{SimulationError, check_x};
use crate::interface::{Likelihood, Prior, ReferencePosterior, Simulator, Task, TaskInfo};
use crate::prior::Gamma;

/// The cookie process of the "Pyro meets SBI" talk (REFERENCES.md §1): the
/// number of chocolate chips in a cookie is x ~ Poisson(θ) with
/// θ ~ Gamma(shape 2, rate 0.2).
///
/// The likelihood is exact (the Poisson mass) and the posterior is the
/// conjugate Gamma(2 + x, 1.2), so this task is a ground truth for a
/// categorical (count) likelihood estimator.
#[derive(Debug, Clone, PartialEq)]
pub struct Cookie {
    prior: Gamma,
}

impl Default for Cookie {
    fn default() -> Self {
        Self::new()
    }
}

impl Cookie {
    /// The prior's shape.
    pub const PRIOR_SHAPE: f64 = 2.0;
    /// The prior's rate.
    pub const PRIOR_RATE: f64 = 0.2;

    /// The task as in the talk.
    pub fn new() -> Self {
        Cookie {
            prior: Gamma::trusted(Self::PRIOR_SHAPE, Self::PRIOR_RATE),
        }
    }

    /// The Gamma(2, 0.2) prior.
    pub fn gamma_prior(&self) -> &Gamma {
        &self.prior
    }

    /// The exact posterior given one count x: Gamma(2 + x, 0.2 + 1).
    pub fn posterior(&self, x: &[f64]) -> Result<Gamma, SimulationError> {
        check_count(x)?;
        Gamma::new(self.prior.shape() + x[0], self.prior.rate() + 1.0).map_err(|_| {
            SimulationError::InvalidX {
                index: 0,
                value: x[0],
            }
        })
    }
}

/// x must be one non-negative integer count.
fn check_count(x: &[f64]) -> Result<(), SimulationError> {
    check_x(x, 1)?;
    if x[0] >= 0.0 && x[0].fract() == 0.0 && x[0].is_finite() {
        Ok(())
    } else {
        Err(SimulationError::InvalidX {
            index: 0,
            value: x[0],
        })
    }
}

/// θ must be a finite rate ≥ 0 that rand_distr's Poisson sampler accepts.
fn check_rate(theta: &[f64]) -> Result<f64, SimulationError> {
    crate::error::check_theta(theta, 1)?;
    let rate = theta[0];
    if !(0.0..=Poisson::<f64>::MAX_LAMBDA).contains(&rate) {
        return Err(SimulationError::InvalidTheta {
            index: 0,
            value: rate,
        });
    }
    Ok(rate)
}

impl Simulator for Cookie {
    fn theta_dim(&self) -> usize {
        1
    }

    fn x_dim(&self) -> usize {
        1
    }

    fn simulate(
        &self,
        theta: &[f64],
        rng: &mut dyn Rng,
        x: &mut [f64],
    ) -> Result<(), SimulationError> {
        let rate = check_rate(theta)?;
        crate::error::check_x_len(x, 1)?;
        x[0] = if rate == 0.0 {
            0.0
        } else {
            Poisson::new(rate)
                .map_err(|_| SimulationError::InvalidTheta {
                    index: 0,
                    value: rate,
                })?
                .sample(rng)
        };
        crate::error::check_output(x)
    }
}

impl Likelihood for Cookie {
    /// The Poisson log mass x ln θ − θ − ln x!; −∞ for x that is not a
    /// non-negative integer.
    fn log_likelihood(&self, theta: &[f64], x: &[f64]) -> Result<f64, SimulationError> {
        let rate = check_rate(theta)?;
        check_x(x, 1)?;
        let k = x[0];
        if !(k >= 0.0 && k.fract() == 0.0 && k.is_finite()) {
            return Ok(f64::NEG_INFINITY);
        }
        let lp = if rate == 0.0 {
            if k == 0.0 { 0.0 } else { f64::NEG_INFINITY }
        } else {
            k * rate.ln() - rate - libm::lgamma(k + 1.0)
        };
        // ∞ − ∞ for counts near f64::MAX, where the mass is 0.
        Ok(if lp.is_nan() { f64::NEG_INFINITY } else { lp })
    }
}

impl ReferencePosterior for Cookie {
    fn sample_posterior(
        &self,
        x: &[f64],
        n: usize,
        rng: &mut dyn Rng,
    ) -> Result<Vec<f64>, SimulationError> {
        let posterior = self.posterior(x)?;
        (0..n).map(|_| posterior.draw(rng)).collect()
    }
}

impl Task for Cookie {
    fn info(&self) -> TaskInfo {
        TaskInfo {
            name: "cookie",
            display_name: "Cookie (Poisson)",
            theta_dim: 1,
            x_dim: 1,
            parameter_names: vec!["lambda".to_string()],
            reference: "the cookie process of the \"Pyro meets SBI\" talk: \
                        θ ~ Gamma(2, rate 0.2), x ~ Poisson(θ) (REFERENCES.md §1)",
        }
    }

    fn prior(&self) -> &dyn Prior {
        &self.prior
    }

    fn likelihood(&self) -> Option<&dyn Likelihood> {
        Some(self)
    }

    fn reference_posterior(&self) -> Option<&dyn ReferencePosterior> {
        Some(self)
    }
}
