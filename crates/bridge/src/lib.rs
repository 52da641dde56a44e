//! The bridge between the probabilistic-programming crate `ppl`, the density
//! estimators of `flows` and the samplers of `mcmc`.
//!
//! It is the only crate that knows both `ppl` and `flows`, and it stays thin:
//! [`NeuralLikelihood`] makes any trained [`flows::ConditionalDensity`] a `ppl`
//! distribution (the per-trial likelihood of a hierarchical model, with the gradient in
//! θ on the tape), and [`ModelDensity`] makes a `ppl` model an [`mcmc::LogDensity`] with
//! its draws mapped back to named, constrained values.

mod density;
mod likelihood;

pub use density::{BridgeError, ModelDensity};
pub use flows;
pub use likelihood::NeuralLikelihood;
pub use mcmc;
pub use ppl;
