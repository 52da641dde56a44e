//! sbibm's `two_moons`: a crescent moved by |rotated θ|, a bimodal posterior.

use std::f64::consts::{FRAC_PI_2, FRAC_PI_4};

use rand::{Rng, RngExt};
use rand_distr::{Distribution as _, StandardNormal};

use super::{numbered_parameters, rejection_sample, sbibm_data, stored_observation};
use crate::error::{SimulationError, check_theta, check_x, check_x_len};
use crate::interface::{
    Likelihood, Observation, Prior, ReferencePosterior, Simulator, Task, TaskInfo,
};
use crate::prior::{BoxUniform, LN_PI, normal_ln_pdf};

/// sbibm's Two Moons task (`sbibm/tasks/two_moons/task.py`):
/// θ ~ U([-1, 1)²); a ~ U(-π/2, π/2), r ~ N(0.1, 0.01²),
/// p = (r cos a + 0.25, r sin a), and
/// x = p + (−|z₀|, z₁) with z = R(−π/4) θ, i.e. z₀ = (θ₀ + θ₁)/√2,
/// z₁ = (θ₁ − θ₀)/√2.
///
/// [`log_likelihood`](Likelihood::log_likelihood) is the exact density of x:
/// with (u, v) = x − (0.25 − |z₀|, z₁) and ρ = |(u, v)|, the polar change of
/// variables gives p(x | θ) = N(±ρ; 0.1, 0.01²) / (π ρ), with +ρ for u ≥ 0
/// and −ρ for u < 0 (a negative radius, probability ≈ e⁻⁵⁰). sbibm's
/// `_likelihood` keeps only log N(ρ; 0.1, 0.01²) (−∞ for u < 0), without the
/// 1/(π ρ) Jacobian, so its log-likelihood differs from this one by
/// ln(π ρ), which depends on θ through ρ (about ±0.1 where ρ ≈ 0.1 ± 0.01);
/// sbibm's reference posterior samples (below) follow the exact density.
///
/// The reference posterior is sbibm's analytic sampler: draw a fresh crescent
/// point p, solve x = p + (−|z₀|, z₁) for (|z₀|, z₁), pick the sign of z₀ at
/// random, rotate back, keep θ inside the prior box. sbibm also keeps
/// proposals with p₀ < x₀ (which no θ can produce, |z₀| being negative);
/// this sampler rejects them, which is exact and changes nothing unless
/// x₀ > 0.25 (p₀ ≥ 0.25 whenever r ≥ 0; all ten of sbibm's observations have
/// x₀ < 0.2).
#[derive(Debug, Clone, PartialEq)]
pub struct TwoMoons {
    prior: BoxUniform,
}

impl Default for TwoMoons {
    fn default() -> Self {
        Self::new()
    }
}

impl TwoMoons {
    /// Mean of the radius r.
    pub const R_LOC: f64 = 0.1;
    /// Standard deviation of the radius r.
    pub const R_SCALE: f64 = 0.01;
    /// Horizontal offset of the crescent.
    pub const BASE_OFFSET: f64 = 0.25;

    /// The sbibm task.
    pub fn new() -> Self {
        TwoMoons {
            prior: BoxUniform::trusted_cube(2, 1.0),
        }
    }

    /// The U([-1, 1)²) prior.
    pub fn box_prior(&self) -> &BoxUniform {
        &self.prior
    }

    /// z = R(−π/4) θ, as sbibm's `_map_fun` computes it.
    fn rotate(theta: &[f64]) -> (f64, f64) {
        let (c, s) = ((-FRAC_PI_4).cos(), (-FRAC_PI_4).sin());
        (c * theta[0] - s * theta[1], s * theta[0] + c * theta[1])
    }

    /// The simulator with its noise given: angle `a` and radius `r`.
    pub fn simulate_with_noise(
        &self,
        theta: &[f64],
        a: f64,
        r: f64,
    ) -> Result<[f64; 2], SimulationError> {
        check_theta(theta, 2)?;
        let (z0, z1) = Self::rotate(theta);
        let x = [r * a.cos() + Self::BASE_OFFSET - z0.abs(), r * a.sin() + z1];
        crate::error::check_output(&x)?;
        Ok(x)
    }

    /// One crescent point p (the simulator at θ = 0).
    fn crescent(rng: &mut dyn Rng) -> (f64, f64) {
        let u: f64 = rng.random();
        let a = -FRAC_PI_2 + std::f64::consts::PI * u;
        let z: f64 = StandardNormal.sample(rng);
        let r = Self::R_LOC + Self::R_SCALE * z;
        (r * a.cos() + Self::BASE_OFFSET, r * a.sin())
    }
}

impl Simulator for TwoMoons {
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
        let (p0, p1) = Self::crescent(rng);
        let (z0, z1) = Self::rotate(theta);
        x[0] = p0 - z0.abs();
        x[1] = p1 + z1;
        crate::error::check_output(x)
    }
}

impl Likelihood for TwoMoons {
    /// The exact density of x (see the type's documentation).
    fn log_likelihood(&self, theta: &[f64], x: &[f64]) -> Result<f64, SimulationError> {
        check_theta(theta, 2)?;
        check_x(x, 2)?;
        let (z0, z1) = Self::rotate(theta);
        let u = x[0] + z0.abs() - Self::BASE_OFFSET;
        let v = x[1] - z1;
        let rho = u.hypot(v);
        let signed = if u >= 0.0 { rho } else { -rho };
        let lp = normal_ln_pdf(signed, Self::R_LOC, Self::R_SCALE) - LN_PI - rho.ln();
        // x = ±∞ gives ∞ − ∞ = NaN in u: no density there.
        Ok(if lp.is_nan() { f64::NEG_INFINITY } else { lp })
    }
}

impl ReferencePosterior for TwoMoons {
    fn sample_posterior(
        &self,
        x: &[f64],
        n: usize,
        rng: &mut dyn Rng,
    ) -> Result<Vec<f64>, SimulationError> {
        check_x(x, 2)?;
        let (c, s) = (FRAC_PI_4.cos(), FRAC_PI_4.sin());
        rejection_sample(n, 2, |theta| {
            let (p0, p1) = Self::crescent(rng);
            let abs_z0 = p0 - x[0];
            let z1 = x[1] - p1;
            let flip: bool = rng.random();
            let z0 = if flip { -abs_z0 } else { abs_z0 };
            theta[0] = c * z0 - s * z1;
            theta[1] = s * z0 + c * z1;
            abs_z0 >= 0.0 && self.prior.contains(theta)
        })
    }
}

impl Task for TwoMoons {
    fn info(&self) -> TaskInfo {
        TaskInfo {
            name: "two_moons",
            display_name: "Two Moons",
            theta_dim: 2,
            x_dim: 2,
            parameter_names: numbered_parameters(2),
            reference: "sbibm (Lueckmann et al. 2021), sbibm/tasks/two_moons/task.py",
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
        stored_observation(&sbibm_data::TWO_MOONS, num)
    }
}
