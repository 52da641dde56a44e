//! What can go wrong when sampling or writing output.

use std::path::PathBuf;

use crate::LogpError;

/// Why sampling (or writing its output) failed.
///
/// Settings errors are found by [`Settings::validate`](crate::Settings::validate) before any
/// chain starts; the others name the chain they happened in.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum McmcError {
    /// `num_chains` is zero.
    #[error("num_chains must be at least 1")]
    NoChains,
    /// `target_accept` is not inside (0, 1).
    #[error("target_accept must be inside (0, 1), got {0}")]
    TargetAccept(f64),
    /// `max_tree_depth` is outside 1..=30.
    #[error("max_tree_depth must be in 1..=30, got {0}")]
    MaxTreeDepth(u32),
    /// `max_energy_error` is not positive (or NaN).
    #[error("max_energy_error must be positive, got {0}")]
    MaxEnergyError(f64),
    /// Static HMC with zero leapfrog steps.
    #[error("static HMC needs at least one leapfrog step")]
    NoLeapfrogSteps,
    /// An adaptation parameter is out of its range (step sizes and γ, κ, t0 must be
    /// positive and finite).
    #[error("adaptation setting `{name}` must be positive and finite, got {value}")]
    Adaptation {
        /// The field of [`Adaptation`](crate::Adaptation).
        name: &'static str,
        /// The value given.
        value: f64,
    },
    /// A setting of [`GradDiag`](crate::GradDiag) is out of its documented range.
    #[error("warm-up setting `{name}` is out of range, got {value}")]
    Warmup {
        /// The field of [`GradDiag`](crate::GradDiag).
        name: &'static str,
        /// The value given.
        value: f64,
    },
    /// [`Warmup::GradDiag`](crate::Warmup::GradDiag) with a metric other than
    /// [`Metric::Diagonal`](crate::Metric::Diagonal).
    #[error("the GradDiag warm-up adapts a diagonal metric only")]
    GradDiagNeedsDiagonal,
    /// `step_size_jitter` is not inside [0, 1).
    #[error("step_size_jitter must be inside [0, 1), got {0}")]
    StepSizeJitter(f64),
    /// `Init::Uniform` with a radius that is not positive and finite.
    #[error("init radius must be positive and finite, got {0}")]
    InitRadius(f64),
    /// `Init::Given` holds a different number of points than there are chains.
    #[error("Init::Given has {found} points for {expected} chains")]
    InitCount {
        /// `num_chains`.
        expected: usize,
        /// Points given.
        found: usize,
    },
    /// A given initial point does not have the density's dimension.
    #[error(
        "chain {chain}: initial point has length {found}, the density has dimension {expected}"
    )]
    InitLength {
        /// The chain.
        chain: usize,
        /// The density's dimension.
        expected: usize,
        /// The initial point's length.
        found: usize,
    },
    /// A given initial point is not finite or its log density (or gradient) is not finite.
    #[error(
        "chain {chain}: the log density or its gradient is not finite at the given initial point"
    )]
    InitNotFinite {
        /// The chain.
        chain: usize,
    },
    /// No random initial point had a finite log density and gradient.
    #[error("chain {chain}: no finite log density at {tries} random initial points")]
    InitFailed {
        /// The chain.
        chain: usize,
        /// Points tried.
        tries: usize,
    },
    /// The density has dimension zero: there is nothing to sample.
    #[error("the log density has dimension 0")]
    ZeroDimension,
    /// The densities made for different chains disagree on the dimension.
    #[error("chain {chain}: the density has dimension {found}, chain 0's has {expected}")]
    DimensionMismatch {
        /// The chain.
        chain: usize,
        /// Chain 0's dimension.
        expected: usize,
        /// This chain's dimension.
        found: usize,
    },
    /// The step-size heuristic left every sensible range (Stan: "posterior is improper" when
    /// the step size passes 1e7, "no acceptably small step size" when it reaches 0).
    #[error(
        "chain {chain}: no usable step size (reached {step_size}); is the posterior improper or discontinuous?"
    )]
    StepSize {
        /// The chain.
        chain: usize,
        /// Where the search stopped.
        step_size: f64,
    },
    /// The warm-up estimate of the (co)variance overflowed.
    #[error("chain {chain}: numerical overflow in metric adaptation; is the posterior improper?")]
    MetricOverflow {
        /// The chain.
        chain: usize,
    },
    /// The density returned [`LogpError::Fatal`].
    #[error("chain {chain}: {source}")]
    Density {
        /// The chain.
        chain: usize,
        /// The density's error.
        #[source]
        source: LogpError,
    },
    /// A writer got a different number of parameter names than the draws have columns.
    #[error("{found} parameter names for {expected} columns")]
    ParamNames {
        /// Columns in the draws.
        expected: usize,
        /// Names given.
        found: usize,
    },
    /// A parameter name is empty or holds a character a CSV header cannot carry.
    #[error("parameter name {0:?} is empty or contains a comma, quote or line break")]
    BadParamName(String),
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Encoding the JSON summary failed.
    #[error("JSON summary: {0}")]
    Json(#[from] serde_json::Error),
}
