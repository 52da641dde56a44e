//! Targets with known moments and a batch-means Monte-Carlo error helper, shared by the
//! sampler tests.

#![allow(dead_code)]

use mcmc::{Chain, LogDensity, LogpError};

/// Independent normals with the given standard deviations.
pub struct Normal {
    pub sd: Vec<f64>,
}

impl Normal {
    pub fn standard(dim: usize) -> Self {
        Self { sd: vec![1.0; dim] }
    }
}

impl LogDensity for Normal {
    fn dim(&self) -> usize {
        self.sd.len()
    }

    fn logp_grad(&mut self, x: &[f64], grad: &mut [f64]) -> Result<f64, LogpError> {
        let mut lp = 0.0;
        for ((g, xi), s) in grad.iter_mut().zip(x).zip(&self.sd) {
            let z = xi / s;
            lp -= 0.5 * z * z;
            *g = -z / s;
        }
        Ok(lp)
    }
}

/// A bivariate normal with unit variances and correlation `rho`.
pub struct Correlated {
    pub rho: f64,
}

impl LogDensity for Correlated {
    fn dim(&self) -> usize {
        2
    }

    fn logp_grad(&mut self, x: &[f64], grad: &mut [f64]) -> Result<f64, LogpError> {
        let r = self.rho;
        let c = 1.0 / (1.0 - r * r);
        grad[0] = -c * (x[0] - r * x[1]);
        grad[1] = -c * (x[1] - r * x[0]);
        Ok(-0.5 * c * (x[0] * x[0] - 2.0 * r * x[0] * x[1] + x[1] * x[1]))
    }
}

/// Neal's funnel: v ~ N(0, 3²), x_i | v ~ N(0, e^v), i = 1..dim−1 (coordinate 0 is v).
pub struct Funnel {
    pub dim: usize,
}

impl LogDensity for Funnel {
    fn dim(&self) -> usize {
        self.dim
    }

    fn logp_grad(&mut self, x: &[f64], grad: &mut [f64]) -> Result<f64, LogpError> {
        let v = x[0];
        let k = (self.dim - 1) as f64;
        let mut lp = -v * v / 18.0 - 0.5 * k * v;
        grad[0] = -v / 9.0 - 0.5 * k;
        let inv = (-v).exp();
        for (g, xi) in grad[1..].iter_mut().zip(&x[1..]) {
            lp -= 0.5 * xi * xi * inv;
            *g = -xi * inv;
        }
        let s: f64 = x[1..].iter().map(|xi| xi * xi).sum();
        grad[0] += 0.5 * s * inv;
        Ok(lp)
    }
}

/// A standard normal that returns `LogpError::Recoverable` where x₀ > `cut` (so the target
/// is the normal truncated to x₀ ≤ cut).
pub struct Truncated {
    pub dim: usize,
    pub cut: f64,
}

impl LogDensity for Truncated {
    fn dim(&self) -> usize {
        self.dim
    }

    fn logp_grad(&mut self, x: &[f64], grad: &mut [f64]) -> Result<f64, LogpError> {
        if x[0] > self.cut {
            return Err(LogpError::Recoverable(format!(
                "x0 = {} > {}",
                x[0], self.cut
            )));
        }
        Normal::standard(self.dim).logp_grad(x, grad)
    }
}

/// Monte-Carlo error of a mean by batch means: the series of each chain is cut into
/// batches of `batch` draws (a remainder is dropped); the variance of the batch means,
/// times the batch size, estimates the asymptotic variance σ²_as of the mean, and
/// ESS = n · var / σ²_as for the true variance `var`.
pub struct BatchMeans {
    /// Mean over all draws used.
    pub mean: f64,
    /// Monte-Carlo standard error of `mean`: sqrt(σ²_as / n).
    pub mcse: f64,
    /// Effective sample size for the given true variance.
    pub ess: f64,
}

pub fn batch_means(series: &[Vec<f64>], batch: usize, true_var: f64) -> BatchMeans {
    let mut means = Vec::new();
    for s in series {
        for b in s.chunks_exact(batch) {
            means.push(b.iter().sum::<f64>() / batch as f64);
        }
    }
    let k = means.len() as f64;
    let n = k * batch as f64;
    let mean = means.iter().sum::<f64>() / k;
    let var_bm = means.iter().map(|m| (m - mean) * (m - mean)).sum::<f64>() / (k - 1.0);
    let sigma2_as = var_bm * batch as f64;
    BatchMeans {
        mean,
        mcse: (sigma2_as / n).sqrt(),
        ess: n * true_var / sigma2_as,
    }
}

