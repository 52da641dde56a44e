//! Our NUTS (`mcmc`) against the `nuts-rs` crate (pymc-devs, the sampler of nutpie; in
//! `nuts_compare/baseline.rs`) on the same `LogDensity`: the exact hierarchical cookie
//! model through [`bridge::ModelDensity`] (7 unconstrained dimensions). Ours runs twice:
//! with Stan's warm-up (`Settings::default()`, row "Stan") and with `Warmup::GradDiag`,
//! nuts-rs' warm-up, plus nuts-rs' default step-size jitter of 0.1 (row "GradDiag").
//!
//! All samplers run 4 chains × (1000 warm-up + 2000 draws), target acceptance 0.9,
//! maximum tree depth 10, a diagonal mass matrix, initial points uniform on (−2, 2) and
//! fixed seeds; every other setting is each crate's default. The chains run one after
//! the other on the calling thread (`seq`); ours with GradDiag also runs once more with
//! its chains in parallel on rayon's default pool (`par`). Each repetition uses a
//! new seed and runs the samplers interleaved, so that load on the machine hits them
//! alike; the table shows medians over the repetitions.
//!
//! Gradient evaluations are everything the density was asked for: ours from
//! `Chain::grad_evals`, nuts-rs' counted inside the `CpuLogpFunc::logp` wrapper. ESS is
//! the bulk and tail ESS (`mcmc::diagnostics`) of the constrained draws after warm-up,
//! the smallest over the 7 parameters, computed by the same code for both. Time per
//! gradient evaluation is the calling thread's CPU time (Linux's scheduler accounting,
//! `/proc/thread-self/schedstat`) over the sequential run: on a shared machine wall time
//! also measures the other processes. The bare CPU cost of one gradient evaluation,
//! timed on the posterior draws of the same repetition, is the baseline for each
//! sampler's overhead per gradient.
//!
//! `cargo bench -p bridge --features nuts-rs-bench --bench nuts_compare [-- REPS [FIRST_SEED]]`

#![allow(clippy::print_stdout)]

#[path = "nuts_compare/baseline.rs"]
mod baseline;

use std::error::Error;
use std::hint::black_box;
use std::time::Instant;

use baseline::{nuts_rs_chain, nuts_rs_sequential};
use bridge::ModelDensity;
use mcmc::diagnostics::{ess_bulk, ess_tail};
use mcmc::{LogDensity, Settings};
use ppl::cookies::{self, Cookies};
use ppl::{Model, ModelFn};

type BoxResult<T> = Result<T, Box<dyn Error>>;

const NUM_CHAINS: usize = 4;
const NUM_WARMUP: usize = 1000;
const NUM_DRAWS: usize = 2000;
const TARGET_ACCEPT: f64 = 0.9;
const MAX_TREE_DEPTH: u32 = 10;
/// Default seed of the first repetition (the second bench argument overrides it);
/// repetition `r` uses `first seed + r`.
const FIRST_SEED: u64 = 20_241_125;
/// Default repetitions (one seed each); the first bench argument overrides it.
const DEFAULT_REPS: usize = 5;
/// Initial points per chain tried before giving up (nuts-rs; ours has its own retries).
const INIT_TRIES: usize = 100;

/// The hierarchical cookie model as a density (traced once per call).
fn density(data: &Cookies) -> BoxResult<ModelDensity<impl ModelFn + '_>> {
    Ok(ModelDensity::new(move |m: &mut Model<'_>| {
        cookies::hierarchical(m, data)
    })?)
}

/// What one run of 4 chains produced.
#[derive(Default)]
struct Run {
    seconds: f64,
    /// On-CPU time of the calling thread (sequential runs on Linux), robust to the load
    /// of other processes on a shared machine.
    cpu_seconds: Option<f64>,
    grad_evals: u64,
    /// Gradient evaluations after warm-up.
    sampling_grad_evals: u64,
    divergences: usize,
    /// Mean step size after warm-up.
    step_size: f64,
    /// Unconstrained draws after warm-up, row-major, one `Vec` per chain.
    draws: Vec<Vec<f64>>,
}

