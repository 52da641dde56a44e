//! The crate's error type.

/// Errors of this crate: bad shapes, bad numbers, bad configurations, bad files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FlowError {
    /// The flat data length is not a multiple of the row width (or the width is 0).
    #[error("data of length {len} cannot be split into rows of width {cols}")]
    RaggedRows {
        /// Length of the flat data.
        len: usize,
        /// Requested row width.
        cols: usize,
    },
    /// A vector or row has the wrong length.
    #[error("{what} has length {got}, expected {expected}")]
    DimensionMismatch {
        /// Which argument.
        what: &'static str,
        /// The length the estimator needs.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// Two batches that must have the same number of rows do not.
    #[error("{what}: {got} rows, expected {expected}")]
    RowCountMismatch {
        /// Which argument.
        what: &'static str,
        /// The number of rows needed.
        expected: usize,
        /// The number of rows given.
        got: usize,
    },
    /// A NaN (or, where noted, an infinite) value in an input.
    #[error("{what} contains a non-finite value")]
    NonFinite {
        /// Which argument.
        what: &'static str,
    },
    /// A training value outside the support of the estimator (e.g. a count outside
    /// the declared range of a categorical estimator), or a θ the estimator cannot
    /// take (a non-positive θ under a log feature).
    #[error("value {value} is outside the estimator's support: {reason}")]
    OutOfSupport {
        /// The value.
        value: f64,
        /// Why it is outside.
        reason: &'static str,
    },
    /// An empty batch where rows are needed.
    #[error("{what} has no rows")]
    Empty {
        /// Which argument.
        what: &'static str,
    },
    /// A configuration that cannot make an estimator.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// Reading or writing a saved estimator failed.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A saved estimator could not be parsed or is inconsistent.
    #[error("corrupt saved estimator: {0}")]
    Corrupt(String),
    /// A saved estimator of a format version this build cannot read.
    #[error("saved estimator has format version {found}, this build reads version {supported}")]
    UnsupportedVersion {
        /// The version in the file.
        found: u32,
        /// The version this build reads and writes.
        supported: u32,
    },
    /// A saved estimator of another kind (e.g. loading a MAF file as a categorical estimator).
    #[error("saved estimator is a `{found}`, expected a `{expected}`")]
    WrongKind {
        /// The kind asked for.
        expected: &'static str,
        /// The kind in the file.
        found: String,
    },
}
