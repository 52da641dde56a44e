//! The beta distribution on the open unit interval.

use rand::Rng;
use rand_distr::Distribution as _;

use super::cauchy::finish_lp;
use super::{Distribution, Param, broadcast_shapes, broadcast_values, sample_batch};
use crate::ad::{Operand, Shape, Tape, Var};
use crate::constraint::Constraint;
use crate::error::PplError;
use crate::special::{digamma, ln_beta};

/// The largest f64 below 1.
const ONE_MINUS_EPS: f64 = 1.0 - f64::EPSILON / 2.0;

/// Beta(concentration1 α, concentration0 β): density x^{α−1} (1−x)^{β−1} / B(α, β) on 0 < x < 1.
///
/// The support is the open interval, as [`Constraint::UnitInterval`]: x = 0 and x = 1
/// give −∞ for every α, β (also where the density has a finite limit, e.g. α = 1 at 0).
/// Where ln B(α, β) overflows (α + β beyond ~1e305) the log density is reported as −∞.
#[derive(Clone, Debug)]
pub struct Beta<'t> {
    concentration1: Param<'t>,
    concentration0: Param<'t>,
    shape: Shape,
}

impl<'t> Beta<'t> {
    /// `concentration1` α (exponent of x) and `concentration0` β (of 1 − x), both finite and > 0.
    pub fn new(
        concentration1: impl Into<Param<'t>>,
        concentration0: impl Into<Param<'t>>,
    ) -> Result<Self, PplError> {
        let concentration1 = concentration1.into().positive("Beta", "concentration1")?;
        let concentration0 = concentration0.into().positive("Beta", "concentration0")?;
        let shape = broadcast_shapes("Beta", &[concentration1.shape(), concentration0.shape()])?;
        Ok(Beta {
            concentration1,
            concentration0,
            shape,
        })
    }

    fn params(&self) -> (Vec<f64>, Vec<f64>) {
        (
            broadcast_values(&self.concentration1, self.shape),
            broadcast_values(&self.concentration0, self.shape),
        )
    }
}

/// ψ(a + b) − ψ(a), as ψ(a + b + 1) − ψ(a + 1) + b/(a(a + b)): for subnormal a, b the
/// direct difference is −∞ + ∞, the shifted one is finite or +∞.
fn digamma_diff(a: f64, b: f64) -> f64 {
    digamma(a + b + 1.0) - digamma(a + 1.0) + (b / (a + b)) / a
}

impl<'t> Distribution<'t> for Beta<'t> {
    fn name(&self) -> &'static str {
        "Beta"
    }
    fn batch_shape(&self) -> Shape {
        self.shape
    }
    fn support(&self) -> Constraint {
        Constraint::UnitInterval
    }
    fn log_prob(&self, tape: &'t Tape, value: Operand<'_, 't>) -> Var<'t> {
        let inputs = [
            value,
            self.concentration1.operand(),
            self.concentration0.operand(),
        ];
        tape.elementwise(inputs, |&[x, a, b], d| {
            if !(x > 0.0 && x < 1.0) {
                *d = [0.0; 3];
                return f64::NEG_INFINITY;
            }
            let (lx, l1x) = (x.ln(), (-x).ln_1p());
            d[0] = (a - 1.0) / x - (b - 1.0) / (1.0 - x);
            d[1] = lx + digamma_diff(a, b);
            d[2] = l1x + digamma_diff(b, a);
            // NaN or +∞ here only from ln Γ(α + β) overflowing; `finish_lp` reports −∞.
            let lp = (a - 1.0) * lx + (b - 1.0) * l1x - ln_beta(a, b);
            finish_lp(lp, d)
        })
    }
    /// Draws with `rand_distr::Beta`, clamped to [`f64::MIN_POSITIVE`, 1 − ε/2] so that a
    /// draw that underflows to 0 or rounds to 1 (tiny α or β) stays inside the open support
    /// (NumPyro clamps the same way).
    fn sample(&self, rng: &mut dyn Rng) -> Vec<f64> {
        let (a, b) = self.params();
        sample_batch(self.shape.len(), |i| {
            match rand_distr::Beta::new(a[i], b[i]) {
                Ok(beta) => {
                    let x: f64 = beta.sample(rng);
                    x.clamp(f64::MIN_POSITIVE, ONE_MINUS_EPS)
                }
                Err(_) => f64::NAN,
            }
        })
    }
    fn mean(&self) -> Option<Vec<f64>> {
        let (a, b) = self.params();
        Some(a.iter().zip(&b).map(|(a, b)| a / (a + b)).collect())
    }
    fn variance(&self) -> Option<Vec<f64>> {
        let (a, b) = self.params();
        Some(
            a.iter()
                .zip(&b)
                .map(|(a, b)| {
                    let s = a + b;
                    (a / s) * (b / s) / (s + 1.0)
                })
                .collect(),
        )
    }
}
