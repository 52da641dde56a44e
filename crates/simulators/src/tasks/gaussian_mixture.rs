//! sbibm's `gaussian_mixture`: two Gaussians with a shared mean θ, one 10× narrower.

use rand::{Rng, RngExt};
use rand_distr::{Distribution as _, StandardNormal};

use super::{numbered_parameters, rejection_sample, sbibm_data, stored_observation};
use crate::error::{SimulationError, check_theta, check_x, check_x_len};
use crate::interface::{
    Likelihood, Observation, Prior, ReferencePosterior, Simulator, Task, TaskInfo,
};
use crate::prior::{BoxUniform, normal_ln_pdf};

/// sbibm's Gaussian Mixture task (`sbibm/tasks/gaussian_mixture/task.py`):
/// θ ~ U([-10, 10)²) and x | θ ~ ½ N(θ, I) + ½ N(θ, 0.01 · I).
///
/// As in sbibm, one mixture component is drawn per simulation and applies to
/// both coordinates (scales 1.0 and 0.1, weights ½, location factors 1).
/// The likelihood is the mixture density; the reference posterior is sbibm's
/// exact rejection sampler: the likelihood as a function of θ is the same
/// mixture centred on x, drawn and kept when inside the prior box.
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianMixture {
    prior: BoxUniform,
}

impl Default for GaussianMixture {
    fn default() -> Self {
        Self::new()
    }
}

impl GaussianMixture {
    /// The half-width of the prior box.
    pub const PRIOR_BOUND: f64 = 10.0;
    /// The components' standard deviations.
    pub const SCALES: [f64; 2] = [1.0, 0.1];
    /// The components' weights.
    pub const WEIGHTS: [f64; 2] = [0.5, 0.5];

    /// The sbibm task (2 dimensions).
    pub fn new() -> Self {
        GaussianMixture {
            prior: BoxUniform::trusted_cube(2, Self::PRIOR_BOUND),
        }
    }

    /// The U([-10, 10)²) prior.
    pub fn box_prior(&self) -> &BoxUniform {
        &self.prior
    }

    /// One component index drawn with the mixture weights.
    fn component(rng: &mut dyn Rng) -> usize {
        let u: f64 = rng.random();
        usize::from(u >= Self::WEIGHTS[0])
    }
}

impl Simulator for GaussianMixture {
    fn theta_dim(&self) -> usize {
        2
    }

    fn x_dim(&self) -> usize {
        2
    }

    fn simulate(
        &self,
        theta: &[f64],
        rng: &mut dyn Rng,
        x: &mut [f64],
    ) -> Result<(), SimulationError> {
        check_theta(theta, 2)?;
        check_x_len(x, 2)?;
        let scale = Self::SCALES[Self::component(rng)];
        for (xi, ti) in x.iter_mut().zip(theta) {
            let z: f64 = StandardNormal.sample(rng);
            *xi = ti + scale * z;
        }
        crate::error::check_output(x)
    }
}

impl Likelihood for GaussianMixture {
    /// log(½ N(x; θ, I) + ½ N(x; θ, 0.01 · I)), by log-sum-exp.
    fn log_likelihood(&self, theta: &[f64], x: &[f64]) -> Result<f64, SimulationError> {
        check_theta(theta, 2)?;
        check_x(x, 2)?;
        let terms: [f64; 2] = std::array::from_fn(|k| {
            Self::WEIGHTS[k].ln()
                + (0..2)
                    .map(|i| normal_ln_pdf(x[i], theta[i], Self::SCALES[k]))
                    .sum::<f64>()
        });
        let m = terms[0].max(terms[1]);
        Ok(if m == f64::NEG_INFINITY {
            m
        } else {
            m + terms.iter().map(|t| (t - m).exp()).sum::<f64>().ln()
        })
    }
}

impl ReferencePosterior for GaussianMixture {
    fn sample_posterior(
        &self,
        x: &[f64],
        n: usize,
        rng: &mut dyn Rng,
    ) -> Result<Vec<f64>, SimulationError> {
        check_x(x, 2)?;
        rejection_sample(n, 2, |theta| {
            let scale = Self::SCALES[Self::component(rng)];
            for (ti, xi) in theta.iter_mut().zip(x) {
                let z: f64 = StandardNormal.sample(rng);
                *ti = xi + scale * z;
            }
            self.prior.contains(theta)
        })
    }
}

impl Task for GaussianMixture {
    fn info(&self) -> TaskInfo {
        TaskInfo {
            name: "gaussian_mixture",
            display_name: "Gaussian Mixture",
            theta_dim: 2,
            x_dim: 2,
            parameter_names: numbered_parameters(2),
            reference: "sbibm (Lueckmann et al. 2021), sbibm/tasks/gaussian_mixture/task.py",
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

    fn observation(&self, num: usize) -> Option<Observation> {
        stored_observation(&sbibm_data::GAUSSIAN_MIXTURE, num)
    }
}
