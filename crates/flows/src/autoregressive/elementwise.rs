//! The elementwise maps of the autoregressive transforms, and the permutations
//! between transforms.

use serde::{Deserialize, Serialize};

use crate::nn::{sigmoid, softplus};
use crate::spline::Spline;
use crate::vmath;

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
    #[inline]
    pub(crate) fn inverse(&self, o: &[f64], v: f64) -> f64 {
        match self {
            Elementwise::Affine => (v - o[1]) / (softplus(o[0]) + MIN_SCALE),
            Elementwise::Spline(s) => s.inverse(o, v),
        }
    }
}

/// The affine map over one feature's row of a block (the batched passes): v =
/// scale·u + shift and log q += ln scale per column, and (a, shift) replaced by
/// (scale, σ(a)) for [`affine_backward_row`]. Vectorized at run time.
pub(crate) fn affine_forward_row(
    (a, shift): (&mut [f64], &mut [f64]),
    u: &[f64],
    v: &mut [f64],
    logq: &mut [f64],
) {
    pulp::Arch::new().dispatch(AffineForward {
        a,
        shift,
        u,
        v,
        logq,
    });
}

struct AffineForward<'a> {
    a: &'a mut [f64],
    shift: &'a mut [f64],
    u: &'a [f64],
    v: &'a mut [f64],
    logq: &'a mut [f64],
}

impl pulp::WithSimd for AffineForward<'_> {
    type Output = ();
    // Inlined into pulp's target-feature function, so the loop vectorizes there.
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        let AffineForward {
            a,
            shift,
            u,
            v,
            logq,
        } = self;
        for ((((a, s), u), v), lq) in a
            .iter_mut()
            .zip(shift.iter_mut())
            .zip(u)
            .zip(v.iter_mut())
            .zip(logq.iter_mut())
        {
            let (scale, sig) = vmath::softplus_sigmoid(*a, MIN_SCALE);
            *v = scale * u + *s;
            *lq += vmath::ln_positive(scale);
            *a = scale;
            *s = sig;
        }
    }
}

/// The adjoints of one feature's row after [`affine_forward_row`]: from v̄ into
/// (ā, shift̄) and ū (the elementwise part).
pub(crate) fn affine_backward_row(
    (scale, sig): (&[f64], &[f64]),
    (u, vbar): (&[f64], &[f64]),
    (da, dshift): (&mut [f64], &mut [f64]),
    du: &mut [f64],
) {
    for (((((da, ds), du), vb), (sc, sg)), u) in da
        .iter_mut()
        .zip(dshift.iter_mut())
        .zip(du.iter_mut())
        .zip(vbar)
        .zip(scale.iter().zip(sig))
        .zip(u)
    {
        *da = (vb * u + 1.0 / sc) * sg;
        *ds = *vb;
        *du = vb * sc;
    }
}
