//! Convergence diagnostics: rank-normalized split R-hat, bulk and tail ESS, MCSE,
//! E-BFMI, quantiles, and a printable [`Summary`] table.
//!
//! Everything follows Vehtari, Gelman, Simpson, Carpenter & Bürkner (2021),
//! "Rank-normalization, folding, and localization: an improved R̂ for assessing
//! convergence of MCMC", *Bayesian Analysis* 16(2), exactly as ArviZ 0.23
//! implements it (`arviz/stats/diagnostics.py`); the tests compare every number
//! with ArviZ on fixed draws (`tests/data/diagnostics_fixture.json`, made by
//! `scripts/make_diagnostics_fixture.py`).
//!
//! One parameter's draws are given as one slice per chain, `&[&[f64]]`. Chains
//! must be equally long, with at least [`MIN_DRAWS`] finite draws each; anything
//! else is a [`DiagnosticsError`].
//!
//! Degenerate draws behave as in ArviZ, without panicking:
//! - all draws equal: R-hat is NaN (0/0), every ESS equals the number of draws
//!   used (all draws, or all but the middle one of each chain when the length is
//!   odd), the MCSE of the mean is 0 and that of the sd is NaN;
//! - every chain constant, at different values: R-hat is +∞;
//! - one chain: ESS and MCSE are computed; [`rhat`] refuses with
//!   [`DiagnosticsError::TooFewChains`] (ArviZ returns NaN, and so does the
//!   `r_hat` column of a [`Summary`]).
//!
//! ```
//! use mcmc::diagnostics::{ess_bulk, rhat};
//!
//! // Two chains stuck around different values: R-hat is far above 1.01.
//! let a: Vec<f64> = (0..100).map(|i| (i as f64 * 0.7).sin()).collect();
//! let b: Vec<f64> = a.iter().map(|x| x + 3.0).collect();
//! assert!(rhat(&[&a, &b]).unwrap() > 1.5);
//! assert!(ess_bulk(&[&a, &b]).unwrap() > 0.0);
//! ```

mod ess;
mod normal;
mod summary;
mod transform;

pub use normal::normal_quantile;
pub use summary::{Summary, SummaryRow};

use ess::{ess_of_split, mean, variance};
use transform::{fold, mquantile_sorted, quantile_sorted, split_chains, z_scale};

/// The fewest draws per chain the diagnostics accept (as ArviZ's `min_draws`).
pub const MIN_DRAWS: usize = 4;

/// Why a diagnostic could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DiagnosticsError {
    /// The list of chains is empty.
    #[error("no chains given")]
    NoChains,
    /// Chains differ in length.
    #[error(
        "chain {chain} has {len} draws but chain 0 has {expected}: chains must be equally long"
    )]
    UnequalChains {
        /// The first chain whose length differs from chain 0's.
        chain: usize,
        /// Its number of draws.
        len: usize,
        /// The number of draws of chain 0.
        expected: usize,
    },
    /// Chains are too short.
    #[error("{draws} draws per chain, at least {min} are needed")]
    TooFewDraws {
        /// The number of draws per chain.
        draws: usize,
        /// The smallest number accepted.
        min: usize,
    },
    /// A draw is NaN or infinite.
    #[error("draw {draw} of chain {chain} is {value}: draws must be finite")]
    NonFiniteDraw {
        /// The chain of the first non-finite draw.
        chain: usize,
        /// Its index within the chain.
        draw: usize,
        /// The value.
        value: f64,
    },
    /// An energy value is NaN or infinite.
    #[error("energy {draw} is {value}: energies must be finite")]
    NonFiniteEnergy {
        /// The index of the first non-finite energy.
        draw: usize,
        /// The value.
        value: f64,
    },
    /// R-hat compares chains, so it needs several.
    #[error("{chains} chain(s) given, R-hat needs at least {min}")]
    TooFewChains {
        /// The number of chains given.
        chains: usize,
        /// The smallest number accepted.
        min: usize,
    },
    /// A quantile's probability is NaN or outside [0, 1].
    #[error("probability {prob} is not in [0, 1]")]
    InvalidProbability {
        /// The offending probability.
        prob: f64,
    },
    /// A summary was asked for no parameters.
    #[error("no parameter names given")]
    NoParameters,
    /// A chain's flat row-major draws do not split into rows of one value per parameter.
    #[error("chain {chain} holds {len} values, not a multiple of the {dim} parameters")]
    RaggedDraws {
        /// The chain.
        chain: usize,
        /// Its number of values.
        len: usize,
        /// The number of parameters (values per draw).
        dim: usize,
    },
    /// A diagnostic of one named parameter of a summary failed.
    #[error("parameter `{name}`: {source}")]
    Parameter {
        /// The parameter's name.
        name: String,
        /// What was wrong with its draws.
        source: Box<DiagnosticsError>,
    },
}