/// Which of our warm-ups a run uses.
#[derive(Clone, Copy)]
enum Ours {
    /// Stan's windowed warm-up, fixed step size (`Settings::default()`).
    Stan,
    /// `Warmup::GradDiag` (nuts-rs' schedule and draw + gradient metric) with nuts-rs'
    /// default step-size jitter of 0.1.
    GradDiag,
}

fn our_settings(seed: u64, ours: Ours) -> Settings {
    let (warmup, step_size_jitter) = match ours {
        Ours::Stan => (mcmc::Warmup::Stan, 0.0),
        Ours::GradDiag => (mcmc::Warmup::GradDiag(mcmc::GradDiag::default()), 0.1),
    };
    Settings {
        warmup,
        step_size_jitter,
        num_warmup: NUM_WARMUP,
        num_draws: NUM_DRAWS,
        num_chains: NUM_CHAINS,
        seed,
        target_accept: TARGET_ACCEPT,
        max_tree_depth: MAX_TREE_DEPTH,
        metric: mcmc::Metric::Diagonal,
        ..Default::default()
    }
}

/// On-CPU time of the calling thread so far, from Linux's `/proc/thread-self/schedstat`
/// (nanoseconds, scheduler accounting); `None` elsewhere.
fn thread_cpu_seconds() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = text.split_whitespace().next()?.parse().ok()?;
    Some(ns * 1e-9)
}

/// Wall and thread-CPU stopwatch.
struct Stopwatch {
    wall: Instant,
    cpu: Option<f64>,
}

impl Stopwatch {
    fn start() -> Self {
        Stopwatch {
            wall: Instant::now(),
            cpu: thread_cpu_seconds(),
        }
    }

    /// Wall seconds and thread-CPU seconds since `start`.
    fn stop(&self) -> (f64, Option<f64>) {
        let wall = self.wall.elapsed().as_secs_f64();
        let cpu = thread_cpu_seconds().zip(self.cpu).map(|(b, a)| b - a);
        (wall, cpu)
    }
}

/// Collects our chains into a [`Run`].
fn our_run(chains: &[mcmc::Chain], (seconds, cpu_seconds): (f64, Option<f64>)) -> Run {
    let sampling: u64 = chains
        .iter()
        .flat_map(|c| &c.stats)
        .map(|s| u64::from(s.n_leapfrog))
        .sum();
    Run {
        seconds,
        cpu_seconds,
        grad_evals: chains.iter().map(|c| c.grad_evals).sum(),
        sampling_grad_evals: sampling,
        divergences: chains.iter().map(mcmc::Chain::divergences).sum(),
        step_size: chains.iter().map(|c| c.step_size).sum::<f64>() / chains.len() as f64,
        draws: chains.iter().map(|c| c.draws.clone()).collect(),
    }
}

/// Ours, chains one after the other on this thread (`sample_chain` gives chain `c` of
/// `sample`).
fn ours_sequential(data: &Cookies, seed: u64, ours: Ours) -> BoxResult<Run> {
    let settings = our_settings(seed, ours);
    let watch = Stopwatch::start();
    let mut chains = Vec::with_capacity(NUM_CHAINS);
    for c in 0..NUM_CHAINS {
        let mut target = density(data)?;
        chains.push(mcmc::sample_chain(&mut target, c, &settings, None)?);
    }
    Ok(our_run(&chains, watch.stop()))
}

/// Ours, chains in parallel on rayon's global pool.
fn ours_parallel(data: &Cookies, seed: u64, ours: Ours) -> BoxResult<Run> {
    let settings = our_settings(seed, ours);
    let start = Instant::now();
    let chains = mcmc::sample(
        |_| density(data).expect("the model traces"),
        &settings,
        None,
    )?;
    // Other threads did the work: the calling thread's CPU time means nothing.
    Ok(our_run(&chains, (start.elapsed().as_secs_f64(), None)))
}

