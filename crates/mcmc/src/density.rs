//! The target: a log density on ℝ^d with its gradient.

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

impl<D: LogDensity + ?Sized> LogDensity for &mut D {
    fn dim(&self) -> usize {
        (**self).dim()
    }

    fn logp_grad(&mut self, x: &[f64], grad: &mut [f64]) -> Result<f64, LogpError> {
        (**self).logp_grad(x, grad)
    }
}

impl<D: LogDensity + ?Sized> LogDensity for Box<D> {
    fn dim(&self) -> usize {
        (**self).dim()
    }

    fn logp_grad(&mut self, x: &[f64], grad: &mut [f64]) -> Result<f64, LogpError> {
        (**self).logp_grad(x, grad)
    }
}
