//! The bridge between the probabilistic-programming crate `ppl`, the density
//! estimators of `flows` and the samplers of `mcmc`.
//!
//! It is the only crate that knows both `ppl` and `flows`, and it stays thin. Today it
//! holds [`ModelDensity`], a `ppl` model as an [`mcmc::LogDensity`] with its draws
//! mapped back to named, constrained values; `NeuralLikelihood` (a trained estimator
//! as a `ppl` distribution) lands with the `bridge` issue.

mod density;

pub use density::{BridgeError, ModelDensity};
pub use flows;
pub use mcmc;
pub use ppl;
