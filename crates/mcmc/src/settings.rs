//! What a sampling run does: plain structs with public fields and cited defaults.

use serde::{Deserialize, Serialize};

use crate::McmcError;

/// Random initial points tried per chain before giving up (Stan's `MAX_INIT_TRIES`).
pub const MAX_INIT_TRIES: usize = 100;

/// Everything a sampling run needs besides the density.
///
/// Build it from [`Default`] and change what you need:
///
/// ```
/// let settings = mcmc::Settings { num_draws: 2000, target_accept: 0.9, ..Default::default() };
/// assert!(settings.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Warm-up (adaptation) iterations per chain; their draws are dropped. With none, the
    /// chain keeps the identity metric and the step-size heuristic's first guess.
    pub num_warmup: usize,
    /// Draws kept per chain after warm-up.
    pub num_draws: usize,
    /// Chains, run in parallel; chain `c` uses the random stream `c` of `seed`.
    pub num_chains: usize,
    /// Seed of every random choice of the run.
    pub seed: u64,
    /// NUTS or static HMC.
    pub algorithm: Algorithm,
    /// Largest NUTS tree depth: at most 2^depth − 1 leapfrog steps per draw.
    pub max_tree_depth: u32,
    /// A transition diverges when the energy error H − H0 exceeds this.
    pub max_energy_error: f64,
    /// Mean acceptance statistic the step-size adaptation aims at, inside (0, 1).
    pub target_accept: f64,
    /// Shape of the adapted mass matrix.
    pub metric: Metric,
    /// Where chains start.
    pub init: Init,
    /// How warm-up adapts the metric and the step size: Stan's windows (the default) or
    /// nuts-rs' gradient-based diagonal adaptation.
    pub warmup: Warmup,
    /// Warm-up windows of [`Warmup::Stan`] and the dual-averaging constants of both
    /// warm-ups.
    pub adaptation: Adaptation,
    /// Each transition uses the step size times a uniform factor on (1 − j, 1 + j) (Neal
    /// 2011 §5.4.2.2; nuts-rs' default `jitter` is 0.1), in warm-up and sampling alike.
    /// Inside [0, 1); 0 (Stan) keeps the step size fixed and draws no random number for it.
    pub step_size_jitter: f64,
    /// Keep the warm-up draws and statistics in [`Chain`](crate::Chain) too.
    pub save_warmup: bool,
}

impl Default for Settings {
    /// Stan's defaults (Stan Reference Manual, "HMC algorithm parameters" and "Automatic
    /// parameter tuning"): 1000 warm-up iterations and 1000 draws per chain, 4 chains,
    /// NUTS with maximum tree depth 10 and divergence threshold 1000 on the energy error,
    /// dual averaging towards an acceptance statistic of 0.8 (Hoffman & Gelman 2014 §3.2),
    /// a diagonal metric, Stan's windowed warm-up, no step-size jitter, initial points
    /// uniform on (−2, 2). Seed 0, so that a default run is reproducible.
    fn default() -> Self {
        Self {
            num_warmup: 1000,
            num_draws: 1000,
            num_chains: 4,
            seed: 0,
            algorithm: Algorithm::Nuts,
            max_tree_depth: 10,
            max_energy_error: 1000.0,
            target_accept: 0.8,
            metric: Metric::Diagonal,
            init: Init::default(),
            warmup: Warmup::Stan,
            adaptation: Adaptation::default(),
            step_size_jitter: 0.0,
            save_warmup: false,
        }
    }
}

/// The transition kernel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[non_exhaustive]
pub enum Algorithm {
    /// The No-U-Turn sampler with multinomial sampling and the generalized U-turn criterion
    /// (Hoffman & Gelman 2014; Betancourt 2017), as Stan's `base_nuts`.
    #[default]
    Nuts,
    /// Hamiltonian Monte Carlo with a fixed number of leapfrog steps and a Metropolis
    /// correction (Neal 2011), as Stan's `base_static_hmc`.
    StaticHmc {
        /// Leapfrog steps per transition.
        n_leapfrog: u32,
    },
}

