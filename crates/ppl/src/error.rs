//! The error type of the crate.

/// Everything that can go wrong in `ppl`. Errors are values: no input makes the crate panic.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PplError {
    /// A distribution parameter is NaN, infinite or outside its allowed range.
    #[error("{distribution}: parameter `{parameter}` = {value} is invalid: must be {requirement}")]
    InvalidParameter {
        /// The distribution, e.g. `"Normal"`.
        distribution: &'static str,
        /// The parameter, e.g. `"scale"`.
        parameter: &'static str,
        /// The first offending value.
        value: f64,
        /// What the value must be, e.g. `"finite and > 0"`.
        requirement: &'static str,
    },
    /// Two shapes that must broadcast (or match) do not.
    #[error("shape mismatch in {context}: {left:?} vs {right:?}")]
    ShapeMismatch {
        /// Where it happened.
        context: String,
        /// First shape.
        left: Vec<usize>,
        /// Second shape.
        right: Vec<usize>,
    },
    /// An index (gather, slice, category) is out of range.
    #[error("index {index} out of range for length {len} in {context}")]
    IndexOutOfRange {
        /// Where it happened.
        context: &'static str,
        /// The offending index.
        index: usize,
        /// The valid length.
        len: usize,
    },
    /// Two autodiff values from different tapes were combined.
    #[error("values from different tapes were combined")]
    ForeignTape,
    /// A model used the same site name twice.
    #[error("duplicate site name `{0}`")]
    DuplicateSite(String),
    /// An observed site has no data (neither passed to `observe` nor conditioned on).
    #[error("observed site `{0}` has no data")]
    MissingObservation(String),
    /// A name given to a handler (condition, substitute, a flat vector) is not a site.
    #[error("no site named `{0}`")]
    UnknownSite(String),
    /// A site's value has the wrong length for its distribution and plates.
    #[error("site `{site}`: expected {expected} values, got {got}")]
    SiteShape {
        /// The site.
        site: String,
        /// Values expected.
        expected: usize,
        /// Values given.
        got: usize,
    },
    /// A flat parameter vector has the wrong length.
    #[error("flat vector has length {got}, the model has {expected} unconstrained dimensions")]
    FlatLength {
        /// The model's unconstrained dimension.
        expected: usize,
        /// The given length.
        got: usize,
    },
    /// A value is outside the support of its distribution where that is not allowed
    /// (e.g. a substituted latent value).
    #[error("value {value} of `{site}` is outside the support {support}")]
    OutOfSupport {
        /// The site.
        site: String,
        /// The offending value.
        value: f64,
        /// The support.
        support: String,
    },
    /// The log density or its gradient is NaN or infinite at this point.
    #[error("log density is not finite: {0}")]
    NonFinite(String),
    /// Data could not be parsed.
    #[error("data error: {0}")]
    Data(String),
    /// A failure reported by a custom operation (e.g. a neural likelihood's estimator).
    #[error("custom operation failed: {0}")]
    Custom(String),
    /// The requested operation is not available for this distribution.
    #[error("{0}")]
    Unsupported(String),
}
