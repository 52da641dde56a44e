//! Markov chain Monte Carlo for any differentiable log density.
//!
//! `mcmc` depends on no other workspace crate: anyone with a log density and its
//! gradient can implement [`LogDensity`] and sample it. The NUTS sampler, Stan-style
//! warm-up and the diagnostics (split R-hat, bulk/tail ESS, MCSE, E-BFMI) land here
//! with the `mcmc` issue; this first version fixes the interface the rest of the
//! workspace builds against.
//!
//! ```
//! use mcmc::{LogDensity, LogpError};
//!
//! /// An isotropic standard normal in `d` dimensions.
//! struct StdNormal(usize);
//!
//! impl LogDensity for StdNormal {
//!     fn dim(&self) -> usize { self.0 }
//!     fn logp_grad(&mut self, x: &[f64], grad: &mut [f64]) -> Result<f64, LogpError> {
//!         let mut lp = 0.0;
//!         for (g, xi) in grad.iter_mut().zip(x) {
//!             lp -= 0.5 * xi * xi;
//!             *g = -xi;
//!         }
//!         Ok(lp)
//!     }
//! }
//!
//! let mut target = StdNormal(3);
//! let mut grad = vec![0.0; 3];
//! let lp = target.logp_grad(&[1.0, 0.0, -1.0], &mut grad).unwrap();
//! assert_eq!(lp, -1.0);
//! assert_eq!(grad, vec![-1.0, 0.0, 1.0]);
//! ```

pub mod diagnostics;

/// Why a log density could not be evaluated at a point.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum LogpError {
    /// The point is outside the support or the density is NaN/infinite there. A sampler
    /// treats this as a divergent transition and continues the chain.
    #[error("log density not finite at this point: {0}")]
    Recoverable(String),
    /// A problem no other point will fix (wrong dimension, broken model). Sampling stops.
    #[error("log density failed: {0}")]
    Fatal(String),
}

impl LogpError {
    /// Whether the sampler may treat the error as a divergence and go on.
    pub fn is_recoverable(&self) -> bool {
        matches!(self, LogpError::Recoverable(_))
    }
}

/// A target density on ℝ^d: what every sampler in this crate sees.
pub trait LogDensity {
    /// The dimension d of the (unconstrained) parameter vector.
    fn dim(&self) -> usize;
    /// The log density at `x` (up to a constant); writes ∂/∂x into `grad`
    /// (`grad.len() == self.dim()`).
    fn logp_grad(&mut self, x: &[f64], grad: &mut [f64]) -> Result<f64, LogpError>;
}
