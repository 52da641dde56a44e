//! `NeuralLikelihood`: a trained conditional density estimator q(x | θ) as a `ppl`
//! distribution over x, with the gradient in θ flowing back into the model's tape.
//!
//! The fast path of hierarchical models: when θ's rows were gathered from per-group
//! parameters (`lam.gather(&location)`), rows of one group are the same tape element, so
//! they are evaluated with one `sum_log_prob_grad_context` call per group: O(groups)
//! network work plus O(trials) cheap work, and the gradient goes straight to the group
//! rows.
//!
//! Per-trial covariates (a stimulus strength scaling the drift, a condition): build one
//! θ row per distinct cell (subject × condition) with `Tape::stack`, and let each trial
//! gather its cell's row; the fast path then costs one evaluation per cell. Rows that
//! are not gathered (θ computed per trial) are evaluated one by one: rows that merely
//! hold equal values may still depend differently on the model's parameters, so they
//! cannot share one gradient.

use std::borrow::Cow;

use flows::{ConditionalDensity, RowsView, XSupport};
use ppl::{Constraint, Distribution, Operand, Param, PplError, Shape, Tape, Var, Vjp};
use rand::Rng;

/// A trained estimator q(x | θ) as the distribution of one observation row x.
///
/// θ is a constant or a tape value of shape `[d]` (one θ for every row, `d` the
/// estimator's context size; a scalar when `d = 1`) or `[n, d]` (one θ per row; `[n]`
/// when `d = 1`), e.g. `lam.gather(&location)` inside a plate. Rows of x have the
/// estimator's width; the event shape is `[x_dim]` (a scalar when `x_dim = 1`).
///
/// x is data: no gradient is taken in x. An x outside the estimator's support has
/// log-probability −∞; an error of the estimator (NaN in x) is recorded on the tape.
///
/// ```
/// use bridge::NeuralLikelihood;
/// use flows::{CategoricalConfig, CategoricalMass, RowsView};
/// use ppl::{Gamma, LogJoint, Model, PplError};
///
/// // An (untrained) categorical estimator over counts 0..=30 given a 1-D θ.
/// let thetas = [2.0, 8.0, 15.0];
/// let est = CategoricalMass::new(&CategoricalConfig::new(0, 30), RowsView::new(&thetas, 1).unwrap(), 0).unwrap();
/// let chips = vec![12.0, 9.0, 7.0];
/// let model = |m: &mut Model<'_>| -> Result<(), PplError> {
///     let lam = m.sample("lam", Gamma::new(2.0, 0.2)?)?;
///     m.plate("data", chips.len(), |m| m.observe("obs", NeuralLikelihood::new(&est, lam)?, &chips))
/// };
/// let mut target = LogJoint::new(model).unwrap();
/// let mut grad = [0.0];
/// assert!(target.log_density_grad(&[2.0], &mut grad).unwrap().is_finite());
/// ```
pub struct NeuralLikelihood<'e, 't> {
    estimator: &'e dyn ConditionalDensity,
    theta: Param<'t>,
    /// Rows of θ (`None`: one θ shared by every row of x).
    rows: Option<usize>,
}

impl<'e, 't> NeuralLikelihood<'e, 't> {
    /// q(x | θ) with θ of shape `[d]` (shared) or `[n, d]` (one per row); see the type docs.
    pub fn new(
        estimator: &'e dyn ConditionalDensity,
        theta: impl Into<Param<'t>>,
    ) -> Result<Self, PplError> {
        let theta = theta.into().finite("NeuralLikelihood", "theta")?;
        let d = estimator.context_dim();
        let dims = theta.shape().dims().to_vec();
        let rows = match (dims.as_slice(), d) {
            ([], 1) => None,
            ([k], _) if *k == d && d > 1 => None,
            ([1], 1) => None,
            ([n], 1) => Some(*n),
            ([n, k], _) if *k == d => Some(*n),
            _ => {
                return Err(PplError::ShapeMismatch {
                    context: format!(
                        "NeuralLikelihood: θ must have shape [{d}] or [n, {d}] (the estimator's context size)"
                    ),
                    left: dims,
                    right: vec![d],
                });
            }
        };
        Ok(NeuralLikelihood {
            estimator,
            theta,
            rows,
        })
    }

    fn x_dim(&self) -> usize {
        self.estimator.x_dim()
    }

