//! The Euclidean metric: momentum distribution, velocity and kinetic energy.

use rand::{Rng, RngExt};
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use crate::Metric;
use crate::linalg::{LANES, axpy, cholesky, dot, matvec, solve_lower_transpose_in_place};

/// The inverse metric M⁻¹ a chain ended with (what cmdstan calls `inv_metric`): the
/// regularized posterior (co)variance estimate of the warm-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum InverseMetric {
    /// The diagonal of M⁻¹ (variances).
    Diagonal(Vec<f64>),
    /// M⁻¹ as a row-major `dim × dim` matrix (covariance).
    Dense {
        /// Rows (= columns).
        dim: usize,
        /// Row-major entries.
        matrix: Vec<f64>,
    },
}

/// The metric as the integrator uses it. Momentum p ~ N(0, M), velocity v = M⁻¹ p,
/// kinetic energy ½ pᵀ M⁻¹ p; with Σ = M⁻¹ = L Lᵀ, p = L⁻ᵀ z for z ~ N(0, I).
#[derive(Debug, Clone)]
pub(crate) enum EuclideanMetric {
    Diagonal {
        inv: Vec<f64>,
        momentum_sd: Vec<f64>,
    },
    Dense {
        dim: usize,
        sigma: Vec<f64>,
        chol: Vec<f64>,
    },
}

impl EuclideanMetric {
    /// M = I, in the shape of `kind`.
    pub(crate) fn identity(kind: Metric, dim: usize) -> Self {
        match kind {
            Metric::Dense => {
                let mut sigma = vec![0.0; dim * dim];
                for i in 0..dim {
                    sigma[i * dim + i] = 1.0;
                }
                Self::Dense {
                    dim,
                    chol: sigma.clone(),
                    sigma,
                }
            }
            _ => Self::Diagonal {
                inv: vec![1.0; dim],
                momentum_sd: vec![1.0; dim],
            },
        }
    }

    /// Diagonal M⁻¹ = diag(`inv`), or `None` unless every entry is positive and finite.
    pub(crate) fn diagonal(inv: Vec<f64>) -> Option<Self> {
        if !inv.iter().all(|v| v.is_finite() && *v > 0.0) {
            return None;
        }
        let momentum_sd = inv.iter().map(|v| 1.0 / v.sqrt()).collect();
        Some(Self::Diagonal { inv, momentum_sd })
    }

    /// Dense M⁻¹ = `sigma` (row-major), or `None` unless it is finite and positive definite.
    pub(crate) fn dense(sigma: Vec<f64>, dim: usize) -> Option<Self> {
        if !sigma.iter().all(|v| v.is_finite()) {
            return None;
        }
        let chol = cholesky(&sigma, dim)?;
        Some(Self::Dense { dim, sigma, chol })
    }

    /// v = M⁻¹ p.
    pub(crate) fn velocity(&self, p: &[f64], v: &mut [f64]) {
        match self {
            Self::Diagonal { inv, .. } => {
                for ((vi, pi), s) in v.iter_mut().zip(p).zip(inv) {
                    *vi = s * pi;
                }
            }
            Self::Dense { sigma, .. } => matvec(sigma, p, v),
        }
    }

    /// The first half of a leapfrog step: p += h·g, v = M⁻¹p, q += ε·v (one pass when
    /// diagonal).
    pub(crate) fn kick_drift(
        &self,
        h: f64,
        eps: f64,
        g: &[f64],
        p: &mut [f64],
        v: &mut [f64],
        q: &mut [f64],
    ) {
        match self {
            Self::Diagonal { inv, .. } => {
                for ((((pi, vi), qi), gi), s) in p
                    .iter_mut()
                    .zip(v.iter_mut())
                    .zip(q.iter_mut())
                    .zip(g)
                    .zip(inv)
                {
                    *pi += h * gi;
                    *vi = s * *pi;
                    *qi += eps * *vi;
                }
            }
            Self::Dense { sigma, .. } => {
                axpy(h, g, p);
                matvec(sigma, p, v);
                axpy(eps, v, q);
            }
        }
    }

    /// The last half of a leapfrog step: p += h·g, v = M⁻¹p; returns the kinetic energy
    /// ½ p·v (one pass when diagonal).
    pub(crate) fn kick_kinetic(&self, h: f64, g: &[f64], p: &mut [f64], v: &mut [f64]) -> f64 {
        match self {
            Self::Diagonal { inv, .. } => {
                // In chunks of LANES, so that the sum vectorizes.
                let ((pc, pt), (vc, vt)) = (p.as_chunks_mut::<LANES>(), v.as_chunks_mut::<LANES>());
                let ((gc, gt), (sc, st)) = (g.as_chunks::<LANES>(), inv.as_chunks::<LANES>());
                let mut acc = [0.0; LANES];
                for (((p, v), g), s) in pc.iter_mut().zip(vc).zip(gc).zip(sc) {
                    for k in 0..LANES {
                        p[k] += h * g[k];
                        v[k] = s[k] * p[k];
                        acc[k] += p[k] * v[k];
                    }
                }
                for (((p, v), g), s) in pt.iter_mut().zip(vt).zip(gt).zip(st) {
                    *p += h * g;
                    *v = s * *p;
                    acc[0] += *p * *v;
                }
                0.5 * acc.iter().sum::<f64>()
            }
            Self::Dense { sigma, .. } => {
                axpy(h, g, p);
                matvec(sigma, p, v);
                0.5 * dot(p, v)
            }
        }
    }

    /// Draws p ~ N(0, M).
    pub(crate) fn sample_momentum<R: Rng>(&self, rng: &mut R, p: &mut [f64]) {
        for pi in p.iter_mut() {
            *pi = rng.sample(StandardNormal);
        }
        match self {
            Self::Diagonal { momentum_sd, .. } => {
                for (pi, s) in p.iter_mut().zip(momentum_sd) {
                    *pi *= s;
                }
            }
            Self::Dense { chol, .. } => solve_lower_transpose_in_place(chol, p),
        }
    }

    /// M⁻¹ as the public output type.
    pub(crate) fn inverse(&self) -> InverseMetric {
        match self {
            Self::Diagonal { inv, .. } => InverseMetric::Diagonal(inv.clone()),
            Self::Dense { dim, sigma, .. } => InverseMetric::Dense {
                dim: *dim,
                matrix: sigma.clone(),
            },
        }
    }
}
