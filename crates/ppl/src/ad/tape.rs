//! The tape: an arena of vector-valued nodes evaluated eagerly and differentiated in reverse.

use std::cell::RefCell;

use super::shape::Shape;
use crate::error::PplError;

/// A caller-supplied vector-Jacobian product for [`Tape::custom`].
///
/// `bridge` uses this to put neural likelihoods on the tape: the forward value and the
/// partial derivatives are computed outside, and only their product with the output
/// adjoint flows back.
///
/// `Send`, so that a tape (and a [`crate::LogJoint`]) can move to another thread:
/// samplers run one chain per thread.
pub trait Vjp: Send {
    /// Adds `out_adjoint`ᵀ · ∂output/∂input\[`input`\] into `input_adjoint`
    /// (which has the shape of that input).
    fn vjp(&self, out_adjoint: &[f64], input: usize, input_adjoint: &mut [f64]);
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Un {
    Neg,
    Exp,
    Ln,
    Ln1p,
    ExpM1,
    Sqrt,
    Square,
    Sin,
    Cos,
    Tanh,
    Sigmoid,
    Softplus,
    LnGamma,
    LogNdtr,
    Powi(i32),
    Powf(f64),
    AddC(f64),
    MulC(f64),
    DivC(f64),
    /// c − x
    RSubC(f64),
    /// c / x
    RDivC(f64),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Bin {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Op {
    Leaf,
    Unary(Un, u32),
    Binary(Bin, u32, u32),
    Sum(u32),
    Dot(u32, u32),
    LogSumExp(u32),
    /// Rows of `a` selected by `idx[idx_off..idx_off + rows]`, each row `row` elements.
    Gather {
        a: u32,
        idx_off: usize,
        rows: usize,
        row: usize,
    },
    Broadcast(u32),
    Reshape(u32),
    Concat {
        ids_off: usize,
        n: u32,
    },
    /// Elements `start..start + len` of `a`.
    Slice {
        a: u32,
        start: usize,
    },
    /// Elementwise output with stored partials: for each differentiable input `j`
    /// (`ids[ids_off + j]`), `aux[aux_off + j·len + i]` is ∂out\[i\]/∂input\[map(i)\].
    Partials {
        ids_off: usize,
        n: u32,
        aux_off: usize,
    },
    /// The sum over the elements of a `Partials` node (shape `elems`), folded into it
    /// by [`Var::sum_fused`]: the backward pass scales the stored partials by one adjoint.
    PartialsSum {
        ids_off: usize,
        n: u32,
        aux_off: usize,
        elems: Shape,
    },
    Custom {
        ids_off: usize,
        n: u32,
        k: u32,
    },
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Node {
    pub(crate) off: usize,
    pub(crate) shape: Shape,
    pub(crate) op: Op,
    /// Whether any leaf variable is upstream (constants need no adjoint).
    pub(crate) grad: bool,
}

#[derive(Default)]
pub(crate) struct Inner {
    pub(crate) nodes: Vec<Node>,
    pub(crate) vals: Vec<f64>,
    pub(crate) aux: Vec<f64>,
    pub(crate) ids: Vec<u32>,
    pub(crate) idx: Vec<usize>,
    pub(crate) customs: Vec<Box<dyn Vjp>>,
    pub(crate) adj: Vec<f64>,
    /// Per node: reachable from the output of the current reverse sweep.
    pub(crate) live: Vec<bool>,
    pub(crate) error: Option<PplError>,
}

/// A reverse-mode autodiff tape whose nodes are vectors (a 10,000-element plate is one node).
///
/// Values are computed eagerly as operations are recorded, so a [`Var`] always has a
/// value; [`Tape::backward`] then fills adjoints for every node. Operations that fail
/// (shape mismatch, index out of range) do not panic: they record the first error on
/// the tape (see [`Tape::error`]) and produce NaN, so model code can use plain operators.
///
/// ```
/// use ppl::Tape;
/// let tape = Tape::new();
/// let x = tape.vector(&[1.0, 2.0, 3.0]);
/// let y = (x * x).sum(); // Σ x²
/// tape.backward(y).unwrap();
/// assert_eq!(y.scalar(), 14.0);
/// assert_eq!(x.grad(), vec![2.0, 4.0, 6.0]);
/// ```
#[derive(Default)]
pub struct Tape {
    pub(crate) inner: RefCell<Inner>,
}

/// A handle to a node on a [`Tape`]: cheap to copy, valid while the tape is borrowed.
#[derive(Clone, Copy)]
pub struct Var<'t> {
    pub(crate) tape: &'t Tape,
    pub(crate) id: u32,
}

impl std::fmt::Debug for Var<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Var#{}{:?} = {:?}", self.id, self.shape(), self.value())
    }
}

impl Inner {
    pub(crate) fn record_error(&mut self, e: PplError) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    /// Appends a node whose value is filled by `fill(previous values, new value)`.
    pub(crate) fn push(
        &mut self,
        shape: Shape,
        op: Op,
        grad: bool,
        fill: impl FnOnce(&[f64], &mut [f64]),
    ) -> u32 {
        let off = self.vals.len();
        self.vals.resize(off + shape.len(), 0.0);
        let (old, new) = self.vals.split_at_mut(off);
        fill(old, new);
        self.nodes.push(Node {
            off,
            shape,
            op,
            grad,
        });
        (self.nodes.len() - 1) as u32
    }

