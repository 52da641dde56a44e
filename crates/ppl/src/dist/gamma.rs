//! The gamma distribution, parameterized by shape and **rate**.

use rand::Rng;
use rand_distr::Distribution as _;

use super::{Distribution, Param, broadcast_shapes, broadcast_values, sample_batch};
use crate::ad::{Operand, Shape, Tape, Var};
use crate::constraint::Constraint;
use crate::error::PplError;
use crate::special::{digamma, ln_gamma};

/// Gamma(concentration α, rate β): density βᵅ xᵅ⁻¹ e^{−βx} / Γ(α) on x > 0.
#[derive(Clone, Debug)]
pub struct Gamma<'t> {
    concentration: Param<'t>,
    rate: Param<'t>,
    shape: Shape,
}

impl<'t> Gamma<'t> {
    /// `concentration` (shape α) and `rate` β, both finite and > 0.
    pub fn new(
        concentration: impl Into<Param<'t>>,
        rate: impl Into<Param<'t>>,
    ) -> Result<Self, PplError> {
        let concentration = concentration.into().positive("Gamma", "concentration")?;
        let rate = rate.into().positive("Gamma", "rate")?;
        let shape = broadcast_shapes("Gamma", &[concentration.shape(), rate.shape()])?;
        Ok(Gamma {
            concentration,
            rate,
            shape,
        })
    }
}

/// Draws Gamma(α, rate β); `rand_distr` takes a scale.
///
/// For small α a draw can underflow to exactly 0, which is outside the support (0, ∞):
/// it is clamped to the smallest positive f64, as PyTorch's `_standard_gamma` does.
pub(crate) fn sample_gamma(rng: &mut dyn Rng, alpha: f64, rate: f64) -> f64 {
    match rand_distr::Gamma::new(alpha, 1.0 / rate) {
        Ok(g) => {
            let x: f64 = g.sample(rng);
            x.max(f64::MIN_POSITIVE)
        }
        Err(_) => f64::NAN,
    }
}

impl<'t> Distribution<'t> for Gamma<'t> {
    fn name(&self) -> &'static str {
        "Gamma"
    }
    fn batch_shape(&self) -> Shape {
        self.shape
    }
    fn support(&self) -> Constraint {
        Constraint::Positive
    }
    fn log_prob(&self, tape: &'t Tape, value: Operand<'_, 't>) -> Var<'t> {
        tape.elementwise(
            [value, self.concentration.operand(), self.rate.operand()],
            |&[x, a, b], d| {
                if !(x > 0.0 && x.is_finite()) {
                    *d = [0.0; 3];
                    return f64::NEG_INFINITY;
                }
                let (lx, lb) = (x.ln(), b.ln());
                d[0] = (a - 1.0) / x - b;
                d[1] = lb - digamma(a) + lx;
                d[2] = a / b - x;
                a * lb - ln_gamma(a) + (a - 1.0) * lx - b * x
            },
        )
    }
    fn sample(&self, rng: &mut dyn Rng) -> Vec<f64> {
        let a = broadcast_values(&self.concentration, self.shape);
        let b = broadcast_values(&self.rate, self.shape);
        sample_batch(self.shape.len(), |i| sample_gamma(rng, a[i], b[i]))
    }
    fn mean(&self) -> Option<Vec<f64>> {
        let a = broadcast_values(&self.concentration, self.shape);
        let b = broadcast_values(&self.rate, self.shape);
        Some(a.iter().zip(&b).map(|(a, b)| a / b).collect())
    }
    fn variance(&self) -> Option<Vec<f64>> {
        let a = broadcast_values(&self.concentration, self.shape);
        let b = broadcast_values(&self.rate, self.shape);
        Some(a.iter().zip(&b).map(|(a, b)| a / (b * b)).collect())
    }
}
