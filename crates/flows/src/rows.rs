//! Row-major matrices: a batch of x or θ vectors.

use crate::FlowError;

/// A borrowed row-major matrix: `data.len() == rows * cols`, `cols > 0`.
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
    /// Row `i` (panics if `i >= len()`, like slice indexing).
    pub fn row(&self, i: usize) -> &'a [f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }
    /// The rows in order.
    pub fn iter(&self) -> std::slice::ChunksExact<'a, f64> {
        self.data.chunks_exact(self.cols)
    }
    /// The flat row-major data.
    pub fn as_slice(&self) -> &'a [f64] {
        self.data
    }
    /// Rows `start..end` (panics if out of range, like slice indexing).
    pub fn slice(&self, start: usize, end: usize) -> RowsView<'a> {
        RowsView {
            data: &self.data[start * self.cols..end * self.cols],
            cols: self.cols,
        }
    }
    /// An owned copy.
    pub fn to_rows(&self) -> Rows {
        Rows {
            data: self.data.to_vec(),
            cols: self.cols,
        }
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
    /// `n` rows of zeros of width `cols`.
    pub fn zeros(n: usize, cols: usize) -> Result<Self, FlowError> {
        Self::new(vec![0.0; n * cols], cols)
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
    /// Row `i` (panics if `i >= len()`, like slice indexing).
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }
    /// Row `i`, mutable (panics if `i >= len()`).
    pub fn row_mut(&mut self, i: usize) -> &mut [f64] {
        &mut self.data[i * self.cols..(i + 1) * self.cols]
    }
    /// The flat row-major data.
    pub fn as_slice(&self) -> &[f64] {
        &self.data
    }
    /// The flat row-major data, consuming the rows.
    pub fn into_vec(self) -> Vec<f64> {
        self.data
    }
    /// A borrowed view.
    pub fn view(&self) -> RowsView<'_> {
        RowsView {
            data: &self.data,
            cols: self.cols,
        }
    }
}

/// Checks that `rows` has width `cols`, and that no entry is NaN.
pub(crate) fn check_rows(
    rows: RowsView<'_>,
    cols: usize,
    what: &'static str,
) -> Result<(), FlowError> {
    if rows.cols() != cols {
        return Err(FlowError::DimensionMismatch {
            what,
            expected: cols,
            got: rows.cols(),
        });
    }
    if rows.as_slice().iter().any(|v| v.is_nan()) {
        return Err(FlowError::NonFinite { what });
    }
    Ok(())
}

/// Checks that `v` has length `len` and is finite.
pub(crate) fn check_finite_vec(v: &[f64], len: usize, what: &'static str) -> Result<(), FlowError> {
    check_len(v, len, what)?;
    if v.iter().any(|x| !x.is_finite()) {
        return Err(FlowError::NonFinite { what });
    }
    Ok(())
}

/// `v` must have `len` entries (an output buffer such as a gradient).
pub(crate) fn check_len(v: &[f64], len: usize, what: &'static str) -> Result<(), FlowError> {
    if v.len() != len {
        return Err(FlowError::DimensionMismatch {
            what,
            expected: len,
            got: v.len(),
        });
    }
    Ok(())
}