/// Every chain's draws of coordinate `j`, transformed by `f`.
pub fn series(chains: &[Chain], j: usize, f: impl Fn(f64) -> f64) -> Vec<Vec<f64>> {
    chains
        .iter()
        .map(|c| c.column(j).into_iter().map(&f).collect())
        .collect()
}

/// Mean leapfrog steps per kept draw over all chains.
pub fn mean_leapfrog(chains: &[Chain]) -> f64 {
    let n: usize = chains.iter().map(|c| c.num_draws()).sum();
    chains
        .iter()
        .flat_map(|c| &c.stats)
        .map(|s| f64::from(s.n_leapfrog))
        .sum::<f64>()
        / n as f64
}

/// Mean acceptance statistic of the kept draws over all chains.
pub fn mean_accept(chains: &[Chain]) -> f64 {
    let n: usize = chains.iter().map(|c| c.num_draws()).sum();
    chains
        .iter()
        .flat_map(|c| &c.stats)
        .map(|s| s.accept_stat)
        .sum::<f64>()
        / n as f64
}

/// Independent y_i = s_i ln X_i for X_i ~ Gamma(shape, 1): each y_i / s_i has density
/// ∝ exp(shape·y − eʸ), skewed with a long left tail, with E = ψ(shape) and
/// Var = ψ′(shape).
pub struct LogGamma {
    pub shape: f64,
    pub scales: Vec<f64>,
}

impl LogDensity for LogGamma {
    fn dim(&self) -> usize {
        self.scales.len()
    }

    fn logp_grad(&mut self, x: &[f64], grad: &mut [f64]) -> Result<f64, LogpError> {
        let mut lp = 0.0;
        for ((g, xi), s) in grad.iter_mut().zip(x).zip(&self.scales) {
            let y = xi / s;
            let e = y.exp();
            lp += self.shape * y - e;
            *g = (self.shape - e) / s;
        }
        Ok(lp)
    }
}

/// Checks |estimate − truth| ≤ k · MCSE and says which quantity failed.
pub fn assert_within(what: &str, bm: &BatchMeans, truth: f64, k: f64) {
    let z = (bm.mean - truth) / bm.mcse;
    assert!(
        z.abs() <= k,
        "{what}: estimate {} vs {truth}, MCSE {} (ESS {:.0}), z = {z:.2} beyond ±{k}",
        bm.mean,
        bm.mcse,
        bm.ess
    );
}

/// Checks the first two moments of every coordinate of draws from `LogGamma` with shape
/// 1/2 and the given scales: y = x / scale has E y = ψ(1/2) = −γ − 2 ln 2 and
/// Var y = ψ′(1/2) = π²/2; each within `k` MCSE (batch means of `batch` draws).
pub fn assert_log_gamma_half_moments(chains: &[Chain], scales: &[f64], batch: usize, k: f64) {
    let mean = -0.577_215_664_901_532_9 - 2.0 * std::f64::consts::LN_2;
    let var = std::f64::consts::PI.powi(2) / 2.0;
    for (j, s) in scales.iter().enumerate() {
        let m1 = batch_means(&series(chains, j, |x| x / s), batch, var);
        assert_within(&format!("E y[{j}]"), &m1, mean, k);
        // The true variance of y² is not needed: the MCSE comes from the batch means.
        let m2 = batch_means(&series(chains, j, |x| (x / s).powi(2)), batch, f64::NAN);
        assert_within(&format!("E y[{j}]²"), &m2, var + mean * mean, k);
    }
}

/// Checks draws of a `dim`-dimensional standard normal: E x = 0 and E x² = 1 for every
/// coordinate within `k` MCSE (batch means of `batch` draws); returns the smallest ESS
/// of those estimates.
pub fn assert_standard_normal_moments(chains: &[Chain], dim: usize, batch: usize, k: f64) -> f64 {
    let mut min_ess = f64::INFINITY;
    for j in 0..dim {
        // E x = 0 with Var x = 1; E x² = 1 with Var x² = 2.
        let m1 = batch_means(&series(chains, j, |x| x), batch, 1.0);
        let m2 = batch_means(&series(chains, j, |x| x * x), batch, 2.0);
        assert_within(&format!("mean of x[{j}]"), &m1, 0.0, k);
        assert_within(&format!("mean of x[{j}]²"), &m2, 1.0, k);
        min_ess = min_ess.min(m1.ess).min(m2.ess);
    }
    min_ess
}
