//! Our side of `crates/nle/scripts/sbi_baseline.py`: NLE training on the cookie task
//! and on sbibm's gaussian_linear, timed with 1 and 2 rayon threads, plus the
//! simulation throughput of the same tasks. The networks have the python script's
//! sizes (crates/nle/README.md, "Speed vs sbi", says where they differ).
//!
//! `cargo run --release -p nle --example sbi_compare -- [--threads 1 2] [--seed 1]
//! [--no-sim] [--cookie-default] [--only cookie|gaussian_linear]`
//!
//! - cookie: θ ~ Gamma(2, rate 0.2), x ~ Poisson(θ), 50,000 simulations, counts above
//!   40 left out; the categorical estimator of `xtask/src/cookie_nle.rs` (z-scored
//!   ln θ, one hidden layer of 30 squareplus units, logits of 0..=40).
//!   `--cookie-default` adds sbi's default sizes (θ, 2 hidden layers of 20, ReLU).
//! - gaussian_linear: 10,000 simulations, sbi's default MAF (`MafConfig::default()`).
//!
//! Training: `nle::train_on` with `TrainConfig::default()` (sbi's defaults). The
//! time is the estimator's construction (z-scoring) plus training, as the python
//! script times `NLE.train()`.
#![allow(clippy::print_stdout)]

use std::time::Instant;

use anyhow::{Context as _, bail};
use flows::{Activation, CategoricalConfig, MafConfig, RowsView};
use nle::{BuildEstimator, Dataset, TrainConfig, simulate, train_on};
use simulators::tasks::{Cookie, GaussianLinear, TwoMoons};
use simulators::{Prior, Simulator, Task};

const MAX_COUNT: i64 = 40;

struct Args {
    threads: Vec<usize>,
    seed: u64,
    sim: bool,
    cookie_default: bool,
    only: Option<String>,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        threads: vec![1, 2],
        seed: 1,
        sim: true,
        cookie_default: false,
        only: None,
    };
    let mut it = std::env::args().skip(1).peekable();
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--threads" => {
                a.threads.clear();
                while let Some(v) = it.next_if(|v| !v.starts_with("--")) {
                    a.threads.push(v.parse().context("--threads")?);
                }
            }
            "--seed" => a.seed = it.next().context("--seed needs a value")?.parse()?,
            "--no-sim" => a.sim = false,
            "--cookie-default" => a.cookie_default = true,
            "--only" => a.only = Some(it.next().context("--only needs a value")?),
            other => bail!("unknown argument {other}"),
        }
    }
    Ok(a)
}

/// Simulations per second of `nle::simulate` (best of 5 runs of 200,000).
fn throughput(prior: &dyn Prior, sim: &dyn Simulator, seed: u64) -> anyhow::Result<f64> {
    let n = 200_000;
    let mut best = f64::INFINITY;
    for r in 0..5 {
        let t = Instant::now();
        simulate(prior, sim, n, seed + r, None)?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    Ok(n as f64 / best)
}

/// The cookie data set: 50,000 simulations, counts above 40 left out.
fn cookie_data(seed: u64, validation: f64) -> anyhow::Result<Dataset> {
    let task = Cookie::new();
    let sims = simulate(task.prior(), &task, 50_000, seed, None)?;
    let (mut theta, mut x) = (Vec::new(), Vec::new());
    for (t, xi) in sims.simulations.iter() {
        if xi[0] <= MAX_COUNT as f64 {
            theta.push(t[0]);
            x.push(xi[0]);
        }
    }
    Ok(Dataset::from_rows(
        RowsView::new(&theta, 1)?,
        RowsView::new(&x, 1)?,
        validation,
        seed,
    )?)
}

fn run<B: BuildEstimator>(
    name: &str,
    threads: usize,
    builder: &B,
    data: &Dataset,
    config: &TrainConfig,
) -> anyhow::Result<()> {
    let t = Instant::now();
    let mut q = builder.build(data.train_x(), data.train_theta(), config.init_seed())?;
    let report = train_on(&mut q, data, config, None)?;
    let seconds = t.elapsed().as_secs_f64();
    let epochs = report.history.len();
    println!(
        "threads {threads}: {name}: {} sims, {epochs} epochs, {seconds:.2} s ({:.1} ms/epoch), best validation loss {:.4}",
        data.train_len() + data.validation_len(),
        1e3 * seconds / epochs as f64,
        report.best_validation_loss
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let a = args()?;
    let config = TrainConfig {
        seed: a.seed,
        ..TrainConfig::default()
    };
    let want = |task: &str| a.only.as_deref().is_none_or(|o| o == task);
    for &threads in &a.threads {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()?;
        pool.install(|| -> anyhow::Result<()> {
            if a.sim {
                let tasks: [(&str, Box<dyn Task>); 3] = [
                    ("cookie", Box::new(Cookie::new())),
                    ("gaussian_linear", Box::new(GaussianLinear::new())),
                    ("two_moons", Box::new(TwoMoons::new())),
                ];
                for (name, task) in &tasks {
                    let rate = throughput(task.prior(), task.as_ref(), a.seed)?;
                    println!("threads {threads}: simulate {name}: {rate:.0} sims/s");
                }
            }
            if want("cookie") {
                let data = cookie_data(a.seed, config.validation_fraction)?;
                let ours = CategoricalConfig {
                    hidden_features: 30,
                    num_layers: 1,
                    activation: Activation::Squareplus,
                    log_context: true,
                    ..CategoricalConfig::new(0, MAX_COUNT)
                };
                run(
                    "cookie_ln_theta_30_squareplus",
                    threads,
                    &ours,
                    &data,
                    &config,
                )?;
                if a.cookie_default {
                    let sbi_sizes = CategoricalConfig::new(0, MAX_COUNT);
                    run("cookie_sbi_default", threads, &sbi_sizes, &data, &config)?;
                }
            }
            if want("gaussian_linear") {
                let task = GaussianLinear::new();
                let sims = simulate(task.prior(), &task, 10_000, a.seed, None)?;
                let data = Dataset::new(&sims.simulations, config.validation_fraction, a.seed)?;
                run(
                    "gaussian_linear_maf",
                    threads,
                    &MafConfig::default(),
                    &data,
                    &config,
                )?;
            }
            Ok(())
        })?;
    }
    Ok(())
}
