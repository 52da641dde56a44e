//! Probabilistic programming over vectorized reverse-mode autodiff.
//!
//! `ppl` is the foundation of the workspace: a tape-based autodiff whose nodes are
//! vectors ([`Tape`], [`Var`]), special functions in log space ([`special`]),
//! distributions with checked constructors and fused log densities ([`dist`]),
//! bijectors to an unconstrained space ([`Constraint`]), and models written as plain
//! Rust functions over a context with plates ([`Model`]), run by handlers ([`Run`],
//! [`LogJoint`], [`posterior_predictive`]). It depends on no other workspace crate.
//!
//! The hierarchical cookie model (REFERENCES.md §1), its trace and its log density
//! with gradient on the unconstrained scale:
//!
//! ```
//! use ppl::cookies::Cookies;
//! use ppl::{Exponential, Gamma, LogJoint, Model, Poisson, PplError, Run};
//!
//! fn hierarchical(m: &mut Model<'_>, data: &Cookies) -> Result<(), PplError> {
//!     let mu = m.sample("mu", Gamma::new(2.0, 0.2)?)?;
//!     let sigma = m.sample("sigma", Exponential::new(1.0)?)?;
//!     let var = sigma * sigma;
//!     let lam = m.plate("location", data.n_locations, |m| {
//!         m.sample("lam", Gamma::new(mu * mu / var, mu / var)?)
//!     })?;
//!     m.plate("data", data.len(), |m| {
//!         m.observe("obs", Poisson::new(lam.gather(&data.location))?, &data.chips)
//!     })
//! }
//!
//! let data = Cookies::load()?;
//! // One prior draw of every site, with its log-probability.
//! let trace = Run::new(1).trace(&|m: &mut Model<'_>| hierarchical(m, &data))?;
//! assert_eq!(trace.value("lam").unwrap().len(), 5);
//!
//! // log p(u | data) + log|J| over (ln mu, ln sigma, ln lam_1..5), with its gradient.
//! let mut target = LogJoint::new(|m: &mut Model<'_>| hierarchical(m, &data))?;
//! let u = [2.2, -0.3, 2.2, 1.8, 2.25, 2.2, 2.45];
//! let mut grad = [0.0; 7];
//! let lp = target.log_density_grad(&u, &mut grad)?;
//! assert!(lp.is_finite());
//! assert_eq!(target.layout().column_names()[2], "lam.1");
//! # Ok::<(), PplError>(())
//! ```

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
