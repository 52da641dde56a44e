//! Running chains: initialization, the step-size heuristic, warm-up and sampling.

use std::time::Instant;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::adapt::{DualAveraging, Windows};
use crate::grad_adapt::{GradDiagAdapt, initial_inverse_metric};
use crate::hamiltonian::{Hamiltonian, Point, State};
use crate::metric::EuclideanMetric;
use crate::nuts::{Nuts, Transition};
use crate::static_hmc::StaticHmc;
use crate::welford::Welford;
use crate::{
    Algorithm, Chain, DrawStats, Init, LogDensity, LogpError, MAX_INIT_TRIES, McmcError, Metric,
    Progress, ProgressUpdate, Settings, Warmup,
};

/// Runs `settings.num_chains` chains in parallel (rayon) and returns them in chain order.
///
/// `make_density(c)` builds chain `c`'s density inside the thread that runs it, so the
/// density needs neither `Send` nor `Sync` (an autodiff tape, a model with caches). Chain
/// `c` draws from stream `c` of `ChaCha8Rng::seed_from_u64(settings.seed)`: the result is
/// the same for any number of threads. To choose the threads, call `sample` inside
/// `rayon::ThreadPool::install`.
///
/// `progress`, when given, is called after every iteration of every chain, from the
/// chains' threads.
///
/// Every chain runs to its end; if some fail, the error of the lowest-numbered failed
/// chain is returned (for instance [`McmcError::Density`] when the density returned
/// [`LogpError::Fatal`]).
pub fn sample<D, F>(
    make_density: F,
    settings: &Settings,
    progress: Option<Progress<'_>>,
) -> Result<Vec<Chain>, McmcError>
where
    F: Fn(usize) -> D + Sync,
    D: LogDensity,
{
    settings.validate()?;
    let results: Vec<Result<Chain, McmcError>> = (0..settings.num_chains)
        .into_par_iter()
        .map(|c| {
            let mut density = make_density(c);
            sample_chain(&mut density, c, settings, progress)
        })
        .collect();
    let chains = results.into_iter().collect::<Result<Vec<_>, _>>()?;
    if let Some(first) = chains.first()
        && let Some(other) = chains.iter().find(|c| c.dim != first.dim)
    {
        return Err(McmcError::DimensionMismatch {
            chain: other.chain,
            expected: first.dim,
            found: other.dim,
        });
    }
    Ok(chains)
}

