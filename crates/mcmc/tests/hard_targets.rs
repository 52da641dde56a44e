//! Targets that need the dense metric, or that make the sampler diverge.
//!
//! Error budget as in `tests/nuts.rs`: moments within ±4.5 batch-means MCSE (batches of
//! 50 draws, 80 batches), about 7e-6 false-alarm probability per comparison.

mod common;

use std::sync::Mutex;

use common::{Correlated, Funnel, Truncated, assert_within, batch_means, mean_leapfrog, series};
use mcmc::{Chain, InverseMetric, Metric, ProgressUpdate, Settings, sample};

const K: f64 = 4.5;
const BATCH: usize = 50;

fn products(chains: &[Chain]) -> Vec<Vec<f64>> {
    chains
        .iter()
        .map(|c| c.rows().map(|r| r[0] * r[1]).collect())
        .collect()
}

#[test]
fn dense_metric_handles_a_correlated_gaussian() -> anyhow::Result<()> {
    let rho = 0.99;
    let run = |metric: Metric| {
        sample(
            |_| Correlated { rho },
            &Settings {
                seed: 4,
                metric,
                ..Default::default()
            },
            None,
        )
    };
    let dense = run(Metric::Dense)?;
    let diag = run(Metric::Diagonal)?;
    for j in 0..2 {
        let m1 = batch_means(&series(&dense, j, |x| x), BATCH, 1.0);
        let m2 = batch_means(&series(&dense, j, |x| x * x), BATCH, 2.0);
        assert_within(&format!("E x[{j}]"), &m1, 0.0, K);
        assert_within(&format!("E x[{j}]²"), &m2, 1.0, K);
    }
    // Var(x₀x₁) = 1 + ρ² for unit variances.
    let cross = batch_means(&products(&dense), BATCH, 1.0 + rho * rho);
    assert_within("E x[0]x[1]", &cross, rho, K);
    // The adapted inverse metric is the covariance: its correlation is near 0.99.
    for c in &dense {
        let InverseMetric::Dense { dim: 2, matrix } = &c.inv_metric else {
            anyhow::bail!("expected a dense 2 × 2 metric, got {:?}", c.inv_metric);
        };
        let r = matrix[1] / (matrix[0] * matrix[3]).sqrt();
        assert!((0.97..0.995).contains(&r), "metric correlation {r}");
        assert_eq!(matrix[1], matrix[2]);
    }
    // The diagonal metric cannot undo the correlation: steps must be about √(1 − ρ²) ≈ 0.14
    // of the long scale. Measured: 15.4 leapfrog steps per draw against 3.4.
    let (n_dense, n_diag) = (mean_leapfrog(&dense), mean_leapfrog(&diag));
    assert!(
        n_diag > 3.0 * n_dense,
        "leapfrog steps per draw: diagonal {n_diag}, dense {n_dense}"
    );
    Ok(())
}

#[test]
fn funnel_divergences_are_reported() -> anyhow::Result<()> {
    let last: Mutex<Vec<Option<ProgressUpdate>>> = Mutex::new(vec![None; 4]);
    let progress = |u: ProgressUpdate| {
        if let Ok(mut last) = last.lock() {
            last[u.chain] = Some(u);
        }
    };
    let settings = Settings {
        seed: 1,
        ..Default::default()
    };
    let chains = sample(|_| Funnel { dim: 10 }, &settings, Some(&progress))?;
    let total: usize = chains.iter().map(Chain::divergences).sum();
    assert!(total > 0, "Neal's funnel should make NUTS diverge");
    let last = last
        .into_inner()
        .map_err(|_| anyhow::anyhow!("progress lock poisoned"))?;
    for (c, u) in chains.iter().zip(&last) {
        assert_eq!(c.num_draws(), 1000);
        assert!(c.draws.iter().all(|x| x.is_finite()));
        assert_eq!(
            c.stats.iter().filter(|s| s.divergent).count(),
            c.divergences()
        );
        let u = u.ok_or_else(|| anyhow::anyhow!("no progress for chain {}", c.chain))?;
        assert_eq!((u.draws_done, u.total, u.warmup), (2000, 2000, false));
        assert_eq!(u.divergences, c.divergences());
    }
    Ok(())
}

#[test]
fn recoverable_errors_are_divergences() -> anyhow::Result<()> {
    // A standard normal refusing x₀ > 1.5: the target is the truncated normal, with
    // E x₀ = −φ(1.5)/Φ(1.5).
    let cut = 1.5;
    let settings = Settings {
        seed: 6,
        ..Default::default()
    };
    let chains = sample(|_| Truncated { dim: 2, cut }, &settings, None)?;
    let total: usize = chains.iter().map(Chain::divergences).sum();
    assert!(
        total > 0,
        "leaving the support must be reported as divergences"
    );
    for c in &chains {
        assert_eq!(c.num_draws(), 1000);
        assert!(c.rows().all(|r| r[0] <= cut));
    }
    let phi = (-0.5 * cut * cut).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let big_phi = 0.933_192_798_731_141_9; // Φ(1.5)
    let mean = -phi / big_phi;
    let var = 1.0 - cut * phi / big_phi - mean * mean;
    assert_within(
        "E x[0]",
        &batch_means(&series(&chains, 0, |x| x), BATCH, var),
        mean,
        K,
    );
    assert_within(
        "E x[1]",
        &batch_means(&series(&chains, 1, |x| x), BATCH, 1.0),
        0.0,
        K,
    );
    Ok(())
}