/// What each sampler's warm-up ended with, chain by chain (untimed): step size,
/// acceptance statistic and sampling cost after warm-up, and the diagonal inverse metric
/// relative to the posterior variances of the unconstrained draws (pooled over both
/// samplers' chains), the value an ideal diagonal metric would have.
fn inspect_adaptation(data: &Cookies, seed: u64) -> BoxResult<()> {
    let mut ours = Vec::with_capacity(2 * NUM_CHAINS);
    let mut theirs = Vec::with_capacity(NUM_CHAINS);
    for c in 0..NUM_CHAINS {
        for (label, kind) in [("Stan    ", Ours::Stan), ("GradDiag", Ours::GradDiag)] {
            let mut target = density(data)?;
            let settings = our_settings(seed, kind);
            ours.push((label, mcmc::sample_chain(&mut target, c, &settings, None)?));
        }
        theirs.push(nuts_rs_chain(data, seed, c, true)?);
    }
    let dim = ours[0].1.dim;
    let rows: Vec<&[f64]> = ours
        .iter()
        .flat_map(|(_, c)| c.draws.chunks_exact(dim))
        .chain(theirs.iter().flat_map(|c| c.rows.chunks_exact(dim)))
        .collect();
    let n = rows.len() as f64;
    let mean: Vec<f64> = (0..dim)
        .map(|j| rows.iter().map(|r| r[j]).sum::<f64>() / n)
        .collect();
    let var: Vec<f64> = (0..dim)
        .map(|j| rows.iter().map(|r| (r[j] - mean[j]).powi(2)).sum::<f64>() / (n - 1.0))
        .collect();
    let relative = |m: Option<&[f64]>| -> String {
        m.map_or("–".to_string(), |m| {
            let r: Vec<String> = m
                .iter()
                .zip(&var)
                .map(|(a, v)| format!("{:.2}", a / v))
                .collect();
            r.join(" ")
        })
    };
    println!(
        "\nadaptation, seed {seed}: inverse metric / posterior variance per unconstrained coordinate"
    );
    for (label, chain) in &ours {
        let grads: u64 = chain.stats.iter().map(|s| u64::from(s.n_leapfrog)).sum();
        let metric = match &chain.inv_metric {
            mcmc::InverseMetric::Diagonal(d) => Some(d.as_slice()),
            _ => None,
        };
        println!(
            "  ours {label} chain {}: step {:.3}, accept {:.3}, grads/draw {:.2}, metric [{}]",
            chain.chain,
            chain.step_size,
            chain.mean_accept_stat(),
            grads as f64 / NUM_DRAWS as f64,
            relative(metric)
        );
    }
    for (c, chain) in theirs.iter().enumerate() {
        let grads = chain.grad_evals - chain.warmup_grad_evals;
        println!(
            "  nuts-rs      chain {c}: step {:.3}, accept {:.3}, grads/draw {:.2}, metric [{}]",
            chain.step_size,
            chain.accept_stat.unwrap_or(f64::NAN),
            grads as f64 / NUM_DRAWS as f64,
            relative(chain.inv_metric.as_deref())
        );
    }
    Ok(())
}

/// The figures of one run, as table columns.
struct Figures {
    values: Vec<f64>,
    /// Posterior means of the constrained parameters, in column order.
    means: Vec<f64>,
}

/// Column headers of [`Figures::values`].
const COLUMNS: [&str; 15] = [
    "wall s",
    "CPU s",
    "grad evals",
    "of which warm-up",
    "CPU µs / grad",
    "overhead µs / grad",
    "min bulk ESS",
    "min tail ESS",
    "bulk ESS / 1k grads",
    "tail ESS / 1k grads",
    "bulk ESS / wall s",
    "bulk ESS / CPU s",
    "divergences",
    "step size",
    "grads / draw",
];

