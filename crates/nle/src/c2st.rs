//! The classifier two-sample test (C2ST) as sbibm computes it
//! (`sbibm/metrics/c2st.py`, REFERENCES.md §5).

use flows::{Rows, RowsView};
use rand::seq::SliceRandom;
use rayon::prelude::*;

use crate::NleError;
use crate::classifier::Mlp;
use crate::simulate::stream;

/// Settings of [`c2st_with`]; the defaults are sbibm's.
#[derive(Debug, Clone, PartialEq)]
pub struct C2stConfig {
    /// Cross-validation folds (sbibm: 5).
    pub folds: usize,
    /// Standardize both samples with the first sample's mean and sd (sbibm: yes).
    pub z_score: bool,
    /// Epoch limit of each classifier (sbibm: `max_iter = 10000`; the stopping
    /// rule usually ends training long before).
    pub max_epochs: usize,
    /// Hidden units per layer for each input dimension (sbibm: 10).
    pub hidden_per_dim: usize,
    /// Seed of the fold split, the initializations and the batch orders.
    pub seed: u64,
}

impl Default for C2stConfig {
    fn default() -> Self {
        Self {
            folds: 5,
            z_score: true,
            max_epochs: 10_000,
            hidden_per_dim: 10,
            seed: 1,
        }
    }
}

/// Classifier two-sample test accuracy between samples `a` and `b` (rows are
/// draws): 0.5 when a classifier cannot tell them apart, 1.0 when it always can.
/// sbibm's settings ([`C2stConfig::default`]) with the given seed.
///
/// ```
/// use flows::Rows;
///
/// let a = Rows::new((0..400).map(|i| (i as f64 * 0.618).fract()).collect(), 1)?;
/// let b = Rows::new((0..400).map(|i| 5.0 + (i as f64 * 0.618).fract()).collect(), 1)?;
/// assert!(nle::c2st(a.view(), b.view(), 1)? > 0.95);
/// # Ok::<(), nle::NleError>(())
/// ```
pub fn c2st(a: RowsView<'_>, b: RowsView<'_>, seed: u64) -> Result<f64, NleError> {
    c2st_with(
        a,
        b,
        &C2stConfig {
            seed,
            ..C2stConfig::default()
        },
    )
}

