//! Priors, simulators and benchmark tasks for simulation-based inference.
//!
//! A [`Prior`] draws θ and gives its log density; a [`Simulator`] draws
//! x ~ p(x | θ) with a caller-supplied random number generator and reports
//! bad θ or non-finite output as a [`SimulationError`] value. `simulators`
//! depends on no other workspace crate.
//!
//! ```
//! use rand::SeedableRng;
//! use simulators::{Prior, Simulator};
//!
//! let prior = simulators::prior::Gamma::new(2.0, 0.2)?; // shape, rate
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
//! let theta = prior.sample(&mut rng)?;
//! assert!(theta[0] > 0.0);
//! assert!(prior.log_prob(&[-1.0])? == f64::NEG_INFINITY);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod error;
mod interface;
pub mod io;
mod linalg;
pub mod ode;
pub mod prior;
pub mod tasks;

pub use error::{ConfigError, SimulationError};
pub use interface::{
    Interval, Likelihood, Observation, Prior, ReferencePosterior, Simulator, Task, TaskInfo,
};
