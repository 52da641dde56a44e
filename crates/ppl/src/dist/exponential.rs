//! The exponential distribution.

use rand::Rng;
use rand_distr::{Distribution as _, Exp1};

use super::{Distribution, Param, broadcast_values, sample_batch};
use crate::ad::{Operand, Shape, Tape, Var};
use crate::constraint::Constraint;
use crate::error::PplError;

/// Exponential(rate λ): density λ e^{−λx} on x ≥ 0.
#[derive(Clone, Debug)]
pub struct Exponential<'t> {
    rate: Param<'t>,
}

impl<'t> Exponential<'t> {
    /// `rate` finite and > 0.
    pub fn new(rate: impl Into<Param<'t>>) -> Result<Self, PplError> {
        Ok(Exponential {
            rate: rate.into().positive("Exponential", "rate")?,
        })
    }
}

impl<'t> Distribution<'t> for Exponential<'t> {
    fn name(&self) -> &'static str {
        "Exponential"
    }
    fn batch_shape(&self) -> Shape {
        self.rate.shape()
    }
    fn support(&self) -> Constraint {
        Constraint::Positive
    }
    fn log_prob(&self, tape: &'t Tape, value: Operand<'_, 't>) -> Var<'t> {
        tape.elementwise([value, self.rate.operand()], |&[x, l], d| {
            if !(x >= 0.0 && x.is_finite()) {
                *d = [0.0; 2];
                return f64::NEG_INFINITY;
            }
            *d = [-l, 1.0 / l - x];
            l.ln() - l * x
        })
    }
    fn sample(&self, rng: &mut dyn Rng) -> Vec<f64> {
        let l = self.rate.values();
        sample_batch(l.len(), |i| {
            let e: f64 = Exp1.sample(rng);
            e / l[i]
        })
    }
    fn mean(&self) -> Option<Vec<f64>> {
        Some(
            broadcast_values(&self.rate, self.batch_shape())
                .iter()
                .map(|l| 1.0 / l)
                .collect(),
        )
    }
    fn variance(&self) -> Option<Vec<f64>> {
        Some(
            broadcast_values(&self.rate, self.batch_shape())
                .iter()
                .map(|l| 1.0 / (l * l))
                .collect(),
        )
    }
}