    /// A leaf filled with NaN: the result of an operation that recorded an error.
    pub(crate) fn poisoned(&mut self, shape: Shape, e: PplError) -> u32 {
        self.record_error(e);
        self.push(shape, Op::Leaf, false, |_, v| v.fill(f64::NAN))
    }

    pub(crate) fn node(&self, id: u32) -> Node {
        self.nodes[id as usize]
    }

    pub(crate) fn value(&self, id: u32) -> &[f64] {
        let n = self.nodes[id as usize];
        &self.vals[n.off..n.off + n.shape.len()]
    }
}

impl Tape {
    /// An empty tape.
    pub fn new() -> Tape {
        Tape::default()
    }

    /// Forgets every node but keeps the memory, so a tape can be reused for the next
    /// evaluation without allocating. Needs `&mut`: no [`Var`] can outlive it.
    pub fn reset(&mut self) {
        let inner = self.inner.get_mut();
        inner.nodes.clear();
        inner.vals.clear();
        inner.aux.clear();
        inner.ids.clear();
        inner.idx.clear();
        inner.customs.clear();
        inner.adj.clear();
        inner.live.clear();
        inner.error = None;
    }

    /// Number of nodes recorded so far.
    pub fn len(&self) -> usize {
        self.inner.borrow().nodes.len()
    }

    /// Whether the tape has no nodes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first error recorded by an operation since the last reset, if any.
    pub fn error(&self) -> Option<PplError> {
        self.inner.borrow().error.clone()
    }

    /// Records `e` as the tape's error unless an earlier one is already there: how an
    /// operation that cannot return a `Result` (an operator, a custom op, a
    /// distribution's `log_prob`) reports failure. Handlers check [`Tape::error`].
    pub fn record_error(&self, e: PplError) {
        self.inner.borrow_mut().record_error(e);
    }

    fn leaf(&self, values: &[f64], shape: Shape, grad: bool) -> Var<'_> {
        let mut inner = self.inner.borrow_mut();
        let id = if values.len() != shape.len() {
            let e = PplError::ShapeMismatch {
                context: "tape leaf".into(),
                left: vec![values.len()],
                right: shape.into(),
            };
            inner.poisoned(shape, e)
        } else {
            inner.push(shape, Op::Leaf, grad, |_, v| v.copy_from_slice(values))
        };
        Var { tape: self, id }
    }