/// [`c2st`] with every setting given.
///
/// As sbibm: both samples are standardized with the mean and standard
/// deviation (n − 1) of `a` (a column with zero spread is left unscaled), labelled
/// 0 (`a`) and 1 (`b`), shuffled into `folds` folds (scikit-learn's `KFold`,
/// not stratified: fold sizes differ by at most one), and for each fold an MLP
/// classifier (two ReLU layers of `hidden_per_dim`·dim units, Adam; see
/// scikit-learn's `MLPClassifier`) is trained on the other folds; the result is
/// the mean of the folds' test accuracies. The folds train in parallel, each
/// from its own random stream, so the result depends only on the data and the
/// seed.
///
/// Cost (measured on this project's 2-core machine): 2 × 10,000 draws take
/// about 1 CPU-second in 2-D and about 200 CPU-seconds in 10-D, where each fold
/// trains for several hundred epochs of a 10 → 100 → 100 → 1 network, as
/// scikit-learn does.
pub fn c2st_with(a: RowsView<'_>, b: RowsView<'_>, config: &C2stConfig) -> Result<f64, NleError> {
    let dim = a.cols();
    if b.cols() != dim {
        return Err(NleError::DimensionMismatch {
            what: "second sample vs first",
            expected: dim,
            got: b.cols(),
        });
    }
    if config.folds < 2 {
        return Err(NleError::InvalidConfig {
            name: "folds",
            reason: format!("at least 2; got {}", config.folds),
        });
    }
    if config.max_epochs == 0 || config.hidden_per_dim == 0 {
        return Err(NleError::InvalidConfig {
            name: "max_epochs / hidden_per_dim",
            reason: "must be positive".into(),
        });
    }
    for (s, what) in [(a, "first"), (b, "second")] {
        if s.len() < 2 {
            return Err(NleError::TooFewRows {
                what: "each sample of a two-sample test",
                needed: 2,
                got: s.len(),
            });
        }
        if s.as_slice().iter().any(|v| !v.is_finite()) {
            return Err(NleError::NonFinite {
                what: format!("the {what} sample"),
            });
        }
    }
    let n = a.len() + b.len();
    if n < 2 * config.folds {
        return Err(NleError::TooFewRows {
            what: "the folds of a two-sample test",
            needed: 2 * config.folds,
            got: n,
        });
    }
    let data = standardized(a, b, config.z_score)?;
    let labels: Vec<f64> = (0..n).map(|i| f64::from(u8::from(i >= a.len()))).collect();
    // scikit-learn's KFold(shuffle=True): a permutation cut into `folds` runs, the
    // first n mod k of them one longer.
    let mut perm: Vec<usize> = (0..n).collect();
    perm.shuffle(&mut stream(config.seed, u64::MAX));
    let (base, extra) = (n / config.folds, n % config.folds);
    let bounds: Vec<(usize, usize)> = (0..config.folds)
        .scan(0, |start, k| {
            let len = base + usize::from(k < extra);
            let out = (*start, *start + len);
            *start += len;
            Some(out)
        })
        .collect();
    let hidden = config.hidden_per_dim * dim;
    let correct: Vec<usize> = bounds
        .par_iter()
        .enumerate()
        .map(|(k, &(lo, hi))| -> Result<usize, NleError> {
            let mut test = perm[lo..hi].to_vec();
            test.sort_unstable();
            let train: Vec<usize> = perm[..lo].iter().chain(&perm[hi..]).copied().collect();
            let pick = |idx: &[usize]| -> Result<(Rows, Vec<f64>), NleError> {
                let mut rows = Vec::with_capacity(idx.len() * dim);
                for &i in idx {
                    rows.extend_from_slice(data.row(i));
                }
                Ok((
                    Rows::new(rows, dim)?,
                    idx.iter().map(|&i| labels[i]).collect(),
                ))
            };
            let (xs, ys) = pick(&train)?;
            let mut rng = stream(config.seed, k as u64);
            let net = Mlp::fit(xs.view(), &ys, hidden, config.max_epochs, &mut rng);
            let (xt, yt) = pick(&test)?;
            Ok(net.correct(xt.view(), &yt))
        })
        .collect::<Result<_, _>>()?;
    let mean = correct
        .iter()
        .zip(&bounds)
        .map(|(&c, &(lo, hi))| c as f64 / (hi - lo) as f64)
        .sum::<f64>()
        / config.folds as f64;
    Ok(mean)
}

/// `a` then `b` as one matrix, standardized with `a`'s mean and sd if asked.
fn standardized(a: RowsView<'_>, b: RowsView<'_>, z_score: bool) -> Result<Rows, NleError> {
    let dim = a.cols();
    let mut data: Vec<f64> = a.as_slice().iter().chain(b.as_slice()).copied().collect();
    if z_score {
        let na = a.len() as f64;
        let mut mean = vec![0.0; dim];
        for r in a.iter() {
            axpy(1.0 / na, r, &mut mean);
        }
        let mut sd = vec![0.0; dim];
        for r in a.iter() {
            for ((s, v), m) in sd.iter_mut().zip(r).zip(&mean) {
                *s += (v - m) * (v - m) / (na - 1.0);
            }
        }
        for s in &mut sd {
            *s = if *s > 0.0 { s.sqrt() } else { 1.0 };
        }
        for r in data.chunks_exact_mut(dim) {
            for ((v, m), s) in r.iter_mut().zip(&mean).zip(&sd) {
                *v = (*v - m) / s;
            }
        }
    }
    Ok(Rows::new(data, dim)?)
}

fn axpy(alpha: f64, x: &[f64], y: &mut [f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}
