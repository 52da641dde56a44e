//! The bridge between the probabilistic-programming crate `ppl`, the density
//! estimators of `flows` and the samplers of `mcmc`.
//!
//! It is the only crate that knows both `ppl` and `flows`, and it stays thin:
//! `NeuralLikelihood` (a trained estimator as a `ppl` distribution) and the adapter
//! from a `ppl` model to [`mcmc::LogDensity`] land with the `bridge` and `mcmc`
//! issues. This first version re-exports the three crates it joins.
//!
//! ```
//! let _ = bridge::mcmc::LogpError::Recoverable("x".into()).is_recoverable();
//! ```

pub use flows;
pub use mcmc;
pub use ppl;
