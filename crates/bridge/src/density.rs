//! A `ppl` model as an [`mcmc::LogDensity`], and its draws back as named values.

use mcmc::{LogDensity, LogpError};
use ppl::{Layout, LogJoint, ModelFn, PplError, Values};

/// Errors of this crate.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BridgeError {
    /// The model could not be traced or evaluated.
    #[error(transparent)]
    Model(#[from] PplError),
}

/// A `ppl` model's posterior on the flat unconstrained scale, ready for `mcmc`:
/// `x ↦ log p(latents(x), data) + log|det J|`, with gradient.
///
/// Errors that depend on the point (a non-finite density or gradient, a parameter
/// that leaves its valid range numerically, a value outside a support) are
/// [`LogpError::Recoverable`]: the sampler records a divergence and goes on. Errors
/// that no other point can fix (wrong dimension, shapes, site names) are
/// [`LogpError::Fatal`].
///
/// ```
/// use bridge::ModelDensity;
/// use mcmc::LogDensity;
/// use ppl::{Gamma, Model, Poisson, PplError};
///
/// let chips = vec![12.0, 9.0, 7.0];
/// let mut target = ModelDensity::new(move |m: &mut Model<'_>| -> Result<(), PplError> {
///     let lam = m.sample("lam", Gamma::new(2.0, 0.2)?)?;
///     m.plate("data", chips.len(), |m| m.observe("obs", Poisson::new(lam)?, &chips))
/// })?;
/// let mut grad = [0.0];
/// let lp = target.logp_grad(&[2.0], &mut grad).unwrap();
/// assert!(lp.is_finite());
/// assert_eq!(target.column_names(), vec!["lam".to_string()]);
/// assert!((target.constrained_row(&[2.0])?[0] - 2f64.exp()).abs() < 1e-12);
/// # Ok::<(), bridge::BridgeError>(())
/// ```
pub struct ModelDensity<F> {
    joint: LogJoint<F>,
}

impl<F: ModelFn> ModelDensity<F> {
    /// Traces the model once to lay out its latent sites.
    pub fn new(model: F) -> Result<Self, BridgeError> {
        Ok(ModelDensity {
            joint: LogJoint::new(model)?,
        })
    }

    /// As [`ModelDensity::new`] with named sites conditioned on values.
    pub fn with_condition(model: F, condition: Values) -> Result<Self, BridgeError> {
        Ok(ModelDensity {
            joint: LogJoint::with_condition(model, condition)?,
        })
    }

    /// Where each latent site sits in the flat vector.
    pub fn layout(&self) -> &Layout {
        self.joint.layout()
    }

    /// cmdstan-style names of the constrained values (`mu`, `lam.1`, …).
    pub fn column_names(&self) -> Vec<String> {
        self.joint.layout().column_names()
    }

    /// One unconstrained draw as constrained values ordered like [`Self::column_names`].
    pub fn constrained_row(&self, x: &[f64]) -> Result<Vec<f64>, BridgeError> {
        Ok(self.joint.layout().constrain_flat(x)?)
    }

    /// One unconstrained draw as named constrained values.
    pub fn constrain(&self, x: &[f64]) -> Result<Values, BridgeError> {
        Ok(self.joint.constrain(x)?)
    }

    /// Named constrained values mapped to the unconstrained scale (e.g. initial points).
    pub fn unconstrain(&self, values: &Values) -> Result<Vec<f64>, BridgeError> {
        Ok(self.joint.unconstrain(values)?)
    }
}

/// Whether an error of the model at a point is a property of that point (recoverable).
fn is_pointwise(e: &PplError) -> bool {
    matches!(
        e,
        PplError::NonFinite(_) | PplError::InvalidParameter { .. } | PplError::OutOfSupport { .. }
    )
}

impl<F: ModelFn> LogDensity for ModelDensity<F> {
    fn dim(&self) -> usize {
        self.joint.dim()
    }

    fn logp_grad(&mut self, x: &[f64], grad: &mut [f64]) -> Result<f64, LogpError> {
        self.joint.log_density_grad(x, grad).map_err(|e| {
            if is_pointwise(&e) {
                LogpError::Recoverable(e.to_string())
            } else {
                LogpError::Fatal(e.to_string())
            }
        })
    }
}