/// Runs chain number `chain` of `settings` on the calling thread: the same draws as chain
/// `chain` of [`sample`] (`settings.num_chains` only matters for `Init::Given`).
pub fn sample_chain<D: LogDensity + ?Sized>(
    density: &mut D,
    chain: usize,
    settings: &Settings,
    progress: Option<Progress<'_>>,
) -> Result<Chain, McmcError> {
    settings.validate()?;
    let start = Instant::now();
    let dim = density.dim();
    if dim == 0 {
        return Err(McmcError::ZeroDimension);
    }
    let fatal = |source: LogpError| McmcError::Density { chain, source };
    let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
    rng.set_stream(chain as u64);
    let mut ham = Hamiltonian {
        density,
        metric: EuclideanMetric::identity(settings.metric, dim),
        grad_evals: 0,
    };

    let mut state = State::new(dim);
    initialize(&mut ham, &mut state, chain, settings, &mut rng)?;
    let init = state.q.clone();

    let mut kernel = match settings.algorithm {
        Algorithm::StaticHmc { n_leapfrog } => {
            Kernel::Static(StaticHmc::new(dim, n_leapfrog, settings.max_energy_error))
        }
        _ => Kernel::Nuts(Box::new(Nuts::new(
            dim,
            settings.max_tree_depth,
            settings.max_energy_error,
        ))),
    };
    let total = settings.num_warmup + settings.num_draws;
    let report = |done: usize, divergences: usize, warmup_divergences: usize| {
        if let Some(f) = progress {
            f(ProgressUpdate {
                chain,
                draws_done: done,
                total,
                warmup: done < settings.num_warmup,
                divergences,
                warmup_divergences,
            });
        }
    };

    // Warm-up: Stan's windowed adaptation or nuts-rs' gradient-based one.
    let a = &settings.adaptation;
    let mut scratch = Point::new(dim);
    if matches!(settings.warmup, Warmup::GradDiag(_)) && settings.num_warmup > 0 {
        ham.metric = EuclideanMetric::diagonal(initial_inverse_metric(&state.grad))
            .ok_or(McmcError::MetricOverflow { chain })?;
    }
    let mut eps = init_stepsize(
        &mut ham,
        &state,
        &mut scratch,
        a.initial_step_size,
        &mut rng,
        chain,
    )?;
    let mut adapter = match &settings.warmup {
        Warmup::GradDiag(schedule) => Adapter::GradDiag(Box::new(GradDiagAdapt::new(
            &state.q,
            &state.grad,
            eps,
            settings.num_warmup,
            settings.target_accept,
            schedule,
            a,
        ))),
        _ => Adapter::Stan(Box::new(StanAdapt {
            dual: DualAveraging::new(a, settings.target_accept, (10.0 * a.initial_step_size).ln()),
            windows: Windows::new(settings.num_warmup, a),
            welford: Welford::new(dim, settings.metric == Metric::Dense),
        })),
    };
    let jitter = settings.step_size_jitter;
    let mut start_q = vec![0.0; dim];
    let mut warmup_draws = Vec::new();
    let mut warmup_stats = Vec::new();
    let mut warmup_divergences = 0;
    for i in 0..settings.num_warmup {
        start_q.copy_from_slice(&state.q);
        let eps_i = jittered(eps, jitter, &mut rng);
        let t = kernel
            .transition(&mut ham, &mut state, eps_i, &mut rng)
            .map_err(fatal)?;
        warmup_divergences += usize::from(t.divergent);
        if settings.save_warmup {
            warmup_draws.extend_from_slice(&state.q);
            warmup_stats.push(stats(&t, &state, eps_i));
        }
        match &mut adapter {
            Adapter::Stan(stan) => {
                let StanAdapt {
                    dual,
                    windows,
                    welford,
                } = &mut **stan;
                eps = dual.learn(t.accept_stat);
                let step = windows.step();
                if step.collect {
                    welford.add(&state.q);
                }
                if step.end {
                    ham.metric = regularized_metric(welford, settings.metric, dim)
                        .ok_or(McmcError::MetricOverflow { chain })?;
                    welford.restart();
                    eps = init_stepsize(&mut ham, &state, &mut scratch, eps, &mut rng, chain)?;
                    dual.restart((10.0 * eps).ln());
                }
            }
            Adapter::GradDiag(g) => {
                let moved = start_q != state.q;
                let step = g.step(i, &t, &state.q, &state.grad, moved);
                eps = step.step_size;
                if step.metric_changed {
                    ham.metric = EuclideanMetric::diagonal(g.inverse_metric().to_vec())
                        .ok_or(McmcError::MetricOverflow { chain })?;
                }
                if step.reinit_step_size {
                    eps = init_stepsize(&mut ham, &state, &mut scratch, eps, &mut rng, chain)?;
                    g.set_step_size(eps);
                }
            }
        }
        report(i + 1, 0, warmup_divergences);
    }
    if settings.num_warmup > 0 {
        eps = match &adapter {
            Adapter::Stan(stan) => stan.dual.final_step_size(),
            Adapter::GradDiag(g) => g.final_step_size(),
        };
    }
    let warmup_seconds = start.elapsed().as_secs_f64();

    // Sampling with the adapted step size and metric.
    let start = Instant::now();
    let mut draws = Vec::with_capacity(settings.num_draws * dim);
    let mut draw_stats = Vec::with_capacity(settings.num_draws);
    let mut divergences = 0;
    for i in 0..settings.num_draws {
        let eps_i = jittered(eps, jitter, &mut rng);
        let t = kernel
            .transition(&mut ham, &mut state, eps_i, &mut rng)
            .map_err(fatal)?;
        divergences += usize::from(t.divergent);
        draws.extend_from_slice(&state.q);
        draw_stats.push(stats(&t, &state, eps_i));
        report(settings.num_warmup + i + 1, divergences, warmup_divergences);
    }
    Ok(Chain {
        chain,
        dim,
        draws,
        stats: draw_stats,
        warmup_draws,
        warmup_stats,
        init,
        step_size: eps,
        inv_metric: ham.metric.inverse(),
        grad_evals: ham.grad_evals,
        warmup_seconds,
        sampling_seconds: start.elapsed().as_secs_f64(),
    })
}

/// The warm-up of a chain: Stan's dual averaging, windows and (co)variance estimate, or
/// nuts-rs' gradient-based adaptation.
/// (Both boxed: they are created once per chain and differ in size.)
enum Adapter {
    Stan(Box<StanAdapt>),
    GradDiag(Box<GradDiagAdapt>),
}

/// Stan's warm-up state.
struct StanAdapt {
    dual: DualAveraging,
    windows: Windows,
    welford: Welford,
}

/// `eps` times a uniform factor on (1 − j, 1 + j); `eps` itself, drawing nothing, when j = 0.
fn jittered(eps: f64, j: f64, rng: &mut ChaCha8Rng) -> f64 {
    if j > 0.0 {
        eps * rng.random_range(1.0 - j..1.0 + j)
    } else {
        eps
    }
}

