//! The Cauchy distribution, and numerical helpers shared by the continuous distributions.

use std::f64::consts::LN_2;

use rand::Rng;
use rand_distr::Distribution as _;

use super::{Distribution, Param, broadcast_shapes, broadcast_values, sample_batch};
use crate::ad::{Operand, Shape, Tape, Var};
use crate::constraint::Constraint;
use crate::error::PplError;

/// ln π.
const LN_PI: f64 = 1.144_729_885_849_400_2;

/// Cauchy(loc μ, scale s): density 1 / (π s (1 + ((x−μ)/s)²)). No mean or variance.
#[derive(Clone, Debug)]
pub struct Cauchy<'t> {
    loc: Param<'t>,
    scale: Param<'t>,
    shape: Shape,
}

impl<'t> Cauchy<'t> {
    /// `loc` finite, `scale` finite and > 0.
    pub fn new(loc: impl Into<Param<'t>>, scale: impl Into<Param<'t>>) -> Result<Self, PplError> {
        let loc = loc.into().finite("Cauchy", "loc")?;
        let scale = scale.into().positive("Cauchy", "scale")?;
        let shape = broadcast_shapes("Cauchy", &[loc.shape(), scale.shape()])?;
        Ok(Cauchy { loc, scale, shape })
    }
}

/// Finishes a log density: a result that is not finite becomes −∞ with zero partials.
///
/// None of the continuous densities here is +∞ at a representable point, so a non-finite
/// result means a zero density (−∞) or an intermediate overflow at parameters near
/// `f64::MAX` (NaN, ±∞); both are reported as −∞ rather than propagated as NaN.
#[inline]
pub(crate) fn finish_lp<const K: usize>(lp: f64, d: &mut [f64; K]) -> f64 {
    if lp.is_finite() {
        lp
    } else {
        *d = [0.0; K];
        f64::NEG_INFINITY
    }
}

/// ln |a − b| for finite a, b, also when a − b overflows.
#[inline]
pub(crate) fn ln_abs_diff(a: f64, b: f64) -> f64 {
    let d = a - b;
    if d.is_finite() {
        d.abs().ln()
    } else {
        (0.5 * a - 0.5 * b).abs().ln() + LN_2
    }
}

/// log Cauchy(x | μ, s) with partials (∂x, ∂μ, ∂s) for finite x, μ and finite s > 0.
///
/// With z = (x−μ)/s the density is −ln(πs) − ln1p(z²). For |z| > 1 it is evaluated as
/// −ln π + ln s − 2 ln|x−μ| − ln1p(1/z²), which neither overflows nor loses the tail.
#[inline]
pub(crate) fn cauchy_lp(x: f64, mu: f64, s: f64, d: &mut [f64; 3]) -> f64 {
    let dev = x - mu;
    if dev.abs() <= s {
        let z = dev / s;
        let q = 1.0 + z * z;
        let gx = -2.0 * z / (s * q);
        *d = [gx, -gx, (z * z - 1.0) / (s * q)];
        -LN_PI - s.ln() - (z * z).ln_1p()
    } else {
        // |dev| > s (or dev overflowed): r = 1/z ∈ (−1, 1).
        let r = s / dev;
        let q = 1.0 + r * r;
        let gx = -2.0 / (dev * q);
        *d = [gx, -gx, (1.0 - r * r) / (s * q)];
        -LN_PI + s.ln() - 2.0 * ln_abs_diff(x, mu) - (r * r).ln_1p()
    }
}

/// One standard Cauchy draw (inverse CDF, as in `rand_distr`).
pub(crate) fn standard_cauchy(rng: &mut dyn Rng) -> f64 {
    match rand_distr::Cauchy::new(0.0, 1.0) {
        Ok(c) => c.sample(rng),
        Err(_) => f64::NAN,
    }
}

impl<'t> Distribution<'t> for Cauchy<'t> {
    fn name(&self) -> &'static str {
        "Cauchy"
    }
    fn batch_shape(&self) -> Shape {
        self.shape
    }
    fn support(&self) -> Constraint {
        Constraint::Real
    }
    fn log_prob(&self, tape: &'t Tape, value: Operand<'_, 't>) -> Var<'t> {
        tape.elementwise(
            [value, self.loc.operand(), self.scale.operand()],
            |&[x, mu, s], d| {
                if !x.is_finite() {
                    *d = [0.0; 3];
                    return f64::NEG_INFINITY;
                }
                let lp = cauchy_lp(x, mu, s, d);
                finish_lp(lp, d)
            },
        )
    }
    fn sample(&self, rng: &mut dyn Rng) -> Vec<f64> {
        let (mu, s) = (
            broadcast_values(&self.loc, self.shape),
            broadcast_values(&self.scale, self.shape),
        );
        sample_batch(self.shape.len(), |i| mu[i] + s[i] * standard_cauchy(rng))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_pi_constant() {
        assert_eq!(LN_PI, std::f64::consts::PI.ln());
    }
}
