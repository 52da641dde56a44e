//! The normal distribution.

use rand::Rng;
use rand_distr::{Distribution as _, StandardNormal};

use super::{Distribution, Param, broadcast_shapes, broadcast_values, sample_batch};
use crate::ad::{Operand, Shape, Tape, Var};
use crate::constraint::Constraint;
use crate::error::PplError;
use crate::special::LN_SQRT_2PI;

/// Normal(loc, scale): density exp(−(x−μ)²/(2σ²)) / (σ√(2π)).
#[derive(Clone, Debug)]
pub struct Normal<'t> {
    loc: Param<'t>,
    scale: Param<'t>,
    shape: Shape,
}

impl<'t> Normal<'t> {
    /// `loc` finite, `scale` finite and > 0.
    pub fn new(loc: impl Into<Param<'t>>, scale: impl Into<Param<'t>>) -> Result<Self, PplError> {
        let loc = loc.into().finite("Normal", "loc")?;
        let scale = scale.into().positive("Normal", "scale")?;
        let shape = broadcast_shapes("Normal", &[loc.shape(), scale.shape()])?;
        Ok(Normal { loc, scale, shape })
    }
}

/// log N(x | μ, σ) with partials (∂x, ∂μ, ∂σ): the kernel shared with HalfNormal and LogNormal.
#[inline]
pub(crate) fn normal_lp(x: f64, mu: f64, sigma: f64, d: &mut [f64; 3]) -> f64 {
    // Divisions, not 1/σ: for a subnormal σ, 1/σ overflows and (x − μ)·∞ is NaN at x = μ.
    let z = (x - mu) / sigma;
    d[0] = -z / sigma;
    d[1] = z / sigma;
    d[2] = (z * z - 1.0) / sigma;
    -0.5 * z * z - sigma.ln() - LN_SQRT_2PI
}

/// As [`normal_lp`] given 1/σ and ln σ, so a plate sharing one σ computes them once
/// (no logarithm or division per element).
#[inline]
pub(crate) fn normal_lp_shared(
    x: f64,
    mu: f64,
    inv_sigma: f64,
    ln_sigma: f64,
    d: &mut [f64; 3],
) -> f64 {
    let z = (x - mu) * inv_sigma;
    d[0] = -z * inv_sigma;
    d[1] = z * inv_sigma;
    d[2] = (z * z - 1.0) * inv_sigma;
    -0.5 * z * z - ln_sigma - LN_SQRT_2PI
}

/// The one scale σ shared by the whole batch, if there is one.
pub(crate) fn shared_scale(p: &Param<'_>) -> Option<f64> {
    p.with_values(|v| if v.len() == 1 { Some(v[0]) } else { None })
}

impl<'t> Distribution<'t> for Normal<'t> {
    fn name(&self) -> &'static str {
        "Normal"
    }
    fn batch_shape(&self) -> Shape {
        self.shape
    }
    fn support(&self) -> Constraint {
        Constraint::Real
    }
    fn log_prob(&self, tape: &'t Tape, value: Operand<'_, 't>) -> Var<'t> {
        let inputs = [value, self.loc.operand(), self.scale.operand()];
        // Two monomorphic kernels: a per-element branch on a shared σ would let the
        // compiler speculate the logarithm for every element anyway.
        match shared_scale(&self.scale) {
            Some(sigma) if (1.0 / sigma).is_finite() => {
                let (inv, ln) = (1.0 / sigma, sigma.ln());
                tape.elementwise(inputs, move |&[x, mu, _], d| {
                    if !x.is_finite() {
                        *d = [0.0; 3];
                        return f64::NEG_INFINITY;
                    }
                    normal_lp_shared(x, mu, inv, ln, d)
                })
            }
            _ => tape.elementwise(inputs, |&[x, mu, sigma], d| {
                if !x.is_finite() {
                    *d = [0.0; 3];
                    return f64::NEG_INFINITY;
                }
                normal_lp(x, mu, sigma, d)
            }),
        }
    }
    fn sample(&self, rng: &mut dyn Rng) -> Vec<f64> {
        let (mu, sigma) = (
            broadcast_values(&self.loc, self.shape),
            broadcast_values(&self.scale, self.shape),
        );
        sample_batch(self.shape.len(), |i| {
            let z: f64 = StandardNormal.sample(rng);
            mu[i] + sigma[i] * z
        })
    }
    fn mean(&self) -> Option<Vec<f64>> {
        Some(broadcast_values(&self.loc, self.shape))
    }
    fn variance(&self) -> Option<Vec<f64>> {
        Some(
            broadcast_values(&self.scale, self.shape)
                .iter()
                .map(|s| s * s)
                .collect(),
        )
    }
}
