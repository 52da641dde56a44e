//! Distribution parameters: constants, constant vectors or autodiff values.

use crate::ad::{Operand, Shape, Var};
use crate::error::PplError;

/// A distribution parameter. Constructed from `f64`, `Vec<f64>`, `&[f64]` or a [`Var`].
#[derive(Clone, Debug)]
pub enum Param<'t> {
    /// A constant scalar.
    Scalar(f64),
    /// Constant values with a shape (a batch of parameters).
    Data(Vec<f64>, Shape),
    /// A value on the autodiff tape.
    Var(Var<'t>),
}

impl From<f64> for Param<'_> {
    fn from(x: f64) -> Self {
        Param::Scalar(x)
    }
}

impl From<Vec<f64>> for Param<'_> {
    fn from(x: Vec<f64>) -> Self {
        let s = Shape::vector(x.len());
        Param::Data(x, s)
    }
}

impl From<&[f64]> for Param<'_> {
    fn from(x: &[f64]) -> Self {
        Param::Data(x.to_vec(), Shape::vector(x.len()))
    }
}

impl<'t> From<Var<'t>> for Param<'t> {
    fn from(v: Var<'t>) -> Self {
        Param::Var(v)
    }
}

impl<'t> Param<'t> {
    /// The shape.
    pub fn shape(&self) -> Shape {
        match self {
            Param::Scalar(_) => Shape::SCALAR,
            Param::Data(_, s) => *s,
            Param::Var(v) => v.shape(),
        }
    }

    /// The values (a copy).
    pub fn values(&self) -> Vec<f64> {
        match self {
            Param::Scalar(x) => vec![*x],
            Param::Data(x, _) => x.clone(),
            Param::Var(v) => v.value(),
        }
    }

    /// Calls `f` with the values without copying them.
    pub fn with_values<R>(&self, f: impl FnOnce(&[f64]) -> R) -> R {
        match self {
            Param::Scalar(x) => f(std::slice::from_ref(x)),
            Param::Data(x, _) => f(x),
            Param::Var(v) => v.with_value(f),
        }
    }

    /// As an input of [`crate::Tape::elementwise`].
    pub fn operand(&self) -> Operand<'_, 't> {
        match self {
            Param::Scalar(x) => Operand::Scalar(*x),
            Param::Data(x, s) => Operand::Data(x, *s),
            Param::Var(v) => Operand::Var(*v),
        }
    }

    /// The tape, if the parameter lives on one.
    pub fn var(&self) -> Option<Var<'t>> {
        match self {
            Param::Var(v) => Some(*v),
            _ => None,
        }
    }

    /// Checks every element with `ok`; the first failure becomes
    /// [`PplError::InvalidParameter`]. NaN fails every check.
    pub fn check(
        self,
        distribution: &'static str,
        parameter: &'static str,
        requirement: &'static str,
        ok: impl Fn(f64) -> bool,
    ) -> Result<Self, PplError> {
        let bad = self.with_values(|v| v.iter().copied().find(|&x| x.is_nan() || !ok(x)));
        match bad {
            Some(value) => Err(PplError::InvalidParameter {
                distribution,
                parameter,
                value,
                requirement,
            }),
            None => Ok(self),
        }
    }

    /// Requires finite values.
    pub fn finite(self, d: &'static str, p: &'static str) -> Result<Self, PplError> {
        self.check(d, p, "finite", f64::is_finite)
    }

    /// Requires finite values > 0.
    pub fn positive(self, d: &'static str, p: &'static str) -> Result<Self, PplError> {
        self.check(d, p, "finite and > 0", |x| x.is_finite() && x > 0.0)
    }

    /// Requires values in \[0, 1\].
    pub fn probability(self, d: &'static str, p: &'static str) -> Result<Self, PplError> {
        self.check(d, p, "in [0, 1]", |x| (0.0..=1.0).contains(&x))
    }
}

/// The broadcast shape of several parameters, or a [`PplError::ShapeMismatch`].
pub fn broadcast_shapes(distribution: &'static str, shapes: &[Shape]) -> Result<Shape, PplError> {
    let mut out = Shape::SCALAR;
    for &s in shapes {
        out = Shape::broadcast(out, s).ok_or_else(|| PplError::ShapeMismatch {
            context: format!("{distribution} parameters"),
            left: out.into(),
            right: s.into(),
        })?;
    }
    Ok(out)
}

/// The parameter values broadcast to `shape` (a copy, for sampling and moments).
pub fn broadcast_values(p: &Param<'_>, shape: Shape) -> Vec<f64> {
    let m = crate::ad::shape_broadcast(p.shape(), shape);
    p.with_values(|v| (0..shape.len()).map(|i| v[m.index(i)]).collect())
}
