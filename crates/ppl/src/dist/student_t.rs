//! Student's t distribution with location and scale, and a Stirling helper for ln Γ.

use std::f64::consts::{LN_2, PI};

use rand::Rng;
use rand_distr::Distribution as _;

use super::cauchy::{finish_lp, ln_abs_diff};
use super::{Distribution, Param, broadcast_shapes, broadcast_values, sample_batch};
use crate::ad::{Operand, Shape, Tape, Var};
use crate::constraint::Constraint;
use crate::error::PplError;
use crate::special::{LN_SQRT_2PI, digamma, ln_gamma};

/// StudentT(df ν, loc μ, scale σ): density
/// Γ((ν+1)/2) / (Γ(ν/2) √(νπ) σ) · (1 + z²/ν)^{−(ν+1)/2} with z = (x−μ)/σ.
#[derive(Clone, Debug)]
pub struct StudentT<'t> {
    df: Param<'t>,
    loc: Param<'t>,
    scale: Param<'t>,
    shape: Shape,
}

impl<'t> StudentT<'t> {
    /// `df` (degrees of freedom ν) finite and > 0, `loc` finite, `scale` finite and > 0.
    pub fn new(
        df: impl Into<Param<'t>>,
        loc: impl Into<Param<'t>>,
        scale: impl Into<Param<'t>>,
    ) -> Result<Self, PplError> {
        let df = df.into().positive("StudentT", "df")?;
        let loc = loc.into().finite("StudentT", "loc")?;
        let scale = scale.into().positive("StudentT", "scale")?;
        let shape = broadcast_shapes("StudentT", &[df.shape(), loc.shape(), scale.shape()])?;
        Ok(StudentT {
            df,
            loc,
            scale,
            shape,
        })
    }
}

/// Below this argument ln Γ is taken from `ln_gamma`; from it on, from Stirling's series.
pub(crate) const STIRLING_MIN: f64 = 10.0;

/// The tail of Stirling's series, ln Γ(z) − [(z−½) ln z − z + ½ ln 2π], for z ≥ 10
/// (terms through z⁻⁹; the first omitted one is below 2e-14).
pub(crate) fn stirling_tail(z: f64) -> f64 {
    let r = 1.0 / z;
    let r2 = r * r;
    r * (1.0 / 12.0 - r2 * (1.0 / 360.0 - r2 * (1.0 / 1260.0 - r2 * (1.0 / 1680.0 - r2 / 1188.0))))
}

/// ln Γ((ν+1)/2) − ln Γ(ν/2) − ½ ln(νπ), the normalizing constant, without cancellation:
/// Stirling's series for large ν, and ln Γ(ν/2) = ln Γ(ν/2 + 1) − ln(ν/2) for small ν.
fn student_t_norm(nu: f64) -> f64 {
    let a = 0.5 * nu;
    if a >= STIRLING_MIN {
        // ln Γ(a+½) − ln Γ(a) = ½ ln a + a ln1p(1/(2a)) − ½ + S(a+½) − S(a).
        -LN_SQRT_2PI + (a * (0.5 / a).ln_1p() - 0.5) + stirling_tail(a + 0.5) - stirling_tail(a)
    } else {
        ln_gamma(a + 0.5) - ln_gamma(a + 1.0) + 0.5 * nu.ln() - LN_2 - 0.5 * PI.ln()
    }
}

/// log StudentT(x | ν, μ, σ) with partials (∂x, ∂ν, ∂μ, ∂σ) for finite x, μ and finite ν, σ > 0.
fn student_t_lp(x: f64, nu: f64, mu: f64, sigma: f64, d: &mut [f64; 4]) -> f64 {
    let dev = x - mu;
    // l = ln(1 + u), f = u/(1 + u) with u = z²/ν; gx = ∂/∂x.
    let (l, f, gx) = if dev.is_finite() && dev.abs() <= sigma * nu.sqrt() {
        let z = dev / sigma;
        let u = z * z / nu;
        // ∂x = −((ν+1)/ν) · (z/σ)/(1+u); (ν+1)/ν overflows for subnormal ν, so a zero
        // (z/σ)/(1+u) must give 0, not ∞·0.
        let p = z / sigma / (1.0 + u);
        let gx = if p == 0.0 {
            0.0
        } else {
            -((nu + 1.0) / nu) * p
        };
        (u.ln_1p(), u / (1.0 + u), gx)
    } else {
        // Large |z|: with q = |z|/√ν, ln(1 + q²) = 2 ln q + ln1p(1/q²), from logs only.
        let ln_q = ln_abs_diff(x, mu) - sigma.ln() - 0.5 * nu.ln();
        let r2 = (-2.0 * ln_q).exp();
        (
            2.0 * ln_q + r2.ln_1p(),
            1.0 / (1.0 + r2),
            -(nu + 1.0) / (dev * (1.0 + r2)),
        )
    };
    d[0] = gx;
    // ψ(ν/2) = ψ(ν/2 + 1) − 2/ν keeps ∂ν finite-or-+∞ (never ∞ − ∞) for tiny ν.
    d[1] = 0.5 * (digamma(0.5 * (nu + 1.0)) - digamma(0.5 * nu + 1.0)) - 0.5 * l
        + 0.5 * ((1.0 + (nu + 1.0) * f) / nu);
    d[2] = -gx;
    d[3] = ((nu + 1.0) * f - 1.0) / sigma;
    student_t_norm(nu) - sigma.ln() - 0.5 * (nu + 1.0) * l
}

