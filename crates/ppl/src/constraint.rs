//! Supports of distributions and bijections from an unconstrained space onto them.
//!
//! A latent site with a continuous support is sampled on ℝⁿ: `x = T(u)`, and its log
//! density picks up log|det ∂T/∂u| (NumPyro's `biject_to`, Stan's constraint transforms).

use crate::ad::{Shape, Tape, Var, Vjp};
use crate::error::PplError;
use crate::special::{log_sigmoid, sigmoid};

/// The support of a distribution.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Constraint {
    /// ℝ.
    Real,
    /// (0, ∞).
    Positive,
    /// (lower, ∞).
    GreaterThan(f64),
    /// (lower, upper).
    Interval(f64, f64),
    /// (0, 1).
    UnitInterval,
    /// Vectors with positive entries summing to one (event dimension K).
    Simplex,
    /// ℝᵈ vectors (multivariate event).
    RealVector,
    /// {0, 1, 2, …}.
    NonNegativeInteger,
    /// {lower, …, upper}.
    IntegerInterval(i64, i64),
    /// {0, 1}.
    Boolean,
    /// Rows `[rt, choice]`: a response time rt > 0 and a choice in {0, 1} (event
    /// dimension 2, as `Wiener` values). Mixed continuous and discrete, so such a site
    /// can only be observed.
    RtChoice,
}

impl std::fmt::Display for Constraint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Constraint::Real => write!(f, "real"),
            Constraint::Positive => write!(f, "positive"),
            Constraint::GreaterThan(a) => write!(f, "greater than {a}"),
            Constraint::Interval(a, b) => write!(f, "interval ({a}, {b})"),
            Constraint::UnitInterval => write!(f, "unit interval"),
            Constraint::Simplex => write!(f, "simplex"),
            Constraint::RealVector => write!(f, "real vector"),
            Constraint::NonNegativeInteger => write!(f, "non-negative integer"),
            Constraint::IntegerInterval(a, b) => write!(f, "integers {a}..={b}"),
            Constraint::Boolean => write!(f, "boolean"),
            Constraint::RtChoice => write!(f, "rows [rt > 0, choice in {{0, 1}}]"),
        }
    }
}

impl Constraint {
    /// Whether the support is a set of integers.
    pub fn is_discrete(&self) -> bool {
        matches!(
            self,
            Constraint::NonNegativeInteger | Constraint::IntegerInterval(..) | Constraint::Boolean
        )
    }

    /// Whether a single (scalar) value lies in the support. Event constraints
    /// (simplex) check their rows with [`Constraint::contains_event`].
    pub fn contains(&self, x: f64) -> bool {
        let int = x.is_finite() && x.fract() == 0.0;
        match *self {
            Constraint::Real | Constraint::RealVector => x.is_finite(),
            Constraint::Positive => x.is_finite() && x > 0.0,
            Constraint::GreaterThan(a) => x.is_finite() && x > a,
            Constraint::Interval(a, b) => x > a && x < b,
            Constraint::UnitInterval => x > 0.0 && x < 1.0,
            Constraint::Simplex => (0.0..=1.0).contains(&x),
            Constraint::NonNegativeInteger => int && x >= 0.0,
            Constraint::IntegerInterval(a, b) => int && x >= a as f64 && x <= b as f64,
            Constraint::Boolean => x == 0.0 || x == 1.0,
            // Each entry of a row: rt > 0 or a choice in {0, 1}.
            Constraint::RtChoice => x.is_finite() && x >= 0.0,
        }
    }

    /// Whether an event (a row of length K for a simplex) lies in the support.
    pub fn contains_event(&self, row: &[f64]) -> bool {
        match self {
            Constraint::Simplex => {
                row.iter().all(|&x| x > 0.0 && x.is_finite())
                    && (row.iter().sum::<f64>() - 1.0).abs() < 1e-9
            }
            Constraint::RtChoice => {
                matches!(row, [rt, c] if *rt > 0.0 && rt.is_finite() && (*c == 0.0 || *c == 1.0))
            }
            _ => row.iter().all(|&x| self.contains(x)),
        }
    }

