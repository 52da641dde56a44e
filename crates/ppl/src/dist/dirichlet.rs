//! The Dirichlet distribution on the probability simplex.

use rand::{Rng, RngExt};

use super::gamma::sample_gamma;
use super::rows::{
    RowBlock, broadcast_index, event_out_shape, operand_values, row_node, split_event, tape_failure,
};
use super::{Distribution, Param};
use crate::ad::{Operand, Shape, Tape, Var};
use crate::constraint::Constraint;
use crate::error::PplError;
use crate::special::{digamma, ln_gamma, log_sum_exp};

/// Dirichlet(α): density Γ(α₀) / Πₖ Γ(αₖ) · Πₖ xₖ^(αₖ − 1) on the open simplex, α₀ = Σₖ αₖ.
///
/// The concentration has shape `[K]` or `batch ++ [K]`; a value has shape `[…, K]`, one
/// simplex per row, and `log_prob` gives one entry per (broadcast) batch row.
#[derive(Clone, Debug)]
pub struct Dirichlet<'t> {
    concentration: Param<'t>,
    batch: Shape,
    k: usize,
}

impl<'t> Dirichlet<'t> {
    /// `concentration` α of shape `[K]` or `[…, K]` with K ≥ 2, entries finite and > 0.
    pub fn new(concentration: impl Into<Param<'t>>) -> Result<Self, PplError> {
        let concentration = concentration
            .into()
            .positive("Dirichlet", "concentration")?;
        let (batch, k) = split_event("Dirichlet concentration", concentration.shape(), 2)?;
        let bad_total = concentration.with_values(|a| {
            a.chunks(k)
                .map(|row| row.iter().sum::<f64>())
                .find(|s| !s.is_finite())
        });
        if let Some(value) = bad_total {
            return Err(PplError::InvalidParameter {
                distribution: "Dirichlet",
                parameter: "concentration",
                value,
                requirement: "finite and > 0, with a finite sum per row",
            });
        }
        Ok(Dirichlet {
            concentration,
            batch,
            k,
        })
    }

    /// (αₖ / α₀, α₀) per batch row.
    fn normalized(&self) -> Vec<(Vec<f64>, f64)> {
        self.concentration.with_values(|a| {
            a.chunks(self.k)
                .map(|row| {
                    let a0: f64 = row.iter().sum();
                    (row.iter().map(|a| a / a0).collect(), a0)
                })
                .collect()
        })
    }
}

impl<'t> Distribution<'t> for Dirichlet<'t> {
    fn name(&self) -> &'static str {
        "Dirichlet"
    }
    fn batch_shape(&self) -> Shape {
        self.batch
    }
    fn event_shape(&self) -> Shape {
        Shape::vector(self.k)
    }
    fn support(&self) -> Constraint {
        Constraint::Simplex
    }
    /// ∂/∂αₖ = ψ(α₀) − ψ(αₖ) + ln xₖ and ∂/∂xₖ = (αₖ − 1)/xₖ; rows off the open simplex
    /// (an entry ≤ 0 or |Σ x − 1| ≥ 1e-9) give −∞ with zero partials.
    fn log_prob(&self, tape: &'t Tape, value: Operand<'_, 't>) -> Var<'t> {
        let k = self.k;
        let (xs, vshape) = match operand_values(&value) {
            Ok(v) => v,
            Err(e) => return tape_failure(tape, e, self.batch),
        };
        let (out, vbatch) = match event_out_shape("Dirichlet", vshape, self.batch, k) {
            Ok(s) => s,
            Err(e) => return tape_failure(tape, e, self.batch),
        };
        let alpha = self.concentration.values();
        let (arows, xrows) = (
            broadcast_index(self.batch, out),
            broadcast_index(vbatch, out),
        );
        let grad_a = self.concentration.var().is_some_and(|v| v.requires_grad());
        let grad_x = matches!(value, Operand::Var(v) if v.requires_grad());
        // Per concentration row: ln Γ(α₀) − Σ ln Γ(αₖ) and ψ(α₀).
        let (norm, psi0): (Vec<f64>, Vec<f64>) = alpha
            .chunks(k)
            .map(|a| {
                let a0: f64 = a.iter().sum();
                (
                    ln_gamma(a0) - a.iter().map(|&x| ln_gamma(x)).sum::<f64>(),
                    digamma(a0),
                )
            })
            .unzip();
        let psi: Vec<f64> = if grad_a {
            alpha.iter().map(|&a| digamma(a)).collect()
        } else {
            Vec::new()
        };
        let n = out.len();
        let mut lp = vec![f64::NEG_INFINITY; n];
        let mut da = if grad_a { vec![0.0; n * k] } else { Vec::new() };
        let mut dx = if grad_x { vec![0.0; n * k] } else { Vec::new() };
        for i in 0..n {
            let (ar, xr) = (arows[i], xrows[i]);
            let (a, x) = (&alpha[ar * k..(ar + 1) * k], &xs[xr * k..(xr + 1) * k]);
            if !Constraint::Simplex.contains_event(x) {
                continue;
            }
            let v = norm[ar]
                + a.iter()
                    .zip(x)
                    .map(|(a, x)| (a - 1.0) * x.ln())
                    .sum::<f64>();
            if v.is_nan() || v == f64::NEG_INFINITY {
                continue;
            }
            lp[i] = v;
            for j in 0..k {
                if grad_a {
                    da[i * k + j] = psi0[ar] - psi[ar * k + j] + x[j].ln();
                }
                if grad_x {
                    dx[i * k + j] = (a[j] - 1.0) / x[j];
                }
            }
        }
        let mut inputs = Vec::new();
        if let Some(v) = self.concentration.var() {
            inputs.push((
                v,
                RowBlock {
                    rows: arows,
                    width: k,
                    partials: da,
                },
            ));
        }
        if let Operand::Var(v) = value {
            inputs.push((
                v,
                RowBlock {
                    rows: xrows,
                    width: k,
                    partials: dx,
                },
            ));
        }
        row_node(tape, inputs, lp, out)
    }
    /// Normalized Gamma(αₖ, 1) draws, formed in log space so that small αₖ (whose gamma
    /// draws underflow) still give a simplex: for α < 1, ln G(α) = ln G(α + 1) + ln(U)/α.
    fn sample(&self, rng: &mut dyn Rng) -> Vec<f64> {
        let alpha = self.concentration.values();
        let mut out = Vec::with_capacity(alpha.len());
        for row in alpha.chunks(self.k) {
            let logs: Vec<f64> = row
                .iter()
                .map(|&a| {
                    if a < 1.0 {
                        let u: f64 = 1.0 - rng.random::<f64>(); // in (0, 1]
                        sample_gamma(rng, a + 1.0, 1.0).ln() + u.ln() / a
                    } else {
                        sample_gamma(rng, a, 1.0).ln()
                    }
                })
                .collect();
            let lse = log_sum_exp(&logs);
            out.extend(logs.iter().map(|l| (l - lse).exp()));
        }
        out
    }
    /// αₖ / α₀.
    fn mean(&self) -> Option<Vec<f64>> {
        Some(self.normalized().into_iter().flat_map(|(m, _)| m).collect())
    }
    /// αₖ (α₀ − αₖ) / (α₀² (α₀ + 1)) = mₖ (1 − mₖ) / (α₀ + 1) with mₖ = αₖ / α₀.
    fn variance(&self) -> Option<Vec<f64>> {
        let rows = self.normalized();
        Some(
            rows.into_iter()
                .flat_map(|(m, a0)| m.into_iter().map(move |m| m * (1.0 - m) / (a0 + 1.0)))
                .collect(),
        )
    }
}
