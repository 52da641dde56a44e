//! Neural likelihood estimation: simulate in parallel, then train a
//! [`flows`] estimator q(x | θ) on the simulations with sbi's defaults, and
//! compare samples with the classifier two-sample test.
//!
//! - [`simulate`]: θ ~ prior, x ~ simulator, in parallel with rayon and one
//!   random stream per simulation index (the data set is identical for any
//!   thread count); invalid simulations are excluded and counted.
//! - [`Dataset`]: the valid pairs, split into training and validation rows.
//! - [`train_on`]: sbi's training loop (batch 200, Adam 5e-4, gradient norm
//!   clipped at 5, early stopping after 20 epochs without validation
//!   improvement, best weights restored) for any [`flows::Trainable`].
//! - [`train`]: all of it in one call, the estimator built from the training
//!   part (its z-scoring too) by a [`BuildEstimator`] (any `flows` config).
//! - [`c2st`]: sbibm's classifier two-sample test.
//!
//! A trained estimator is saved and loaded with `flows`' [`Persist`]: a
//! versioned JSON file with the z-scorings inside, written atomically; a
//! corrupt, wrong-kind or wrong-version file is an error.
//!
//! `nle` depends on `flows` (the estimators) and `simulators` (priors and
//! simulators) only.
//!
//! ```
//! use flows::{CategoricalConfig, ConditionalDensity, Persist};
//! use nle::{Progress, TrainConfig};
//! use simulators::{Task, tasks::Cookie};
//!
//! // The cookie process: θ ~ Gamma(2, 0.2), x ~ Poisson(θ).
//! let task = Cookie::new();
//! let config = TrainConfig { max_epochs: 20, seed: 1, ..TrainConfig::default() };
//! let (q, report) = nle::train(
//!     task.prior(), &task, 2000, &CategoricalConfig::new(0, 150), &config, Progress::default(),
//! )?;
//! assert_eq!(report.simulation.as_ref().unwrap().invalid.total(), 0);
//! let lp = q.log_prob(&[12.0], &[10.0])?; // log q(x = 12 | θ = 10)
//! assert!(lp < 0.0);
//!
//! // Save and load, with the z-scoring and a format version.
//! let path = std::env::temp_dir().join(format!("nle-doc-{}.json", std::process::id()));
//! q.save(&path)?;
//! let back = flows::CategoricalMass::load(&path)?;
//! assert_eq!(back.log_prob(&[12.0], &[10.0])?, lp);
//! # std::fs::remove_file(&path).ok();
//! # Ok::<(), nle::NleError>(())
//! ```

mod build;
mod c2st;
mod classifier;
mod dataset;
mod error;
mod gemm;
mod simulate;
mod train;

pub use flows;
pub use flows::Persist;
pub use simulators;

pub use build::BuildEstimator;
pub use c2st::{C2stConfig, c2st, c2st_with};
pub use dataset::Dataset;
pub use error::NleError;
pub use simulate::{InvalidCounts, Simulated, SimulationProgress, simulate};
pub use train::{
    EpochProgress, EpochStats, LrDecay, Progress, SimulationSummary, TrainConfig, TrainingReport,
    train, train_on,
};
