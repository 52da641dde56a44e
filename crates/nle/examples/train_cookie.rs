//! Trains the cookie task's categorical likelihood estimator with sbi's defaults
//! and compares its validation loss with the exact Poisson one.
//!
//! `cargo run --release -p nle --example train_cookie -- [n_sims] [seed]`
//! (defaults: 50000 simulations, seed 1).
#![allow(clippy::print_stdout)]

use flows::{CategoricalConfig, ConditionalDensity};
use nle::{Dataset, Progress, TrainConfig};
use simulators::tasks::Cookie;
use simulators::{Likelihood, Task};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let n_sims: usize = args.next().map_or(Ok(50_000), |a| a.parse())?;
    let seed: u64 = args.next().map_or(Ok(1), |a| a.parse())?;
    let task = Cookie::new();
    let config = TrainConfig {
        seed,
        ..TrainConfig::default()
    };
    let estimator = CategoricalConfig::new(0, 150);
    let (q, report) = nle::train(
        task.prior(),
        &task,
        n_sims,
        &estimator,
        &config,
        Progress::default(),
    )?;
    // The same split again, for the exact validation loss.
    let sims = nle::simulate(task.prior(), &task, n_sims, seed, None)?;
    let data = Dataset::new(&sims.simulations, config.validation_fraction, seed)?;
    let mut exact = 0.0;
    for (t, x) in data
        .validation_theta()
        .iter()
        .zip(data.validation_x().iter())
    {
        exact -= task.log_likelihood(t, x)?;
    }
    exact /= data.validation_len() as f64;
    let mut learned = 0.0;
    for (t, x) in data
        .validation_theta()
        .iter()
        .zip(data.validation_x().iter())
    {
        learned -= q.log_prob(x, t)?;
    }
    learned /= data.validation_len() as f64;
    let sim = report.simulation.as_ref().expect("train simulates");
    let per_epoch = report.seconds / report.history.len() as f64;
    println!("cookie, categorical estimator (0..=150), {n_sims} simulations, seed {seed}");
    println!(
        "simulation: {:.3} s, {} invalid",
        sim.seconds,
        sim.invalid.total()
    );
    println!(
        "training: {} epochs (best {}), {:.2} s ({:.1} ms/epoch, {:.0} rows/s), converged: {}",
        report.history.len(),
        report.best_epoch,
        report.seconds,
        1e3 * per_epoch,
        report.train_rows as f64 / per_epoch,
        report.converged
    );
    println!(
        "validation loss: {:.5} (recomputed {:.5}); exact Poisson NLL on the same rows {:.5}; gap {:.5}",
        report.best_validation_loss,
        learned,
        exact,
        learned - exact
    );
    Ok(())
}