/// The Euclidean metric (mass matrix) learned during warm-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[non_exhaustive]
pub enum Metric {
    /// Inverse metric = regularized marginal variances (Stan's `diag_e`, the default).
    #[default]
    Diagonal,
    /// Inverse metric = regularized covariance (Stan's `dense_e`); costs O(d²) per leapfrog
    /// step but handles strong correlations.
    Dense,
}

/// Where each chain starts, on the unconstrained scale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Init {
    /// Each coordinate uniform on (−radius, radius), retried (up to [`MAX_INIT_TRIES`]
    /// points) while the log density or its gradient is not finite (Stan's default, radius 2).
    Uniform {
        /// Half-width of the interval.
        radius: f64,
    },
    /// One point per chain.
    Given(Vec<Vec<f64>>),
}

impl Default for Init {
    /// Uniform on (−2, 2), as Stan.
    fn default() -> Self {
        Init::Uniform { radius: 2.0 }
    }
}

/// How warm-up adapts the metric and the step size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[non_exhaustive]
pub enum Warmup {
    /// Stan's windowed adaptation (Stan Reference Manual, "Automatic parameter tuning"):
    /// fast / doubling slow / fast windows of [`Adaptation`], the metric from the slow
    /// windows' draws alone, dual averaging restarted at every metric update and the
    /// averaged step size after warm-up.
    #[default]
    Stan,
    /// nuts-rs' warm-up (pymc-devs/nuts-rs 0.19, `adapt_strategy.rs` and
    /// `transform/adapt/diagonal.rs`) for a diagonal metric: M⁻¹ᵢᵢ = sqrt(Var xᵢ / Var ∂ᵢ log p)
    /// over the draws and their gradients, which is the variance for a Gaussian and fits the
    /// local curvature better elsewhere (Seyboldt, nutpie); updated after every draw from
    /// overlapping windows; one dual averaging over the whole warm-up that ends on the
    /// symmetric acceptance statistic. Needs [`Metric::Diagonal`].
    GradDiag(GradDiag),
}

/// The schedule of [`Warmup::GradDiag`], nuts-rs' `EuclideanAdaptOptions` defaults.
///
/// The metric starts at M⁻¹ᵢᵢ = 1 / |∂ᵢ log p| of the initial point. Every draw that
/// moved goes into a foreground and a background estimate; the metric follows the
/// foreground one after every draw. When the background estimate holds a window's worth of
/// draws it becomes the foreground and a new background starts. Windows are
/// `early_window_size` draws during the first `early_fraction` of warm-up, then start at
/// `window_size` and grow by `window_growth`; no window starts that would run into the last
/// `step_size_fraction` of warm-up, where only the step size adapts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GradDiag {
    /// Fraction of warm-up with short windows, inside [0, 1) (nuts-rs: 0.3).
    pub early_fraction: f64,
    /// Fraction of warm-up at the end that adapts only the step size, inside [0, 1]
    /// (nuts-rs: 0.15).
    pub step_size_fraction: f64,
    /// Window length in the early phase, at least 1 (nuts-rs: 10).
    pub early_window_size: usize,
    /// First window length after the early phase, at least 1 (nuts-rs: 80).
    pub window_size: usize,
    /// Growth factor of the later windows, finite and at least 1 (nuts-rs: 1.5).
    pub window_growth: f64,
    /// Largest step size (nuts-rs: π).
    pub max_step_size: f64,
}

impl Default for GradDiag {
    /// nuts-rs 0.19's defaults: windows and fractions from `EuclideanAdaptOptions::default`
    /// (`src/adapt_strategy.rs`), the largest step size from `DualAverageOptions::default`
    /// (`src/stepsize/dual_avg.rs`).
    fn default() -> Self {
        Self {
            early_fraction: 0.3,
            step_size_fraction: 0.15,
            early_window_size: 10,
            window_size: 80,
            window_growth: 1.5,
            max_step_size: std::f64::consts::PI,
        }
    }
}