/// ESS and means of the constrained draws, with the run's costs.
fn figures(run: &Run, probe: &ModelDensity<impl ModelFn>, bare_us: f64) -> BoxResult<Figures> {
    let dim = probe.dim();
    let names = probe.column_names();
    let mut constrained: Vec<Vec<f64>> = Vec::with_capacity(run.draws.len());
    for chain in &run.draws {
        let mut rows = Vec::with_capacity(chain.len());
        for x in chain.chunks_exact(dim) {
            rows.extend(probe.constrained_row(x)?);
        }
        constrained.push(rows);
    }
    let k = names.len();
    let (mut min_bulk, mut min_tail) = (f64::INFINITY, f64::INFINITY);
    let mut means = Vec::with_capacity(k);
    for j in 0..k {
        let columns: Vec<Vec<f64>> = constrained
            .iter()
            .map(|c| c.iter().skip(j).step_by(k).copied().collect())
            .collect();
        let slices: Vec<&[f64]> = columns.iter().map(Vec::as_slice).collect();
        min_bulk = min_bulk.min(ess_bulk(&slices)?);
        min_tail = min_tail.min(ess_tail(&slices)?);
        let n: usize = columns.iter().map(Vec::len).sum();
        means.push(columns.iter().flatten().sum::<f64>() / n as f64);
    }
    let grads = run.grad_evals as f64;
    let cpu = run.cpu_seconds.unwrap_or(f64::NAN);
    let us_per_grad = cpu * 1e6 / grads;
    let values = vec![
        run.seconds,
        cpu,
        grads,
        (run.grad_evals - run.sampling_grad_evals) as f64,
        us_per_grad,
        us_per_grad - bare_us,
        min_bulk,
        min_tail,
        1e3 * min_bulk / grads,
        1e3 * min_tail / grads,
        min_bulk / run.seconds,
        min_bulk / cpu,
        run.divergences as f64,
        run.step_size,
        run.sampling_grad_evals as f64 / (NUM_CHAINS * NUM_DRAWS) as f64,
    ];
    Ok(Figures { values, means })
}

/// Thread-CPU microseconds (wall where that is unknown) of one bare `logp_grad` of the
/// model, averaged over the given unconstrained points (a few passes).
fn bare_gradient_us(data: &Cookies, points: &[Vec<f64>]) -> BoxResult<f64> {
    let mut target = density(data)?;
    let dim = target.dim();
    let mut grad = vec![0.0; dim];
    let mut n = 0u64;
    let watch = Stopwatch::start();
    for _ in 0..3 {
        for x in points.iter().flat_map(|c| c.chunks_exact(dim)) {
            black_box(target.logp_grad(black_box(x), &mut grad)?);
            n += 1;
        }
    }
    let (wall, cpu) = watch.stop();
    Ok(cpu.unwrap_or(wall) * 1e6 / n as f64)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        0.5 * (xs[n / 2 - 1] + xs[n / 2])
    }
}

/// Column-wise medians of the repetitions.
fn medians(reps: &[Figures]) -> Figures {
    let col = |f: &dyn Fn(&Figures) -> &Vec<f64>, j: usize| {
        median(reps.iter().map(|r| f(r)[j]).collect())
    };
    let n_values = reps[0].values.len();
    let n_means = reps[0].means.len();
    Figures {
        values: (0..n_values).map(|j| col(&|r| &r.values, j)).collect(),
        means: (0..n_means).map(|j| col(&|r| &r.means, j)).collect(),
    }
}

