//! The continuous uniform distribution on an interval.

use std::f64::consts::LN_2;

use rand::Rng;
use rand_distr::{Distribution as _, StandardUniform};

use super::{Distribution, Param, broadcast_shapes, broadcast_values, sample_batch};
use crate::ad::{Operand, Shape, Tape, Var};
use crate::constraint::Constraint;
use crate::error::PplError;

/// Uniform(low, high): density 1/(high − low) on low ≤ x ≤ high.
///
/// The bounds may be batched; [`Distribution::support`] is then the smallest interval
/// containing every element's support (exact when the bounds are the same for every
/// element, e.g. scalars). [`Uniform::checked_support`] refuses varying bounds instead.
#[derive(Clone, Debug)]
pub struct Uniform<'t> {
    low: Param<'t>,
    high: Param<'t>,
    shape: Shape,
}

impl<'t> Uniform<'t> {
    /// `low` and `high` finite with `low < high` elementwise (after broadcasting); a
    /// violation is reported on `high` with requirement `"> low"`.
    pub fn new(low: impl Into<Param<'t>>, high: impl Into<Param<'t>>) -> Result<Self, PplError> {
        let low = low.into().finite("Uniform", "low")?;
        let high = high.into().finite("Uniform", "high")?;
        let shape = broadcast_shapes("Uniform", &[low.shape(), high.shape()])?;
        let (l, h) = (
            broadcast_values(&low, shape),
            broadcast_values(&high, shape),
        );
        if let Some((_, &value)) = l.iter().zip(&h).find(|(l, h)| h <= l) {
            return Err(PplError::InvalidParameter {
                distribution: "Uniform",
                parameter: "high",
                value,
                requirement: "> low",
            });
        }
        Ok(Uniform { low, high, shape })
    }

    /// The support as one interval, or [`PplError::Unsupported`] when batched bounds
    /// differ between elements (no single [`Constraint`] describes them).
    pub fn checked_support(&self) -> Result<Constraint, PplError> {
        let (l, h) = self.bounds();
        let same = |v: &[f64]| v.iter().all(|&x| x == v[0]);
        if l.is_empty() || (same(&l) && same(&h)) {
            Ok(self.support())
        } else {
            Err(PplError::Unsupported(
                "Uniform with bounds that differ across the batch has no single interval support; \
                 use scalar bounds or an affine transform of Uniform(0, 1)"
                    .into(),
            ))
        }
    }

    fn bounds(&self) -> (Vec<f64>, Vec<f64>) {
        (
            broadcast_values(&self.low, self.shape),
            broadcast_values(&self.high, self.shape),
        )
    }
}

impl<'t> Distribution<'t> for Uniform<'t> {
    fn name(&self) -> &'static str {
        "Uniform"
    }
    fn batch_shape(&self) -> Shape {
        self.shape
    }
    /// Interval(min low, max high): exact for bounds shared by the batch, a hull otherwise.
    fn support(&self) -> Constraint {
        let (l, h) = self.bounds();
        let lo = l.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = h.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Constraint::Interval(lo, hi)
    }
    fn log_prob(&self, tape: &'t Tape, value: Operand<'_, 't>) -> Var<'t> {
        tape.elementwise(
            [value, self.low.operand(), self.high.operand()],
            |&[x, lo, hi], d| {
                if !(x >= lo && x <= hi && x.is_finite()) {
                    *d = [0.0; 3];
                    return f64::NEG_INFINITY;
                }
                let w = hi - lo;
                // high − low can overflow for bounds of opposite sign near f64::MAX.
                let ln_w = if w.is_finite() {
                    w.ln()
                } else {
                    (0.5 * hi - 0.5 * lo).ln() + LN_2
                };
                *d = [0.0, 1.0 / w, -1.0 / w];
                -ln_w
            },
        )
    }
    fn sample(&self, rng: &mut dyn Rng) -> Vec<f64> {
        let (l, h) = self.bounds();
        sample_batch(self.shape.len(), |i| {
            let u: f64 = StandardUniform.sample(rng);
            // (1 − u)·low + u·high: no overflow of high − low, and stays in [low, high].
            ((1.0 - u) * l[i] + u * h[i]).clamp(l[i], h[i])
        })
    }
    fn mean(&self) -> Option<Vec<f64>> {
        let (l, h) = self.bounds();
        Some(l.iter().zip(&h).map(|(l, h)| 0.5 * l + 0.5 * h).collect())
    }
    fn variance(&self) -> Option<Vec<f64>> {
        let (l, h) = self.bounds();
        Some(
            l.iter()
                .zip(&h)
                .map(|(l, h)| (h - l).powi(2) / 12.0)
                .collect(),
        )
    }
}