/// Stan's windowed warm-up and its dual-averaging step-size adaptation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Adaptation {
    /// Fast interval at the start of warm-up: step size only (Stan: 75).
    pub init_buffer: usize,
    /// Fast interval at the end of warm-up: step size only (Stan: 50).
    pub term_buffer: usize,
    /// First slow window, where the metric is estimated; each next one doubles (Stan: 25).
    pub base_window: usize,
    /// Dual-averaging regularization scale γ (Hoffman & Gelman 2014: 0.05).
    pub gamma: f64,
    /// Dual-averaging relaxation exponent κ (Hoffman & Gelman 2014: 0.75).
    pub kappa: f64,
    /// Dual-averaging iteration offset t0 (Hoffman & Gelman 2014: 10).
    pub t0: f64,
    /// Step size before the initialization heuristic (Stan: 1); the first dual-averaging
    /// target is μ = ln(10 · this), later ones μ = ln(10 · ε) with the re-initialized ε.
    pub initial_step_size: f64,
}

impl Default for Adaptation {
    /// Stan Reference Manual, "Automatic parameter tuning": windows 75 / 25 / 50,
    /// γ = 0.05, κ = 0.75, t0 = 10, initial step size 1.
    fn default() -> Self {
        Self {
            init_buffer: 75,
            term_buffer: 50,
            base_window: 25,
            gamma: 0.05,
            kappa: 0.75,
            t0: 10.0,
            initial_step_size: 1.0,
        }
    }
}

impl Settings {
    /// Checks every setting that does not depend on the density.
    pub fn validate(&self) -> Result<(), McmcError> {
        if self.num_chains == 0 {
            return Err(McmcError::NoChains);
        }
        if !(self.target_accept > 0.0 && self.target_accept < 1.0) {
            return Err(McmcError::TargetAccept(self.target_accept));
        }
        if !(1..=30).contains(&self.max_tree_depth) {
            return Err(McmcError::MaxTreeDepth(self.max_tree_depth));
        }
        if self.max_energy_error.is_nan() || self.max_energy_error <= 0.0 {
            return Err(McmcError::MaxEnergyError(self.max_energy_error));
        }
        if let Algorithm::StaticHmc { n_leapfrog: 0 } = self.algorithm {
            return Err(McmcError::NoLeapfrogSteps);
        }
        let a = &self.adaptation;
        for (name, value) in [
            ("gamma", a.gamma),
            ("kappa", a.kappa),
            ("t0", a.t0),
            ("initial_step_size", a.initial_step_size),
        ] {
            if !(value.is_finite() && value > 0.0) {
                return Err(McmcError::Adaptation { name, value });
            }
        }
        if !(0.0..1.0).contains(&self.step_size_jitter) {
            return Err(McmcError::StepSizeJitter(self.step_size_jitter));
        }
        if let Warmup::GradDiag(g) = &self.warmup {
            if self.metric != Metric::Diagonal {
                return Err(McmcError::GradDiagNeedsDiagonal);
            }
            let bad = |name: &'static str, value: f64| Err(McmcError::Warmup { name, value });
            if !(0.0..1.0).contains(&g.early_fraction) {
                return bad("early_fraction", g.early_fraction);
            }
            if !(0.0..=1.0).contains(&g.step_size_fraction) {
                return bad("step_size_fraction", g.step_size_fraction);
            }
            if g.early_window_size == 0 {
                return bad("early_window_size", 0.0);
            }
            if g.window_size == 0 {
                return bad("window_size", 0.0);
            }
            if !(g.window_growth.is_finite() && g.window_growth >= 1.0) {
                return bad("window_growth", g.window_growth);
            }
            if !(g.max_step_size.is_finite() && g.max_step_size > 0.0) {
                return bad("max_step_size", g.max_step_size);
            }
        }
        match &self.init {
            Init::Uniform { radius } => {
                if !(radius.is_finite() && *radius > 0.0) {
                    return Err(McmcError::InitRadius(*radius));
                }
            }
            Init::Given(points) => {
                if points.len() != self.num_chains {
                    return Err(McmcError::InitCount {
                        expected: self.num_chains,
                        found: points.len(),
                    });
                }
            }
        }
        Ok(())
    }
}