    /// The rows of x in `value`, checked against the estimator and θ; records and
    /// returns `None` on a mismatch.
    /// Observed data are borrowed, not copied: this runs at every gradient evaluation.
    fn x_rows<'a>(
        &self,
        tape: &'t Tape,
        value: &Operand<'a, 't>,
    ) -> Option<(Cow<'a, [f64]>, usize)> {
        let (data, shape) = match *value {
            Operand::Var(v) => (Cow::Owned(v.value()), v.shape()),
            Operand::Scalar(x) => (Cow::Owned(vec![x]), Shape::SCALAR),
            Operand::Data(x, s) => (Cow::Borrowed(x), s),
        };
        let k = self.x_dim();
        let n = data.len() / k.max(1);
        let ok =
            data.len() == n * k && data.len() == shape.len() && self.rows.is_none_or(|r| r == n);
        if !ok {
            tape.record_error(PplError::ShapeMismatch {
                context: format!(
                    "NeuralLikelihood: x rows of width {k} against θ rows {:?}",
                    self.rows
                ),
                left: shape.into(),
                right: vec![self.rows.unwrap_or(n), k],
            });
            return None;
        }
        Some((data, n))
    }

    /// The θ row of x row `i` (`d` values).
    fn theta_row<'a>(&self, theta: &'a [f64], i: usize) -> &'a [f64] {
        let d = self.estimator.context_dim();
        match self.rows {
            None => &theta[..d],
            Some(_) => &theta[i * d..(i + 1) * d],
        }
    }

    fn fail(&self, tape: &'t Tape, e: flows::FlowError, shape: Shape) -> Var<'t> {
        tape.record_error(PplError::Custom(format!("NeuralLikelihood: {e}")));
        tape.constant(&vec![f64::NAN; shape.len()], shape)
    }
}

/// Adds `g_i · grad_i` into the adjoint of θ row `target[i]` (`d` values per row); for
/// a summed output every g_i is the one output adjoint.
struct RowGradients {
    d: usize,
    /// ∂ output_i / ∂ θ\[target\[i\]\], `d` values per output element.
    grads: Vec<f64>,
    target: Vec<usize>,
    summed: bool,
}

impl Vjp for RowGradients {
    fn vjp(&self, g: &[f64], _input: usize, adj: &mut [f64]) {
        for (i, &t) in self.target.iter().enumerate() {
            let gi = if self.summed { g[0] } else { g[i] };
            for (a, gr) in adj[t * self.d..(t + 1) * self.d]
                .iter_mut()
                .zip(&self.grads[i * self.d..(i + 1) * self.d])
            {
                *a += gi * gr;
            }
        }
    }
}

/// Start of each group's rows when the rows are ordered by group (`groups + 1` entries).
fn group_starts(index: &[usize], groups: usize) -> Vec<usize> {
    let mut start = vec![0usize; groups + 1];
    for &g in index {
        start[g + 1] += 1;
    }
    for g in 0..groups {
        start[g + 1] += start[g];
    }
    start
}

/// [`group_starts`] in one pass if the rows are already in group order, else `None`.
fn sorted_starts(index: &[usize], groups: usize) -> Option<Vec<usize>> {
    let mut start = Vec::with_capacity(groups + 1);
    start.push(0);
    let mut cur = 0;
    for (i, &g) in index.iter().enumerate() {
        if g < cur {
            return None;
        }
        // Rows of groups cur+1..=g (all empty but g) start here.
        while cur < g {
            start.push(i);
            cur += 1;
        }
    }
    start.resize(groups + 1, index.len());
    Some(start)
}

/// Stable grouping of rows by group index: (order of rows, start of each group in it).
fn group_rows(index: &[usize], groups: usize) -> (Vec<usize>, Vec<usize>) {
    let start = group_starts(index, groups);
    let mut fill = start.clone();
    let mut order = vec![0; index.len()];
    for (i, &g) in index.iter().enumerate() {
        order[fill[g]] = i;
        fill[g] += 1;
    }
    (order, start)
}

