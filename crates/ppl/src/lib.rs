//! Probabilistic programming over vectorized reverse-mode autodiff.
//!
//! `ppl` is the foundation of the workspace: a tape-based autodiff whose nodes are
//! vectors ([`Tape`], [`Var`]), special functions in log space ([`special`]),
//! distributions with checked constructors and fused log densities, bijectors to an
//! unconstrained space, and models written as plain Rust functions over a context with
//! plates. It depends on no other workspace crate.

pub mod ad;
pub mod error;
pub mod special;

pub use ad::{MAX_DIMS, Operand, Shape, Tape, Var, Vjp};
pub use error::PplError;
pub mod constraint;
pub mod dist;

pub use constraint::Constraint;
pub use dist::*;
pub mod handlers;
pub mod model;

pub use handlers::{LogJoint, ModelFn, Run, posterior_predictive};
pub use model::{Layout, Model, Obs, Site, SiteKind, Trace, Values};
pub mod cookies;
