//! The priors of the benchmark tasks: a box uniform, a multivariate normal,
//! independent log-normals and a Gamma. Constructors refuse bad parameters.

use rand::{Rng, RngExt};
use rand_distr::{Distribution as _, StandardNormal};

use crate::error::{ConfigError, SimulationError};
use crate::interface::{Interval, Prior};
use crate::linalg;

/// ln √(2π).
pub(crate) const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

/// Checks θ's length and refuses NaN (±∞ has a density: 0).
fn check_density_input(theta: &[f64], dim: usize) -> Result<(), SimulationError> {
    if theta.len() != dim {
        return Err(SimulationError::ThetaLength {
            expected: dim,
            got: theta.len(),
        });
    }
    match theta.iter().position(|v| v.is_nan()) {
        Some(index) => Err(SimulationError::InvalidTheta {
            index,
            value: theta[index],
        }),
        None => Ok(()),
    }
}

fn check_buffer(theta: &[f64], dim: usize) -> Result<(), SimulationError> {
    if theta.len() == dim {
        Ok(())
    } else {
        Err(SimulationError::ThetaLength {
            expected: dim,
            got: theta.len(),
        })
    }
}

/// Independent uniforms on `[low_i, high_i)` (sbibm's `BoxUniform`; torch's
/// `Uniform` includes `low` and excludes `high`).
#[derive(Debug, Clone, PartialEq)]
pub struct BoxUniform {
    low: Vec<f64>,
    high: Vec<f64>,
    log_density: f64,
}

impl BoxUniform {
    /// The box `[low_i, high_i)`; needs finite `low_i < high_i` and equal lengths.
    pub fn new(low: Vec<f64>, high: Vec<f64>) -> Result<Self, ConfigError> {
        if low.is_empty() {
            return Err(ConfigError::ZeroDimension);
        }
        if high.len() != low.len() {
            return Err(ConfigError::Length {
                name: "high",
                expected: low.len(),
                got: high.len(),
            });
        }
        if let Some(index) = low.iter().position(|v| !v.is_finite()) {
            return Err(ConfigError::BadParameter {
                name: "low",
                index,
                value: low[index],
            });
        }
        if let Some(index) = (0..low.len()).find(|&i| !(high[i].is_finite() && high[i] > low[i])) {
            return Err(ConfigError::BadParameter {
                name: "high",
                index,
                value: high[index],
            });
        }
        let log_density = -low
            .iter()
            .zip(&high)
            .map(|(l, h)| (h - l).ln())
            .sum::<f64>();
        Ok(BoxUniform {
            low,
            high,
            log_density,
        })
    }

    /// The cube `[-bound, bound)^dim`.
    pub fn symmetric(dim: usize, bound: f64) -> Result<Self, ConfigError> {
        Self::new(vec![-bound; dim], vec![bound; dim])
    }

    /// The cube `[-bound, bound)^dim` for built-in constants (`dim ≥ 1`,
    /// `bound > 0` by inspection).
    pub(crate) fn trusted_cube(dim: usize, bound: f64) -> Self {
        BoxUniform {
            low: vec![-bound; dim],
            high: vec![bound; dim],
            log_density: -(dim as f64) * (2.0 * bound).ln(),
        }
    }

    /// The box `[low_i, high_i)` for built-in constants (finite `low_i < high_i`
    /// and equal lengths by inspection).
    pub(crate) fn trusted(low: Vec<f64>, high: Vec<f64>) -> Self {
        let log_density = -low
            .iter()
            .zip(&high)
            .map(|(l, h)| (h - l).ln())
            .sum::<f64>();
        BoxUniform {
            low,
            high,
            log_density,
        }
    }

    /// Lower ends.
    pub fn low(&self) -> &[f64] {
        &self.low
    }

    /// Upper ends.
    pub fn high(&self) -> &[f64] {
        &self.high
    }

    /// Whether θ lies in the box (`low ≤ θ < high` in every coordinate).
    pub fn contains(&self, theta: &[f64]) -> bool {
        theta.len() == self.low.len()
            && theta
                .iter()
                .zip(self.low.iter().zip(&self.high))
                .all(|(t, (l, h))| l <= t && t < h)
    }
}

impl Prior for BoxUniform {
    fn dim(&self) -> usize {
        self.low.len()
    }