impl<'t> Distribution<'t> for NeuralLikelihood<'_, 't> {
    fn name(&self) -> &'static str {
        "NeuralLikelihood"
    }

    fn batch_shape(&self) -> Shape {
        self.rows.map_or(Shape::SCALAR, Shape::vector)
    }

    fn event_shape(&self) -> Shape {
        match self.x_dim() {
            1 => Shape::SCALAR,
            k => Shape::vector(k),
        }
    }

    /// The estimator's declared support: counts as an integer interval; real and mixed
    /// rows as real (vectors).
    fn support(&self) -> Constraint {
        match self.estimator.x_support() {
            XSupport::Integers { min, max } => Constraint::IntegerInterval(min, max),
            _ if self.x_dim() == 1 => Constraint::Real,
            _ => Constraint::RealVector,
        }
    }

    /// Per-row log q(x_i | θ_i): one estimator call per row (use
    /// [`log_prob_sum`](Distribution::log_prob_sum) where only the sum is needed).
    fn log_prob(&self, tape: &'t Tape, value: Operand<'_, 't>) -> Var<'t> {
        let Some((x, n)) = self.x_rows(tape, &value) else {
            return tape.constant_scalar(f64::NAN);
        };
        let (k, d) = (self.x_dim(), self.estimator.context_dim());
        let theta = self.theta.values();
        let shape = Shape::vector(n);
        let (mut lp, mut grads) = (vec![0.0; n], vec![0.0; n * d]);
        for i in 0..n {
            let xs = RowsView::new(&x[i * k..(i + 1) * k], k).expect("k divides the row");
            match self.estimator.sum_log_prob_grad_context(
                xs,
                self.theta_row(&theta, i),
                &mut grads[i * d..(i + 1) * d],
            ) {
                Ok(v) => lp[i] = v,
                Err(e) => return self.fail(tape, e, shape),
            }
        }
        match self.theta.var() {
            Some(v) => {
                let target = (0..n)
                    .map(|i| if self.rows.is_some() { i } else { 0 })
                    .collect();
                let vjp = RowGradients {
                    d,
                    grads,
                    target,
                    summed: false,
                };
                tape.custom(&[v], lp, shape, Box::new(vjp))
            }
            None => tape.constant(&lp, shape),
        }
    }

    /// Σ_i log q(x_i | θ_i) with the grouping fast path (see the module docs).
    fn log_prob_sum(&self, tape: &'t Tape, value: Operand<'_, 't>) -> Var<'t> {
        let Some((x, n)) = self.x_rows(tape, &value) else {
            return tape.constant_scalar(f64::NAN);
        };
        let (k, d) = (self.x_dim(), self.estimator.context_dim());
        // Groups of rows sharing one θ row of `source`: one θ for all, rows gathered
        // from per-group rows, or every row its own.
        let gathered = self.theta.var().and_then(|v| v.gather_source());
        let (source, theta, index, groups): (Option<Var<'t>>, Vec<f64>, Vec<usize>, usize) =
            match (self.rows, gathered) {
                (None, _) => (self.theta.var(), self.theta.values(), vec![0; n], 1),
                (Some(_), Some((src, idx))) => {
                    let groups = src.len() / d;
                    (Some(src), src.value(), idx, groups)
                }
                (Some(_), None) => (self.theta.var(), self.theta.values(), (0..n).collect(), n),
            };
        // Rows already in group order (data sorted by group, as the cookies) need no
        // permutation.
        let sorted_start = sorted_starts(&index, groups);
        let sorted = sorted_start.is_some();
        let (order, start) = match sorted_start {
            Some(start) => (Vec::new(), start),
            None => group_rows(&index, groups),
        };
        let mut buffer = Vec::new();
        let xs_all: &[f64] = if sorted {
            &x
        } else {
            buffer.reserve(x.len());
            for &i in &order {
                buffer.extend_from_slice(&x[i * k..(i + 1) * k]);
            }
            &buffer
        };
        let mut grads = vec![0.0; groups * d];
        let mut total = 0.0;
        for g in 0..groups {
            let (a, b) = (start[g], start[g + 1]);
            if a == b {
                continue;
            }
            let xs = RowsView::new(&xs_all[a * k..b * k], k).expect("k divides the rows");
            match self.estimator.sum_log_prob_grad_context(
                xs,
                &theta[g * d..(g + 1) * d],
                &mut grads[g * d..(g + 1) * d],
            ) {
                Ok(v) => total += v,
                Err(e) => return self.fail(tape, e, Shape::SCALAR),
            }
        }
        match source {
            Some(v) => {
                let vjp = RowGradients {
                    d,
                    grads,
                    target: (0..groups).collect(),
                    summed: true,
                };
                tape.custom(&[v], vec![total], Shape::SCALAR, Box::new(vjp))
            }
            None => tape.constant_scalar(total),
        }
    }

    /// Draws one x row per batch element from the estimator.
    fn sample(&self, rng: &mut dyn Rng) -> Vec<f64> {
        let theta = self.theta.values();
        let n = self.rows.unwrap_or(1);
        let mut out = Vec::with_capacity(n * self.x_dim());
        for i in 0..n {
            match self.estimator.sample(self.theta_row(&theta, i), 1, rng) {
                Ok(rows) => out.extend_from_slice(rows.row(0)),
                Err(_) => out.extend(std::iter::repeat_n(f64::NAN, self.x_dim())),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::{group_starts, sorted_starts};

    /// The one-pass starts of sorted rows equal the counting ones, empty groups (first,
    /// middle, last) included; rows out of order give `None`.
    #[test]
    fn sorted_starts_equal_group_starts() {
        let cases: [(&[usize], usize); 5] = [
            (&[0, 0, 1, 1, 1, 2], 3),
            (&[1, 1, 3], 5),
            (&[], 2),
            (&[0], 1),
            (&[2, 2, 2], 3),
        ];
        for (index, groups) in cases {
            assert_eq!(
                sorted_starts(index, groups),
                Some(group_starts(index, groups)),
                "{index:?}"
            );
        }
        assert_eq!(sorted_starts(&[0, 1, 0], 2), None);
    }
}
