//! sbibm's `slcp`: four iid 2-D Gaussian draws whose mean and covariance depend on θ.

use rand::Rng;
use rand_distr::{Distribution as _, StandardNormal};

use super::{numbered_parameters, sbibm_data, stored_observation};
use crate::error::{SimulationError, check_theta, check_x, check_x_len};
use crate::interface::{Likelihood, Observation, Prior, Simulator, Task, TaskInfo};
use crate::prior::{BoxUniform, LN_SQRT_2PI};

/// sbibm's SLCP task ("simple likelihood, complex posterior",
/// `sbibm/tasks/slcp/task.py`, without distractors): θ ~ U([-3, 3)⁵) and
/// x = (x₁, …, x₄) with x_k iid N(m, S), flattened as
/// `[x₁₀, x₁₁, x₂₀, x₂₁, …]`, where
/// m = (θ₀, θ₁), s₁ = θ₂², s₂ = θ₃², ρ = tanh θ₄ and
/// S = [[s₁², ρ s₁ s₂], [ρ s₁ s₂, s₂²]] + 10⁻⁶ I (sbibm's ε "to ensure PSD").
///
/// sbibm simulates in float32; this type uses f64 throughout. The likelihood
/// is the product of the four Gaussian densities. sbibm's reference posterior
/// needs MCMC plus rejection (no closed form), so there is no
/// [`ReferencePosterior`](crate::ReferencePosterior) here.
#[derive(Debug, Clone, PartialEq)]
pub struct Slcp {
    prior: BoxUniform,
}

impl Default for Slcp {
    fn default() -> Self {
        Self::new()
    }
}

/// The Gaussian of one draw, as a mean and the Cholesky factor of S.
struct Gaussian2 {
    mean: [f64; 2],
    l00: f64,
    l10: f64,
    l11: f64,
}

impl Slcp {
    /// Number of iid draws per simulation.
    pub const NUM_DRAWS: usize = 4;
    /// sbibm's diagonal jitter.
    pub const EPS: f64 = 1e-6;

    /// The sbibm task.
    pub fn new() -> Self {
        Slcp {
            prior: BoxUniform::trusted_cube(5, 3.0),
        }
    }

    /// The U([-3, 3)⁵) prior.
    pub fn box_prior(&self) -> &BoxUniform {
        &self.prior
    }

    /// The mean m and covariance S of each draw at θ.
    pub fn mean_cov(&self, theta: &[f64]) -> Result<([f64; 2], [[f64; 2]; 2]), SimulationError> {
        check_theta(theta, 5)?;
        let g = Self::gaussian(theta);
        let s00 = g.l00 * g.l00;
        let s01 = g.l10 * g.l00;
        let s11 = g.l10 * g.l10 + g.l11 * g.l11;
        Ok((g.mean, [[s00, s01], [s01, s11]]))
    }

    /// The Cholesky factor of S, with 1 − ρ² = sech² θ₄ so that the
    /// determinant keeps its accuracy as |ρ| → 1.
    fn gaussian(theta: &[f64]) -> Gaussian2 {
        let s1 = theta[2] * theta[2];
        let s2 = theta[3] * theta[3];
        let rho = theta[4].tanh();
        let (v1, v2) = (s1 * s1, s2 * s2);
        let var0 = v1 + Self::EPS;
        let cov01 = rho * s1 * s2;
        let sech = 1.0 / theta[4].cosh();
        let det = v1 * v2 * sech * sech + Self::EPS * (v1 + v2) + Self::EPS * Self::EPS;
        let l00 = var0.sqrt();
        Gaussian2 {
            mean: [theta[0], theta[1]],
            l00,
            l10: cov01 / l00,
            l11: (det / var0).sqrt(),
        }
    }
}

impl Simulator for Slcp {
    fn theta_dim(&self) -> usize {
        5
    }

    fn x_dim(&self) -> usize {
        2 * Self::NUM_DRAWS
    }

    fn simulate(
        &self,
        theta: &[f64],
        rng: &mut dyn Rng,
        x: &mut [f64],
    ) -> Result<(), SimulationError> {
        check_theta(theta, 5)?;
        check_x_len(x, 2 * Self::NUM_DRAWS)?;
        let g = Self::gaussian(theta);
        for point in x.chunks_exact_mut(2) {
            let z0: f64 = StandardNormal.sample(rng);
            let z1: f64 = StandardNormal.sample(rng);
            point[0] = g.mean[0] + g.l00 * z0;
            point[1] = g.mean[1] + g.l10 * z0 + g.l11 * z1;
        }
        crate::error::check_output(x)
    }
}

impl Likelihood for Slcp {
    /// Σ_k log N(x_k; m, S) over the four draws.
    fn log_likelihood(&self, theta: &[f64], x: &[f64]) -> Result<f64, SimulationError> {
        check_theta(theta, 5)?;
        check_x(x, 2 * Self::NUM_DRAWS)?;
        let g = Self::gaussian(theta);
        let log_norm = -2.0 * LN_SQRT_2PI - g.l00.ln() - g.l11.ln();
        let mut lp = 0.0;
        for point in x.chunks_exact(2) {
            let w0 = (point[0] - g.mean[0]) / g.l00;
            let w1 = (point[1] - g.mean[1] - g.l10 * w0) / g.l11;
            lp += log_norm - 0.5 * (w0 * w0 + w1 * w1);
        }
        // Overflow in S (|θ| beyond ~1e77) or ±∞ in x: no density.
        Ok(if lp.is_nan() { f64::NEG_INFINITY } else { lp })
    }
}

impl Task for Slcp {
    fn info(&self) -> TaskInfo {
        TaskInfo {
            name: "slcp",
            display_name: "SLCP",
            theta_dim: 5,
            x_dim: 2 * Self::NUM_DRAWS,
            parameter_names: numbered_parameters(5),
            reference: "sbibm (Lueckmann et al. 2021), sbibm/tasks/slcp/task.py",
        }
    }

    fn prior(&self) -> &dyn Prior {
        &self.prior
    }

    fn likelihood(&self) -> Option<&dyn Likelihood> {
        Some(self)
    }

    fn observation(&self, num: usize) -> Option<Observation> {
        stored_observation(&sbibm_data::SLCP, num)
    }
}
