//! Row-wise helpers for distributions whose parameters or values end in a category or
//! event dimension (Categorical, Dirichlet, MultivariateNormal).

use crate::ad::{Operand, Shape, Tape, Var, Vjp, shape_broadcast};
use crate::error::PplError;

/// The values and shape of a `log_prob` argument (copied off the tape for a `Var`).
pub(crate) fn operand_values(value: &Operand<'_, '_>) -> Result<(Vec<f64>, Shape), PplError> {
    match *value {
        Operand::Var(v) => Ok((v.value(), v.shape())),
        Operand::Scalar(x) => Ok((vec![x], Shape::SCALAR)),
        Operand::Data(x, s) if x.len() == s.len() => Ok((x.to_vec(), s)),
        Operand::Data(x, s) => Err(PplError::ShapeMismatch {
            context: "log_prob value data".into(),
            left: vec![x.len()],
            right: s.into(),
        }),
    }
}

/// Splits `shape = batch ++ [width]`, requiring `width ≥ min_width`.
pub(crate) fn split_event(
    context: &str,
    shape: Shape,
    min_width: usize,
) -> Result<(Shape, usize), PplError> {
    match shape.dims().split_last() {
        Some((&width, batch)) if width >= min_width => {
            Ok((Shape::new(batch).unwrap_or(Shape::SCALAR), width))
        }
        _ => Err(PplError::ShapeMismatch {
            context: format!("{context}: need shape [..., K] with K ≥ {min_width}"),
            left: shape.into(),
            right: vec![min_width],
        }),
    }
}

/// The output batch shape of an event-valued `log_prob` and the value's batch shape: the
/// value must have shape `value_batch ++ [width]`, `value_batch` broadcasting with `batch`.
pub(crate) fn event_out_shape(
    name: &str,
    value: Shape,
    batch: Shape,
    width: usize,
) -> Result<(Shape, Shape), PplError> {
    let mismatch = || PplError::ShapeMismatch {
        context: format!("{name} value of event size {width} vs batch shape"),
        left: value.into(),
        right: batch.into(),
    };
    let (vbatch, w) = split_event(name, value, width).map_err(|_| mismatch())?;
    if w != width {
        return Err(mismatch());
    }
    let out = Shape::broadcast(vbatch, batch).ok_or_else(mismatch)?;
    Ok((out, vbatch))
}

/// Records `e` on the tape and returns NaN of `shape`: how failed tape operations report.
pub(crate) fn tape_failure<'t>(tape: &'t Tape, e: PplError, shape: Shape) -> Var<'t> {
    tape.record_error(e);
    tape.constant(&vec![f64::NAN; shape.len()], shape)
}

/// For each element of the broadcast shape `out`, the element of `input` it reads.
pub(crate) fn broadcast_index(input: Shape, out: Shape) -> Vec<usize> {
    let m = shape_broadcast(input, out);
    (0..out.len()).map(|i| m.index(i)).collect()
}

/// Stored partials of a row-wise node for one input: output element `i` depends on row
/// `rows[i]` (`width` entries) of the input, with ∂out\[i\]/∂row = `partials[i·width..]`.
pub(crate) struct RowBlock {
    /// The input row read by each output element.
    pub(crate) rows: Vec<usize>,
    /// Entries per row.
    pub(crate) width: usize,
    /// `rows.len() × width` partials (empty when the input needs no gradient).
    pub(crate) partials: Vec<f64>,
}

impl RowBlock {
    /// A block for an input that gets no gradient.
    pub(crate) fn none() -> RowBlock {
        RowBlock {
            rows: Vec::new(),
            width: 0,
            partials: Vec::new(),
        }
    }
}

/// A node with value `lp` of `shape` whose gradient flows to each input through its
/// [`RowBlock`]; a constant when no input is on the tape.
pub(crate) fn row_node<'t>(
    tape: &'t Tape,
    inputs: Vec<(Var<'t>, RowBlock)>,
    lp: Vec<f64>,
    shape: Shape,
) -> Var<'t> {
    if inputs.is_empty() {
        return tape.constant(&lp, shape);
    }
    let (vars, blocks): (Vec<Var<'t>>, Vec<RowBlock>) = inputs.into_iter().unzip();
    tape.custom(&vars, lp, shape, Box::new(RowPartials(blocks)))
}

/// The [`Vjp`] of a row-wise node: one [`RowBlock`] per input of [`Tape::custom`].
struct RowPartials(Vec<RowBlock>);

impl Vjp for RowPartials {
    fn vjp(&self, g: &[f64], input: usize, adj: &mut [f64]) {
        let Some(b) = self.0.get(input) else { return };
        if b.partials.is_empty() || b.partials.len() != b.rows.len() * b.width {
            return;
        }
        for (i, (&gi, &r)) in g.iter().zip(&b.rows).enumerate() {
            if gi == 0.0 {
                continue;
            }
            let p = &b.partials[i * b.width..(i + 1) * b.width];
            for (a, p) in adj[r * b.width..(r + 1) * b.width].iter_mut().zip(p) {
                *a += gi * p;
            }
        }
    }
}
