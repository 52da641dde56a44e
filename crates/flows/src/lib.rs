//! Conditional density estimators q(x | θ) for neural likelihood estimation.
//!
//! `flows` depends on no other workspace crate: it is a small library of
//! conditional density estimators that someone may use alone. Every estimator
//! implements [`ConditionalDensity`] (log-probabilities, their gradient in θ,
//! sampling) and [`Trainable`] (a flat parameter vector, the mean negative
//! log-likelihood of a batch with its parameter gradient, an [`Adam`] step), and
//! saves to a versioned file through [`Persist`].
//!
//! - [`CategoricalMass`]: an MLP from θ to logits over a declared range of
//!   integers (counts, choices).
//! - [`Maf`]: a masked autoregressive flow for continuous x (sbi's `maf`).
//! - [`Nsf`]: a rational-quadratic neural spline flow for continuous x, 1-D
//!   included (sbi's `nsf` defaults: 10 bins, linear tails outside ±3).
//! - [`Mnle`]: the mixed estimator for (continuous…, discrete) rows such as
//!   (reaction time, choice): categorical × spline flow, optional log transform.
//!
//! Networks are plain Rust over one flat `Vec<f64>` of parameters with
//! hand-written forward and backward passes; the evaluation hot path allocates
//! nothing per row (working memory is a per-thread scratch buffer, see
//! ARCHITECTURE.md).
//!
//! ```
//! use flows::{Adam, AdamConfig, CategoricalConfig, CategoricalMass, ConditionalDensity, Rows, Trainable};
//!
//! // Training data: θ and a count x drawn given θ (here x = round(θ)).
//! let theta: Vec<f64> = (0..200).map(|i| (i % 5) as f64).collect();
//! let x = theta.clone();
//! let (theta, x) = (Rows::new(theta, 1)?, Rows::new(x, 1)?);
//!
//! let mut q = CategoricalMass::new(&CategoricalConfig::new(0, 4), theta.view(), 42)?;
//! let mut adam = Adam::new(AdamConfig { learning_rate: 1e-2, ..AdamConfig::default() }, q.parameters().len())?;
//! for _ in 0..200 {
//!     q.train_step(&mut adam, x.view(), theta.view())?;
//! }
//! // The hot path of hierarchical inference: many rows sharing one θ, with ∂/∂θ.
//! let trials = Rows::new(vec![2.0, 2.0, 2.0], 1)?;
//! let mut grad = [0.0];
//! let lp = q.sum_log_prob_grad_context(trials.view(), &[2.0], &mut grad)?;
//! assert!(lp > 3.0 * 0.9f64.ln()); // q(2 | θ = 2) > 0.9
//! assert!(q.log_prob(&[7.0], &[2.0])?.is_infinite()); // outside 0..=4: −∞
//! # Ok::<(), flows::FlowError>(())
//! ```

mod activation;
mod adam;
mod autoregressive;
mod categorical;
mod error;
mod gemm;
pub mod io;
mod made;
mod made_batch;
mod maf;
mod mnle;
mod nn;
mod nsf;
mod rows;
mod softmax;
mod spline;
mod vmath;
mod zscore;

use rand::Rng;

pub use adam::{Adam, AdamConfig, Trainable};
pub use autoregressive::Permutation;
pub use categorical::{CategoricalConfig, CategoricalMass};
pub use error::FlowError;
pub use io::Persist;
pub use maf::{Maf, MafConfig};
pub use mnle::{Mnle, MnleConfig};
pub use nn::Activation;
pub use nsf::{Nsf, NsfConfig};
pub use rows::{Rows, RowsView};
pub use zscore::ZScore;

/// The set of values a row x can take, as declared by an estimator.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum XSupport {
    /// Every column is a real number.
    Real,
    /// One column of integers `min..=max` (counts, choices).
    Integers {
        /// Smallest value.
        min: i64,
        /// Largest value.
        max: i64,
    },
    /// Continuous columns followed by one integer column `min..=max`; the continuous
    /// columns are positive when `positive` (log-transformed, e.g. reaction times).
    Mixed {
        /// Smallest value of the discrete column.
        min: i64,
        /// Largest value of the discrete column.
        max: i64,
        /// Whether the continuous columns must be positive.
        positive: bool,
    },
}

/// What a trained likelihood estimator offers: log q(x | θ), its gradient in θ,
/// samples.
///
/// x and θ are in the user's units; z-scoring and its Jacobian are inside the
/// estimator. NaN in x or θ, an infinite θ, or a row of the wrong width is an
/// error; an x outside the estimator's support has log-probability −∞.
pub trait ConditionalDensity: Send + Sync {
    /// Width of one observation row x.
    fn x_dim(&self) -> usize;
    /// Width of the conditioning vector θ.
    fn context_dim(&self) -> usize;
    /// log q(xs\[i\] | contexts\[i\]) into `out[i]`, one θ per row (for evaluation
    /// and training losses).
    fn log_prob_batch(
        &self,
        xs: RowsView<'_>,
        contexts: RowsView<'_>,
        out: &mut [f64],
    ) -> Result<(), FlowError>;
    /// ∑_i log q(xs\[i\] | θ) over iid rows sharing one θ; **adds** ∂/∂θ into `grad`
    /// (length [`context_dim`](Self::context_dim)). The hot path of hierarchical
    /// inference: the θ-dependent part of the network is computed once per call and
    /// nothing is allocated per row. If the sum is −∞ (a row outside the support)
    /// nothing is added to `grad`.
    fn sum_log_prob_grad_context(
        &self,
        xs: RowsView<'_>,
        context: &[f64],
        grad: &mut [f64],
    ) -> Result<f64, FlowError>;
    /// `n` draws x ~ q(· | θ), as `n` rows of width [`x_dim`](Self::x_dim).
    fn sample(&self, context: &[f64], n: usize, rng: &mut dyn Rng) -> Result<Rows, FlowError>;

    /// The values a row x can take (real by default).
    fn x_support(&self) -> XSupport {
        XSupport::Real
    }

    /// log q(x | θ) for one row.
    fn log_prob(&self, x: &[f64], context: &[f64]) -> Result<f64, FlowError> {
        let mut out = [0.0];
        self.log_prob_batch(
            RowsView::new(x, x.len())?,
            RowsView::new(context, context.len())?,
            &mut out,
        )?;
        Ok(out[0])
    }
    /// ∑_i log q(xs\[i\] | θ) over iid rows sharing one θ.
    fn sum_log_prob(&self, xs: RowsView<'_>, context: &[f64]) -> Result<f64, FlowError> {
        let mut grad = vec![0.0; self.context_dim()];
        self.sum_log_prob_grad_context(xs, context, &mut grad)
    }
}
