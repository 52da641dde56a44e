//! The negative binomial distribution: PyTorch's / NumPyro's `NegativeBinomial` and
//! NumPyro's mean–dispersion `NegativeBinomial2`.

use rand::Rng;
use rand_distr::Distribution as _;

use super::gamma::sample_gamma;
use super::{Distribution, Param, broadcast_shapes, broadcast_values, is_count, sample_batch};
use crate::ad::{Operand, Shape, Tape, Var};
use crate::constraint::Constraint;
use crate::error::PplError;
use crate::special::{digamma, ln_factorial, ln_gamma};

/// NegativeBinomial(r, p): the number of successes k before the r-th failure, each trial
/// succeeding with probability p:
/// P(k) = Γ(k + r) / (Γ(r) k!) · (1 − p)ʳ pᵏ, mean r p / (1 − p) (PyTorch's and NumPyro's
/// parameterization; statrs' `NegativeBinomial(r, q)` is this with q = 1 − p).
///
/// [`NegativeBinomial::from_mean_dispersion`] gives the same family by its mean μ and
/// concentration φ (NumPyro's `NegativeBinomial2`): r = φ, p = μ / (μ + φ).
#[derive(Clone, Debug)]
pub struct NegativeBinomial<'t> {
    params: NbParams<'t>,
    shape: Shape,
}

#[derive(Clone, Debug)]
enum NbParams<'t> {
    /// Total count r and success probability p.
    Probs {
        total_count: Param<'t>,
        probs: Param<'t>,
    },
    /// Mean μ and concentration φ.
    MeanDispersion {
        mean: Param<'t>,
        concentration: Param<'t>,
    },
}

impl<'t> NegativeBinomial<'t> {
    /// `total_count` r finite and > 0 (real), `probs` p in (0, 1).
    pub fn new(
        total_count: impl Into<Param<'t>>,
        probs: impl Into<Param<'t>>,
    ) -> Result<Self, PplError> {
        let total_count = total_count
            .into()
            .positive("NegativeBinomial", "total_count")?;
        let probs = probs
            .into()
            .check("NegativeBinomial", "probs", "in (0, 1)", |p| {
                p > 0.0 && p < 1.0
            })?;
        let shape = broadcast_shapes("NegativeBinomial", &[total_count.shape(), probs.shape()])?;
        Ok(NegativeBinomial {
            params: NbParams::Probs { total_count, probs },
            shape,
        })
    }

    /// `mean` μ and `concentration` φ, both finite and > 0: variance μ + μ²/φ.
    pub fn from_mean_dispersion(
        mean: impl Into<Param<'t>>,
        concentration: impl Into<Param<'t>>,
    ) -> Result<Self, PplError> {
        let mean = mean.into().positive("NegativeBinomial", "mean")?;
        let concentration = concentration
            .into()
            .positive("NegativeBinomial", "concentration")?;
        let shape = broadcast_shapes("NegativeBinomial", &[mean.shape(), concentration.shape()])?;
        Ok(NegativeBinomial {
            params: NbParams::MeanDispersion {
                mean,
                concentration,
            },
            shape,
        })
    }

    /// Per batch element (r, p / (1 − p)): the total count and the odds of success.
    fn count_and_odds(&self) -> (Vec<f64>, Vec<f64>) {
        match &self.params {
            NbParams::Probs { total_count, probs } => {
                let odds = broadcast_values(probs, self.shape)
                    .iter()
                    .map(|p| p / (1.0 - p))
                    .collect();
                (broadcast_values(total_count, self.shape), odds)
            }
            NbParams::MeanDispersion {
                mean,
                concentration,
            } => {
                let phi = broadcast_values(concentration, self.shape);
                let odds = broadcast_values(mean, self.shape)
                    .iter()
                    .zip(&phi)
                    .map(|(m, f)| m / f)
                    .collect();
                (phi, odds)
            }
        }
    }
}

/// The kernel shared by both parameterizations: ln P(k | r, p) given ln p and ln(1 − p),
/// and ψ(k + r) − ψ(r) (the part of ∂/∂r not through p). `None` for k not a count or a
/// zero (or unrepresentable) mass. The k ln p term is dropped at k = 0, where ln p may be −∞.
#[inline]
fn nb_kernel(k: f64, r: f64, ln_p: f64, ln_1mp: f64) -> Option<(f64, f64)> {
    if !is_count(k) {
        return None;
    }
    let mut v = ln_gamma(k + r) - ln_gamma(r) - ln_factorial(k) + r * ln_1mp;
    if k > 0.0 {
        v += k * ln_p;
    }
    if v.is_nan() || v == f64::NEG_INFINITY {
        return None;
    }
    let dpsi = if k > 0.0 {
        digamma(k + r) - digamma(r)
    } else {
        0.0
    };
    Some((v, dpsi))
}

