//! The crate's error type.

use flows::FlowError;
use simulators::SimulationError;
use simulators::io::LoadError;

/// Why simulating, building a data set, training or a two-sample test failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NleError {
    /// An estimator or optimizer refused its input (shapes, values, saved files).
    #[error(transparent)]
    Flow(#[from] FlowError),
    /// A simulator or prior refused its input outside the per-simulation loop.
    #[error(transparent)]
    Simulation(#[from] SimulationError),
    /// Simulated or loaded pairs could not be assembled.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// Two widths that must agree do not (prior vs simulator, data vs estimator).
    #[error("{what}: width {got}, expected {expected}")]
    DimensionMismatch {
        /// What was compared.
        what: &'static str,
        /// The width needed.
        expected: usize,
        /// The width given.
        got: usize,
    },
    /// Too few valid rows for what was asked (a split with an empty side, a
    /// two-sample test with fewer rows than folds).
    #[error("{what}: {got} valid rows, at least {needed} needed")]
    TooFewRows {
        /// What needed the rows.
        what: &'static str,
        /// Rows needed.
        needed: usize,
        /// Valid rows available.
        got: usize,
    },
    /// A setting outside its allowed range.
    #[error("invalid setting `{name}`: {reason}")]
    InvalidConfig {
        /// The setting.
        name: &'static str,
        /// What is allowed.
        reason: String,
    },
    /// A NaN or infinite value where a finite one is needed (an input sample, a
    /// training or validation loss).
    #[error("{what} is not finite")]
    NonFinite {
        /// What it was.
        what: String,
    },
}
