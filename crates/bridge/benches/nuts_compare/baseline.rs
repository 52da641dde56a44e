//! The baseline of `nuts_compare`: nuts-rs 0.19 (pymc-devs, the sampler of nutpie) on any
//! [`LogDensity`], with its gradient evaluations counted.

use std::cell::Cell;
use std::collections::HashMap;
use std::rc::Rc;

use mcmc::{LogDensity, LogpError};
use nuts_rs::Settings as _;
use nuts_rs::rand::rngs::ChaCha8Rng;
use nuts_rs::rand::{RngExt, SeedableRng};
use nuts_rs::{Chain as _, CpuLogpFunc, CpuMath, CpuMathError, DiagNutsSettings, HasDims};
use ppl::cookies::Cookies;

use super::{
    BoxResult, INIT_TRIES, MAX_TREE_DEPTH, NUM_CHAINS, NUM_DRAWS, NUM_WARMUP, Run, Stopwatch,
    TARGET_ACCEPT, density,
};

/// A recoverable or fatal density error, as nuts-rs wants it.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
struct NutsRsError(LogpError);

impl nuts_rs::LogpError for NutsRsError {
    fn is_recoverable(&self) -> bool {
        self.0.is_recoverable()
    }
}

/// Any [`LogDensity`] as a nuts-rs log density, counting its gradient evaluations.
struct Counted<D> {
    density: D,
    dim: usize,
    calls: Rc<Cell<u64>>,
}

impl<D> HasDims for Counted<D> {
    fn dim_sizes(&self) -> HashMap<String, u64> {
        HashMap::from([("unconstrained_parameter".to_string(), self.dim as u64)])
    }
}

impl<D: LogDensity> CpuLogpFunc for Counted<D> {
    type LogpError = NutsRsError;
    type FlowParameters = ();
    type ExpandedVector = ();

    fn dim(&self) -> usize {
        self.dim
    }

    fn logp(&mut self, position: &[f64], gradient: &mut [f64]) -> Result<f64, NutsRsError> {
        self.calls.set(self.calls.get() + 1);
        self.density
            .logp_grad(position, gradient)
            .map_err(NutsRsError)
    }

    fn expand_vector<R>(&mut self, _rng: &mut R, _array: &[f64]) -> Result<(), CpuMathError>
    where
        R: nuts_rs::rand::Rng + ?Sized,
    {
        Ok(())
    }
}

fn nuts_rs_settings(seed: u64) -> DiagNutsSettings {
    let mut settings = DiagNutsSettings {
        num_tune: NUM_WARMUP as u64,
        num_draws: NUM_DRAWS as u64,
        num_chains: NUM_CHAINS,
        seed,
        maxdepth: u64::from(MAX_TREE_DEPTH),
        ..Default::default()
    };
    settings.adapt_options.step_size_settings.target_accept = TARGET_ACCEPT;
    settings
}

/// One nuts-rs chain's output.
#[derive(Default)]
pub(super) struct NutsRsChain {
    /// Unconstrained draws after warm-up, row-major.
    pub(super) rows: Vec<f64>,
    pub(super) grad_evals: u64,
    pub(super) warmup_grad_evals: u64,
    pub(super) divergences: usize,
    /// Mean step size after warm-up (nuts-rs jitters it per draw).
    pub(super) step_size: f64,
    /// Mean acceptance statistic after warm-up (only with `inspect`).
    pub(super) accept_stat: Option<f64>,
    /// Diagonal inverse mass matrix after warm-up (only with `inspect`).
    pub(super) inv_metric: Option<Vec<f64>>,
}

/// Chain `c` of nuts-rs, seeded as nuts-rs' own `Sampler` seeds it (stream `c + 1` of the
/// seed), started uniform on (−2, 2). Timed runs use the lean `Chain::draw` (no trace
/// storage); `inspect` uses `expanded_draw` for the acceptance statistics and the mass
/// matrix.
pub(super) fn nuts_rs_chain(
    data: &Cookies,
    seed: u64,
    c: usize,
    inspect: bool,
) -> BoxResult<NutsRsChain> {
    let mut settings = nuts_rs_settings(seed);
    settings.adapt_options.mass_matrix_options.store_mass_matrix = inspect;
    let target = density(data)?;
    let dim = target.dim();
    let calls = Rc::new(Cell::new(0));
    let math = CpuMath::new(Counted {
        density: target,
        dim,
        calls: Rc::clone(&calls),
    });
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(c as u64 + 1);
    let mut chain = settings.new_chain(c as u64, math, &mut rng)?;
    let mut init = vec![0.0; dim];
    let mut started = false;
    for _ in 0..INIT_TRIES {
        init.iter_mut()
            .for_each(|x| *x = rng.random_range(-2.0..2.0));
        if chain.set_position(&init).is_ok() {
            started = true;
            break;
        }
    }
    if !started {
        return Err(format!("nuts-rs chain {c}: no finite initial point").into());
    }
    let mut out = NutsRsChain::default();
    out.rows.reserve(NUM_DRAWS * dim);
    let mut accept = 0.0;
    for i in 0..NUM_WARMUP + NUM_DRAWS {
        if i == NUM_WARMUP {
            out.warmup_grad_evals = calls.get();
        }
        let (draw, progress) = if inspect {
            let (draw, _, stats, progress) = chain.expanded_draw()?;
            if let Some(stds) = stats.hamiltonian.transformation.mass_matrix_inv {
                // nuts-rs stores the standard deviations: square them.
                out.inv_metric = Some(stds.iter().map(|s| s * s).collect());
            }
            if i >= NUM_WARMUP {
                accept += stats.adapt.step_size.mean_tree_accept;
            }
            (draw, progress)
        } else {
            chain.draw()?
        };
        if i >= NUM_WARMUP {
            out.rows.extend_from_slice(&draw);
            out.divergences += usize::from(progress.diverging);
            out.step_size += progress.step_size / NUM_DRAWS as f64;
        }
    }
    out.grad_evals = calls.get();
    out.accept_stat = inspect.then_some(accept / NUM_DRAWS as f64);
    Ok(out)
}

/// nuts-rs, chains one after the other on this thread.
pub(super) fn nuts_rs_sequential(data: &Cookies, seed: u64) -> BoxResult<Run> {
    let watch = Stopwatch::start();
    let mut run = Run::default();
    for c in 0..NUM_CHAINS {
        let chain = nuts_rs_chain(data, seed, c, false)?;
        run.grad_evals += chain.grad_evals;
        run.sampling_grad_evals += chain.grad_evals - chain.warmup_grad_evals;
        run.divergences += chain.divergences;
        run.step_size += chain.step_size / NUM_CHAINS as f64;
        run.draws.push(chain.rows);
    }
    (run.seconds, run.cpu_seconds) = watch.stop();
    Ok(run)
}
