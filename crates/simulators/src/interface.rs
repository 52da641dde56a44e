//! The traits the rest of the workspace builds on: a [`Prior`] over θ, a
//! [`Simulator`] x ~ p(x | θ), and a [`Task`] bundling both with what is
//! known about them (an exact [`Likelihood`], a [`ReferencePosterior`]
//! sampler, sbibm's observations).

use rand::Rng;

use crate::error::SimulationError;

/// The closure of a prior's support in one coordinate: `low ≤ θ_i ≤ high`,
/// with infinite ends where the support is unbounded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    /// Lower end (may be −∞).
    pub low: f64,
    /// Upper end (may be +∞).
    pub high: f64,
}

impl Interval {
    /// The whole real line.
    pub const REAL: Interval = Interval {
        low: f64::NEG_INFINITY,
        high: f64::INFINITY,
    };
    /// The positive half-line.
    pub const POSITIVE: Interval = Interval {
        low: 0.0,
        high: f64::INFINITY,
    };

    /// Whether both ends are finite.
    pub fn is_bounded(&self) -> bool {
        self.low.is_finite() && self.high.is_finite()
    }

    /// Whether `low ≤ v ≤ high` (false for NaN).
    pub fn contains(&self, v: f64) -> bool {
        self.low <= v && v <= self.high
    }
}

/// A prior p(θ) over θ ∈ ℝ^d.
pub trait Prior: Send + Sync {
    /// Dimension d.
    fn dim(&self) -> usize;

    /// One draw θ ~ p(θ), written into `theta` (of length [`dim`](Prior::dim)).
    fn sample_into(&self, rng: &mut dyn Rng, theta: &mut [f64]) -> Result<(), SimulationError>;

    /// log p(θ), normalized; −∞ outside the support, an error for NaN or a
    /// wrong length.
    fn log_prob(&self, theta: &[f64]) -> Result<f64, SimulationError>;

    /// The support, one interval per coordinate (infinite ends where unbounded).
    fn bounds(&self) -> Vec<Interval>;

    /// One draw θ ~ p(θ) in a new vector.
    fn sample(&self, rng: &mut dyn Rng) -> Result<Vec<f64>, SimulationError> {
        let mut theta = vec![0.0; self.dim()];
        self.sample_into(rng, &mut theta)?;
        Ok(theta)
    }
}

/// A simulator x ~ p(x | θ) driven by a caller-supplied random number generator.
pub trait Simulator: Send + Sync {
    /// Width of θ.
    fn theta_dim(&self) -> usize;

    /// Width of x.
    fn x_dim(&self) -> usize;

    /// One simulation, written into `x` (of length [`x_dim`](Simulator::x_dim)).
    ///
    /// Bad θ (wrong length, non-finite, outside where the simulator is
    /// defined) and failures are reported, not hidden: an output with NaN or
    /// ±∞ is [`SimulationError::NonFinite`].
    fn simulate(
        &self,
        theta: &[f64],
        rng: &mut dyn Rng,
        x: &mut [f64],
    ) -> Result<(), SimulationError>;

    /// One simulation in a new vector.
    fn simulate_vec(&self, theta: &[f64], rng: &mut dyn Rng) -> Result<Vec<f64>, SimulationError> {
        let mut x = vec![0.0; self.x_dim()];
        self.simulate(theta, rng, &mut x)?;
        Ok(x)
    }
}

/// An exact likelihood p(x | θ): the ground truth a learned one is checked against.
pub trait Likelihood: Send + Sync {
    /// log p(x | θ), normalized as a density (or mass) in x.
    ///
    /// Any finite θ where the simulator is defined is accepted (also outside
    /// the prior's support); NaN in θ or x and wrong lengths are errors.
    fn log_likelihood(&self, theta: &[f64], x: &[f64]) -> Result<f64, SimulationError>;
}

/// Exact draws from the posterior p(θ | x) under the task's prior.
pub trait ReferencePosterior: Send + Sync {
    /// `n` independent draws θ ~ p(θ | x), row-major (`n × θ-dim`).
    fn sample_posterior(
        &self,
        x: &[f64],
        n: usize,
        rng: &mut dyn Rng,
    ) -> Result<Vec<f64>, SimulationError>;
}

/// What identifies a task and where its definition comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskInfo {
    /// Short name, sbibm's where the task comes from sbibm (`"two_moons"`).
    pub name: &'static str,
    /// Name for tables and plots (`"Two Moons"`).
    pub display_name: &'static str,
    /// Width of θ.
    pub theta_dim: usize,
    /// Width of x.
    pub x_dim: usize,
    /// One label per component of θ.
    pub parameter_names: Vec<String>,
    /// Where the definition comes from (paper and source file).
    pub reference: &'static str,
}

/// One of sbibm's published observations: the θ it was simulated from and x.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// sbibm's observation number, 1 to 10.
    pub num: usize,
    /// The seed sbibm simulated it with.
    pub seed: u64,
    /// The parameters that generated it ("true parameters").
    pub theta: Vec<f64>,
    /// The observed data.
    pub x: Vec<f64>,
}

/// A benchmark task: a prior, a simulator, and what is known about them.
pub trait Task: Simulator {
    /// Name, dimensions, parameter names and reference.
    fn info(&self) -> TaskInfo;

    /// The prior over θ.
    fn prior(&self) -> &dyn Prior;

    /// The exact likelihood, for tasks that have a tractable one.
    fn likelihood(&self) -> Option<&dyn Likelihood> {
        None
    }

    /// An exact posterior sampler, for tasks that have one.
    fn reference_posterior(&self) -> Option<&dyn ReferencePosterior> {
        None
    }

    /// sbibm's observation `num` (1 to 10), for tasks in their sbibm
    /// configuration; `None` otherwise.
    fn observation(&self, num: usize) -> Option<Observation> {
        let _ = num;
        None
    }

    /// The unnormalized log posterior log p(θ) + log p(x | θ), for tasks with
    /// a likelihood (`None` otherwise); −∞ outside the prior's support,
    /// without evaluating the likelihood there.
    fn log_posterior(&self, theta: &[f64], x: &[f64]) -> Option<Result<f64, SimulationError>> {
        let likelihood = self.likelihood()?;
        Some(self.prior().log_prob(theta).and_then(|lp| {
            if lp == f64::NEG_INFINITY {
                crate::error::check_x(x, self.x_dim()).map(|()| lp)
            } else {
                likelihood.log_likelihood(theta, x).map(|ll| lp + ll)
            }
        }))
    }
}
