//! What a chain returns: its draws, per-draw sampler statistics and adapted tuning.

use serde::{Deserialize, Serialize};

use crate::InverseMetric;

/// Sampler statistics of one draw (cmdstan's `lp__` … `energy__` columns).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DrawStats {
    /// Log density of the draw (up to the density's constant).
    pub lp: f64,
    /// Mean over the trajectory of min(1, exp(H0 − H)) (NUTS, as Stan), or the Metropolis
    /// acceptance probability (static HMC).
    pub accept_stat: f64,
    /// Step size of the transition.
    pub step_size: f64,
    /// NUTS tree depth reached (0 for static HMC).
    pub tree_depth: u32,
    /// Leapfrog steps (= gradient evaluations) of the transition.
    pub n_leapfrog: u32,
    /// The trajectory hit a divergence (energy error above the threshold, or a recoverable
    /// density error).
    pub divergent: bool,
    /// Hamiltonian H = −lp + kinetic energy at the draw (for E-BFMI).
    pub energy: f64,
}

/// One chain's result.
///
/// Draws are stored row-major in one `Vec`: draw `i` is `draws[i * dim..(i + 1) * dim]`
/// (see [`Chain::draw`], [`Chain::rows`], [`Chain::column`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Chain {
    /// Index of the chain (its random stream).
    pub chain: usize,
    /// Dimension of the density.
    pub dim: usize,
    /// Kept draws, row-major `num_draws × dim`.
    pub draws: Vec<f64>,
    /// One entry per kept draw.
    pub stats: Vec<DrawStats>,
    /// Warm-up draws, row-major, when [`Settings::save_warmup`](crate::Settings) is set
    /// (empty otherwise).
    pub warmup_draws: Vec<f64>,
    /// Statistics of the warm-up draws, when saved.
    pub warmup_stats: Vec<DrawStats>,
    /// The starting point.
    pub init: Vec<f64>,
    /// Step size after warm-up.
    pub step_size: f64,
    /// Inverse metric after warm-up.
    pub inv_metric: InverseMetric,
    /// Every gradient evaluation of the chain: initialization, step-size heuristic,
    /// warm-up and sampling.
    pub grad_evals: u64,
    /// Wall time of initialization and warm-up, in seconds.
    pub warmup_seconds: f64,
    /// Wall time of the sampling phase, in seconds.
    pub sampling_seconds: f64,
}

impl Chain {
    /// Kept draws.
    pub fn num_draws(&self) -> usize {
        self.stats.len()
    }

    /// Draw `i` (panics when `i >= num_draws()`, as slice indexing).
    pub fn draw(&self, i: usize) -> &[f64] {
        &self.draws[i * self.dim..(i + 1) * self.dim]
    }

    /// The draws one row at a time.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = &[f64]> + '_ {
        self.draws.chunks_exact(self.dim.max(1))
    }

    /// Every draw of coordinate `j`.
    pub fn column(&self, j: usize) -> Vec<f64> {
        self.rows().map(|row| row[j]).collect()
    }

    /// Divergent transitions after warm-up.
    pub fn divergences(&self) -> usize {
        self.stats.iter().filter(|s| s.divergent).count()
    }

    /// Draws after warm-up whose tree reached `max_tree_depth` (the tree was cut short).
    pub fn tree_depth_hits(&self, max_tree_depth: u32) -> usize {
        self.stats
            .iter()
            .filter(|s| s.tree_depth >= max_tree_depth)
            .count()
    }

    /// Mean acceptance statistic of the kept draws.
    pub fn mean_accept_stat(&self) -> f64 {
        self.stats.iter().map(|s| s.accept_stat).sum::<f64>() / self.stats.len() as f64
    }
}

/// Progress of one chain, sent after each iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProgressUpdate {
    /// The chain.
    pub chain: usize,
    /// Iterations done, warm-up included.
    pub draws_done: usize,
    /// `num_warmup + num_draws`.
    pub total: usize,
    /// Still in warm-up.
    pub warmup: bool,
    /// Divergent transitions after warm-up so far.
    pub divergences: usize,
    /// Divergent transitions during warm-up.
    pub warmup_divergences: usize,
}

/// The progress callback: called from the chains' threads, hence `Sync`.
pub type Progress<'a> = &'a (dyn Fn(ProgressUpdate) + Sync);
