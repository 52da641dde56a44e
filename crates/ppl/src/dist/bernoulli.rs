//! The Bernoulli distribution, parameterized by a probability or by logits.

use rand::{Rng, RngExt};

use super::{Distribution, Param, sample_batch};
use crate::ad::{Operand, Shape, Tape, Var};
use crate::constraint::Constraint;
use crate::error::PplError;
use crate::special::{log_sigmoid, sigmoid};

/// Bernoulli(p): P(1) = p, P(0) = 1 − p.
#[derive(Clone, Debug)]
pub struct Bernoulli<'t> {
    /// Probabilities p, or logits ln(p / (1 − p)) when `logits` is set.
    param: Param<'t>,
    logits: bool,
}

impl<'t> Bernoulli<'t> {
    /// `probs` p in \[0, 1\].
    pub fn new(probs: impl Into<Param<'t>>) -> Result<Self, PplError> {
        let param = probs.into().probability("Bernoulli", "probs")?;
        Ok(Bernoulli {
            param,
            logits: false,
        })
    }

    /// `logits` ln(p / (1 − p)), finite; the log mass is computed without forming p.
    pub fn from_logits(logits: impl Into<Param<'t>>) -> Result<Self, PplError> {
        let param = logits.into().finite("Bernoulli", "logits")?;
        Ok(Bernoulli {
            param,
            logits: true,
        })
    }

    /// The success probabilities p, one per batch element.
    fn probs(&self) -> Vec<f64> {
        let v = self.param.values();
        if self.logits {
            v.into_iter().map(sigmoid).collect()
        } else {
            v
        }
    }
}

/// ln P(x | p) with ∂/∂p; −∞ (and a zero partial) off {0, 1} or where the mass is 0.
#[inline]
fn bernoulli_lp_probs(x: f64, p: f64, d: &mut f64) -> f64 {
    let (v, dp) = if x == 1.0 {
        (p.ln(), 1.0 / p)
    } else if x == 0.0 {
        ((-p).ln_1p(), -1.0 / (1.0 - p))
    } else {
        (f64::NEG_INFINITY, 0.0)
    };
    *d = if v == f64::NEG_INFINITY { 0.0 } else { dp };
    v
}

/// ln P(x | logit l) = x ln σ(l) + (1 − x) ln σ(−l) with ∂/∂l = x − σ(l); −∞ off {0, 1}.
#[inline]
fn bernoulli_lp_logits(x: f64, l: f64, d: &mut f64) -> f64 {
    if x == 1.0 {
        *d = sigmoid(-l);
        log_sigmoid(l)
    } else if x == 0.0 {
        *d = -sigmoid(l);
        log_sigmoid(-l)
    } else {
        *d = 0.0;
        f64::NEG_INFINITY
    }
}

impl<'t> Distribution<'t> for Bernoulli<'t> {
    fn name(&self) -> &'static str {
        "Bernoulli"
    }
    fn batch_shape(&self) -> Shape {
        self.param.shape()
    }
    fn support(&self) -> Constraint {
        Constraint::Boolean
    }
    fn log_prob(&self, tape: &'t Tape, value: Operand<'_, 't>) -> Var<'t> {
        let logits = self.logits;
        tape.elementwise([value, self.param.operand()], |&[x, q], d| {
            d[0] = 0.0;
            if logits {
                bernoulli_lp_logits(x, q, &mut d[1])
            } else {
                bernoulli_lp_probs(x, q, &mut d[1])
            }
        })
    }
    fn sample(&self, rng: &mut dyn Rng) -> Vec<f64> {
        let p = self.probs();
        sample_batch(p.len(), |i| {
            let u: f64 = rng.random();
            if u < p[i] { 1.0 } else { 0.0 }
        })
    }
    fn mean(&self) -> Option<Vec<f64>> {
        Some(self.probs())
    }
    fn variance(&self) -> Option<Vec<f64>> {
        let v = self.param.values();
        // σ(l)·σ(−l) keeps p(1 − p) accurate when p is within rounding of 1.
        Some(if self.logits {
            v.iter().map(|&l| sigmoid(l) * sigmoid(-l)).collect()
        } else {
            v.iter().map(|p| p * (1.0 - p)).collect()
        })
    }
}
