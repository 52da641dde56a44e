//! z-score standardization, part of every estimator and of its saved form.

use serde::{Deserialize, Serialize};

use crate::{FlowError, RowsView};

/// An elementwise affine map u = (v − mean) / std, with log|det ∂u/∂v| = −∑ ln std.
///
/// Estimators standardize θ before their networks (sbi's `z_score_y`) and continuous
/// x before their flows (sbi's `z_score_x`, Jacobian included in the density).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZScore {
    mean: Vec<f64>,
    std: Vec<f64>,
}

impl ZScore {
    /// sbi's floor on a standard deviation (`min_std` in `standardizing_transform`).
    pub const MIN_STD: f64 = 1e-14;

    /// The identity map on `dim` coordinates.
    pub fn identity(dim: usize) -> Self {
        Self {
            mean: vec![0.0; dim],
            std: vec![1.0; dim],
        }
    }
    /// From a mean and positive standard deviations.
    pub fn new(mean: Vec<f64>, std: Vec<f64>) -> Result<Self, FlowError> {
        if mean.len() != std.len() {
            return Err(FlowError::DimensionMismatch {
                what: "std",
                expected: mean.len(),
                got: std.len(),
            });
        }
        if mean.iter().any(|m| !m.is_finite()) || std.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(FlowError::InvalidConfig(
                "z-score needs a finite mean and finite positive standard deviations".into(),
            ));
        }
        Ok(Self { mean, std })
    }
    /// Column means and sample standard deviations (n − 1) of the finite rows, each
    /// standard deviation floored at [`ZScore::MIN_STD`] (sbi's `z_standardization`;
    /// with a single row the standard deviation is 1).
    pub fn fit(rows: RowsView<'_>) -> Result<Self, FlowError> {
        let d = rows.cols();
        let valid = || rows.iter().filter(|r| r.iter().all(|v| v.is_finite()));
        let n = valid().count();
        if n == 0 {
            return Err(FlowError::Empty {
                what: "finite rows to standardize",
            });
        }
        let mut mean = vec![0.0; d];
        for r in valid() {
            for (m, v) in mean.iter_mut().zip(r) {
                *m += v;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let mut std = vec![1.0; d];
        if n > 1 {
            let mut ss = vec![0.0; d];
            for r in valid() {
                for ((s, v), m) in ss.iter_mut().zip(r).zip(&mean) {
                    *s += (v - m) * (v - m);
                }
            }
            for (s, q) in std.iter_mut().zip(ss) {
                *s = (q / (n - 1) as f64).sqrt().max(Self::MIN_STD);
            }
        }
        Self::new(mean, std)
    }
    /// Number of coordinates.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }
    /// The means.
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }
    /// The standard deviations.
    pub fn std(&self) -> &[f64] {
        &self.std
    }
    /// u = (v − mean) / std into `out`.
    #[inline]
    pub fn forward(&self, v: &[f64], out: &mut [f64]) {
        for (((o, v), m), s) in out.iter_mut().zip(v).zip(&self.mean).zip(&self.std) {
            *o = (v - m) / s;
        }
    }
    /// v = mean + std · u into `out`.
    #[inline]
    pub fn inverse(&self, u: &[f64], out: &mut [f64]) {
        for (((o, u), m), s) in out.iter_mut().zip(u).zip(&self.mean).zip(&self.std) {
            *o = m + s * u;
        }
    }
    /// log|det ∂u/∂v| = −∑ ln std.
    pub fn log_abs_det(&self) -> f64 {
        -self.std.iter().map(|s| s.ln()).sum::<f64>()
    }
    pub(crate) fn validate(&self, dim: usize, what: &str) -> Result<(), FlowError> {
        Self::new(self.mean.clone(), self.std.clone())
            .map_err(|e| FlowError::Corrupt(format!("{what}: {e}")))?;
        if self.dim() != dim {
            return Err(FlowError::Corrupt(format!(
                "{what} has {} coordinates, expected {dim}",
                self.dim()
            )));
        }
        Ok(())
    }
}
