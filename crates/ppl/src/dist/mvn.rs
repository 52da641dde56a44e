//! The multivariate normal distribution, parameterized by a Cholesky factor.

use rand::Rng;
use rand_distr::{Distribution as _, StandardNormal};

use super::rows::{broadcast_index, event_out_shape, operand_values, split_event, tape_failure};
use super::{Distribution, Param, broadcast_shapes};
use crate::ad::{Operand, Shape, Tape, Var, Vjp};
use crate::constraint::Constraint;
use crate::error::PplError;
use crate::special::LN_SQRT_2PI;

/// Largest accepted |Σᵢⱼ − Σⱼᵢ| relative to max(|Σᵢⱼ|, |Σⱼᵢ|) for a covariance matrix.
const SYMMETRY_RTOL: f64 = 1e-12;

/// MultivariateNormal(μ, L): density N(x | μ, L Lᵀ) on ℝᵈ, with L lower-triangular with a
/// positive diagonal (the Cholesky factor of the covariance).
///
/// `loc` has shape `[d]` or `batch ++ [d]`, `scale_tril` shape `[d, d]` or
/// `batch ++ [d, d]`; the two batch shapes broadcast. A value has shape `[…, d]` and
/// `log_prob` gives one entry per (broadcast) batch row.
#[derive(Clone, Debug)]
pub struct MultivariateNormal<'t> {
    loc: Param<'t>,
    scale_tril: Param<'t>,
    loc_batch: Shape,
    tril_batch: Shape,
    batch: Shape,
    d: usize,
}

impl<'t> MultivariateNormal<'t> {
    /// Finite `loc` μ of shape `[…, d]` and `scale_tril` L of shape `[…, d, d]`: finite,
    /// zero above the diagonal, diagonal > 0. Mismatched d is a
    /// [`PplError::ShapeMismatch`].
    pub fn new(
        loc: impl Into<Param<'t>>,
        scale_tril: impl Into<Param<'t>>,
    ) -> Result<Self, PplError> {
        let loc = loc.into().finite("MultivariateNormal", "loc")?;
        let scale_tril = scale_tril
            .into()
            .finite("MultivariateNormal", "scale_tril")?;
        let (loc_batch, d) = split_event("MultivariateNormal loc", loc.shape(), 1)?;
        let ls = scale_tril.shape();
        let (tril_batch, rows, cols) = match ls.dims() {
            [batch @ .., r, c] => (Shape::new(batch).unwrap_or(Shape::SCALAR), *r, *c),
            _ => (Shape::SCALAR, 0, 0),
        };
        if rows != d || cols != d {
            return Err(PplError::ShapeMismatch {
                context: "MultivariateNormal loc [..., d] vs scale_tril [..., d, d]".into(),
                left: loc.shape().into(),
                right: ls.into(),
            });
        }
        scale_tril.with_values(|l| check_tril(l, d))?;
        let batch = broadcast_shapes("MultivariateNormal", &[loc_batch, tril_batch])?;
        Ok(MultivariateNormal {
            loc,
            scale_tril,
            loc_batch,
            tril_batch,
            batch,
            d,
        })
    }

    /// Finite `loc` μ of shape `[…, d]` and a constant covariance matrix Σ (d × d,
    /// row-major), symmetric positive definite; L is its Cholesky factor.
    pub fn from_covariance(
        loc: impl Into<Param<'t>>,
        covariance: Vec<f64>,
    ) -> Result<Self, PplError> {
        let loc = loc.into().finite("MultivariateNormal", "loc")?;
        let (_, d) = split_event("MultivariateNormal loc", loc.shape(), 1)?;
        if covariance.len() != d * d {
            return Err(PplError::ShapeMismatch {
                context: "MultivariateNormal covariance_matrix vs loc [..., d]".into(),
                left: vec![covariance.len()],
                right: vec![d, d],
            });
        }
        let l = cholesky(&covariance, d)?;
        Self::new(loc, Param::Data(l, Shape::matrix(d, d)))
    }

    /// The dimension d.
    pub fn dim(&self) -> usize {
        self.d
    }
}

/// Checks each d × d block of `l` is lower-triangular with a positive diagonal.
fn check_tril(l: &[f64], d: usize) -> Result<(), PplError> {
    let bad = |value, requirement| PplError::InvalidParameter {
        distribution: "MultivariateNormal",
        parameter: "scale_tril",
        value,
        requirement,
    };
    for (idx, &v) in l.iter().enumerate() {
        let (i, j) = ((idx / d) % d, idx % d);
        if j > i && v != 0.0 {
            return Err(bad(v, "lower-triangular (zero above the diagonal)"));
        }
        if j == i && v <= 0.0 {
            return Err(bad(v, "a diagonal > 0"));
        }
    }
    Ok(())
}

