//! Probability distributions with checked constructors and fused, differentiable log densities.
//!
//! Every distribution:
//! - has `new(..) -> Result<Self, PplError>` rejecting NaN, infinite and out-of-range
//!   parameters with [`PplError::InvalidParameter`](crate::PplError::InvalidParameter);
//! - takes parameters that are constants, constant vectors or autodiff values
//!   ([`Param`]), broadcast against each other like NumPyro's batch shapes;
//! - computes `log_prob` as one fused tape node with analytic partials in the
//!   parameters and (for continuous distributions) the value; values outside the
//!   support give −∞, never a panic;
//! - samples with a caller-supplied RNG, and gives its support and closed-form moments.

mod param;
pub use param::{Param, broadcast_shapes, broadcast_values};

mod bernoulli;
mod beta;
mod binomial;
mod categorical;
mod cauchy;
mod dirichlet;
mod exponential;
mod gamma;
mod half;
mod inverse_gamma;
mod lognormal;
mod mvn;
mod negative_binomial;
mod normal;
mod poisson;
mod rows;
mod student_t;
mod uniform;
mod wiener;
mod wiener_series;

pub use bernoulli::*;
pub use beta::*;
pub use binomial::*;
pub use categorical::*;
pub use cauchy::*;
pub use dirichlet::*;
pub use exponential::*;
pub use gamma::*;
pub use half::*;
pub use inverse_gamma::*;
pub use lognormal::*;
pub use mvn::*;
pub use negative_binomial::*;
pub use normal::*;
pub use poisson::*;
pub use student_t::*;
pub use uniform::*;
pub use wiener::*;

use rand::Rng;

use crate::ad::{Operand, Shape, Tape, Var};
use crate::constraint::Constraint;

/// A probability distribution over values of shape `batch_shape ++ event_shape`.
pub trait Distribution<'t> {
    /// The distribution's name, e.g. `"Normal"`.
    fn name(&self) -> &'static str;
    /// The broadcast shape of the parameters (independent components).
    fn batch_shape(&self) -> Shape;
    /// The shape of one draw of one component: scalar for univariate distributions,
    /// `[K]` for a K-dimensional one.
    fn event_shape(&self) -> Shape {
        Shape::SCALAR
    }
    /// The support.
    fn support(&self) -> Constraint;
    /// log p(value), one entry per batch element (after broadcasting the value against
    /// the batch shape); −∞ outside the support.
    fn log_prob(&self, tape: &'t Tape, value: Operand<'_, 't>) -> Var<'t>;
    /// One draw of every batch element, row-major, `batch_len × event_len` values.
    fn sample(&self, rng: &mut dyn Rng) -> Vec<f64>;
    /// The mean per batch element, where it exists in closed form.
    fn mean(&self) -> Option<Vec<f64>> {
        None
    }
    /// The variance per batch element, where it exists in closed form.
    fn variance(&self) -> Option<Vec<f64>> {
        None
    }
    /// Σ log p(value) over the batch as one tape scalar: what a model adds to its log
    /// joint for a site. The default sums [`log_prob`](Self::log_prob) (folded into its
    /// node when that is one fused elementwise node); a distribution with a cheaper
    /// summed form (a neural likelihood evaluating groups of rows that share θ)
    /// overrides it.
    fn log_prob_sum(&self, tape: &'t Tape, value: Operand<'_, 't>) -> Var<'t> {
        self.log_prob(tape, value).sum_fused()
    }
}

/// Whether `x` is a non-negative integer (counts).
#[inline]
pub(crate) fn is_count(x: f64) -> bool {
    x >= 0.0 && x.fract() == 0.0 && x.is_finite()
}

/// Draws `n` values, the i-th from `draw(i)`: the shared sampling loop over a batch.
pub(crate) fn sample_batch(n: usize, mut draw: impl FnMut(usize) -> f64) -> Vec<f64> {
    (0..n).map(&mut draw).collect()
}
