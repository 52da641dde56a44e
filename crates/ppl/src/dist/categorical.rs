//! The categorical distribution over {0, …, K − 1}.

use rand::{Rng, RngExt};

use super::rows::{RowBlock, broadcast_index, operand_values, row_node, split_event, tape_failure};
use super::{Distribution, Param, is_count};
use crate::ad::{Operand, Shape, Tape, Var};
use crate::constraint::Constraint;
use crate::error::PplError;
use crate::special::log_sum_exp;

/// Largest accepted |Σₖ pₖ − 1| for a row of probabilities (as for simplex values).
const SIMPLEX_TOL: f64 = 1e-9;

/// Categorical over {0, …, K − 1}: P(k) = probs\[…, k\], or softmax(logits)\[…, k\].
///
/// The parameter has shape `batch ++ [K]`: the last dimension indexes categories, the
/// leading ones are the batch. The value is an integer-valued category per batch element.
#[derive(Clone, Debug)]
pub struct Categorical<'t> {
    /// Probabilities, or logits when `logits` is set; shape `batch ++ [K]`.
    param: Param<'t>,
    logits: bool,
    batch: Shape,
    k: usize,
}

impl<'t> Categorical<'t> {
    /// `probs` of shape `[K]` or `[…, K]` (K ≥ 1), entries in \[0, 1\], each row summing
    /// to 1 within 1e-9. Used as given (not renormalized): log P(k) = ln probs\[k\].
    pub fn new(probs: impl Into<Param<'t>>) -> Result<Self, PplError> {
        let param = probs.into().probability("Categorical", "probs")?;
        let (batch, k) = split_event("Categorical probs", param.shape(), 1)?;
        let bad_sum = param.with_values(|v| {
            v.chunks(k)
                .map(|row| row.iter().sum::<f64>())
                .find(|s| (s - 1.0).abs() > SIMPLEX_TOL)
        });
        if let Some(value) = bad_sum {
            return Err(PplError::InvalidParameter {
                distribution: "Categorical",
                parameter: "probs",
                value,
                requirement: "rows summing to 1 (within 1e-9)",
            });
        }
        Ok(Categorical {
            param,
            logits: false,
            batch,
            k,
        })
    }

    /// Finite `logits` of shape `[K]` or `[…, K]` (K ≥ 1): P(k) = softmax(logits)\[k\].
    pub fn from_logits(logits: impl Into<Param<'t>>) -> Result<Self, PplError> {
        let param = logits.into().finite("Categorical", "logits")?;
        let (batch, k) = split_event("Categorical logits", param.shape(), 1)?;
        Ok(Categorical {
            param,
            logits: true,
            batch,
            k,
        })
    }

    /// The number of categories K.
    pub fn num_categories(&self) -> usize {
        self.k
    }
}

/// The category index of `x`, if it is an integer in 0..k.
#[inline]
fn category(x: f64, k: usize) -> Option<usize> {
    (is_count(x) && x < k as f64).then_some(x as usize)
}

/// One inverse-CDF draw from unnormalized non-negative weights (at least one positive).
fn inverse_cdf(weights: impl Iterator<Item = f64> + Clone, u: f64) -> f64 {
    let total: f64 = weights.clone().sum();
    let target = u * total;
    let (mut acc, mut last_positive) = (0.0, 0);
    for (j, w) in weights.enumerate() {
        acc += w;
        if target < acc {
            return j as f64;
        }
        if w > 0.0 {
            last_positive = j;
        }
    }
    // u·total rounded up to total: the last category with mass.
    last_positive as f64
}

impl<'t> Distribution<'t> for Categorical<'t> {
    fn name(&self) -> &'static str {
        "Categorical"
    }
    fn batch_shape(&self) -> Shape {
        self.batch
    }
    fn support(&self) -> Constraint {
        Constraint::IntegerInterval(0, self.k as i64 - 1)
    }
    /// ln probs\[k\] (∂ = 1/probs\[k\] at entry k), or logits\[k\] − logsumexp(logits)
    /// (∂ = onehot(k) − softmax(logits)); −∞ with zero partials for k not in 0..K.
    fn log_prob(&self, tape: &'t Tape, value: Operand<'_, 't>) -> Var<'t> {
        let (xs, vshape) = match operand_values(&value) {
            Ok(v) => v,
            Err(e) => return tape_failure(tape, e, Shape::SCALAR),
        };
        let Some(out) = Shape::broadcast(vshape, self.batch) else {
            let e = PplError::ShapeMismatch {
                context: "Categorical value vs batch shape".into(),
                left: vshape.into(),
                right: self.batch.into(),
            };
            return tape_failure(tape, e, vshape);
        };
        let (k, logits) = (self.k, self.logits);
        let rows = broadcast_index(self.batch, out);
        let xi = broadcast_index(vshape, out);
        let grad = self.param.var().is_some_and(|v| v.requires_grad());
        let (lp, partials) = self.param.with_values(|theta| {
            let lse: Vec<f64> = if logits {
                theta.chunks(k).map(log_sum_exp).collect()
            } else {
                Vec::new()
            };
            let mut lp = vec![f64::NEG_INFINITY; out.len()];
            let mut partials = if grad {
                vec![0.0; out.len() * k]
            } else {
                Vec::new()
            };
            for (i, (&r, &j)) in rows.iter().zip(&xi).enumerate() {
                let Some(c) = category(xs[j], k) else {
                    continue;
                };
                let row = &theta[r * k..(r + 1) * k];
                let v = if logits { row[c] - lse[r] } else { row[c].ln() };
                if v == f64::NEG_INFINITY {
                    continue;
                }
                lp[i] = v;
                if grad {
                    let d = &mut partials[i * k..(i + 1) * k];
                    if logits {
                        for (d, &l) in d.iter_mut().zip(row) {
                            *d = -(l - lse[r]).exp();
                        }
                        d[c] += 1.0;
                    } else {
                        d[c] = 1.0 / row[c];
                    }
                }
            }
            (lp, partials)
        });
        let mut inputs = Vec::new();
        if let Some(v) = self.param.var() {
            inputs.push((
                v,
                RowBlock {
                    rows,
                    width: k,
                    partials,
                },
            ));
        }
        if let Operand::Var(v) = value {
            // A discrete value gets no gradient; it is an input only for the tape check.
            inputs.push((v, RowBlock::none()));
        }
        row_node(tape, inputs, lp, out)
    }
    /// One category per batch element, by inverse CDF.
    fn sample(&self, rng: &mut dyn Rng) -> Vec<f64> {
        let (k, logits) = (self.k, self.logits);
        self.param.with_values(|theta| {
            theta
                .chunks(k)
                .map(|row| {
                    let u: f64 = rng.random();
                    if logits {
                        let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                        inverse_cdf(row.iter().map(|l| (l - m).exp()), u)
                    } else {
                        inverse_cdf(row.iter().copied(), u)
                    }
                })
                .collect()
        })
    }
    // No mean or variance: category labels are not quantities (PyTorch returns NaN).
}