    fn sample_into(&self, rng: &mut dyn Rng, theta: &mut [f64]) -> Result<(), SimulationError> {
        check_buffer(theta, self.dim())?;
        for (t, (l, h)) in theta.iter_mut().zip(self.low.iter().zip(&self.high)) {
            let u: f64 = rng.random();
            // u < 1 but l + (h - l) u may round up to h; keep the draw inside.
            *t = (l + (h - l) * u).min(h.next_down());
        }
        Ok(())
    }

    fn log_prob(&self, theta: &[f64]) -> Result<f64, SimulationError> {
        check_density_input(theta, self.dim())?;
        Ok(if self.contains(theta) {
            self.log_density
        } else {
            f64::NEG_INFINITY
        })
    }

    fn bounds(&self) -> Vec<Interval> {
        self.low
            .iter()
            .zip(&self.high)
            .map(|(&low, &high)| Interval { low, high })
            .collect()
    }
}

/// A multivariate normal N(μ, Σ), stored as μ and the Cholesky factor of Σ.
#[derive(Debug, Clone, PartialEq)]
pub struct MultivariateNormal {
    mean: Vec<f64>,
    /// Lower Cholesky factor L of Σ, row-major.
    chol: Vec<f64>,
    /// −½ log det Σ − d ln √(2π).
    log_norm: f64,
}

impl MultivariateNormal {
    /// N(μ, Σ) from a row-major covariance matrix.
    pub fn from_covariance(mean: Vec<f64>, covariance: &[f64]) -> Result<Self, ConfigError> {
        let d = Self::check_mean(&mean)?;
        if covariance.len() != d * d {
            return Err(ConfigError::Length {
                name: "covariance",
                expected: d * d,
                got: covariance.len(),
            });
        }
        let chol = linalg::cholesky(covariance, d)
            .ok_or(ConfigError::NotPositiveDefinite("covariance"))?;
        let log_norm = -0.5 * linalg::log_det_from_cholesky(&chol, d) - d as f64 * LN_SQRT_2PI;
        Ok(MultivariateNormal {
            mean,
            chol,
            log_norm,
        })
    }

    /// N(μ, P⁻¹) from a row-major precision matrix P.
    pub fn from_precision(mean: Vec<f64>, precision: &[f64]) -> Result<Self, ConfigError> {
        let d = Self::check_mean(&mean)?;
        if precision.len() != d * d {
            return Err(ConfigError::Length {
                name: "precision",
                expected: d * d,
                got: precision.len(),
            });
        }
        let l =
            linalg::cholesky(precision, d).ok_or(ConfigError::NotPositiveDefinite("precision"))?;
        let covariance = linalg::inverse_from_cholesky(&l, d);
        Self::from_covariance(mean, &covariance)
    }

    /// N(μ, diag(variances)).
    pub fn diagonal(mean: Vec<f64>, variances: &[f64]) -> Result<Self, ConfigError> {
        let d = mean.len();
        if variances.len() != d {
            return Err(ConfigError::Length {
                name: "variances",
                expected: d,
                got: variances.len(),
            });
        }
        if let Some(index) = variances.iter().position(|v| !(v.is_finite() && *v > 0.0)) {
            return Err(ConfigError::BadParameter {
                name: "variances",
                index,
                value: variances[index],
            });
        }
        let mut covariance = vec![0.0; d * d];
        for (i, v) in variances.iter().enumerate() {
            covariance[i * d + i] = *v;
        }
        Self::from_covariance(mean, &covariance)
    }

    /// N(0, variance · I) for built-in constants (`dim ≥ 1`, `variance > 0`).
    pub(crate) fn trusted_isotropic(dim: usize, variance: f64) -> Self {
        let mut chol = vec![0.0; dim * dim];
        for i in 0..dim {
            chol[i * dim + i] = variance.sqrt();
        }
        MultivariateNormal {
            mean: vec![0.0; dim],
            chol,
            log_norm: -0.5 * dim as f64 * variance.ln() - dim as f64 * LN_SQRT_2PI,
        }
    }

    /// N(μ, P⁻¹) for a built-in constant precision matrix, positive definite
    /// by construction; equal to [`from_precision`](Self::from_precision) then.
    pub(crate) fn trusted_precision(mean: Vec<f64>, precision: &[f64]) -> Self {
        let d = mean.len();
        let l = linalg::cholesky_trusted(precision, d);
        let covariance = linalg::inverse_from_cholesky(&l, d);
        let chol = linalg::cholesky_trusted(&covariance, d);
        let log_norm = -0.5 * linalg::log_det_from_cholesky(&chol, d) - d as f64 * LN_SQRT_2PI;
        MultivariateNormal {
            mean,
            chol,
            log_norm,
        }
    }

