//! The inverse-gamma distribution, parameterized like NumPyro (concentration α, rate β).

use rand::Rng;

use super::cauchy::finish_lp;
use super::gamma::sample_gamma;
use super::student_t::{STIRLING_MIN, stirling_tail};
use super::{Distribution, Param, broadcast_shapes, broadcast_values, sample_batch};
use crate::ad::{Operand, Shape, Tape, Var};
use crate::constraint::Constraint;
use crate::error::PplError;
use crate::special::{LN_SQRT_2PI, digamma, ln_gamma};

/// InverseGamma(concentration α, rate β): density βᵅ x^{−α−1} e^{−β/x} / Γ(α) on x > 0.
///
/// 1/X ~ Gamma(α, rate β) (NumPyro's `InverseGamma(concentration, rate)`; β is the scale
/// of X itself).
#[derive(Clone, Debug)]
pub struct InverseGamma<'t> {
    concentration: Param<'t>,
    rate: Param<'t>,
    shape: Shape,
}

impl<'t> InverseGamma<'t> {
    /// `concentration` α and `rate` β, both finite and > 0.
    pub fn new(
        concentration: impl Into<Param<'t>>,
        rate: impl Into<Param<'t>>,
    ) -> Result<Self, PplError> {
        let concentration = concentration
            .into()
            .positive("InverseGamma", "concentration")?;
        let rate = rate.into().positive("InverseGamma", "rate")?;
        let shape = broadcast_shapes("InverseGamma", &[concentration.shape(), rate.shape()])?;
        Ok(InverseGamma {
            concentration,
            rate,
            shape,
        })
    }

    fn params(&self) -> (Vec<f64>, Vec<f64>) {
        (
            broadcast_values(&self.concentration, self.shape),
            broadcast_values(&self.rate, self.shape),
        )
    }
}

/// log InverseGamma(x | α, β) with partials (∂x, ∂α, ∂β) for finite x, α, β > 0.
fn inverse_gamma_lp(x: f64, a: f64, b: f64, d: &mut [f64; 3]) -> f64 {
    let lx = x.ln();
    let lb = b.ln();
    // y = β/x may overflow to +∞ (then the density underflows to 0 and the result is −∞).
    let y = b / x;
    d[0] = (y - a - 1.0) / x;
    d[1] = lb - lx - digamma(a);
    d[2] = (a - y) / b;
    if a < STIRLING_MIN {
        a * (lb - lx) - y - ln_gamma(a) - lx
    } else {
        // With t = y/α: α ln y − y − ln Γ(α) = −α (t − 1 − ln t) + ½ ln α − ½ ln 2π − S(α),
        // which stays finite where α ln y and ln Γ(α) overflow separately, and
        // loses nothing to cancellation near the mode.
        let t = (b / a) / x;
        let g = if (t - 1.0).abs() < 0.5 {
            let u = t - 1.0;
            u - u.ln_1p()
        } else {
            t - 1.0 - (lb - a.ln() - lx)
        };
        -a * g + 0.5 * a.ln() - LN_SQRT_2PI - stirling_tail(a) - lx
    }
}

impl<'t> Distribution<'t> for InverseGamma<'t> {
    fn name(&self) -> &'static str {
        "InverseGamma"
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
                let lp = inverse_gamma_lp(x, a, b, d);
                finish_lp(lp, d)
            },
        )
    }
    fn sample(&self, rng: &mut dyn Rng) -> Vec<f64> {
        let (a, b) = self.params();
        sample_batch(self.shape.len(), |i| 1.0 / sample_gamma(rng, a[i], b[i]))
    }
    /// β/(α−1) if every element has α > 1, else `None`.
    fn mean(&self) -> Option<Vec<f64>> {
        let (a, b) = self.params();
        a.iter()
            .all(|&a| a > 1.0)
            .then(|| a.iter().zip(&b).map(|(a, b)| b / (a - 1.0)).collect())
    }
    /// β²/((α−1)²(α−2)) if every element has α > 2, else `None`.
    fn variance(&self) -> Option<Vec<f64>> {
        let (a, b) = self.params();
        a.iter().all(|&a| a > 2.0).then(|| {
            a.iter()
                .zip(&b)
                .map(|(a, b)| (b / (a - 1.0)).powi(2) / (a - 2.0))
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stirling_branch_matches_direct_formula() {
        let direct = |x: f64, a: f64, b: f64| a * b.ln() - (a + 1.0) * x.ln() - b / x - ln_gamma(a);
        let mut d = [0.0; 3];
        for &(a, b) in &[(10.0, 3.0), (12.5, 0.4), (40.0, 80.0)] {
            for &x in &[0.01, 0.05, 0.3, 1.0, 2.0, 7.5] {
                let v = inverse_gamma_lp(x, a, b, &mut d);
                let w = direct(x, a, b);
                assert!(
                    (v - w).abs() <= 1e-12 * (1.0 + w.abs()),
                    "a={a} b={b} x={x}: {v} vs {w}"
                );
            }
        }
        // Near f64::MAX, α ln β and ln Γ(α) overflow separately but at x = β/α (t = 1) the
        // log density is ½ ln α − ½ ln 2π − S(α) − ln x.
        let v = inverse_gamma_lp(1.0, 1e308, 1e308, &mut d);
        assert!(
            (v - (0.5 * 1e308_f64.ln() - LN_SQRT_2PI)).abs() < 1e-12,
            "{v}"
        );
    }
}
