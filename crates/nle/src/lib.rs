//! Neural likelihood estimation: simulate in parallel, then train a
//! [`flows::ConditionalDensity`] on the simulations with sbi's defaults.
//!
//! `nle` depends on `flows` (the estimators) and `simulators` (priors and
//! simulators). The training loop lands with the `nle` issue; this first version
//! records sbi's training defaults, which that loop follows.
//!
//! ```
//! let d = nle::TrainingDefaults::SBI;
//! assert_eq!(d.batch_size, 200);
//! assert_eq!(d.learning_rate, 5e-4);
//! ```

pub use flows;
pub use simulators;

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
