//! The training data: valid (θ, x) pairs split at random into a training and a
//! validation part, as sbi's `get_dataloaders` does.

use flows::{Rows, RowsView};
use rand::seq::SliceRandom;
use simulators::io::Simulations;

use crate::NleError;
use crate::simulate::stream;

/// The random stream of the split (stream `u64::MAX` of the seed: simulation `i`
/// uses stream `i`, so a data set split with the seed it was simulated with draws
/// independent numbers).
const SPLIT_STREAM: u64 = u64::MAX;

/// Simulated pairs split into training and validation rows.
///
/// Rows with NaN or ±∞ in θ or x are excluded and counted (simulations loaded
/// from files keep their failures as NaN). The valid rows are shuffled with the
/// seed; the first ⌊(1 − f)·n⌋ train and the rest validate (sbi's split,
/// `torch.randperm` replaced by a ChaCha8 shuffle).
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    train_theta: Rows,
    train_x: Rows,
    val_theta: Rows,
    val_x: Rows,
    excluded: usize,
}

impl Dataset {
    /// Splits `sims` with validation fraction `validation_fraction` (sbi: 0.1),
    /// shuffled with `seed`.
    ///
    /// ```
    /// use simulators::io::Simulations;
    ///
    /// let theta: Vec<f64> = (0..100).map(f64::from).collect();
    /// let mut x = theta.clone();
    /// x[3] = f64::NAN; // a failed simulation
    /// let data = nle::Dataset::new(&Simulations::new(1, 1, theta, x)?, 0.1, 7)?;
    /// assert_eq!((data.train_len(), data.validation_len(), data.excluded()), (89, 10, 1));
    /// # Ok::<(), nle::NleError>(())
    /// ```
    pub fn new(sims: &Simulations, validation_fraction: f64, seed: u64) -> Result<Self, NleError> {
        Self::from_rows(
            RowsView::new(sims.theta(), sims.theta_dim())?,
            RowsView::new(sims.x(), sims.x_dim())?,
            validation_fraction,
            seed,
        )
    }

    /// Splits row-aligned θ and x as [`Dataset::new`] does.
    pub fn from_rows(
        theta: RowsView<'_>,
        x: RowsView<'_>,
        validation_fraction: f64,
        seed: u64,
    ) -> Result<Self, NleError> {
        if theta.len() != x.len() {
            return Err(NleError::DimensionMismatch {
                what: "rows of x vs rows of θ",
                expected: theta.len(),
                got: x.len(),
            });
        }
        if !(validation_fraction > 0.0 && validation_fraction < 1.0) {
            return Err(NleError::InvalidConfig {
                name: "validation_fraction",
                reason: format!("must be in (0, 1); got {validation_fraction}"),
            });
        }
        let finite = |r: &[f64]| r.iter().all(|v| v.is_finite());
        let mut valid: Vec<usize> = (0..x.len())
            .filter(|&i| finite(x.row(i)) && finite(theta.row(i)))
            .collect();
        let n = valid.len();
        // sbi: `int((1 - validation_fraction) * num_examples)` training rows.
        let n_train = ((1.0 - validation_fraction) * n as f64) as usize;
        if n_train == 0 {
            return Err(NleError::TooFewRows {
                what: "a non-empty training part",
                needed: (1.0 / (1.0 - validation_fraction)).ceil().max(2.0) as usize,
                got: n,
            });
        }
        if n_train == n {
            return Err(NleError::InvalidConfig {
                name: "validation_fraction",
                reason: format!("{validation_fraction} leaves no validation row out of {n}"),
            });
        }
        valid.shuffle(&mut stream(seed, SPLIT_STREAM));
        let gather = |rows: RowsView<'_>, idx: &[usize]| {
            let mut out = Vec::with_capacity(idx.len() * rows.cols());
            for &i in idx {
                out.extend_from_slice(rows.row(i));
            }
            Rows::new(out, rows.cols())
        };
        let (tr, va) = valid.split_at(n_train);
        Ok(Self {
            train_theta: gather(theta, tr)?,
            train_x: gather(x, tr)?,
            val_theta: gather(theta, va)?,
            val_x: gather(x, va)?,
            excluded: x.len() - n,
        })
    }

    /// Width of θ.
    pub fn theta_dim(&self) -> usize {
        self.train_theta.cols()
    }
    /// Width of x.
    pub fn x_dim(&self) -> usize {
        self.train_x.cols()
    }
    /// Number of training rows.
    pub fn train_len(&self) -> usize {
        self.train_x.len()
    }
    /// Number of validation rows.
    pub fn validation_len(&self) -> usize {
        self.val_x.len()
    }
    /// Number of rows excluded for NaN or ±∞.
    pub fn excluded(&self) -> usize {
        self.excluded
    }
    /// Training θ (build estimators from these: sbi z-scores with the training
    /// part only).
    pub fn train_theta(&self) -> RowsView<'_> {
        self.train_theta.view()
    }
    /// Training x.
    pub fn train_x(&self) -> RowsView<'_> {
        self.train_x.view()
    }
    /// Validation θ.
    pub fn validation_theta(&self) -> RowsView<'_> {
        self.val_theta.view()
    }
    /// Validation x.
    pub fn validation_x(&self) -> RowsView<'_> {
        self.val_x.view()
    }
}