/// The Cholesky factor of a symmetric positive-definite d × d matrix (row-major).
fn cholesky(a: &[f64], d: usize) -> Result<Vec<f64>, PplError> {
    let bad = |value, requirement| PplError::InvalidParameter {
        distribution: "MultivariateNormal",
        parameter: "covariance_matrix",
        value,
        requirement,
    };
    if let Some(&v) = a.iter().find(|v| !v.is_finite()) {
        return Err(bad(v, "finite"));
    }
    for i in 0..d {
        for j in 0..i {
            let (x, y) = (a[i * d + j], a[j * d + i]);
            if (x - y).abs() > SYMMETRY_RTOL * x.abs().max(y.abs()) {
                return Err(bad(x, "symmetric (within 1e-12 relative)"));
            }
        }
    }
    let mut l = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..=i {
            let s = a[i * d + j] - (0..j).map(|m| l[i * d + m] * l[j * d + m]).sum::<f64>();
            if i == j {
                if !(s > 0.0 && s.is_finite()) {
                    return Err(bad(s, "positive definite (a Cholesky pivot is ≤ 0)"));
                }
                l[i * d + i] = s.sqrt();
            } else {
                l[i * d + j] = s / l[j * d + j];
            }
        }
    }
    Ok(l)
}

/// z = L⁻¹ r by forward substitution (L lower-triangular, row-major d × d).
fn solve_lower(l: &[f64], r: &[f64], z: &mut [f64]) {
    let d = r.len();
    for i in 0..d {
        let s: f64 = (0..i).map(|j| l[i * d + j] * z[j]).sum();
        z[i] = (r[i] - s) / l[i * d + i];
    }
}

/// w = L⁻ᵀ z by back substitution.
fn solve_upper_t(l: &[f64], z: &[f64], w: &mut [f64]) {
    let d = z.len();
    for i in (0..d).rev() {
        let s: f64 = (i + 1..d).map(|j| l[j * d + i] * w[j]).sum();
        w[i] = (z[i] - s) / l[i * d + i];
    }
}

/// Which parameter an input of the log-density node is.
#[derive(Clone, Copy)]
enum Role {
    Value,
    Loc,
    ScaleTril,
}

/// Backward of the MVN log density. Per output row i, with z = L⁻¹(x − μ) and w = L⁻ᵀ z:
/// ∂/∂x = −w, ∂/∂μ = w, ∂/∂L = tril(w zᵀ) − diag(1/Lₖₖ). Rows with −∞ have z = w = 0 and
/// no diagonal term.
struct MvnVjp {
    d: usize,
    /// Per input of the node: its role and, per output row, the input row it reads.
    inputs: Vec<(Role, Vec<usize>)>,
    z: Vec<f64>,
    w: Vec<f64>,
    valid: Vec<bool>,
    /// 1/Lₖₖ per scale_tril row (d per row).
    inv_diag: Vec<f64>,
    /// The scale_tril row read by each output row.
    tril_rows: Vec<usize>,
}

impl Vjp for MvnVjp {
    fn vjp(&self, g: &[f64], input: usize, adj: &mut [f64]) {
        let Some((role, rows)) = self.inputs.get(input) else {
            return;
        };
        let d = self.d;
        if self.z.len() != g.len() * d {
            return; // no partials were stored: no input needed a gradient
        }
        for (i, (&gi, &r)) in g.iter().zip(rows).enumerate() {
            if gi == 0.0 || !self.valid[i] {
                continue;
            }
            let (z, w) = (&self.z[i * d..(i + 1) * d], &self.w[i * d..(i + 1) * d]);
            match role {
                Role::Value => adj[r * d..(r + 1) * d]
                    .iter_mut()
                    .zip(w)
                    .for_each(|(a, w)| *a -= gi * w),
                Role::Loc => adj[r * d..(r + 1) * d]
                    .iter_mut()
                    .zip(w)
                    .for_each(|(a, w)| *a += gi * w),
                Role::ScaleTril => {
                    let a = &mut adj[r * d * d..(r + 1) * d * d];
                    let inv = &self.inv_diag[self.tril_rows[i] * d..(self.tril_rows[i] + 1) * d];
                    for p in 0..d {
                        for q in 0..=p {
                            a[p * d + q] += gi * w[p] * z[q];
                        }
                        a[p * d + p] -= gi * inv[p];
                    }
                }
            }
        }
    }
}

