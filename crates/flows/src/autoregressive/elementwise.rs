//! The elementwise maps of the autoregressive transforms, and the permutations
//! between transforms.

use serde::{Deserialize, Serialize};

use crate::nn::{sigmoid, softplus};
use crate::spline::Spline;

/// nflows' floor on the affine scale: scale = softplus(a) + 1e-3.
const MIN_SCALE: f64 = 1e-3;

/// The permutation of features after each transform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Permutation {
    /// Reverse the features (nflows' `MaskedAutoregressiveFlow`): consecutive
    /// transforms see opposite orders, so every feature depends on θ and on the others.
    Reverse,
    /// A random permutation per transform, drawn from the seed (sbi's `build_maf`
    /// uses `RandomPermutation`).
    Random,
}

/// The elementwise map of one feature given its MADE outputs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Elementwise {
    /// v = (softplus(a) + 10⁻³) · u + shift; outputs (a, shift).
    Affine,
    /// A rational-quadratic spline with linear tails.
    Spline(Spline),
}

impl Elementwise {
    pub(crate) fn multiplier(&self) -> usize {
        match self {
            Elementwise::Affine => 2,
            Elementwise::Spline(s) => s.n_params(),
        }
    }
    /// (v, log dv/du).
    #[inline]
    pub(crate) fn forward(&self, o: &[f64], u: f64) -> (f64, f64) {
        match self {
            Elementwise::Affine => {
                let scale = softplus(o[0]) + MIN_SCALE;
                (scale * u + o[1], scale.ln())
            }
            Elementwise::Spline(s) => s.forward(o, u),
        }
    }
    /// Adjoints of L = v̄ v + log dv/du: into `dout`, returning ∂L/∂u.
    #[inline]
    pub(crate) fn backward(&self, o: &[f64], u: f64, vbar: f64, dout: &mut [f64]) -> f64 {
        match self {
            Elementwise::Affine => {
                let scale = softplus(o[0]) + MIN_SCALE;
                dout[0] = (vbar * u + 1.0 / scale) * sigmoid(o[0]);
                dout[1] = vbar;
                vbar * scale
            }
            Elementwise::Spline(s) => s.backward(o, u, vbar, dout),
        }
    }
    /// Affine only: (scale, ∂scale/∂a) = (softplus(a) + 10⁻³, σ(a)) with one exp,
    /// for the batched passes, which keep them between forward and backward.
    #[inline]
    pub(crate) fn affine_scale(a: f64) -> (f64, f64) {
        let e = (-a.abs()).exp();
        let sig = if a >= 0.0 {
            1.0 / (1.0 + e)
        } else {
            e / (1.0 + e)
        };
        (a.max(0.0) + e.ln_1p() + MIN_SCALE, sig)
    }
    #[inline]
    pub(crate) fn inverse(&self, o: &[f64], v: f64) -> f64 {
        match self {
            Elementwise::Affine => (v - o[1]) / (softplus(o[0]) + MIN_SCALE),
            Elementwise::Spline(s) => s.inverse(o, v),
        }
    }
}
