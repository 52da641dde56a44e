//! Experiment harness for the cookie NLE (issue 8): trains the categorical estimator as
//! `cargo xtask validate cookie-nle-*` does (50,000 simulations, sbi's training
//! defaults, counts 0..=60), then measures where the learned likelihood is off:
//!
//! - the error of log q(x | θ) and of ∂/∂θ log q(x | θ) against Poisson(x | θ) on the
//!   posterior region θ ∈ [4, 15], x ∈ 0..=22 (max, and weighted by the Poisson pmf);
//! - the unpooled (and pooled) cookie posterior with the NLE likelihood by 1-D
//!   quadrature against its conjugate Gamma closed form: mean shift in posterior sds,
//!   sd ratio;
//! - µs per `sum_log_prob_grad_context` call on 30 rows (one location).
//!
//! `cargo run --release -p nle --example cookie_accuracy -- [hidden=50] [layers=2]
//! [act=relu|tanh|softplus|elu|squareplus] [log=0|1] [seed=8] [sims=50000] [max=60]`
//! (`max`: the largest count covered; larger simulated counts are left out).
#![allow(clippy::print_stdout)]

use std::time::Instant;

use anyhow::{Context as _, bail};
use flows::{Activation, CategoricalConfig, CategoricalMass, ConditionalDensity, RowsView};
use nle::{BuildEstimator, TrainConfig};
use simulators::Task;
use simulators::tasks::Cookie;

/// ln Γ(x + 1) for integer x ≥ 0.
fn ln_factorial(x: f64) -> f64 {
    (1..=x as u64).map(|k| (k as f64).ln()).sum()
}

fn poisson_lp(x: f64, theta: f64) -> f64 {
    x * theta.ln() - theta - ln_factorial(x)
}

struct Args {
    hidden: usize,
    layers: usize,
    activation: Activation,
    log: bool,
    seed: u64,
    sims: usize,
    max_count: i64,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        hidden: 50,
        layers: 2,
        activation: Activation::Relu,
        log: false,
        seed: 8,
        sims: 50_000,
        max_count: 60,
    };
    for arg in std::env::args().skip(1) {
        let (k, v) = arg.split_once('=').context("arguments are key=value")?;
        match k {
            "hidden" => a.hidden = v.parse()?,
            "layers" => a.layers = v.parse()?,
            "act" => {
                a.activation = match v {
                    "relu" => Activation::Relu,
                    "tanh" => Activation::Tanh,
                    "softplus" => Activation::Softplus,
                    "elu" => Activation::Elu,
                    "squareplus" => Activation::Squareplus,
                    _ => bail!("act is relu, tanh, softplus, elu or squareplus"),
                }
            }
            "log" => a.log = v == "1",
            "seed" => a.seed = v.parse()?,
            "sims" => a.sims = v.parse()?,
            "max" => a.max_count = v.parse()?,
            _ => bail!("unknown argument {k}"),
        }
    }
    Ok(a)
}

/// The cookie counts per location (1-based locations in the file).
fn cookies() -> anyhow::Result<Vec<Vec<f64>>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../ppl/data/cookies.csv");
    let text = std::fs::read_to_string(path)?;
    let mut groups: Vec<Vec<f64>> = Vec::new();
    for line in text.lines().skip(1) {
        let (c, l) = line.split_once(',').context("chips,location")?;
        let l: usize = l.trim().parse()?;
        if groups.len() < l {
            groups.resize(l, Vec::new());
        }
        groups[l - 1].push(c.trim().parse()?);
    }
    Ok(groups)
}

/// Posterior mean and sd of θ under the Gamma(2, 0.2) prior with the NLE likelihood of
/// `xs`, by quadrature on a fine grid.
fn nle_posterior(q: &CategoricalMass, xs: &[f64]) -> anyhow::Result<(f64, f64)> {
    let (lo, hi, n) = (0.5, 30.0, 6000);
    let h = (hi - lo) / n as f64;
    let mut lp = Vec::with_capacity(n + 1);
    let mut g = [0.0];
    for i in 0..=n {
        let t = lo + h * i as f64;
        let ll = q.sum_log_prob_grad_context(RowsView::new(xs, 1)?, &[t], &mut g)?;
        lp.push((t, t.ln() - 0.2 * t + ll));
    }
    let m = lp.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    let (mut z, mut s1, mut s2) = (0.0, 0.0, 0.0);
    for &(t, l) in &lp {
        let w = (l - m).exp();
        z += w;
        s1 += w * t;
        s2 += w * t * t;
    }
    let mean = s1 / z;
    Ok((mean, (s2 / z - mean * mean).sqrt()))
}

