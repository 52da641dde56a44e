//! Parallel, seed-stable simulation: θ ~ prior, x ~ simulator(θ), one random
//! stream per simulation index.

use std::sync::atomic::{AtomicUsize, Ordering};

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use rayon::prelude::*;
use simulators::io::Simulations;
use simulators::{Prior, SimulationError, Simulator};

use crate::NleError;

/// Simulations per parallel work item. Fixed, so the work split (and with it
/// the order of the progress calls) does not depend on the thread count; the
/// result never does.
const CHUNK: usize = 256;

/// A progress callback, called with the number of simulations done so far. It
/// is called from the worker threads, hence `Sync`; calls from different threads
/// may arrive out of order.
pub type SimulationProgress<'a> = &'a (dyn Fn(usize) + Sync);

/// Simulations that gave no usable x, by kind (sbi excludes them and reports the
/// NaN and ∞ counts; we also count simulator errors).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InvalidCounts {
    /// Outputs with NaN or ±∞: [`SimulationError::NonFinite`], or an `Ok`
    /// output that is not finite.
    pub non_finite: usize,
    /// θ refused by the simulator ([`SimulationError::InvalidTheta`]): the prior
    /// puts mass where the simulator is not defined.
    pub invalid_theta: usize,
    /// Any other simulator error (solver failure, a trial that reached its time
    /// limit ([`SimulationError::MaxTimeReached`]), [`SimulationError::Failed`], …).
    pub failed: usize,
    /// Prior draws that failed.
    pub prior_failed: usize,
    /// The error of the lowest-indexed invalid simulation, for diagnosis
    /// (`None` when every simulation is valid; a non-finite `Ok` output is
    /// reported as [`SimulationError::NonFinite`]).
    pub first_error: Option<(usize, SimulationError)>,
}

impl InvalidCounts {
    /// Number of invalid simulations.
    pub fn total(&self) -> usize {
        self.non_finite + self.invalid_theta + self.failed + self.prior_failed
    }
    fn record(&mut self, index: usize, err: Invalid) {
        let e = match err {
            Invalid::Prior(e) => {
                self.prior_failed += 1;
                e
            }
            Invalid::Simulator(e) => {
                match e {
                    SimulationError::NonFinite { .. } => self.non_finite += 1,
                    SimulationError::InvalidTheta { .. } => self.invalid_theta += 1,
                    _ => self.failed += 1,
                }
                e
            }
        };
        if self.first_error.as_ref().is_none_or(|(i, _)| index < *i) {
            self.first_error = Some((index, e));
        }
    }
    fn merge(&mut self, other: InvalidCounts) {
        self.non_finite += other.non_finite;
        self.invalid_theta += other.invalid_theta;
        self.failed += other.failed;
        self.prior_failed += other.prior_failed;
        if let Some((i, e)) = other.first_error
            && self.first_error.as_ref().is_none_or(|(j, _)| i < *j)
        {
            self.first_error = Some((i, e));
        }
    }
}

/// What [`simulate`] returns: the valid pairs in index order, and what was excluded.
#[derive(Debug, Clone, PartialEq)]
pub struct Simulated {
    /// The valid (θ, x) pairs, in the order of their simulation index.
    pub simulations: Simulations,
    /// The excluded simulations, by kind.
    pub invalid: InvalidCounts,
}

enum Invalid {
    Prior(SimulationError),
    Simulator(SimulationError),
}

/// Stream `index` of `ChaCha8Rng::seed_from_u64(seed)`: simulation `index`'s
/// random numbers, the same whichever thread runs it.
pub(crate) fn stream(seed: u64, index: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(index);
    rng
}

/// Runs `n` simulations in parallel (rayon): simulation `i` draws θ ~ `prior`
/// and x ~ `simulator(θ)` from stream `i` of `ChaCha8Rng::seed_from_u64(seed)`,
/// so the result is identical for any number of threads (to choose them, call
/// `simulate` inside [`rayon::ThreadPool::install`]).
///
/// Invalid simulations (a prior or simulator error, NaN or ±∞ in x) are
/// excluded and counted, as sbi does; they are not an error. `progress`, when
/// given, is called with the number of simulations done after every block of
/// 256.
///
/// ```
/// use simulators::{Task, tasks::Cookie};
///
/// let task = Cookie::new();
/// let sims = nle::simulate(task.prior(), &task, 1000, 42, None)?;
/// assert_eq!(sims.simulations.len() + sims.invalid.total(), 1000);
/// assert_eq!(sims.simulations.theta_row(0), nle::simulate(task.prior(), &task, 1, 42, None)?
///     .simulations.theta_row(0));
/// # Ok::<(), nle::NleError>(())
/// ```
pub fn simulate(
    prior: &dyn Prior,
    simulator: &dyn Simulator,
    n: usize,
    seed: u64,
    progress: Option<SimulationProgress<'_>>,
) -> Result<Simulated, NleError> {
    let (dt, dx) = (prior.dim(), simulator.x_dim());
    if simulator.theta_dim() != dt {
        return Err(NleError::DimensionMismatch {
            what: "simulator θ vs prior",
            expected: dt,
            got: simulator.theta_dim(),
        });
    }
    if dt == 0 || dx == 0 {
        return Err(NleError::InvalidConfig {
            name: "simulator",
            reason: format!("θ and x need at least one column; got {dt} and {dx}"),
        });
    }
    let done = AtomicUsize::new(0);
    let chunks: Vec<(Vec<f64>, Vec<f64>, InvalidCounts)> = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| {
            let range = c * CHUNK..((c + 1) * CHUNK).min(n);
            let len = range.len();
            let mut thetas = Vec::with_capacity(len * dt);
            let mut xs = Vec::with_capacity(len * dx);
            let mut invalid = InvalidCounts::default();
            let (mut theta, mut x) = (vec![0.0; dt], vec![0.0; dx]);
            for i in range {
                match one(prior, simulator, seed, i, &mut theta, &mut x) {
                    Ok(()) => {
                        thetas.extend_from_slice(&theta);
                        xs.extend_from_slice(&x);
                    }
                    Err(e) => invalid.record(i, e),
                }
            }
            if let Some(f) = progress {
                f(done.fetch_add(len, Ordering::Relaxed) + len);
            }
            (thetas, xs, invalid)
        })
        .collect();
    let valid: usize = chunks.iter().map(|(t, _, _)| t.len() / dt).sum();
    let (mut thetas, mut xs) = (
        Vec::with_capacity(valid * dt),
        Vec::with_capacity(valid * dx),
    );
    let mut invalid = InvalidCounts::default();
    for (t, x, inv) in chunks {
        thetas.extend_from_slice(&t);
        xs.extend_from_slice(&x);
        invalid.merge(inv);
    }
    Ok(Simulated {
        simulations: Simulations::new(dt, dx, thetas, xs)?,
        invalid,
    })
}

/// Simulation `i`: θ and x into the buffers, or why it is invalid.
fn one(
    prior: &dyn Prior,
    simulator: &dyn Simulator,
    seed: u64,
    i: usize,
    theta: &mut [f64],
    x: &mut [f64],
) -> Result<(), Invalid> {
    let mut rng = stream(seed, i as u64);
    prior.sample_into(&mut rng, theta).map_err(Invalid::Prior)?;
    simulator
        .simulate(theta, &mut rng, x)
        .map_err(Invalid::Simulator)?;
    match x.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(Invalid::Simulator(SimulationError::NonFinite { index })),
        None => Ok(()),
    }
}