impl<'t> Distribution<'t> for NegativeBinomial<'t> {
    fn name(&self) -> &'static str {
        "NegativeBinomial"
    }
    fn batch_shape(&self) -> Shape {
        self.shape
    }
    fn support(&self) -> Constraint {
        Constraint::NonNegativeInteger
    }
    fn log_prob(&self, tape: &'t Tape, value: Operand<'_, 't>) -> Var<'t> {
        match &self.params {
            NbParams::Probs { total_count, probs } => tape.elementwise(
                [value, total_count.operand(), probs.operand()],
                |&[k, r, p], d| {
                    *d = [0.0; 3];
                    let ln_1mp = (-p).ln_1p();
                    let Some((v, dpsi)) = nb_kernel(k, r, p.ln(), ln_1mp) else {
                        return f64::NEG_INFINITY;
                    };
                    d[1] = dpsi + ln_1mp;
                    d[2] = k / p - r / (1.0 - p);
                    v
                },
            ),
            NbParams::MeanDispersion {
                mean,
                concentration,
            } => {
                tape.elementwise(
                    [value, mean.operand(), concentration.operand()],
                    |&[k, mu, phi], d| {
                        *d = [0.0; 3];
                        // p = μ/(μ + φ): ln p = −ln(1 + φ/μ), ln(1 − p) = −ln(1 + μ/φ), which
                        // stay finite (or −∞, never NaN) when μ + φ overflows.
                        let (ln_p, ln_1mp) = (-(phi / mu).ln_1p(), -(mu / phi).ln_1p());
                        let Some((v, dpsi)) = nb_kernel(k, phi, ln_p, ln_1mp) else {
                            return f64::NEG_INFINITY;
                        };
                        // ∂/∂μ = k/μ − (k + φ)/(μ + φ) = (k/μ − 1)(1 − p);
                        // ∂/∂φ = ψ(k + φ) − ψ(φ) + ln(1 − p) + (μ − k)/(μ + φ).
                        // NaN-free when μ is subnormal or μ + φ overflows; a subnormal φ can still give
                        // ∞ − ∞ in ∂/∂φ, where the true partial (≈ 1/φ − k/μ) overflows f64.
                        d[1] = (k / mu - 1.0) / (1.0 + mu / phi);
                        d[2] = dpsi + ln_1mp + (mu - k) / (mu + phi);
                        v
                    },
                )
            }
        }
    }
    fn sample(&self, rng: &mut dyn Rng) -> Vec<f64> {
        // The gamma–Poisson mixture: λ ~ Gamma(r, rate 1/odds), k ~ Poisson(λ).
        let (r, odds) = self.count_and_odds();
        sample_batch(self.shape.len(), |i| {
            let lambda = sample_gamma(rng, r[i], 1.0 / odds[i]);
            sample_poisson(rng, lambda)
        })
    }
    fn mean(&self) -> Option<Vec<f64>> {
        let (r, odds) = self.count_and_odds();
        Some(r.iter().zip(&odds).map(|(r, o)| r * o).collect())
    }
    fn variance(&self) -> Option<Vec<f64>> {
        // r p/(1 − p)² = r·odds·(1 + odds), which is μ + μ²/φ in the mean–dispersion form.
        let (r, odds) = self.count_and_odds();
        Some(
            r.iter()
                .zip(&odds)
                .map(|(r, o)| r * o * (1.0 + o))
                .collect(),
        )
    }
}

/// One Poisson(λ) draw for any λ ≥ 0: 0 for λ = 0 (a gamma draw can underflow), and λ
/// rounded beyond `rand_distr`'s largest rate, where the relative spread is below 1e-9.
fn sample_poisson(rng: &mut dyn Rng, lambda: f64) -> f64 {
    if lambda == 0.0 {
        return 0.0;
    }
    if lambda >= rand_distr::Poisson::<f64>::MAX_LAMBDA {
        return lambda.round();
    }
    match rand_distr::Poisson::new(lambda) {
        Ok(p) => p.sample(rng),
        Err(_) => f64::NAN,
    }
}