    fn check_mean(mean: &[f64]) -> Result<usize, ConfigError> {
        if mean.is_empty() {
            return Err(ConfigError::ZeroDimension);
        }
        match mean.iter().position(|v| !v.is_finite()) {
            Some(index) => Err(ConfigError::BadParameter {
                name: "mean",
                index,
                value: mean[index],
            }),
            None => Ok(mean.len()),
        }
    }

    /// The mean μ.
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// The covariance Σ, row-major.
    pub fn covariance(&self) -> Vec<f64> {
        let d = self.mean.len();
        let l = &self.chol;
        let mut cov = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..d {
                cov[i * d + j] = (0..=i.min(j)).map(|k| l[i * d + k] * l[j * d + k]).sum();
            }
        }
        cov
    }
}

impl Prior for MultivariateNormal {
    fn dim(&self) -> usize {
        self.mean.len()
    }

    fn sample_into(&self, rng: &mut dyn Rng, theta: &mut [f64]) -> Result<(), SimulationError> {
        let d = self.dim();
        check_buffer(theta, d)?;
        let mut z = [0.0; 16];
        let mut z_heap = Vec::new();
        let z: &mut [f64] = if d <= z.len() {
            &mut z[..d]
        } else {
            z_heap.resize(d, 0.0);
            &mut z_heap
        };
        for zi in z.iter_mut() {
            *zi = StandardNormal.sample(rng);
        }
        for (i, t) in theta.iter_mut().enumerate() {
            let row = &self.chol[i * d..i * d + i + 1];
            *t = self.mean[i] + row.iter().zip(z.iter()).map(|(l, z)| l * z).sum::<f64>();
        }
        Ok(())
    }

    fn log_prob(&self, theta: &[f64]) -> Result<f64, SimulationError> {
        let d = self.dim();
        check_density_input(theta, d)?;
        let mut r: Vec<f64> = theta.iter().zip(&self.mean).map(|(t, m)| t - m).collect();
        linalg::solve_lower(&self.chol, d, &mut r);
        let quad: f64 = r.iter().map(|v| v * v).sum();
        Ok(if quad.is_nan() {
            // ∞ − ∞ inside the solve: θ is infinitely far from μ.
            f64::NEG_INFINITY
        } else {
            self.log_norm - 0.5 * quad
        })
    }

    fn bounds(&self) -> Vec<Interval> {
        vec![Interval::REAL; self.dim()]
    }
}

/// Independent log-normals: ln θ_i ~ N(loc_i, scale_i²).
#[derive(Debug, Clone, PartialEq)]
pub struct LogNormal {
    loc: Vec<f64>,
    scale: Vec<f64>,
}

impl LogNormal {
    /// ln θ_i ~ N(loc_i, scale_i²); needs finite `loc`, positive finite `scale`.
    pub fn new(loc: Vec<f64>, scale: Vec<f64>) -> Result<Self, ConfigError> {
        if loc.is_empty() {
            return Err(ConfigError::ZeroDimension);
        }
        if scale.len() != loc.len() {
            return Err(ConfigError::Length {
                name: "scale",
                expected: loc.len(),
                got: scale.len(),
            });
        }
        if let Some(index) = loc.iter().position(|v| !v.is_finite()) {
            return Err(ConfigError::BadParameter {
                name: "loc",
                index,
                value: loc[index],
            });
        }
        if let Some(index) = scale.iter().position(|v| !(v.is_finite() && *v > 0.0)) {
            return Err(ConfigError::BadParameter {
                name: "scale",
                index,
                value: scale[index],
            });
        }
        Ok(LogNormal { loc, scale })
    }

    /// For built-in constants (finite `loc`, positive `scale`, equal lengths).
    pub(crate) fn trusted(loc: Vec<f64>, scale: Vec<f64>) -> Self {
        LogNormal { loc, scale }
    }

    /// The means of ln θ.
    pub fn loc(&self) -> &[f64] {
        &self.loc
    }

    /// The standard deviations of ln θ.
    pub fn scale(&self) -> &[f64] {
        &self.scale
    }
}

impl Prior for LogNormal {
    fn dim(&self) -> usize {
        self.loc.len()
    }