impl<'t> Distribution<'t> for StudentT<'t> {
    fn name(&self) -> &'static str {
        "StudentT"
    }
    fn batch_shape(&self) -> Shape {
        self.shape
    }
    fn support(&self) -> Constraint {
        Constraint::Real
    }
    fn log_prob(&self, tape: &'t Tape, value: Operand<'_, 't>) -> Var<'t> {
        let inputs = [
            value,
            self.df.operand(),
            self.loc.operand(),
            self.scale.operand(),
        ];
        tape.elementwise(inputs, |&[x, nu, mu, sigma], d| {
            if !x.is_finite() {
                *d = [0.0; 4];
                return f64::NEG_INFINITY;
            }
            let lp = student_t_lp(x, nu, mu, sigma, d);
            finish_lp(lp, d)
        })
    }
    fn sample(&self, rng: &mut dyn Rng) -> Vec<f64> {
        let nu = broadcast_values(&self.df, self.shape);
        let (mu, sigma) = (
            broadcast_values(&self.loc, self.shape),
            broadcast_values(&self.scale, self.shape),
        );
        sample_batch(self.shape.len(), |i| {
            match rand_distr::StudentT::new(nu[i]) {
                Ok(t) => {
                    let t: f64 = t.sample(rng);
                    mu[i] + sigma[i] * t
                }
                Err(_) => f64::NAN,
            }
        })
    }
    /// `loc` if every element has df > 1, else `None` (the mean does not exist for df ≤ 1).
    fn mean(&self) -> Option<Vec<f64>> {
        let nu = broadcast_values(&self.df, self.shape);
        nu.iter()
            .all(|&n| n > 1.0)
            .then(|| broadcast_values(&self.loc, self.shape))
    }
    /// σ² ν/(ν−2) if every element has df > 2, else `None` (infinite or undefined).
    fn variance(&self) -> Option<Vec<f64>> {
        let nu = broadcast_values(&self.df, self.shape);
        if !nu.iter().all(|&n| n > 2.0) {
            return None;
        }
        let sigma = broadcast_values(&self.scale, self.shape);
        Some(
            nu.iter()
                .zip(&sigma)
                .map(|(n, s)| s * s * (n / (n - 2.0)))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stirling_tail_matches_ln_gamma() {
        for &z in &[10.0_f64, 17.3, 250.0, 1e6] {
            let direct = ln_gamma(z) - ((z - 0.5) * z.ln() - z + LN_SQRT_2PI);
            assert!(
                (stirling_tail(z) - direct).abs() < 1e-12 * (1.0 + z.ln() * z),
                "z={z}"
            );
        }
    }

    #[test]
    fn normalizer_is_continuous_across_branches_and_tends_to_normal() {
        let direct =
            |nu: f64| ln_gamma(0.5 * (nu + 1.0)) - ln_gamma(0.5 * nu) - 0.5 * (nu * PI).ln();
        for &nu in &[0.3, 1.0, 7.0, 19.999, 20.0, 20.001, 55.0] {
            assert!((student_t_norm(nu) - direct(nu)).abs() < 1e-13, "nu={nu}");
        }
        assert!((student_t_norm(1e300) + LN_SQRT_2PI).abs() < 1e-15);
        // ν → 0 (ν/2 underflows to 0 for the smallest subnormals): Γ(ν/2) ≈ 2/ν, Γ(½) = √π,
        // so the constant is ≈ ½ ln ν − ln 2 and stays finite.
        for tiny in [1e-300, 1e-320, 5e-324] {
            assert!(
                (student_t_norm(tiny) - (0.5 * f64::ln(tiny) - LN_2)).abs() < 1e-9,
                "nu={tiny}"
            );
        }
    }
}
