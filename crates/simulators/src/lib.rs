//! Reference simulators and priors for simulation-based inference.
//!
//! `simulators` depends on no other workspace crate. It will hold the cookie Poisson
//! process, the drift-diffusion model and the sbibm benchmark tasks; this first
//! version fixes the [`Prior`] and [`Simulator`] interfaces.
//!
//! ```
//! use simulators::SimulationError;
//! let e = SimulationError::NonFinite { index: 2 };
//! assert_eq!(e.to_string(), "simulator output has a non-finite value at position 2");
//! ```

use rand::Rng;

/// Why one simulation produced no usable output.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SimulationError {
    /// The output contains NaN or ±∞.
    #[error("simulator output has a non-finite value at position {index}")]
    NonFinite {
        /// Position of the first non-finite value.
        index: usize,
    },
    /// The simulator gave up (e.g. a maximum time was reached).
    #[error("simulation failed: {0}")]
    Failed(String),
}

/// A prior over θ ∈ ℝ^d.
pub trait Prior: Send + Sync {
    /// Dimension d.
    fn dim(&self) -> usize;
    /// One draw θ ~ p(θ), written into `theta`.
    fn sample(&self, rng: &mut dyn Rng, theta: &mut [f64]);
    /// log p(θ) (−∞ outside the support).
    fn log_prob(&self, theta: &[f64]) -> f64;
}

/// A simulator x ~ p(x | θ).
pub trait Simulator: Send + Sync {
    /// Width of θ.
    fn theta_dim(&self) -> usize;
    /// Width of x.
    fn x_dim(&self) -> usize;
    /// One simulation, written into `x`; failures are reported, not hidden.
    fn simulate(
        &self,
        theta: &[f64],
        rng: &mut dyn Rng,
        x: &mut [f64],
    ) -> Result<(), SimulationError>;
}
