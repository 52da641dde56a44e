//! Operations on [`Var`]: elementwise maths, reductions, indexing and reshaping.
//! Each records one node on the tape and computes its value at once.

use super::shape::{Broadcast, Shape};
use super::tape::{Bin, Op, Tape, Un, Var};
use crate::error::PplError;
use crate::special;

impl<'t> Var<'t> {
    /// The tape this value lives on.
    pub fn tape(&self) -> &'t Tape {
        self.tape
    }

    /// The shape.
    pub fn shape(&self) -> Shape {
        self.tape.inner.borrow().node(self.id).shape
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape().len()
    }

    /// Whether the value has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A copy of the value.
    pub fn value(&self) -> Vec<f64> {
        self.tape.inner.borrow().value(self.id).to_vec()
    }

    /// Calls `f` with the value, without copying it.
    pub fn with_value<R>(&self, f: impl FnOnce(&[f64]) -> R) -> R {
        f(self.tape.inner.borrow().value(self.id))
    }

    /// The first element (the value of a scalar); NaN for an empty value.
    pub fn scalar(&self) -> f64 {
        self.with_value(|v| v.first().copied().unwrap_or(f64::NAN))
    }

    /// Whether gradients flow to this value (false for constants).
    pub fn requires_grad(&self) -> bool {
        self.tape.inner.borrow().node(self.id).grad
    }

    /// The adjoint after [`Tape::backward`] (zeros before, or if unreachable).
    pub fn grad(&self) -> Vec<f64> {
        let inner = self.tape.inner.borrow();
        let n = inner.node(self.id);
        if inner.adj.len() < n.off + n.shape.len() {
            return vec![0.0; n.shape.len()];
        }
        inner.adj[n.off..n.off + n.shape.len()].to_vec()
    }

    /// Writes the adjoint after [`Tape::backward`] into `out` (`out.len() == self.len()`),
    /// without allocating.
    pub fn grad_into(&self, out: &mut [f64]) {
        let inner = self.tape.inner.borrow();
        let n = inner.node(self.id);
        let l = n.shape.len().min(out.len());
        if inner.adj.len() < n.off + l {
            out[..l].fill(0.0);
        } else {
            out[..l].copy_from_slice(&inner.adj[n.off..n.off + l]);
        }
    }

    pub(crate) fn same_tape(&self, other: &Var<'_>) -> bool {
        std::ptr::eq(self.tape, other.tape)
    }

    fn unary(self, op: Un) -> Var<'t> {
        let mut inner = self.tape.inner.borrow_mut();
        let n = inner.node(self.id);
        let id = inner.push(n.shape, Op::Unary(op, self.id), n.grad, |old, new| {
            let x = &old[n.off..n.off + n.shape.len()];
            for (y, &x) in new.iter_mut().zip(x) {
                *y = unary_value(op, x);
            }
        });
        Var {
            tape: self.tape,
            id,
        }
    }

    pub(crate) fn binary(self, op: Bin, rhs: Var<'t>) -> Var<'t> {
        let mut inner = self.tape.inner.borrow_mut();
        if !self.same_tape(&rhs) {
            let s = inner.node(self.id).shape;
            let id = inner.poisoned(s, PplError::ForeignTape);
            return Var {
                tape: self.tape,
                id,
            };
        }
        let (a, b) = (inner.node(self.id), inner.node(rhs.id));
        let Some(shape) = Shape::broadcast(a.shape, b.shape) else {
            let e = PplError::ShapeMismatch {
                context: format!("{op:?}"),
                left: a.shape.into(),
                right: b.shape.into(),
            };
            let id = inner.poisoned(a.shape, e);
            return Var {
                tape: self.tape,
                id,
            };
        };
        let (ma, mb) = (
            Broadcast::new(a.shape, shape),
            Broadcast::new(b.shape, shape),
        );
        let id = inner.push(
            shape,
            Op::Binary(op, self.id, rhs.id),
            a.grad || b.grad,
            |old, new| {
                let xa = &old[a.off..a.off + a.shape.len()];
                let xb = &old[b.off..b.off + b.shape.len()];
                for (i, y) in new.iter_mut().enumerate() {
                    *y = binary_value(op, xa[ma.index(i)], xb[mb.index(i)]);
                }
            },
        );
        Var {
            tape: self.tape,
            id,
        }
    }

    fn reduce(self, op: fn(u32) -> Op, f: impl FnOnce(&[f64]) -> f64) -> Var<'t> {
        let mut inner = self.tape.inner.borrow_mut();
        let n = inner.node(self.id);
        let id = inner.push(Shape::SCALAR, op(self.id), n.grad, |old, new| {
            new[0] = f(&old[n.off..n.off + n.shape.len()])
        });
        Var {
            tape: self.tape,
            id,
        }
    }

    /// eˣ
    pub fn exp(self) -> Var<'t> {
        self.unary(Un::Exp)
    }
    /// ln x
    pub fn ln(self) -> Var<'t> {
        self.unary(Un::Ln)
    }
    /// ln(1 + x)
    pub fn ln_1p(self) -> Var<'t> {
        self.unary(Un::Ln1p)
    }
    /// eˣ − 1
    pub fn exp_m1(self) -> Var<'t> {
        self.unary(Un::ExpM1)
    }
    /// √x
    pub fn sqrt(self) -> Var<'t> {
        self.unary(Un::Sqrt)
    }
    /// x²
    pub fn square(self) -> Var<'t> {
        self.unary(Un::Square)
    }
    /// sin x
    pub fn sin(self) -> Var<'t> {
        self.unary(Un::Sin)
    }
    /// cos x
    pub fn cos(self) -> Var<'t> {
        self.unary(Un::Cos)
    }
    /// tanh x
    pub fn tanh(self) -> Var<'t> {
        self.unary(Un::Tanh)
    }
    /// The logistic function 1/(1 + e⁻ˣ).
    pub fn sigmoid(self) -> Var<'t> {
        self.unary(Un::Sigmoid)
    }
    /// ln(1 + eˣ)
    pub fn softplus(self) -> Var<'t> {
        self.unary(Un::Softplus)
    }
    /// ln Γ(x), with gradient ψ(x).
    pub fn ln_gamma(self) -> Var<'t> {
        self.unary(Un::LnGamma)
    }
    /// ln Φ(x), the log of the standard normal CDF.
    pub fn log_ndtr(self) -> Var<'t> {
        self.unary(Un::LogNdtr)
    }
    /// xⁿ for an integer n.
    pub fn powi(self, n: i32) -> Var<'t> {
        self.unary(Un::Powi(n))
    }
    /// xᵖ for a constant real p.
    pub fn powf(self, p: f64) -> Var<'t> {
        self.unary(Un::Powf(p))
    }
    /// xʸ for a differentiable exponent (x > 0 for a finite ∂/∂y).
    pub fn pow(self, y: Var<'t>) -> Var<'t> {
        self.binary(Bin::Pow, y)
    }
    /// ln B(a, b) = ln Γ(a) + ln Γ(b) − ln Γ(a + b).
    pub fn ln_beta(self, b: Var<'t>) -> Var<'t> {
        self.ln_gamma() + b.ln_gamma() - (self + b).ln_gamma()
    }

    /// Σ x, a scalar.
    pub fn sum(self) -> Var<'t> {
        self.reduce(Op::Sum, |x| x.iter().sum())
    }
    /// If this value was made by [`Var::gather`], the gathered value and the row
    /// indices: rows that come from the same source row are the same tape element, so a
    /// caller may evaluate them as one group (and send their summed adjoint to that row).
    ///
    /// ```
    /// use ppl::Tape;
    /// let tape = Tape::new();
    /// let lam = tape.vector(&[1.0, 2.0]);
    /// let per_trial = lam.gather(&[0, 0, 1]);
    /// let (source, index) = per_trial.gather_source().unwrap();
    /// assert_eq!(source.value(), vec![1.0, 2.0]);
    /// assert_eq!(index, vec![0, 0, 1]);
    /// assert!(lam.gather_source().is_none());
    /// ```
    pub fn gather_source(&self) -> Option<(Var<'t>, Vec<usize>)> {
        let inner = self.tape.inner.borrow();
        match inner.node(self.id).op {
            Op::Gather {
                a, idx_off, rows, ..
            } => Some((
                Var {
                    tape: self.tape,
                    id: a,
                },
                inner.idx[idx_off..idx_off + rows].to_vec(),
            )),
            _ => None,
        }
    }

    /// Σ x, folded into the node when `self` is the newest node and a fused elementwise
    /// node: one node and one backward pass less for a plate's log density. Only for
    /// temporaries nobody else holds: afterwards `self` is the (scalar) sum.
    pub(crate) fn sum_fused(self) -> Var<'t> {
        let mut inner = self.tape.inner.borrow_mut();
        let last = inner.nodes.len() - 1;
        let node = inner.nodes[last];
        if let (
            true,
            Op::Partials {
                ids_off,
                n,
                aux_off,
            },
        ) = (self.id as usize == last, node.op)
        {
            let len = node.shape.len();
            let total = inner.vals[node.off..node.off + len].iter().sum();
            if len > 0 {
                inner.vals[node.off] = total;
                inner.nodes[last].shape = Shape::SCALAR;
                inner.nodes[last].op = Op::PartialsSum {
                    ids_off,
                    n,
                    aux_off,
                    elems: node.shape,
                };
                return self;
            }
        }
        drop(inner);
        self.sum()
    }

    /// ln Σ eˣ, a scalar.
    pub fn log_sum_exp(self) -> Var<'t> {
        self.reduce(Op::LogSumExp, special::log_sum_exp)
    }
    /// The inner product Σ xᵢ yᵢ of two values with the same number of elements.
    pub fn dot(self, other: Var<'t>) -> Var<'t> {
        let mut inner = self.tape.inner.borrow_mut();
        // Check the tape before looking `other.id` up: it indexes another tape's nodes.
        if !self.same_tape(&other) {
            let id = inner.poisoned(Shape::SCALAR, PplError::ForeignTape);
            return Var {
                tape: self.tape,
                id,
            };
        }
        let (a, b) = (inner.node(self.id), inner.node(other.id));
        if a.shape.len() != b.shape.len() {
            let e = PplError::ShapeMismatch {
                context: "dot".into(),
                left: a.shape.into(),
                right: b.shape.into(),
            };
            let id = inner.poisoned(Shape::SCALAR, e);
            return Var {
                tape: self.tape,
                id,
            };
        }
        let id = inner.push(
            Shape::SCALAR,
            Op::Dot(self.id, other.id),
            a.grad || b.grad,
            |old, new| {
                let xa = &old[a.off..a.off + a.shape.len()];
                let xb = &old[b.off..b.off + b.shape.len()];
                new[0] = xa.iter().zip(xb).map(|(x, y)| x * y).sum();
            },
        );
        Var {
            tape: self.tape,
            id,
        }
    }

    /// Rows of `self` (along the first dimension) selected by `index`: for a vector,
    /// `out[i] = self[index[i]]`; for a `G × d` matrix, an `n × d` matrix. An index out
    /// of range records [`PplError::IndexOutOfRange`].
    pub fn gather(self, index: &[usize]) -> Var<'t> {
        let mut inner = self.tape.inner.borrow_mut();
        let a = inner.node(self.id);
        let (rows_in, row_shape) = if a.shape.ndim() == 0 {
            (1, Shape::SCALAR)
        } else {
            (a.shape.dims()[0], a.shape.tail())
        };
        let row = row_shape.len();
        let shape = row_shape
            .prepend(index.len())
            .unwrap_or(Shape::vector(index.len()));
        if let Some(&bad) = index.iter().find(|&&i| i >= rows_in) {
            let e = PplError::IndexOutOfRange {
                context: "gather",
                index: bad,
                len: rows_in,
            };
            let id = inner.poisoned(shape, e);
            return Var {
                tape: self.tape,
                id,
            };
        }
        let idx_off = inner.idx.len();
        inner.idx.extend_from_slice(index);
        let op = Op::Gather {
            a: self.id,
            idx_off,
            rows: index.len(),
            row,
        };
        let id = inner.push(shape, op, a.grad, |old, new| {
            let x = &old[a.off..a.off + a.shape.len()];
            if row == 1 {
                for (y, &i) in new.iter_mut().zip(index) {
                    *y = x[i];
                }
            } else {
                for (r, &i) in index.iter().enumerate() {
                    new[r * row..(r + 1) * row].copy_from_slice(&x[i * row..(i + 1) * row]);
                }
            }
        });
        Var {
            tape: self.tape,
            id,
        }
    }

    /// Elements `start .. start + len` along the first dimension.
    pub fn slice(self, start: usize, len: usize) -> Var<'t> {
        let mut inner = self.tape.inner.borrow_mut();
        let a = inner.node(self.id);
        let rows_in = if a.shape.ndim() == 0 {
            1
        } else {
            a.shape.dims()[0]
        };
        let row_shape = a.shape.tail();
        let row = row_shape.len();
        let shape = row_shape.prepend(len).unwrap_or(Shape::vector(len));
        // `start + len` may overflow for an absurd request; that is out of range too.
        if start.checked_add(len).is_none_or(|end| end > rows_in) {
            let e = PplError::IndexOutOfRange {
                context: "slice",
                index: start.saturating_add(len),
                len: rows_in,
            };
            let id = inner.poisoned(shape, e);
            return Var {
                tape: self.tape,
                id,
            };
        }
        let op = Op::Slice {
            a: self.id,
            start: start * row,
        };
        let id = inner.push(shape, op, a.grad, |old, new| {
            new.copy_from_slice(&old[a.off + start * row..a.off + (start + len) * row])
        });
        Var {
            tape: self.tape,
            id,
        }
    }

    /// The value broadcast to `shape` (NumPy rules).
    pub fn broadcast_to(self, shape: Shape) -> Var<'t> {
        let mut inner = self.tape.inner.borrow_mut();
        let a = inner.node(self.id);
        if Shape::broadcast(a.shape, shape) != Some(shape) {
            let e = PplError::ShapeMismatch {
                context: "broadcast_to".into(),
                left: a.shape.into(),
                right: shape.into(),
            };
            let id = inner.poisoned(shape, e);
            return Var {
                tape: self.tape,
                id,
            };
        }
        let m = Broadcast::new(a.shape, shape);
        let id = inner.push(shape, Op::Broadcast(self.id), a.grad, |old, new| {
            let x = &old[a.off..a.off + a.shape.len()];
            for (i, y) in new.iter_mut().enumerate() {
                *y = x[m.index(i)];
            }
        });
        Var {
            tape: self.tape,
            id,
        }
    }

    /// The same elements with another shape of equal size.
    pub fn reshape(self, shape: Shape) -> Var<'t> {
        let mut inner = self.tape.inner.borrow_mut();
        let a = inner.node(self.id);
        if a.shape.len() != shape.len() {
            let e = PplError::ShapeMismatch {
                context: "reshape".into(),
                left: a.shape.into(),
                right: shape.into(),
            };
            let id = inner.poisoned(shape, e);
            return Var {
                tape: self.tape,
                id,
            };
        }
        let id = inner.push(shape, Op::Reshape(self.id), a.grad, |old, new| {
            new.copy_from_slice(&old[a.off..a.off + a.shape.len()])
        });
        Var {
            tape: self.tape,
            id,
        }
    }

    pub(crate) fn add_const(self, c: f64) -> Var<'t> {
        self.unary(Un::AddC(c))
    }
    pub(crate) fn mul_const(self, c: f64) -> Var<'t> {
        self.unary(Un::MulC(c))
    }
    pub(crate) fn div_const(self, c: f64) -> Var<'t> {
        self.unary(Un::DivC(c))
    }
    pub(crate) fn rsub_const(self, c: f64) -> Var<'t> {
        self.unary(Un::RSubC(c))
    }
    pub(crate) fn rdiv_const(self, c: f64) -> Var<'t> {
        self.unary(Un::RDivC(c))
    }
    pub(crate) fn neg_(self) -> Var<'t> {
        self.unary(Un::Neg)
    }
}