impl<'t> Distribution<'t> for MultivariateNormal<'t> {
    fn name(&self) -> &'static str {
        "MultivariateNormal"
    }
    fn batch_shape(&self) -> Shape {
        self.batch
    }
    fn event_shape(&self) -> Shape {
        Shape::vector(self.d)
    }
    fn support(&self) -> Constraint {
        Constraint::RealVector
    }
    /// −½‖L⁻¹(x − μ)‖² − Σₖ ln Lₖₖ − (d/2) ln 2π per row; a row with a non-finite entry
    /// gives −∞ with zero partials.
    fn log_prob(&self, tape: &'t Tape, value: Operand<'_, 't>) -> Var<'t> {
        let d = self.d;
        let (xs, vshape) = match operand_values(&value) {
            Ok(v) => v,
            Err(e) => return tape_failure(tape, e, self.batch),
        };
        let (out, vbatch) = match event_out_shape("MultivariateNormal", vshape, self.batch, d) {
            Ok(s) => s,
            Err(e) => return tape_failure(tape, e, self.batch),
        };
        let (mu, l) = (self.loc.values(), self.scale_tril.values());
        let xrows = broadcast_index(vbatch, out);
        let mrows = broadcast_index(self.loc_batch, out);
        let lrows = broadcast_index(self.tril_batch, out);
        let inv_diag: Vec<f64> = l
            .chunks(d * d)
            .flat_map(|m| (0..d).map(move |k| 1.0 / m[k * d + k]))
            .collect();
        // ln det L = Σₖ ln Lₖₖ per factor.
        let log_det: Vec<f64> = l
            .chunks(d * d)
            .map(|m| (0..d).map(|k| m[k * d + k].ln()).sum::<f64>())
            .collect();
        let n = out.len();
        let value_var = if let Operand::Var(v) = value {
            Some(v)
        } else {
            None
        };
        let grad = [value_var, self.loc.var(), self.scale_tril.var()]
            .iter()
            .flatten()
            .any(|v| v.requires_grad());
        let mut lp = vec![f64::NEG_INFINITY; n];
        let mut valid = vec![false; n];
        let (mut zs, mut ws) = (
            vec![0.0; if grad { n * d } else { 0 }],
            vec![0.0; if grad { n * d } else { 0 }],
        );
        let (mut r, mut z, mut w) = (vec![0.0; d], vec![0.0; d], vec![0.0; d]);
        for i in 0..n {
            let (x, m) = (
                &xs[xrows[i] * d..(xrows[i] + 1) * d],
                &mu[mrows[i] * d..(mrows[i] + 1) * d],
            );
            let li = &l[lrows[i] * d * d..(lrows[i] + 1) * d * d];
            for k in 0..d {
                r[k] = x[k] - m[k];
            }
            solve_lower(li, &r, &mut z);
            let v = -0.5 * z.iter().map(|z| z * z).sum::<f64>()
                - log_det[lrows[i]]
                - d as f64 * LN_SQRT_2PI;
            // Non-finite x, or a residual so large that ‖z‖² overflows: no mass.
            if !v.is_finite() {
                continue;
            }
            lp[i] = v;
            valid[i] = true;
            if grad {
                solve_upper_t(li, &z, &mut w);
                zs[i * d..(i + 1) * d].copy_from_slice(&z);
                ws[i * d..(i + 1) * d].copy_from_slice(&w);
            }
        }
        let mut vars = Vec::new();
        let mut roles = Vec::new();
        if let Some(v) = value_var {
            vars.push(v);
            roles.push((Role::Value, xrows));
        }
        if let Some(v) = self.loc.var() {
            vars.push(v);
            roles.push((Role::Loc, mrows));
        }
        if let Some(v) = self.scale_tril.var() {
            vars.push(v);
            roles.push((Role::ScaleTril, lrows.clone()));
        }
        if vars.is_empty() {
            return tape.constant(&lp, out);
        }
        let vjp = MvnVjp {
            d,
            inputs: roles,
            z: zs,
            w: ws,
            valid,
            inv_diag,
            tril_rows: lrows,
        };
        tape.custom(&vars, lp, out, Box::new(vjp))
    }
    /// μ + L ε with ε ~ N(0, I).
    fn sample(&self, rng: &mut dyn Rng) -> Vec<f64> {
        let d = self.d;
        let (mu, l) = (self.loc.values(), self.scale_tril.values());
        let (mrows, lrows) = (
            broadcast_index(self.loc_batch, self.batch),
            broadcast_index(self.tril_batch, self.batch),
        );
        let mut out = Vec::with_capacity(self.batch.len() * d);
        for (&mr, &lr) in mrows.iter().zip(&lrows) {
            let eps: Vec<f64> = (0..d).map(|_| StandardNormal.sample(rng)).collect();
            let li = &l[lr * d * d..(lr + 1) * d * d];
            out.extend(
                (0..d)
                    .map(|p| mu[mr * d + p] + (0..=p).map(|q| li[p * d + q] * eps[q]).sum::<f64>()),
            );
        }
        out
    }
    /// μ per batch row.
    fn mean(&self) -> Option<Vec<f64>> {
        let (d, mu) = (self.d, self.loc.values());
        Some(
            broadcast_index(self.loc_batch, self.batch)
                .iter()
                .flat_map(|&r| mu[r * d..(r + 1) * d].to_vec())
                .collect(),
        )
    }
    /// diag(L Lᵀ)ₚ = Σ_{q ≤ p} L²ₚq per batch row.
    fn variance(&self) -> Option<Vec<f64>> {
        let (d, l) = (self.d, &self.scale_tril.values());
        let rows = broadcast_index(self.tril_batch, self.batch);
        Some(
            rows.iter()
                .flat_map(|&r| {
                    (0..d).map(move |p| {
                        (0..=p)
                            .map(|q| l[r * d * d + p * d + q].powi(2))
                            .sum::<f64>()
                    })
                })
                .collect(),
        )
    }
}
