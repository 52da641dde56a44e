//! sbibm's `gaussian_linear`: a Gaussian prior and a Gaussian simulator centred on θ.

use rand::Rng;
use rand_distr::{Distribution as _, StandardNormal};

use super::{numbered_parameters, sbibm_data, stored_observation};
use crate::error::{ConfigError, SimulationError, check_theta, check_x, check_x_len};
use crate::interface::{
    Likelihood, Observation, Prior, ReferencePosterior, Simulator, Task, TaskInfo,
};
use crate::prior::{MultivariateNormal, normal_ln_pdf};

/// sbibm's Gaussian Linear task (`sbibm/tasks/gaussian_linear/task.py`):
/// θ ~ N(0, 0.1 · I) and x | θ ~ N(θ, 0.1 · I), in 10 dimensions by default.
///
/// sbibm calls both 0.1's a "scale" ("standard deviation" in its docstring)
/// but builds the distributions with `precision_matrix = inverse(0.1 · I)`,
/// so 0.1 is the **variance** of the prior and of the noise; this type does
/// the same. The posterior is Gaussian in closed form (sbibm's reference
/// posterior): N(x / 2, 0.05 · I) ([`posterior`](Self::posterior)).
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianLinear {
    dim: usize,
    prior: MultivariateNormal,
}

impl Default for GaussianLinear {
    fn default() -> Self {
        Self::new()
    }
}

impl GaussianLinear {
    /// Variance of each prior coordinate (sbibm's `prior_scale`).
    pub const PRIOR_VARIANCE: f64 = 0.1;
    /// Variance of the simulator's noise (sbibm's `simulator_scale`).
    pub const NOISE_VARIANCE: f64 = 0.1;
    /// sbibm's default dimension.
    pub const DEFAULT_DIM: usize = 10;

    /// The sbibm task: 10 dimensions.
    pub fn new() -> Self {
        Self::build(Self::DEFAULT_DIM)
    }

    /// The same model in `dim` dimensions (sbibm's `dim` argument); sbibm's
    /// observations exist only for the default 10.
    pub fn with_dim(dim: usize) -> Result<Self, ConfigError> {
        if dim == 0 {
            return Err(ConfigError::ZeroDimension);
        }
        Ok(Self::build(dim))
    }

    fn build(dim: usize) -> Self {
        GaussianLinear {
            dim,
            prior: MultivariateNormal::trusted_isotropic(dim, Self::PRIOR_VARIANCE),
        }
    }

    /// The N(0, 0.1 · I) prior.
    pub fn gaussian_prior(&self) -> &MultivariateNormal {
        &self.prior
    }

    /// The exact posterior given one observation x: precision 1/0.1 + 1/0.1 =
    /// 20 per coordinate, so N(x / 2, 0.05 · I) (sbibm's `_get_reference_posterior`
    /// with N = 1). Its `log_prob` is the normalized log posterior density.
    pub fn posterior(&self, x: &[f64]) -> Result<MultivariateNormal, SimulationError> {
        check_x(x, self.dim)?;
        if let Some(index) = x.iter().position(|v| !v.is_finite()) {
            return Err(SimulationError::InvalidX {
                index,
                value: x[index],
            });
        }
        let precision = 1.0 / Self::PRIOR_VARIANCE + 1.0 / Self::NOISE_VARIANCE;
        let mean = x
            .iter()
            .map(|xi| xi / Self::NOISE_VARIANCE / precision)
            .collect();
        MultivariateNormal::diagonal(mean, &vec![1.0 / precision; self.dim])
            .map_err(|e| SimulationError::Failed(e.to_string()))
    }
}

impl Simulator for GaussianLinear {
    fn theta_dim(&self) -> usize {
        self.dim
    }

    fn x_dim(&self) -> usize {
        self.dim
    }

    fn simulate(
        &self,
        theta: &[f64],
        rng: &mut dyn Rng,
        x: &mut [f64],
    ) -> Result<(), SimulationError> {
        check_theta(theta, self.dim)?;
        check_x_len(x, self.dim)?;
        let sd = Self::NOISE_VARIANCE.sqrt();
        for (xi, ti) in x.iter_mut().zip(theta) {
            let z: f64 = StandardNormal.sample(rng);
            *xi = ti + sd * z;
        }
        crate::error::check_output(x)
    }
}

impl Likelihood for GaussianLinear {
    /// Σ_i log N(x_i; θ_i, 0.1).
    fn log_likelihood(&self, theta: &[f64], x: &[f64]) -> Result<f64, SimulationError> {
        check_theta(theta, self.dim)?;
        check_x(x, self.dim)?;
        let sd = Self::NOISE_VARIANCE.sqrt();
        Ok(x.iter()
            .zip(theta)
            .map(|(xi, ti)| normal_ln_pdf(*xi, *ti, sd))
            .sum())
    }
}

impl ReferencePosterior for GaussianLinear {
    fn sample_posterior(
        &self,
        x: &[f64],
        n: usize,
        rng: &mut dyn Rng,
    ) -> Result<Vec<f64>, SimulationError> {
        let posterior = self.posterior(x)?;
        let mut out = vec![0.0; n * self.dim];
        for row in out.chunks_exact_mut(self.dim) {
            posterior.sample_into(rng, row)?;
        }
        Ok(out)
    }
}

impl Task for GaussianLinear {
    fn info(&self) -> TaskInfo {
        TaskInfo {
            name: "gaussian_linear",
            display_name: "Gaussian Linear",
            theta_dim: self.dim,
            x_dim: self.dim,
            parameter_names: numbered_parameters(self.dim),
            reference: "sbibm (Lueckmann et al. 2021), sbibm/tasks/gaussian_linear/task.py",
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
        if self.dim != Self::DEFAULT_DIM {
            return None;
        }
        stored_observation(&sbibm_data::GAUSSIAN_LINEAR, num)
    }
}