#[inline]
pub(crate) fn unary_value(op: Un, x: f64) -> f64 {
    match op {
        Un::Neg => -x,
        Un::Exp => x.exp(),
        Un::Ln => x.ln(),
        Un::Ln1p => x.ln_1p(),
        Un::ExpM1 => x.exp_m1(),
        Un::Sqrt => x.sqrt(),
        Un::Square => x * x,
        Un::Sin => x.sin(),
        Un::Cos => x.cos(),
        Un::Tanh => x.tanh(),
        Un::Sigmoid => special::sigmoid(x),
        Un::Softplus => special::softplus(x),
        Un::LnGamma => special::ln_gamma(x),
        Un::LogNdtr => special::log_ndtr(x),
        Un::Powi(n) => x.powi(n),
        Un::Powf(p) => x.powf(p),
        Un::AddC(c) => x + c,
        Un::MulC(c) => x * c,
        Un::DivC(c) => x / c,
        Un::RSubC(c) => c - x,
        Un::RDivC(c) => c / x,
    }
}

#[inline]
pub(crate) fn binary_value(op: Bin, a: f64, b: f64) -> f64 {
    match op {
        Bin::Add => a + b,
        Bin::Sub => a - b,
        Bin::Mul => a * b,
        Bin::Div => a / b,
        Bin::Pow => a.powf(b),
    }
}
