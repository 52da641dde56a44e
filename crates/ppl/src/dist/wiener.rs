//! The Wiener first-passage-time distribution of the drift-diffusion model.

use rand::{Rng, RngExt};
use rand_distr::{Distribution as _, StandardNormal};

use super::rows::{RowBlock, event_out_shape, operand_values, row_node, tape_failure};
use super::wiener_series::wiener_lp;
use super::{Distribution, Param, broadcast_shapes, broadcast_values};
use crate::ad::{Operand, Shape, Tape, Var, shape_broadcast};
use crate::constraint::Constraint;
use crate::error::PplError;

/// Wiener(v, a, w, τ): the (response time, choice) of the drift-diffusion model
/// `dX = v dt + dW` started at `X₀ = w·a` and absorbed at 0 or `a`.
///
/// A value is a row `[rt, choice]` (sbi's MNLE layout: continuous column first): `choice`
/// is 1.0 for the upper bound `a` and 0.0 for the lower bound 0, and `rt = τ + T` with T
/// the first-passage time. A plate of N trials has values of shape `[N, 2]` and
/// `log_prob` gives shape `[N]` (broadcast with the parameters' batch shape).
///
/// The density is Navarro & Fuss's (2009) exact series in log space (REFERENCES.md §2;
/// `wiener_series.rs` says how): ln p within 1e-12 (relative 2e-15) of a 50-digit
/// computation over v ∈ [−5, 5], a ∈ [0.3, 3], w ∈ [0.01, 0.99], t ∈ [1e-3, 10], with
/// analytic partials in every parameter and in rt. Out of support (a choice other than
/// 0 or 1, rt ≤ τ, rt = ∞): −∞ with zero partials; a NaN in a value is an error recorded
/// on the tape.
#[derive(Clone, Debug)]
pub struct Wiener<'t> {
    drift: Param<'t>,
    boundary: Param<'t>,
    start: Param<'t>,
    ndt: Param<'t>,
    shape: Shape,
}

impl<'t> Wiener<'t> {
    /// Drift `v` finite, boundary separation `a` finite and > 0, relative start `w` in
    /// (0, 1), non-decision time `τ` finite and ≥ 0; the batch shapes broadcast.
    pub fn new(
        drift: impl Into<Param<'t>>,
        boundary: impl Into<Param<'t>>,
        start: impl Into<Param<'t>>,
        ndt: impl Into<Param<'t>>,
    ) -> Result<Self, PplError> {
        let drift = drift.into().finite("Wiener", "drift")?;
        let boundary = boundary.into().positive("Wiener", "boundary")?;
        let start = start
            .into()
            .check("Wiener", "start", "in (0, 1)", |x| x > 0.0 && x < 1.0)?;
        let ndt = ndt.into().check("Wiener", "ndt", "finite and >= 0", |x| {
            x.is_finite() && x >= 0.0
        })?;
        let shape = broadcast_shapes(
            "Wiener",
            &[drift.shape(), boundary.shape(), start.shape(), ndt.shape()],
        )?;
        Ok(Wiener {
            drift,
            boundary,
            start,
            ndt,
            shape,
        })
    }

    /// The parameters in the order of the partials of `wiener_lp`: v, a, w, τ.
    fn params(&self) -> [&Param<'t>; 4] {
        [&self.drift, &self.boundary, &self.start, &self.ndt]
    }
}

/// Step of the sampler in units of a² (the diffusion's time scale), divided by 1 + |v|·a.
const SAMPLE_STEP: f64 = 1e-4;
/// Steps after which the sampler gives up (NaN); with ds ≥ 1e-4 / (1 + |v|·a) the mean
/// number of steps is below ~1e4 (1 + |v|·a) · E[T] / a², so this is never reached in practice.
const SAMPLE_MAX_STEPS: usize = 100_000_000;

/// One (rt, choice) draw. The diffusion is simulated in units of the boundary,
/// `Y = X / a` on (0, 1) with drift v·a and time s = t / a², by Euler steps of
/// ds = 1e-4 / (1 + |v|·a) with the Brownian-bridge correction: given the endpoints of a
/// step, the path crossed the bound b in between with probability
/// exp(−2 (y₀ − b)(y₁ − b) / ds), exact for Brownian motion with drift. So the choice
/// probabilities are exact up to paths crossing both bounds within one step, and the
/// crossing time is within one step (≤ 1e-4·a² in rt; it is placed by linear
/// interpolation, or mid-step for a bridge crossing).
fn sample_one(rng: &mut dyn Rng, v: f64, a: f64, w: f64, tau: f64) -> [f64; 2] {
    let mu = v * a;
    let ds = SAMPLE_STEP / (1.0 + mu.abs());
    let sd = ds.sqrt();
    let (mut y, mut s) = (w, 0.0);
    for _ in 0..SAMPLE_MAX_STEPS {
        let z: f64 = StandardNormal.sample(rng);
        let y1 = y + mu * ds + sd * z;
        if !y1.is_finite() {
            break; // v·a overflowed: no draw
        }
        let hit = if y1 <= 0.0 {
            Some((0.0, y / (y - y1)))
        } else if y1 >= 1.0 {
            Some((1.0, (1.0 - y) / (y1 - y)))
        } else {
            // Bridge crossings; the exponent is below −40 away from the bounds.
            let (ql, qu) = (2.0 * y * y1 / ds, 2.0 * (1.0 - y) * (1.0 - y1) / ds);
            if ql < 40.0 && rng.random::<f64>() < (-ql).exp() {
                Some((0.0, 0.5))
            } else if qu < 40.0 && rng.random::<f64>() < (-qu).exp() {
                Some((1.0, 0.5))
            } else {
                None
            }
        };
        if let Some((choice, frac)) = hit {
            return [tau + a * a * (s + frac * ds), choice];
        }
        y = y1;
        s += ds;
    }
    [f64::NAN, f64::NAN]
}