/// The transition kernel of a chain.
enum Kernel {
    Nuts(Box<Nuts>),
    Static(StaticHmc),
}

impl Kernel {
    fn transition<D: LogDensity + ?Sized>(
        &mut self,
        ham: &mut Hamiltonian<'_, D>,
        state: &mut State,
        eps: f64,
        rng: &mut ChaCha8Rng,
    ) -> Result<Transition, LogpError> {
        match self {
            Kernel::Nuts(k) => k.transition(ham, state, eps, rng),
            Kernel::Static(k) => k.transition(ham, state, eps, rng),
        }
    }
}

fn stats(t: &Transition, state: &State, eps: f64) -> DrawStats {
    DrawStats {
        lp: state.logp,
        accept_stat: t.accept_stat,
        step_size: eps,
        tree_depth: t.tree_depth,
        n_leapfrog: t.n_leapfrog,
        divergent: t.divergent,
        energy: state.energy,
    }
}

/// Stan's regularization of the window's estimate: (n / (n + 5)) Σ̂ + 1e-3 (5 / (n + 5)) I,
/// which shrinks towards a small multiple of the identity when the window is short.
fn regularized_metric(welford: &Welford, kind: Metric, dim: usize) -> Option<EuclideanMetric> {
    let n = welford.count() as f64;
    let mut est = welford.estimate();
    for v in est.iter_mut() {
        *v *= n / (n + 5.0);
    }
    let shrink = 1e-3 * (5.0 / (n + 5.0));
    if kind == Metric::Dense {
        for i in 0..dim {
            est[i * dim + i] += shrink;
        }
        EuclideanMetric::dense(est, dim)
    } else {
        for v in est.iter_mut() {
            *v += shrink;
        }
        EuclideanMetric::diagonal(est)
    }
}

/// Finds the starting point: given, or uniform on (−r, r)^d until the log density and its
/// gradient are finite (at most [`MAX_INIT_TRIES`] points).
fn initialize<D: LogDensity + ?Sized>(
    ham: &mut Hamiltonian<'_, D>,
    state: &mut State,
    chain: usize,
    settings: &Settings,
    rng: &mut ChaCha8Rng,
) -> Result<(), McmcError> {
    let fatal = |source: LogpError| McmcError::Density { chain, source };
    let dim = state.q.len();
    match &settings.init {
        Init::Given(points) => {
            let Some(point) = points.get(chain) else {
                return Err(McmcError::InitCount {
                    expected: chain + 1,
                    found: points.len(),
                });
            };
            if point.len() != dim {
                return Err(McmcError::InitLength {
                    chain,
                    expected: dim,
                    found: point.len(),
                });
            }
            state.q.copy_from_slice(point);
            if !point.iter().all(|x| x.is_finite()) || !ham.evaluate(state).map_err(fatal)? {
                return Err(McmcError::InitNotFinite { chain });
            }
            Ok(())
        }
        Init::Uniform { radius } => {
            for _ in 0..MAX_INIT_TRIES {
                for q in state.q.iter_mut() {
                    *q = rng.random_range(-radius..*radius);
                }
                if ham.evaluate(state).map_err(fatal)? {
                    return Ok(());
                }
            }
            Err(McmcError::InitFailed {
                chain,
                tries: MAX_INIT_TRIES,
            })
        }
    }
}

/// Stan's `base_hmc::init_stepsize`: double (or halve) ε until one leapfrog step from
/// `state` with a fresh momentum crosses an acceptance probability of 0.8.
fn init_stepsize<D: LogDensity + ?Sized>(
    ham: &mut Hamiltonian<'_, D>,
    state: &State,
    z: &mut Point,
    mut eps: f64,
    rng: &mut ChaCha8Rng,
    chain: usize,
) -> Result<f64, McmcError> {
    if eps == 0.0 || eps > 1e7 || eps.is_nan() {
        return Ok(eps);
    }
    let log_target = 0.8f64.ln();
    let mut delta_h = |eps: f64| -> Result<f64, McmcError> {
        ham.start(state, z, rng);
        let h0 = z.energy();
        let ok = ham
            .leapfrog(z, eps)
            .map_err(|source| McmcError::Density { chain, source })?;
        let h = if ok { z.energy() } else { f64::INFINITY };
        Ok(if h.is_nan() {
            f64::NEG_INFINITY
        } else {
            h0 - h
        })
    };
    let up = delta_h(eps)? > log_target;
    loop {
        let dh = delta_h(eps)?;
        if (up && dh <= log_target) || (!up && dh >= log_target) {
            return Ok(eps);
        }
        eps = if up { 2.0 * eps } else { 0.5 * eps };
        if eps > 1e7 || eps == 0.0 {
            return Err(McmcError::StepSize {
                chain,
                step_size: eps,
            });
        }
    }
}