/// A number with as many decimals as its size deserves.
fn fmt(x: f64) -> String {
    let a = x.abs();
    if x.is_nan() {
        "–".to_string()
    } else if a >= 1000.0 || x == x.round() && a < 1e6 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else if a >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

/// The samplers, in table order: label and how to run them.
type Sampler = (&'static str, fn(&Cookies, u64) -> BoxResult<Run>);

const SAMPLERS: [Sampler; 4] = [
    ("mcmc Stan, seq", |d, s| ours_sequential(d, s, Ours::Stan)),
    ("mcmc GradDiag, seq", |d, s| {
        ours_sequential(d, s, Ours::GradDiag)
    }),
    ("nuts-rs 0.19, seq", nuts_rs_sequential),
    ("mcmc GradDiag, par", |d, s| {
        ours_parallel(d, s, Ours::GradDiag)
    }),
];

fn main() -> BoxResult<()> {
    let numbers: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let reps = numbers.first().map_or(DEFAULT_REPS, |&r| r as usize).max(1);
    let first_seed = numbers.get(1).copied().unwrap_or(FIRST_SEED);
    let data = Cookies::load()?;
    let probe = density(&data)?;
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "hierarchical cookie model, {} unconstrained dims; {NUM_CHAINS} chains × \
         ({NUM_WARMUP} warm-up + {NUM_DRAWS} draws), target accept {TARGET_ACCEPT}, max tree \
         depth {MAX_TREE_DEPTH}, diagonal metric; {reps} repetitions; `par` on {threads} threads",
        probe.dim()
    );
    // Untimed: what the two warm-ups ended with; also warms the caches for both.
    inspect_adaptation(&data, first_seed)?;
    let mut results: Vec<Vec<Figures>> = SAMPLERS.iter().map(|_| Vec::new()).collect();
    for rep in 0..reps {
        let seed = first_seed + rep as u64;
        let runs = SAMPLERS
            .iter()
            .map(|(_, run)| run(&data, seed))
            .collect::<BoxResult<Vec<Run>>>()?;
        let bare = bare_gradient_us(&data, &runs[0].draws)?;
        println!("seed {seed}: bare gradient {bare:.3} CPU µs");
        for ((name, _), (run, out)) in SAMPLERS.iter().zip(runs.iter().zip(&mut results)) {
            let f = figures(run, &probe, bare)?;
            println!(
                "  {name:<18} {:.3} s wall, {} CPU s, {} grads, min ESS bulk {:.0} / tail {:.0}, {} divergences",
                run.seconds,
                fmt(f.values[1]),
                run.grad_evals,
                f.values[6],
                f.values[7],
                run.divergences
            );
            out.push(f);
        }
    }

    println!("\nmedians over {reps} repetitions\n");
    println!("| sampler | {} |", COLUMNS.join(" | "));
    println!("|---|{}", "---:|".repeat(COLUMNS.len()));
    let med: Vec<Figures> = results.iter().map(|r| medians(r)).collect();
    for ((name, _), m) in SAMPLERS.iter().zip(&med) {
        let cells: Vec<String> = m.values.iter().map(|&x| fmt(x)).collect();
        println!("| {name} | {} |", cells.join(" | "));
    }
    println!("\nposterior means (median over repetitions)\n");
    println!("| sampler | {} |", probe.column_names().join(" | "));
    println!("|---|{}", "---:|".repeat(probe.dim()));
    for ((name, _), m) in SAMPLERS.iter().zip(&med) {
        let cells: Vec<String> = m.means.iter().map(|x| format!("{x:.3}")).collect();
        println!("| {name} | {} |", cells.join(" | "));
    }
    let theirs = &med[2].values;
    for (label, ours) in [("Stan", &med[0].values), ("GradDiag", &med[1].values)] {
        println!(
            "\nours ({label}) / nuts-rs (seq): bulk ESS per grad {:.2}×, tail ESS per grad \
             {:.2}×, time per grad {:.2}× (goal: ESS per grad ≥ 1, time per grad ≤ 1.2)",
            ours[8] / theirs[8],
            ours[9] / theirs[9],
            ours[4] / theirs[4]
        );
    }
    Ok(())
}