impl<'t> Distribution<'t> for Wiener<'t> {
    fn name(&self) -> &'static str {
        "Wiener"
    }
    fn batch_shape(&self) -> Shape {
        self.shape
    }
    fn event_shape(&self) -> Shape {
        Shape::vector(2)
    }
    fn support(&self) -> Constraint {
        Constraint::RtChoice
    }
    /// One `Tape::custom` node over all rows, with partials in v, a, w, τ and rt.
    fn log_prob(&self, tape: &'t Tape, value: Operand<'_, 't>) -> Var<'t> {
        let (xs, vshape) = match operand_values(&value) {
            Ok(v) => v,
            Err(e) => return tape_failure(tape, e, self.shape),
        };
        let (out, vbatch) = match event_out_shape("Wiener", vshape, self.shape, 2) {
            Ok(s) => s,
            Err(e) => return tape_failure(tape, e, self.shape),
        };
        if let Some(i) = xs.iter().position(|x| x.is_nan()) {
            let e = PplError::Data(format!(
                "Wiener value row {} is NaN (need [rt, choice])",
                i / 2
            ));
            return tape_failure(tape, e, out);
        }
        let params = self.params();
        let values: Vec<Vec<f64>> = params.iter().map(|p| p.values()).collect();
        let maps: Vec<_> = params
            .iter()
            .map(|p| shape_broadcast(p.shape(), out))
            .collect();
        let xmap = shape_broadcast(vbatch, out);
        let grad: Vec<bool> = params
            .iter()
            .map(|p| p.var().is_some_and(|v| v.requires_grad()))
            .collect();
        let grad_x = matches!(value, Operand::Var(v) if v.requires_grad());
        let n = out.len();
        let mut lp = Vec::with_capacity(n);
        let mut partials: Vec<Vec<f64>> = (0..5)
            .map(|k| {
                let on = if k < 4 { grad[k] } else { grad_x };
                if on { vec![0.0; n] } else { Vec::new() }
            })
            .collect();
        let mut d = [0.0; 5];
        for i in 0..n {
            let r = xmap.index(i);
            let p: [f64; 4] = std::array::from_fn(|k| values[k][maps[k].index(i)]);
            lp.push(wiener_lp(
                xs[2 * r],
                xs[2 * r + 1],
                p[0],
                p[1],
                p[2],
                p[3],
                &mut d,
            ));
            for (k, col) in partials.iter_mut().enumerate() {
                if !col.is_empty() {
                    col[i] = d[k];
                }
            }
        }
        let mut inputs = Vec::new();
        let dx = partials.pop().unwrap_or_default();
        for (k, (p, col)) in params.iter().zip(partials).enumerate() {
            if let Some(v) = p.var() {
                inputs.push((
                    v,
                    RowBlock {
                        rows: (0..n).map(|i| maps[k].index(i)).collect(),
                        width: 1,
                        partials: col,
                    },
                ));
            }
        }
        if let Operand::Var(v) = value {
            // ∂/∂choice is zero: the choice is discrete.
            let dx2 = if dx.is_empty() {
                Vec::new()
            } else {
                dx.iter().flat_map(|&g| [g, 0.0]).collect()
            };
            inputs.push((
                v,
                RowBlock {
                    rows: (0..n).map(|i| xmap.index(i)).collect(),
                    width: 2,
                    partials: dx2,
                },
            ));
        }
        row_node(tape, inputs, lp, out)
    }
    /// Rows `[rt, choice]` from a fine Euler scheme with the Brownian-bridge crossing
    /// correction (see `sample_one`): choices exact up to O(e^{−1/ds}) double crossings,
    /// response times within 1e-4·a² of an exact draw.
    fn sample(&self, rng: &mut dyn Rng) -> Vec<f64> {
        let p: Vec<Vec<f64>> = self
            .params()
            .iter()
            .map(|p| broadcast_values(p, self.shape))
            .collect();
        (0..self.shape.len())
            .flat_map(|i| sample_one(rng, p[0][i], p[1][i], p[2][i], p[3][i]))
            .collect()
    }
}