fn main() -> anyhow::Result<()> {
    let a = args()?;
    let task = Cookie::new();
    let config = TrainConfig {
        seed: a.seed,
        ..TrainConfig::default()
    };
    let sims = nle::simulate(task.prior(), &task, a.sims, config.seed, None)?;
    let (mut theta, mut x) = (Vec::new(), Vec::new());
    for (t, xi) in sims.simulations.iter() {
        if xi[0] <= a.max_count as f64 {
            theta.push(t[0]);
            x.push(xi[0]);
        }
    }
    let data = nle::Dataset::from_rows(
        RowsView::new(&theta, 1)?,
        RowsView::new(&x, 1)?,
        config.validation_fraction,
        config.seed,
    )?;
    let arch = CategoricalConfig {
        hidden_features: a.hidden,
        num_layers: a.layers,
        activation: a.activation,
        log_context: a.log,
        ..CategoricalConfig::new(0, a.max_count)
    };
    let mut q = arch.build(data.train_x(), data.train_theta(), config.init_seed())?;
    let report = nle::train_on(&mut q, &data, &config, None)?;
    let mut exact_val = 0.0;
    for (t, xi) in data
        .validation_theta()
        .iter()
        .zip(data.validation_x().iter())
    {
        exact_val -= poisson_lp(xi[0], t[0]);
    }
    exact_val /= data.validation_len() as f64;
    println!(
        "hidden {} × {} {:?}, log θ {}, counts 0..={}, seed {}: {} epochs (best {}), {:.1} s, val loss {:.5} (exact {:.5}, gap {:.5})",
        a.hidden,
        a.layers,
        a.activation,
        a.log,
        a.max_count,
        a.seed,
        report.history.len(),
        report.best_epoch,
        report.seconds,
        report.best_validation_loss,
        exact_val,
        report.best_validation_loss - exact_val
    );

    // Errors of log q and ∂θ log q on the posterior region.
    let (mut max_lp, mut max_d, mut w_lp, mut w_d, mut w) = (0.0f64, 0.0f64, 0.0, 0.0, 0.0);
    let mut worst_d = (0.0, 0.0);
    for i in 0..=220 {
        let t = 4.0 + 0.05 * i as f64;
        for xi in 0..=22 {
            let xv = xi as f64;
            let mut g = [0.0];
            let lq = q.sum_log_prob_grad_context(RowsView::new(&[xv], 1)?, &[t], &mut g)?;
            let (lp, dp) = (poisson_lp(xv, t), xv / t - 1.0);
            let (e, ed) = ((lq - lp).abs(), (g[0] - dp).abs());
            max_lp = max_lp.max(e);
            if ed > max_d {
                max_d = ed;
                worst_d = (t, xv);
            }
            let p = lp.exp();
            w_lp += p * e;
            w_d += p * ed;
            w += p;
        }
    }
    println!(
        "θ ∈ [4, 15], x ≤ 22: |Δ log q| max {max_lp:.4}, pmf-weighted {:.4}; |Δ ∂θ log q| max {max_d:.4} (θ {:.2}, x {}), pmf-weighted {:.4}",
        w_lp / w,
        worst_d.0,
        worst_d.1,
        w_d / w
    );

    // The derivative error along x at the posterior's centre.
    let mut line = String::from("θ = 9, Δ ∂θ log q for x = 0..=22:");
    for xi in 0..=22 {
        let mut g = [0.0];
        q.sum_log_prob_grad_context(RowsView::new(&[xi as f64], 1)?, &[9.0], &mut g)?;
        line += &format!(" {:+.2}", g[0] - (xi as f64 / 9.0 - 1.0));
    }
    println!("{line}");

    // Unpooled and pooled posteriors by quadrature against the conjugate closed form.
    let groups = cookies()?;
    let mut all = Vec::new();
    let mut line = String::from("posterior mean shift / sd (sd ratio):");
    let mut worst: f64 = 0.0;
    for (l, xs) in groups.iter().enumerate() {
        all.extend_from_slice(xs);
        let (m, s) = nle_posterior(&q, xs)?;
        let (shape, rate) = (2.0 + xs.iter().sum::<f64>(), 0.2 + xs.len() as f64);
        let (em, es) = (shape / rate, shape.sqrt() / rate);
        worst = worst.max(((m - em) / es).abs());
        line += &format!(" lam.{} {:+.3} ({:.3});", l + 1, (m - em) / es, s / es);
    }
    let (m, s) = nle_posterior(&q, &all)?;
    let (shape, rate) = (2.0 + all.iter().sum::<f64>(), 0.2 + all.len() as f64);
    let (em, es) = (shape / rate, shape.sqrt() / rate);
    line += &format!(" pooled {:+.3} ({:.3})", (m - em) / es, s / es);
    println!("{line}; worst unpooled |shift| {worst:.3}");

    // Cost of one location's likelihood and gradient.
    let xs = RowsView::new(&groups[0], 1)?;
    let mut g = [0.0];
    let reps = 200_000;
    let start = Instant::now();
    let mut acc = 0.0;
    for i in 0..reps {
        acc += q.sum_log_prob_grad_context(xs, &[8.0 + (i % 7) as f64 * 0.1], &mut g)?;
    }
    let us = start.elapsed().as_secs_f64() * 1e6 / reps as f64;
    println!(
        "sum_log_prob_grad_context, 30 rows: {us:.3} µs per call (checksum {:.1})",
        acc / reps as f64
    );
    Ok(())
}