/// Checks the input convention: at least one chain, equal lengths, at least
/// [`MIN_DRAWS`] draws, all finite.
fn check(chains: &[&[f64]]) -> Result<(), DiagnosticsError> {
    let first = chains.first().ok_or(DiagnosticsError::NoChains)?;
    let expected = first.len();
    for (chain, draws) in chains.iter().enumerate() {
        if draws.len() != expected {
            return Err(DiagnosticsError::UnequalChains {
                chain,
                len: draws.len(),
                expected,
            });
        }
    }
    if expected < MIN_DRAWS {
        return Err(DiagnosticsError::TooFewDraws {
            draws: expected,
            min: MIN_DRAWS,
        });
    }
    for (chain, draws) in chains.iter().enumerate() {
        if let Some((draw, &value)) = draws.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(DiagnosticsError::NonFiniteDraw { chain, draw, value });
        }
    }
    Ok(())
}

/// All draws of all chains, sorted ascending.
fn sorted_draws(chains: &[&[f64]]) -> Vec<f64> {
    let mut all: Vec<f64> = chains.iter().flat_map(|c| c.iter().copied()).collect();
    all.sort_by(f64::total_cmp);
    all
}

/// The classic potential scale reduction of (already split) chains.
fn rhat_basic(chains: &[Vec<f64>]) -> f64 {
    let n = chains[0].len() as f64;
    let means: Vec<f64> = chains.iter().map(|c| mean(c)).collect();
    let within = chains.iter().map(|c| variance(c, 1)).sum::<f64>() / chains.len() as f64;
    let between = n * variance(&means, 1);
    ((between / within + n - 1.0) / n).sqrt()
}

/// [`rhat`] on checked input with at least two chains.
fn rhat_checked(chains: &[&[f64]]) -> f64 {
    let split = split_chains(chains);
    let bulk = rhat_basic(&z_scale(&split));
    let tail = rhat_basic(&z_scale(&fold(&split)));
    // Python's max(bulk, tail): a NaN bulk value wins.
    if tail > bulk { tail } else { bulk }
}

/// Rank-normalized split R-hat: the larger of the bulk R-hat (split chains, ranks
/// of all draws mapped to normal scores) and the tail R-hat (the same on the draws
/// folded around their median). ArviZ's `rhat(method="rank")`.
///
/// Near 1 when the chains agree; Vehtari et al. (2021) recommend R-hat < 1.01.
/// NaN when all draws are equal, +∞ when every chain is constant but they differ.
/// Needs at least two chains ([`DiagnosticsError::TooFewChains`] otherwise).
pub fn rhat(chains: &[&[f64]]) -> Result<f64, DiagnosticsError> {
    check(chains)?;
    if chains.len() < 2 {
        return Err(DiagnosticsError::TooFewChains {
            chains: chains.len(),
            min: 2,
        });
    }
    Ok(rhat_checked(chains))
}

/// Bulk effective sample size: the ESS of the rank-normalized split chains,
/// ArviZ's `ess(method="bulk")`. Reliable for the mean and median of the bulk.
pub fn ess_bulk(chains: &[&[f64]]) -> Result<f64, DiagnosticsError> {
    check(chains)?;
    Ok(ess_of_split(&z_scale(&split_chains(chains))))
}

/// [`ess_tail`] on checked input.
fn ess_tail_checked(chains: &[&[f64]]) -> f64 {
    let sorted = sorted_draws(chains);
    let ess_at = |p: f64| {
        let threshold = mquantile_sorted(&sorted, p);
        let indicator: Vec<Vec<f64>> = chains
            .iter()
            .map(|c| {
                c.iter()
                    .map(|&v| f64::from(u8::from(v <= threshold)))
                    .collect()
            })
            .collect();
        ess_of_split(&split_chains(&indicator))
    };
    let (low, high) = (ess_at(0.05), ess_at(0.95));
    // Python's min(low, high).
    if high < low { high } else { low }
}

