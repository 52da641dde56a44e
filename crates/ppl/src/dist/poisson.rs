//! The Poisson distribution.

use rand::Rng;
use rand_distr::Distribution as _;

use super::{Distribution, Param, broadcast_values, is_count, sample_batch};
use crate::ad::{Operand, Shape, Tape, Var};
use crate::constraint::Constraint;
use crate::error::PplError;
use crate::special::ln_factorial;

/// Poisson(rate λ): P(k) = λᵏ e^{−λ} / k! on k = 0, 1, 2, …
#[derive(Clone, Debug)]
pub struct Poisson<'t> {
    rate: Param<'t>,
}

impl<'t> Poisson<'t> {
    /// `rate` finite and ≥ 0 (rate 0 puts all mass on 0, as in NumPyro).
    pub fn new(rate: impl Into<Param<'t>>) -> Result<Self, PplError> {
        Ok(Poisson {
            rate: rate
                .into()
                .check("Poisson", "rate", "finite and >= 0", |x| {
                    x.is_finite() && x >= 0.0
                })?,
        })
    }
}

impl<'t> Distribution<'t> for Poisson<'t> {
    fn name(&self) -> &'static str {
        "Poisson"
    }
    fn batch_shape(&self) -> Shape {
        self.rate.shape()
    }
    fn support(&self) -> Constraint {
        Constraint::NonNegativeInteger
    }
    fn log_prob(&self, tape: &'t Tape, value: Operand<'_, 't>) -> Var<'t> {
        tape.elementwise([value, self.rate.operand()], |&[k, l], d| {
            d[0] = 0.0;
            if !is_count(k) {
                d[1] = 0.0;
                return f64::NEG_INFINITY;
            }
            if l == 0.0 {
                // All mass at 0; d/dλ (k ln λ − λ) = −1 at k = 0.
                d[1] = if k == 0.0 { -1.0 } else { 0.0 };
                return if k == 0.0 { 0.0 } else { f64::NEG_INFINITY };
            }
            d[1] = k / l - 1.0;
            let v = k * l.ln() - l - ln_factorial(k);
            // ∞ − ∞ only for k and λ beyond ~1e300, where the mass is not representable.
            if v.is_nan() { f64::NEG_INFINITY } else { v }
        })
    }
    fn sample(&self, rng: &mut dyn Rng) -> Vec<f64> {
        let l = self.rate.values();
        sample_batch(l.len(), |i| match rand_distr::Poisson::new(l[i]) {
            _ if l[i] == 0.0 => 0.0,
            Ok(p) => p.sample(rng),
            Err(_) => f64::NAN,
        })
    }
    fn mean(&self) -> Option<Vec<f64>> {
        Some(broadcast_values(&self.rate, self.batch_shape()))
    }
    fn variance(&self) -> Option<Vec<f64>> {
        self.mean()
    }
}
