//! Priors, simulators and benchmark tasks for simulation-based inference.
//!
//! A [`Prior`] draws θ and gives its log density; a [`Simulator`] draws
//! x ~ p(x | θ) with a caller-supplied random number generator and reports
//! bad θ or non-finite output as a [`SimulationError`] value, never a panic
//! or a silent NaN. A [`Task`] bundles a prior and a simulator with what is
//! known about them: its metadata and reference, an exact [`Likelihood`]
//! and a [`ReferencePosterior`] sampler where they exist (the ground truths a
//! learned likelihood is validated against), and sbibm's published
//! observations.
//!
//! - [`tasks`]: the cookie process, the drift-diffusion model (exact
//!   first-passage simulation on a grid, x = [rt, choice]) and the sbibm
//!   benchmark tasks (gaussian_linear, gaussian_mixture, two_moons, slcp,
//!   bernoulli_glm, sir, lotka_volterra), reimplemented from sbibm's task
//!   definitions;
//! - [`prior`]: the priors they use, with checked constructors;
//! - [`ode`]: the adaptive Runge–Kutta solver behind sir and lotka_volterra;
//! - [`io`]: (θ, x) pairs simulated elsewhere, from CSV and `.npy` files.
//!
//! `simulators` depends on no other workspace crate.
//!
//! ```
//! use rand::SeedableRng;
//! use simulators::{Simulator, Task, tasks::TwoMoons};
//!
//! let task = TwoMoons::new();
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
//! let theta = task.prior().sample(&mut rng)?;
//! let x = task.simulate_vec(&theta, &mut rng)?;
//! // The exact likelihood and posterior: ground truths for NLE.
//! let ll = task.likelihood().unwrap().log_likelihood(&theta, &x)?;
//! assert!(ll.is_finite());
//! let obs = task.observation(1).unwrap(); // sbibm's observation 1
//! let draws = task.reference_posterior().unwrap().sample_posterior(&obs.x, 100, &mut rng)?;
//! assert_eq!(draws.len(), 100 * 2);
//! // Bad input is an error value.
//! assert!(task.simulate_vec(&[f64::NAN, 0.0], &mut rng).is_err());
//! # Ok::<(), simulators::SimulationError>(())
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
