//! Error values: a refused or failed simulation or density evaluation
//! ([`SimulationError`]), a prior or task built from bad settings
//! ([`ConfigError`]).

use crate::ode::OdeError;

/// Why a simulation, a prior draw or a density evaluation gave no value.
///
/// Bad input (wrong lengths, NaN) is refused before any work is done; a
/// simulation whose output is not finite is reported as [`NonFinite`]
/// rather than handed on.
///
/// [`NonFinite`]: SimulationError::NonFinite
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SimulationError {
    /// θ has the wrong number of components.
    #[error("θ has {got} components, expected {expected}")]
    ThetaLength {
        /// The dimension of θ.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// x (an output buffer or an observation) has the wrong number of components.
    #[error("x has {got} components, expected {expected}")]
    XLength {
        /// The dimension of x.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// A component of θ is NaN, infinite, or outside the set where the
    /// simulator is defined (e.g. a negative Poisson rate).
    #[error("θ[{index}] = {value} is not a valid parameter for this simulator")]
    InvalidTheta {
        /// Position of the offending component.
        index: usize,
        /// Its value.
        value: f64,
    },
    /// A component of an observation x is NaN.
    #[error("x[{index}] = {value} is not a valid observation")]
    InvalidX {
        /// Position of the offending component.
        index: usize,
        /// Its value.
        value: f64,
    },
    /// The output contains NaN or ±∞.
    #[error("simulator output has a non-finite value at position {index}")]
    NonFinite {
        /// Position of the first non-finite value.
        index: usize,
    },
    /// The ODE solver inside the simulator failed.
    #[error("ODE solver failed: {0}")]
    Ode(#[from] OdeError),
    /// A rejection sampler accepted too few proposals (the observation lies
    /// where the prior has almost no posterior mass).
    #[error("rejection sampling accepted {accepted} of {attempts} proposals; gave up")]
    Rejection {
        /// Draws accepted before giving up.
        accepted: usize,
        /// Proposals made.
        attempts: usize,
    },
    /// A simulation of a process in time reached its time limit before the
    /// event that ends it (a drift-diffusion trial that hit neither bound).
    #[error("no outcome within the time limit of {max_time} s")]
    MaxTimeReached {
        /// The limit, in the simulator's time unit.
        max_time: f64,
    },
    /// The simulator gave up for another reason.
    #[error("simulation failed: {0}")]
    Failed(String),
}

/// Why a prior or a task could not be built from the given settings.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A parameter is NaN, infinite or outside its allowed range.
    #[error("bad value {value} for `{name}` at position {index}")]
    BadParameter {
        /// The parameter's name.
        name: &'static str,
        /// Position within a vector parameter (0 for a scalar).
        index: usize,
        /// The value given.
        value: f64,
    },
    /// Two vector parameters that must have the same length do not.
    #[error("`{name}` has length {got}, expected {expected}")]
    Length {
        /// The parameter's name.
        name: &'static str,
        /// The length it must have.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// A dimension of zero.
    #[error("the dimension must be at least 1")]
    ZeroDimension,
    /// A covariance or precision matrix is not symmetric positive definite.
    #[error("the {0} matrix is not symmetric positive definite")]
    NotPositiveDefinite(&'static str),
}

/// `Err(ThetaLength)` unless `theta.len() == dim`, then `Err(InvalidTheta)`
/// for the first non-finite component.
pub(crate) fn check_theta(theta: &[f64], dim: usize) -> Result<(), SimulationError> {
    if theta.len() != dim {
        return Err(SimulationError::ThetaLength {
            expected: dim,
            got: theta.len(),
        });
    }
    match theta.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(SimulationError::InvalidTheta {
            index,
            value: theta[index],
        }),
        None => Ok(()),
    }
}

/// `Err(XLength)` unless `x.len() == dim`.
pub(crate) fn check_x_len(x: &[f64], dim: usize) -> Result<(), SimulationError> {
    if x.len() == dim {
        Ok(())
    } else {
        Err(SimulationError::XLength {
            expected: dim,
            got: x.len(),
        })
    }
}

/// [`check_x_len`], then `Err(InvalidX)` for the first NaN component (±∞ is
/// a value an observation may take: its density is then 0 or the formula's limit).
pub(crate) fn check_x(x: &[f64], dim: usize) -> Result<(), SimulationError> {
    check_x_len(x, dim)?;
    match x.iter().position(|v| v.is_nan()) {
        Some(index) => Err(SimulationError::InvalidX {
            index,
            value: x[index],
        }),
        None => Ok(()),
    }
}

/// `Err(NonFinite)` at the first non-finite output value.
pub(crate) fn check_output(x: &[f64]) -> Result<(), SimulationError> {
    match x.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(SimulationError::NonFinite { index }),
        None => Ok(()),
    }
}