    /// A differentiable input of the given shape.
    pub fn var(&self, values: &[f64], shape: Shape) -> Var<'_> {
        self.leaf(values, shape, true)
    }

    /// A differentiable scalar input.
    pub fn scalar(&self, x: f64) -> Var<'_> {
        self.leaf(&[x], Shape::SCALAR, true)
    }

    /// A differentiable vector input.
    pub fn vector(&self, xs: &[f64]) -> Var<'_> {
        self.leaf(xs, Shape::vector(xs.len()), true)
    }

    /// A constant (no gradient is computed for it) of the given shape.
    pub fn constant(&self, values: &[f64], shape: Shape) -> Var<'_> {
        self.leaf(values, shape, false)
    }

    /// A constant vector.
    pub fn constant_vector(&self, xs: &[f64]) -> Var<'_> {
        self.leaf(xs, Shape::vector(xs.len()), false)
    }

    /// A constant scalar.
    pub fn constant_scalar(&self, x: f64) -> Var<'_> {
        self.leaf(&[x], Shape::SCALAR, false)
    }

    /// Stacks values along a new last axis: parts of one shape `S` (scalars and other
    /// parts broadcast to it, NumPy style) give shape `S ++ [k]` for `k` parts. This
    /// builds a matrix of parameter rows from per-column values, e.g. the `[subjects, 4]`
    /// table of (v, a, w, τ) rows of a drift-diffusion model from a per-subject drift
    /// vector and three shared scalars. Composed of `concat`, `gather` and `reshape`, so
    /// it adds a constant number of nodes. Shapes that do not broadcast, no parts, or a
    /// result of more than four dimensions record [`PplError::ShapeMismatch`].
    pub fn stack(&self, parts: &[Var<'_>]) -> Var<'_> {
        let mismatch = |left: Vec<usize>, right: Vec<usize>| {
            let e = PplError::ShapeMismatch {
                context: "stack".into(),
                left,
                right,
            };
            let id = self.inner.borrow_mut().poisoned(Shape::vector(0), e);
            Var { tape: self, id }
        };
        if parts.iter().any(|p| !std::ptr::eq(p.tape, self)) {
            let id = self
                .inner
                .borrow_mut()
                .poisoned(Shape::vector(0), PplError::ForeignTape);
            return Var { tape: self, id };
        }
        let Some(first) = parts.first() else {
            return mismatch(vec![], vec![]);
        };
        let mut shape = first.shape();
        for p in &parts[1..] {
            match Shape::broadcast(shape, p.shape()) {
                Some(s) => shape = s,
                None => return mismatch(shape.into(), p.shape().into()),
            }
        }
        let k = parts.len();
        let dims: Vec<usize> = shape.dims().iter().copied().chain([k]).collect();
        let Some(out) = Shape::new(&dims) else {
            return mismatch(shape.into(), vec![k]);
        };
        let m = shape.len();
        let columns: Vec<Var<'_>> = parts
            .iter()
            .map(|p| {
                Var {
                    tape: self,
                    id: p.id,
                }
                .broadcast_to(shape)
                .reshape(Shape::vector(m))
            })
            .collect();
        let flat = self.concat(&columns);
        let index: Vec<usize> = (0..m)
            .flat_map(|i| (0..k).map(move |j| j * m + i))
            .collect();
        flat.gather(&index).reshape(out)
    }

    /// Concatenates values along their first dimension (scalars count as length-1
    /// vectors); the trailing dimensions must agree.
    pub fn concat(&self, parts: &[Var<'_>]) -> Var<'_> {
        let mut inner = self.inner.borrow_mut();
        if parts.iter().any(|p| !std::ptr::eq(p.tape, self)) {
            let id = inner.poisoned(Shape::SCALAR, PplError::ForeignTape);
            return Var { tape: self, id };
        }
        let first = parts.first().map(|p| inner.node(p.id).shape);
        let tail = first.map(|s| s.tail()).unwrap_or(Shape::SCALAR);
        let mut rows = 0;
        for p in parts {
            let s = inner.node(p.id).shape;
            if s.tail() != tail {
                let e = PplError::ShapeMismatch {
                    context: "concat".into(),
                    left: tail.into(),
                    right: s.into(),
                };
                let id = inner.poisoned(Shape::vector(0), e);
                return Var { tape: self, id };
            }
            rows += if s.ndim() == 0 { 1 } else { s.dims()[0] };
        }
        let shape = tail.prepend(rows).unwrap_or(Shape::vector(rows));
        let ids_off = inner.ids.len();
        inner.ids.extend(parts.iter().map(|p| p.id));
        let grad = parts.iter().any(|p| inner.node(p.id).grad);
        let nodes: Vec<Node> = parts.iter().map(|p| inner.node(p.id)).collect();
        let id = inner.push(
            shape,
            Op::Concat {
                ids_off,
                n: parts.len() as u32,
            },
            grad,
            |old, new| {
                let mut at = 0;
                for n in &nodes {
                    let l = n.shape.len();
                    new[at..at + l].copy_from_slice(&old[n.off..n.off + l]);
                    at += l;
                }
            },
        );
        Var { tape: self, id }
    }

    /// A node computed outside the tape: `value` with the given shape, whose adjoint is
    /// propagated to `inputs` by `vjp`. The hook `bridge` uses for neural likelihoods.
    ///
    /// ```
    /// use ppl::{Shape, Tape, Vjp};
    /// /// y = 3·x, elementwise.
    /// struct Triple;
    /// impl Vjp for Triple {
    ///     fn vjp(&self, g: &[f64], _input: usize, adj: &mut [f64]) {
    ///         for (a, gi) in adj.iter_mut().zip(g) { *a += 3.0 * gi; }
    ///     }
    /// }
    /// let tape = Tape::new();
    /// let x = tape.vector(&[1.0, 2.0]);
    /// let y = tape.custom(&[x], vec![3.0, 6.0], Shape::vector(2), Box::new(Triple));
    /// tape.backward(y.sum()).unwrap();
    /// assert_eq!(x.grad(), vec![3.0, 3.0]);
    /// ```
    pub fn custom(
        &self,
        inputs: &[Var<'_>],
        value: Vec<f64>,
        shape: Shape,
        vjp: Box<dyn Vjp>,
    ) -> Var<'_> {
        let mut inner = self.inner.borrow_mut();
        if inputs.iter().any(|p| !std::ptr::eq(p.tape, self)) {
            let id = inner.poisoned(shape, PplError::ForeignTape);
            return Var { tape: self, id };
        }
        if value.len() != shape.len() {
            let e = PplError::ShapeMismatch {
                context: "custom op value".into(),
                left: vec![value.len()],
                right: shape.into(),
            };
            let id = inner.poisoned(shape, e);
            return Var { tape: self, id };
        }
        let ids_off = inner.ids.len();
        inner.ids.extend(inputs.iter().map(|p| p.id));
        let grad = inputs.iter().any(|p| inner.node(p.id).grad);
        let k = inner.customs.len() as u32;
        inner.customs.push(vjp);
        let id = inner.push(
            shape,
            Op::Custom {
                ids_off,
                n: inputs.len() as u32,
                k,
            },
            grad,
            |_, new| new.copy_from_slice(&value),
        );
        Var { tape: self, id }
    }

    /// Reverse sweep from a scalar `output`: afterwards [`Var::grad`] gives ∂output/∂var
    /// for every node recorded before `output`.
    pub fn backward(&self, output: Var<'_>) -> Result<(), PplError> {
        if !std::ptr::eq(output.tape, self) {
            return Err(PplError::ForeignTape);
        }
        let mut inner = self.inner.borrow_mut();
        if let Some(e) = inner.error.clone() {
            return Err(e);
        }
        let out = inner.node(output.id);
        if out.shape.len() != 1 {
            return Err(PplError::ShapeMismatch {
                context: "backward needs a scalar output".into(),
                left: out.shape.into(),
                right: vec![],
            });
        }
        let n = inner.vals.len();
        inner.adj.clear();
        inner.adj.resize(n, 0.0);
        inner.adj[out.off] = 1.0;
        super::backward::sweep(&mut inner, output.id);
        Ok(())
    }
}
