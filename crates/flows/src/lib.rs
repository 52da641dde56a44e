//! Conditional density estimators q(x | θ) for neural likelihood estimation.
//!
//! `flows` depends on no other workspace crate. It will hold masked autoregressive
//! flows, neural spline flows, a categorical mass estimator and the mixed (MNLE)
//! estimator; this first version fixes the [`ConditionalDensity`] interface that
//! `bridge` and `nle` build against, and the row-major [`Rows`] container.
//!
//! ```
//! use flows::Rows;
//!
//! let rows = Rows::new(vec![1.0, 2.0, 3.0, 4.0], 2).unwrap();
//! assert_eq!(rows.len(), 2);
//! assert_eq!(rows.row(1), &[3.0, 4.0]);
//! ```

use rand::Rng;

/// Errors of this crate.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum FlowError {
    /// The flat data length is not a multiple of the row width.
    #[error("data of length {len} cannot be split into rows of width {cols}")]
    RaggedRows {
        /// Length of the flat data.
        len: usize,
        /// Requested row width.
        cols: usize,
    },
}

/// A borrowed row-major matrix: `data.len() == rows * cols`.
#[derive(Debug, Clone, Copy)]
pub struct RowsView<'a> {
    data: &'a [f64],
    cols: usize,
}

impl<'a> RowsView<'a> {
    /// Views `data` as rows of width `cols`.
    pub fn new(data: &'a [f64], cols: usize) -> Result<Self, FlowError> {
        if cols == 0 || !data.len().is_multiple_of(cols) {
            return Err(FlowError::RaggedRows {
                len: data.len(),
                cols,
            });
        }
        Ok(Self { data, cols })
    }
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.data.len() / self.cols
    }
    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    /// Row width.
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// Row `i`.
    pub fn row(&self, i: usize) -> &'a [f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }
    /// The flat row-major data.
    pub fn as_slice(&self) -> &'a [f64] {
        self.data
    }
}

/// An owned row-major matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Rows {
    data: Vec<f64>,
    cols: usize,
}

impl Rows {
    /// Rows of width `cols` from flat row-major data.
    pub fn new(data: Vec<f64>, cols: usize) -> Result<Self, FlowError> {
        RowsView::new(&data, cols)?;
        Ok(Self { data, cols })
    }
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.data.len() / self.cols
    }
    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }
    /// A borrowed view.
    pub fn view(&self) -> RowsView<'_> {
        RowsView {
            data: &self.data,
            cols: self.cols,
        }
    }
}

/// What a trained likelihood estimator offers: log q(x | θ), its gradient in θ, samples.
pub trait ConditionalDensity: Send + Sync {
    /// Width of one observation row x.
    fn x_dim(&self) -> usize;
    /// Width of the conditioning vector θ.
    fn context_dim(&self) -> usize;
    /// log q(x | θ) for one row.
    fn log_prob(&self, x: &[f64], context: &[f64]) -> f64;
    /// Σ_i log q(x_i | θ) over iid rows sharing one θ; adds ∂/∂θ into `grad`.
    /// The hot path of hierarchical inference: the θ part is computed once per call.
    fn sum_log_prob_grad_context(&self, xs: RowsView<'_>, context: &[f64], grad: &mut [f64])
    -> f64;
    /// `n` draws x ~ q(· | θ).
    fn sample(&self, context: &[f64], n: usize, rng: &mut dyn Rng) -> Rows;
}