    fn sample_into(&self, rng: &mut dyn Rng, theta: &mut [f64]) -> Result<(), SimulationError> {
        check_buffer(theta, self.dim())?;
        for (t, (m, s)) in theta.iter_mut().zip(self.loc.iter().zip(&self.scale)) {
            let z: f64 = StandardNormal.sample(rng);
            *t = (m + s * z).exp();
        }
        Ok(())
    }

    fn log_prob(&self, theta: &[f64]) -> Result<f64, SimulationError> {
        check_density_input(theta, self.dim())?;
        let mut lp = 0.0;
        for (t, (m, s)) in theta.iter().zip(self.loc.iter().zip(&self.scale)) {
            if *t <= 0.0 || *t == f64::INFINITY {
                return Ok(f64::NEG_INFINITY);
            }
            let ln_t = t.ln();
            let z = (ln_t - m) / s;
            lp += -ln_t - s.ln() - LN_SQRT_2PI - 0.5 * z * z;
        }
        Ok(lp)
    }

    fn bounds(&self) -> Vec<Interval> {
        vec![Interval::POSITIVE; self.dim()]
    }
}

/// A one-dimensional Gamma(shape α, rate β): density ∝ θ^(α−1) e^(−βθ) on θ > 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gamma {
    shape: f64,
    rate: f64,
}

impl Gamma {
    /// Gamma(shape, rate); both positive and finite.
    pub fn new(shape: f64, rate: f64) -> Result<Self, ConfigError> {
        if !(shape.is_finite() && shape > 0.0) {
            return Err(ConfigError::BadParameter {
                name: "shape",
                index: 0,
                value: shape,
            });
        }
        if !(rate.is_finite() && rate > 0.0) {
            return Err(ConfigError::BadParameter {
                name: "rate",
                index: 0,
                value: rate,
            });
        }
        Ok(Gamma { shape, rate })
    }

    /// For built-in constants (positive and finite by inspection).
    pub(crate) const fn trusted(shape: f64, rate: f64) -> Self {
        Gamma { shape, rate }
    }

    /// The shape α.
    pub fn shape(&self) -> f64 {
        self.shape
    }

    /// The rate β.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// The mean α / β.
    pub fn mean(&self) -> f64 {
        self.shape / self.rate
    }

    /// The variance α / β².
    pub fn variance(&self) -> f64 {
        self.shape / (self.rate * self.rate)
    }

    /// log density at one value (−∞ for t ≤ 0).
    pub fn ln_pdf(&self, t: f64) -> f64 {
        if t <= 0.0 || t == f64::INFINITY {
            return f64::NEG_INFINITY;
        }
        let (a, b) = (self.shape, self.rate);
        a * b.ln() - libm::lgamma(a) + (a - 1.0) * t.ln() - b * t
    }

    /// One draw.
    pub(crate) fn draw(&self, rng: &mut dyn Rng) -> Result<f64, SimulationError> {
        // rand_distr's Gamma takes a scale; the parameters were checked in `new`.
        let g = rand_distr::Gamma::new(self.shape, 1.0 / self.rate)
            .map_err(|e| SimulationError::Failed(format!("Gamma sampler: {e}")))?;
        Ok(g.sample(rng))
    }
}

impl Prior for Gamma {
    fn dim(&self) -> usize {
        1
    }

    fn sample_into(&self, rng: &mut dyn Rng, theta: &mut [f64]) -> Result<(), SimulationError> {
        check_buffer(theta, 1)?;
        theta[0] = self.draw(rng)?;
        Ok(())
    }

    fn log_prob(&self, theta: &[f64]) -> Result<f64, SimulationError> {
        check_density_input(theta, 1)?;
        Ok(self.ln_pdf(theta[0]))
    }

    fn bounds(&self) -> Vec<Interval> {
        vec![Interval::POSITIVE]
    }
}

/// log N(x; μ, σ²) for one coordinate.
pub(crate) fn normal_ln_pdf(x: f64, mean: f64, sd: f64) -> f64 {
    let z = (x - mean) / sd;
    -0.5 * z * z - sd.ln() - LN_SQRT_2PI
}

/// ln π, for the two-moons density.
pub(crate) const LN_PI: f64 = 1.144_729_885_849_400_2;

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    #[test]
    fn constants() {
        assert!((LN_SQRT_2PI - (2.0 * PI).sqrt().ln()).abs() < 1e-15);
        assert!((LN_PI - PI.ln()).abs() < 1e-15);
    }
}