/// Tail effective sample size: the smaller ESS of the indicators I(x ≤ q₀.₀₅) and
/// I(x ≤ q₀.₉₅) over split chains, ArviZ's `ess(method="tail")`. Reliable for the
/// 5% and 95% quantiles.
pub fn ess_tail(chains: &[&[f64]]) -> Result<f64, DiagnosticsError> {
    check(chains)?;
    Ok(ess_tail_checked(chains))
}

/// Basic effective sample size of the mean: split chains, no rank normalization,
/// ArviZ's `ess(method="mean")`.
pub fn ess_mean(chains: &[&[f64]]) -> Result<f64, DiagnosticsError> {
    check(chains)?;
    Ok(ess_of_split(&split_chains(chains)))
}

/// [`mcse_mean`] on checked input.
fn mcse_mean_checked(chains: &[&[f64]]) -> f64 {
    let all: Vec<f64> = chains.iter().flat_map(|c| c.iter().copied()).collect();
    variance(&all, 1).sqrt() / ess_of_split(&split_chains(chains)).sqrt()
}

/// Monte Carlo standard error of the posterior mean: sd / √ESS_mean, ArviZ's
/// `mcse(method="mean")`. Zero when all draws are equal.
pub fn mcse_mean(chains: &[&[f64]]) -> Result<f64, DiagnosticsError> {
    check(chains)?;
    Ok(mcse_mean_checked(chains))
}

/// Monte Carlo standard error of the posterior sd, ArviZ's `mcse(method="sd")`:
/// with c = (x − x̄)², Var(var) ≈ (mean(c²) − mean(c)²)/ESS_mean(c), then the
/// delta method, mcse_sd = √(Var(var) / (4 mean(c))). NaN when all draws are equal.
pub fn mcse_sd(chains: &[&[f64]]) -> Result<f64, DiagnosticsError> {
    check(chains)?;
    let all: Vec<f64> = chains.iter().flat_map(|c| c.iter().copied()).collect();
    let n = all.len() as f64;
    let m = mean(&all);
    let squares: Vec<Vec<f64>> = chains
        .iter()
        .map(|c| c.iter().map(|v| (v - m) * (v - m)).collect())
        .collect();
    let ess = ess_of_split(&split_chains(&squares));
    let evar = squares.iter().flatten().sum::<f64>() / n;
    let fourth = squares.iter().flatten().map(|s| s * s).sum::<f64>() / n;
    let varvar = (fourth - evar * evar) / ess;
    Ok((varvar / evar / 4.0).sqrt())
}

/// Sample quantiles of all draws pooled over chains, at each probability in
/// `probs`, with numpy's default linear interpolation (`np.quantile`, type 7).
pub fn quantiles(chains: &[&[f64]], probs: &[f64]) -> Result<Vec<f64>, DiagnosticsError> {
    check(chains)?;
    if let Some(&prob) = probs.iter().find(|p| !(0.0..=1.0).contains(*p)) {
        return Err(DiagnosticsError::InvalidProbability { prob });
    }
    let sorted = sorted_draws(chains);
    Ok(probs.iter().map(|&p| quantile_sorted(&sorted, p)).collect())
}

/// Energy Bayesian fraction of missing information of one chain (Betancourt 2016):
/// mean((Eₜ − Eₜ₋₁)²) / Var(E) with the sample variance (ddof 1), ArviZ's `bfmi`.
/// Values below 0.3 suggest the momentum resampling explores the energy levels
/// poorly. Needs at least two finite energies; NaN when all are equal.
pub fn ebfmi(energy: &[f64]) -> Result<f64, DiagnosticsError> {
    if energy.len() < 2 {
        return Err(DiagnosticsError::TooFewDraws {
            draws: energy.len(),
            min: 2,
        });
    }
    if let Some((draw, &value)) = energy.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(DiagnosticsError::NonFiniteEnergy { draw, value });
    }
    let jumps = energy.windows(2).map(|w| (w[1] - w[0]) * (w[1] - w[0]));
    let mean_square_jump = jumps.sum::<f64>() / (energy.len() - 1) as f64;
    Ok(mean_square_jump / variance(energy, 1))
}
