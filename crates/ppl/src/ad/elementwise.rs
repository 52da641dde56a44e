//! Fused elementwise functions with analytic partial derivatives.
//!
//! A distribution's log density over a plate is one such node: one forward pass stores
//! the value and the partials, one backward pass multiplies them by the adjoint. This is
//! what keeps a vectorized model within a small factor of hand-written code.

use super::shape::{Broadcast, Shape};
use super::tape::{Node, Op, Tape, Var};
use crate::error::PplError;

/// An input of [`Tape::elementwise`]: a tape value, a constant scalar, or constant data.
#[derive(Clone, Copy, Debug)]
pub enum Operand<'a, 't> {
    /// A value on the tape; gradients flow to it if it requires them.
    Var(Var<'t>),
    /// A constant broadcast to every element.
    Scalar(f64),
    /// Constant data with its shape (`data.len() == shape.len()`).
    Data(&'a [f64], Shape),
}

impl<'t> From<Var<'t>> for Operand<'_, 't> {
    fn from(v: Var<'t>) -> Self {
        Operand::Var(v)
    }
}

impl From<f64> for Operand<'_, '_> {
    fn from(x: f64) -> Self {
        Operand::Scalar(x)
    }
}

impl<'a> From<&'a [f64]> for Operand<'a, '_> {
    fn from(x: &'a [f64]) -> Self {
        Operand::Data(x, Shape::vector(x.len()))
    }
}

impl Tape {
    /// An elementwise function of `K` broadcast inputs with analytic partials.
    ///
    /// `f(args, partials)` returns the value for one element and writes ∂value/∂argₖ
    /// into `partials[k]`. The output has the broadcast shape of the inputs.
    ///
    /// ```
    /// use ppl::{Operand, Tape};
    /// let tape = Tape::new();
    /// let x = tape.vector(&[1.0, 2.0]);
    /// // y = a·x + b with constant a = 3 and data b.
    /// let b = [10.0, 20.0];
    /// let y = tape.elementwise([Operand::Scalar(3.0), x.into(), Operand::from(&b[..])], |[a, x, b], d| {
    ///     *d = [*x, *a, 1.0];
    ///     a * x + b
    /// });
    /// assert_eq!(y.value(), vec![13.0, 26.0]);
    /// tape.backward(y.sum()).unwrap();
    /// assert_eq!(x.grad(), vec![3.0, 3.0]);
    /// ```
    pub fn elementwise<'t, const K: usize>(
        &'t self,
        inputs: [Operand<'_, 't>; K],
        mut f: impl FnMut(&[f64; K], &mut [f64; K]) -> f64,
    ) -> Var<'t> {
        let mut inner = self.inner.borrow_mut();
        // Shapes and broadcast.
        let mut shapes = [Shape::SCALAR; K];
        let mut shape = Shape::SCALAR;
        let mut error = None;
        for (k, op) in inputs.iter().enumerate() {
            shapes[k] = match op {
                Operand::Var(v) => {
                    if !std::ptr::eq(v.tape, self) {
                        // `v.id` indexes the other tape: read its shape from there.
                        error = Some(PplError::ForeignTape);
                        v.shape()
                    } else {
                        inner.node(v.id).shape
                    }
                }
                Operand::Scalar(_) => Shape::SCALAR,
                Operand::Data(d, s) => {
                    if d.len() != s.len() {
                        error = Some(PplError::ShapeMismatch {
                            context: "elementwise data".into(),
                            left: vec![d.len()],
                            right: (*s).into(),
                        });
                    }
                    *s
                }
            };
            match Shape::broadcast(shape, shapes[k]) {
                Some(s) => shape = s,
                None => {
                    error.get_or_insert(PplError::ShapeMismatch {
                        context: "elementwise".into(),
                        left: shape.into(),
                        right: shapes[k].into(),
                    });
                }
            }
        }
        if let Some(e) = error {
            let id = inner.poisoned(shape, e);
            return Var { tape: self, id };
        }
        let len = shape.len();
        let maps: [Broadcast; K] = std::array::from_fn(|k| Broadcast::new(shapes[k], shape));
        // Which inputs need partials stored.
        let mut diff = [false; K];
        let mut var_ids = [0u32; K];
        let mut var_offs = [0usize; K];
        for (k, op) in inputs.iter().enumerate() {
            if let Operand::Var(v) = op {
                let n = inner.node(v.id);
                diff[k] = n.grad;
                var_ids[k] = v.id;
                var_offs[k] = n.off;
            }
        }
        let n_diff = diff.iter().filter(|&&d| d).count();
        let off = inner.vals.len();
        let aux_off = inner.aux.len();
        let ids_off = inner.ids.len();
        for k in 0..K {
            if diff[k] {
                inner.ids.push(var_ids[k]);
            }
        }
        inner.vals.resize(off + len, 0.0);
        inner.aux.resize(aux_off + n_diff * len, 0.0);
        {
            let inner = &mut *inner;
            let (old, new) = inner.vals.split_at_mut(off);
            let aux = &mut inner.aux[aux_off..];
            // Each input as a source slice; `Same`/`Scalar` broadcasts read `src[i·step]`.
            let consts: [f64; K] = std::array::from_fn(|k| match inputs[k] {
                Operand::Scalar(x) => x,
                _ => 0.0,
            });
            let srcs: [&[f64]; K] = std::array::from_fn(|k| match inputs[k] {
                Operand::Var(_) => &old[var_offs[k]..var_offs[k] + shapes[k].len()],
                Operand::Scalar(_) => std::slice::from_ref(&consts[k]),
                Operand::Data(x, _) => x,
            });
            let simple = maps.iter().all(|m| !matches!(m, Broadcast::Strided { .. }));
            let steps: [usize; K] =
                std::array::from_fn(|k| usize::from(matches!(maps[k], Broadcast::Same)));
            let mut args = [0.0; K];
            let mut d = [0.0; K];
            for i in 0..len {
                if simple {
                    for k in 0..K {
                        args[k] = srcs[k][i * steps[k]];
                    }
                } else {
                    for k in 0..K {
                        args[k] = srcs[k][maps[k].index(i)];
                    }
                }
                new[i] = f(&args, &mut d);
                let mut j = 0;
                for k in 0..K {
                    if diff[k] {
                        aux[j * len + i] = d[k];
                        j += 1;
                    }
                }
            }
        }
        let op = Op::Partials {
            ids_off,
            n: n_diff as u32,
            aux_off,
        };
        inner.nodes.push(Node {
            off,
            shape,
            op,
            grad: n_diff > 0,
        });
        Var {
            tape: self,
            id: (inner.nodes.len() - 1) as u32,
        }
    }
}
