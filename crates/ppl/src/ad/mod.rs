//! Vectorized reverse-mode automatic differentiation.
//!
//! A [`Tape`] records operations on vector-valued nodes; [`Var`] is a `Copy` handle to
//! one node. Every node is evaluated eagerly, so values are always available (for
//! parameter checks, sampling, tracing) and [`Tape::backward`] only runs the reverse sweep.

mod backward;
mod elementwise;
mod ops;
mod shape;
mod tape;
mod var;

pub use elementwise::Operand;
pub(crate) use shape::Broadcast;

/// The index map from `input` to its broadcast to `out`.
pub(crate) fn shape_broadcast(input: Shape, out: Shape) -> Broadcast {
    Broadcast::new(input, out)
}
pub use shape::{MAX_DIMS, Shape};
pub use tape::{Tape, Var, Vjp};