    /// Number of unconstrained coordinates for a constrained value with `shape`.
    pub fn unconstrained_len(&self, shape: Shape) -> Result<usize, PplError> {
        match self {
            Constraint::Simplex => {
                let k = *shape.dims().last().unwrap_or(&1);
                if k < 2 {
                    return Err(PplError::Unsupported(
                        "a simplex needs at least 2 components".into(),
                    ));
                }
                Ok(shape.len() / k * (k - 1))
            }
            Constraint::RtChoice => Err(PplError::Unsupported(
                "a latent (rt, choice) site has no unconstrained representation; observe it".into(),
            )),
            c if c.is_discrete() => Err(PplError::Unsupported(format!(
                "a latent site with discrete support ({c}) has no unconstrained representation; \
                 marginalize it or observe it"
            ))),
            _ => Ok(shape.len()),
        }
    }

    /// Maps unconstrained values `u` to the support (plain f64, for draws).
    pub fn forward(&self, u: &[f64], shape: Shape) -> Vec<f64> {
        match *self {
            Constraint::Real | Constraint::RealVector => u.to_vec(),
            Constraint::Positive => u.iter().map(|u| u.exp()).collect(),
            Constraint::GreaterThan(a) => u.iter().map(|u| a + u.exp()).collect(),
            Constraint::Interval(a, b) => u.iter().map(|&u| a + (b - a) * sigmoid(u)).collect(),
            Constraint::UnitInterval => u.iter().map(|&u| sigmoid(u)).collect(),
            Constraint::Simplex => {
                let k = *shape.dims().last().unwrap_or(&1);
                u.chunks(k - 1).flat_map(|r| stick_breaking(r).0).collect()
            }
            _ => u.to_vec(),
        }
    }

    /// Maps constrained values back to ℝ (the inverse of [`Constraint::forward`]).
    pub fn inverse(&self, x: &[f64], shape: Shape) -> Vec<f64> {
        let logit = |p: f64| p.ln() - (-p).ln_1p();
        match *self {
            Constraint::Real | Constraint::RealVector => x.to_vec(),
            Constraint::Positive => x.iter().map(|x| x.ln()).collect(),
            Constraint::GreaterThan(a) => x.iter().map(|x| (x - a).ln()).collect(),
            Constraint::Interval(a, b) => x.iter().map(|&x| logit((x - a) / (b - a))).collect(),
            Constraint::UnitInterval => x.iter().map(|&x| logit(x)).collect(),
            Constraint::Simplex => {
                let k = *shape.dims().last().unwrap_or(&1);
                x.chunks(k)
                    .flat_map(|row| {
                        let mut rest = 1.0;
                        let mut out = Vec::with_capacity(k - 1);
                        for (i, &xi) in row[..k - 1].iter().enumerate() {
                            let z = xi / rest;
                            out.push(logit(z) + ((k - 1 - i) as f64).ln());
                            rest -= xi;
                        }
                        out
                    })
                    .collect()
            }
            _ => x.to_vec(),
        }
    }

    /// On the tape: the constrained value `x = T(u)` with the given shape, and
    /// log|det ∂T/∂u| summed to a scalar.
    pub fn forward_var<'t>(&self, u: Var<'t>, shape: Shape) -> (Var<'t>, Var<'t>) {
        let tape = u.tape();
        match *self {
            Constraint::Positive => {
                let x = u.exp().reshape(shape);
                (x, u.sum())
            }
            Constraint::GreaterThan(a) => {
                let x = (u.exp() + a).reshape(shape);
                (x, u.sum())
            }
            Constraint::Interval(a, b) => {
                let x = (u.sigmoid() * (b - a) + a).reshape(shape);
                (x, log_det_logistic(tape, u, (b - a).ln()))
            }
            Constraint::UnitInterval => {
                let x = u.sigmoid().reshape(shape);
                (x, log_det_logistic(tape, u, 0.0))
            }
            Constraint::Simplex => simplex_var(u, shape),
            _ => (u.reshape(shape), tape.constant_scalar(0.0)),
        }
    }
}

/// Σ [ln(scale) + ln σ(u) + ln σ(−u)], the log-Jacobian of `scale·σ(u)`.
fn log_det_logistic<'t>(tape: &'t Tape, u: Var<'t>, ln_scale: f64) -> Var<'t> {
    tape.elementwise([u.into()], |[u], d| {
        // d/du [ln σ(u) + ln σ(−u)] = 1 − 2σ(u)
        d[0] = 1.0 - 2.0 * sigmoid(*u);
        ln_scale + log_sigmoid(*u) + log_sigmoid(-*u)
    })
    .sum()
}

