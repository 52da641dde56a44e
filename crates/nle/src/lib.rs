//! Neural likelihood estimation: simulate in parallel, then train a
//! [`flows::ConditionalDensity`] on the simulations with sbi's defaults.
//!
//! - [`simulate`]: θ ~ prior, x ~ simulator, in parallel with rayon and one
//!   random stream per simulation index (the data set is identical for any
//!   thread count); invalid simulations are excluded and counted.
//! - [`Dataset`]: the valid pairs, split into training and validation rows.
//!
//! `nle` depends on `flows` (the estimators) and `simulators` (priors and
//! simulators) only. The training loop follows sbi's defaults,
//! [`TrainingDefaults::SBI`].
//!
//! ```
//! use simulators::{Task, tasks::Cookie};
//!
//! let task = Cookie::new();
//! let sims = nle::simulate(task.prior(), &task, 1000, 1, None)?;
//! let data = nle::Dataset::new(&sims.simulations, nle::TrainingDefaults::SBI.validation_fraction, 1)?;
//! assert_eq!((data.train_len(), data.validation_len()), (900, 100));
//! # Ok::<(), nle::NleError>(())
//! ```

mod dataset;
mod error;
mod simulate;

pub use flows;
pub use simulators;

pub use dataset::Dataset;
pub use error::NleError;
pub use simulate::{InvalidCounts, Simulated, SimulationProgress, simulate};

/// sbi's NLE training settings (sbi `_train`, see REFERENCES.md §3).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainingDefaults {
    /// Mini-batch size.
    pub batch_size: usize,
    /// Adam learning rate.
    pub learning_rate: f64,
    /// Fraction of simulations held out for validation.
    pub validation_fraction: f64,
    /// Epochs without validation improvement before stopping.
    pub stop_after_epochs: usize,
    /// Gradient-norm clipping threshold.
    pub clip_max_norm: f64,
}

impl TrainingDefaults {
    /// The values sbi uses: batch 200, lr 5e-4, 10 % validation, patience 20, clip 5.
    pub const SBI: Self = Self {
        batch_size: 200,
        learning_rate: 5e-4,
        validation_fraction: 0.1,
        stop_after_epochs: 20,
        clip_max_norm: 5.0,
    };
}
