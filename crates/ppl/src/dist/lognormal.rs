//! The log-normal distribution: exp(X) for a normal X.

use rand::Rng;
use rand_distr::{Distribution as _, StandardNormal};

use super::cauchy::finish_lp;
use super::normal::normal_lp;
use super::{Distribution, Param, broadcast_shapes, broadcast_values, sample_batch};
use crate::ad::{Operand, Shape, Tape, Var};
use crate::constraint::Constraint;
use crate::error::PplError;

/// LogNormal(loc μ, scale σ): density N(ln x | μ, σ) / x on x > 0.
#[derive(Clone, Debug)]
pub struct LogNormal<'t> {
    loc: Param<'t>,
    scale: Param<'t>,
    shape: Shape,
}

impl<'t> LogNormal<'t> {
    /// `loc` (mean of ln x) finite, `scale` (sd of ln x) finite and > 0.
    pub fn new(loc: impl Into<Param<'t>>, scale: impl Into<Param<'t>>) -> Result<Self, PplError> {
        let loc = loc.into().finite("LogNormal", "loc")?;
        let scale = scale.into().positive("LogNormal", "scale")?;
        let shape = broadcast_shapes("LogNormal", &[loc.shape(), scale.shape()])?;
        Ok(LogNormal { loc, scale, shape })
    }
}

impl<'t> Distribution<'t> for LogNormal<'t> {
    fn name(&self) -> &'static str {
        "LogNormal"
    }
    fn batch_shape(&self) -> Shape {
        self.shape
    }
    fn support(&self) -> Constraint {
        Constraint::Positive
    }
    fn log_prob(&self, tape: &'t Tape, value: Operand<'_, 't>) -> Var<'t> {
        tape.elementwise(
            [value, self.loc.operand(), self.scale.operand()],
            |&[x, mu, sigma], d| {
                if !(x > 0.0 && x.is_finite()) {
                    *d = [0.0; 3];
                    return f64::NEG_INFINITY;
                }
                let y = x.ln();
                let mut dn = [0.0; 3];
                let lp = normal_lp(y, mu, sigma, &mut dn) - y;
                // d/dx [log N(ln x) − ln x] = (∂_y log N − 1) / x.
                *d = [(dn[0] - 1.0) / x, dn[1], dn[2]];
                finish_lp(lp, d)
            },
        )
    }
    fn sample(&self, rng: &mut dyn Rng) -> Vec<f64> {
        let (mu, sigma) = (
            broadcast_values(&self.loc, self.shape),
            broadcast_values(&self.scale, self.shape),
        );
        sample_batch(self.shape.len(), |i| {
            let z: f64 = StandardNormal.sample(rng);
            (mu[i] + sigma[i] * z).exp()
        })
    }
    fn mean(&self) -> Option<Vec<f64>> {
        let (mu, sigma) = (
            broadcast_values(&self.loc, self.shape),
            broadcast_values(&self.scale, self.shape),
        );
        Some(
            mu.iter()
                .zip(&sigma)
                .map(|(m, s)| (m + 0.5 * s * s).exp())
                .collect(),
        )
    }
    fn variance(&self) -> Option<Vec<f64>> {
        let (mu, sigma) = (
            broadcast_values(&self.loc, self.shape),
            broadcast_values(&self.scale, self.shape),
        );
        Some(
            mu.iter()
                .zip(&sigma)
                .map(|(m, s)| (s * s).exp_m1() * (2.0 * m + s * s).exp())
                .collect(),
        )
    }
}
