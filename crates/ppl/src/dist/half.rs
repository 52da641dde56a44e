//! The half-normal and half-Cauchy distributions: |X| for a zero-centred normal or Cauchy X.

use std::f64::consts::{FRAC_2_PI, LN_2};

use rand::Rng;
use rand_distr::{Distribution as _, StandardNormal};

use super::cauchy::{cauchy_lp, finish_lp, standard_cauchy};
use super::normal::normal_lp;
use super::{Distribution, Param, broadcast_values, sample_batch};
use crate::ad::{Operand, Shape, Tape, Var};
use crate::constraint::Constraint;
use crate::error::PplError;

/// HalfNormal(scale σ): density 2·N(x | 0, σ) on x ≥ 0.
#[derive(Clone, Debug)]
pub struct HalfNormal<'t> {
    scale: Param<'t>,
}

impl<'t> HalfNormal<'t> {
    /// `scale` finite and > 0.
    pub fn new(scale: impl Into<Param<'t>>) -> Result<Self, PplError> {
        Ok(HalfNormal {
            scale: scale.into().positive("HalfNormal", "scale")?,
        })
    }
}

impl<'t> Distribution<'t> for HalfNormal<'t> {
    fn name(&self) -> &'static str {
        "HalfNormal"
    }
    fn batch_shape(&self) -> Shape {
        self.scale.shape()
    }
    fn support(&self) -> Constraint {
        Constraint::Positive
    }
    fn log_prob(&self, tape: &'t Tape, value: Operand<'_, 't>) -> Var<'t> {
        tape.elementwise([value, self.scale.operand()], |&[x, sigma], d| {
            if !(x >= 0.0 && x.is_finite()) {
                *d = [0.0; 2];
                return f64::NEG_INFINITY;
            }
            let mut dn = [0.0; 3];
            let lp = LN_2 + normal_lp(x, 0.0, sigma, &mut dn);
            *d = [dn[0], dn[2]];
            finish_lp(lp, d)
        })
    }
    fn sample(&self, rng: &mut dyn Rng) -> Vec<f64> {
        let s = self.scale.values();
        sample_batch(s.len(), |i| {
            let z: f64 = StandardNormal.sample(rng);
            s[i] * z.abs()
        })
    }
    fn mean(&self) -> Option<Vec<f64>> {
        let c = FRAC_2_PI.sqrt();
        Some(
            broadcast_values(&self.scale, self.batch_shape())
                .iter()
                .map(|s| s * c)
                .collect(),
        )
    }
    fn variance(&self) -> Option<Vec<f64>> {
        let c = 1.0 - FRAC_2_PI;
        Some(
            broadcast_values(&self.scale, self.batch_shape())
                .iter()
                .map(|s| s * s * c)
                .collect(),
        )
    }
}

/// HalfCauchy(scale s): density 2·Cauchy(x | 0, s) on x ≥ 0. No mean or variance.
#[derive(Clone, Debug)]
pub struct HalfCauchy<'t> {
    scale: Param<'t>,
}

impl<'t> HalfCauchy<'t> {
    /// `scale` finite and > 0.
    pub fn new(scale: impl Into<Param<'t>>) -> Result<Self, PplError> {
        Ok(HalfCauchy {
            scale: scale.into().positive("HalfCauchy", "scale")?,
        })
    }
}

impl<'t> Distribution<'t> for HalfCauchy<'t> {
    fn name(&self) -> &'static str {
        "HalfCauchy"
    }
    fn batch_shape(&self) -> Shape {
        self.scale.shape()
    }
    fn support(&self) -> Constraint {
        Constraint::Positive
    }
    fn log_prob(&self, tape: &'t Tape, value: Operand<'_, 't>) -> Var<'t> {
        tape.elementwise([value, self.scale.operand()], |&[x, s], d| {
            if !(x >= 0.0 && x.is_finite()) {
                *d = [0.0; 2];
                return f64::NEG_INFINITY;
            }
            let mut dc = [0.0; 3];
            let lp = LN_2 + cauchy_lp(x, 0.0, s, &mut dc);
            *d = [dc[0], dc[2]];
            finish_lp(lp, d)
        })
    }
    fn sample(&self, rng: &mut dyn Rng) -> Vec<f64> {
        let s = self.scale.values();
        sample_batch(s.len(), |i| s[i] * standard_cauchy(rng).abs())
    }
}