/// Stan's stick-breaking transform of one row: K−1 reals to a K-simplex.
/// Returns the simplex, the log-Jacobian, the Jacobian ∂x/∂u (K × (K−1), row-major)
/// and ∂logJ/∂u.
fn stick_breaking(u: &[f64]) -> (Vec<f64>, f64, Vec<f64>, Vec<f64>) {
    let km1 = u.len();
    let k = km1 + 1;
    let mut x = vec![0.0; k];
    let mut jac = vec![0.0; k * km1];
    let mut dlog = vec![0.0; km1];
    let mut log_det = 0.0;
    // rest = 1 − Σ_{j<i} x_j and its gradient in u.
    let mut rest = 1.0;
    let mut drest = vec![0.0; km1];
    for i in 0..km1 {
        let shift = ((k - 1 - i) as f64).ln();
        let z = sigmoid(u[i] - shift);
        x[i] = rest * z;
        // ∂x_i/∂u_j = z ∂rest/∂u_j (j < i) and rest z (1 − z) for j = i.
        for j in 0..i {
            jac[i * km1 + j] = z * drest[j];
        }
        jac[i * km1 + i] = rest * z * (1.0 - z);
        // log|J| term: ln(rest) + ln z + ln(1 − z).
        log_det += rest.ln() + log_sigmoid(u[i] - shift) + log_sigmoid(shift - u[i]);
        for j in 0..i {
            dlog[j] += drest[j] / rest;
        }
        dlog[i] += 1.0 - 2.0 * z;
        for j in 0..=i {
            drest[j] -= jac[i * km1 + j];
        }
        rest -= x[i];
    }
    x[km1] = rest;
    jac[km1 * km1..].copy_from_slice(&drest);
    (x, log_det, jac, dlog)
}

/// Vector-Jacobian product with stored row-major Jacobians of row blocks.
struct BlockJacobian {
    jac: Vec<f64>,
    rows: usize,
    cols: usize,
}

impl Vjp for BlockJacobian {
    fn vjp(&self, g: &[f64], _input: usize, adj: &mut [f64]) {
        let blocks = adj.len() / self.cols;
        for b in 0..blocks {
            let jb = &self.jac[b * self.rows * self.cols..(b + 1) * self.rows * self.cols];
            for r in 0..self.rows {
                let gr = g[b * self.rows + r];
                for c in 0..self.cols {
                    adj[b * self.cols + c] += gr * jb[r * self.cols + c];
                }
            }
        }
    }
}

fn simplex_var<'t>(u: Var<'t>, shape: Shape) -> (Var<'t>, Var<'t>) {
    let tape = u.tape();
    let k = *shape.dims().last().unwrap_or(&1);
    let uv = u.value();
    let (mut x, mut jac, mut dlog, mut ld) = (Vec::new(), Vec::new(), Vec::new(), 0.0);
    for row in uv.chunks(k - 1) {
        let (xr, l, j, d) = stick_breaking(row);
        x.extend(xr);
        jac.extend(j);
        dlog.extend(d);
        ld += l;
    }
    let xv = tape.custom(
        &[u],
        x,
        shape,
        Box::new(BlockJacobian {
            jac,
            rows: k,
            cols: k - 1,
        }),
    );
    let n = dlog.len();
    let ldv = tape.custom(
        &[u],
        vec![ld],
        Shape::SCALAR,
        Box::new(BlockJacobian {
            jac: dlog,
            rows: 1,
            cols: n,
        }),
    );
    (xv, ldv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_and_inverse_round_trip() {
        let shape = Shape::vector(3);
        for c in [
            Constraint::Real,
            Constraint::Positive,
            Constraint::GreaterThan(-2.0),
            Constraint::Interval(-1.0, 3.0),
            Constraint::UnitInterval,
        ] {
            let u = [-1.5, 0.2, 2.0];
            let x = c.forward(&u, shape);
            assert!(x.iter().all(|&v| c.contains(v)), "{c}");
            let back = c.inverse(&x, shape);
            for (a, b) in u.iter().zip(&back) {
                assert!((a - b).abs() < 1e-12, "{c}: {a} vs {b}");
            }
        }
        let s = Shape::vector(4);
        let u = [0.3, -1.0, 2.0];
        let x = Constraint::Simplex.forward(&u, s);
        assert!(Constraint::Simplex.contains_event(&x));
        let back = Constraint::Simplex.inverse(&x, s);
        for (a, b) in u.iter().zip(&back) {
            assert!((a - b).abs() < 1e-12);
        }
        // u = 0 maps to the uniform simplex (Stan's centring).
        let x0 = Constraint::Simplex.forward(&[0.0, 0.0, 0.0], s);
        assert!(x0.iter().all(|&v| (v - 0.25).abs() < 1e-15));
    }
}
