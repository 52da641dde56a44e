//! Models as plain Rust functions over a [`Model`] context, with vectorized plates.
//!
//! A model calls [`Model::sample`] for latent values, [`Model::observe`] for data,
//! [`Model::deterministic`] for named derived values and [`Model::plate`] for
//! conditionally independent batches. What those calls do depends on the handler that
//! runs the model (see [`crate::handlers`]): draw from the prior, replay given values,
//! or read latent values from a flat unconstrained vector to compute a log density.

use std::collections::HashMap;

use rand::Rng;

use crate::ad::{Operand, Shape, Tape, Var};
use crate::constraint::Constraint;
use crate::dist::Distribution;
use crate::error::PplError;

/// What kind of site a [`Site`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SiteKind {
    /// A latent random variable.
    Latent,
    /// An observed random variable (data, or a conditioned latent).
    Observed,
    /// A named deterministic function of other sites.
    Deterministic,
}

/// One site of a [`Trace`].
#[derive(Clone, Debug, PartialEq)]
pub struct Site {
    /// The site name.
    pub name: String,
    /// Latent, observed or deterministic.
    pub kind: SiteKind,
    /// The value's shape (plate dimensions, then the event dimensions).
    pub shape: Shape,
    /// The value, row-major.
    pub value: Vec<f64>,
    /// Σ log p(value) over the site (0 for deterministic sites).
    pub log_prob: f64,
    /// The support of the site's distribution (`Real` for deterministic sites).
    pub support: Constraint,
    /// Names of the enclosing plates, outermost first.
    pub plates: Vec<String>,
}

/// The record of one run of a model: its sites in execution order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Trace {
    /// The sites in the order the model visited them.
    pub sites: Vec<Site>,
}

impl Trace {
    /// The site called `name`.
    pub fn get(&self, name: &str) -> Option<&Site> {
        self.sites.iter().find(|s| s.name == name)
    }
    /// The value of site `name`.
    pub fn value(&self, name: &str) -> Option<&[f64]> {
        self.get(name).map(|s| s.value.as_slice())
    }
    /// Σ of the log-probabilities of all latent and observed sites.
    pub fn log_joint(&self) -> f64 {
        self.sites.iter().map(|s| s.log_prob).sum()
    }
    /// The latent sites.
    pub fn latents(&self) -> impl Iterator<Item = &Site> {
        self.sites.iter().filter(|s| s.kind == SiteKind::Latent)
    }
}

/// Named values, e.g. one posterior draw: site name → row-major values.
pub type Values = HashMap<String, Vec<f64>>;

/// One latent site in the flat unconstrained vector.
#[derive(Clone, Debug, PartialEq)]
pub struct LatentSlot {
    /// The site name.
    pub name: String,
    /// The constrained value's shape.
    pub shape: Shape,
    /// The support, which fixes the bijection.
    pub support: Constraint,
    /// First index in the flat vector.
    pub offset: usize,
    /// Number of unconstrained coordinates.
    pub len: usize,
}

/// The layout of a model's latent sites in the flat unconstrained vector.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Layout {
    /// The slots in model order.
    pub slots: Vec<LatentSlot>,
    /// Total unconstrained dimension.
    pub dim: usize,
}

impl Layout {
    /// Builds the layout from a trace's latent sites.
    pub fn from_trace(trace: &Trace) -> Result<Layout, PplError> {
        let mut slots = Vec::new();
        let mut offset = 0;
        for s in trace.latents() {
            let len = s.support.unconstrained_len(s.shape).map_err(|e| match e {
                PplError::Unsupported(m) => {
                    PplError::Unsupported(format!("site `{}`: {m}", s.name))
                }
                e => e,
            })?;
            slots.push(LatentSlot {
                name: s.name.clone(),
                shape: s.shape,
                support: s.support,
                offset,
                len,
            });
            offset += len;
        }
        Ok(Layout { slots, dim: offset })
    }

    /// Maps a flat unconstrained vector to named constrained values.
    pub fn constrain(&self, u: &[f64]) -> Result<Values, PplError> {
        if u.len() != self.dim {
            return Err(PplError::FlatLength {
                expected: self.dim,
                got: u.len(),
            });
        }
        Ok(self
            .slots
            .iter()
            .map(|s| {
                (
                    s.name.clone(),
                    s.support.forward(&u[s.offset..s.offset + s.len], s.shape),
                )
            })
            .collect())
    }

    /// Maps a flat unconstrained vector to the flat constrained values, ordered as
    /// [`Layout::column_names`] (one row of a draws table).
    pub fn constrain_flat(&self, u: &[f64]) -> Result<Vec<f64>, PplError> {
        if u.len() != self.dim {
            return Err(PplError::FlatLength {
                expected: self.dim,
                got: u.len(),
            });
        }
        let mut out = Vec::with_capacity(self.slots.iter().map(|s| s.shape.len()).sum());
        for s in &self.slots {
            out.extend(s.support.forward(&u[s.offset..s.offset + s.len], s.shape));
        }
        Ok(out)
    }

    /// Maps named constrained values to the flat unconstrained vector.
    pub fn unconstrain(&self, values: &Values) -> Result<Vec<f64>, PplError> {
        let mut u = vec![0.0; self.dim];
        for s in &self.slots {
            let v = values
                .get(&s.name)
                .ok_or_else(|| PplError::UnknownSite(s.name.clone()))?;
            if v.len() != s.shape.len() {
                return Err(PplError::SiteShape {
                    site: s.name.clone(),
                    expected: s.shape.len(),
                    got: v.len(),
                });
            }
            check_support(&s.name, s.support, s.shape, v)?;
            u[s.offset..s.offset + s.len].copy_from_slice(&s.support.inverse(v, s.shape));
        }
        Ok(u)
    }

    /// Column names for a flat constrained draw, cmdstan style: `lam.1`, `lam.2`, …
    /// (scalars keep their bare name; matrices use `name.i.j`).
    pub fn column_names(&self) -> Vec<String> {
        let mut out = Vec::new();
        for s in &self.slots {
            let dims = s.shape.dims();
            if dims.is_empty() {
                out.push(s.name.clone());
                continue;
            }
            for i in 0..s.shape.len() {
                let mut rem = i;
                let mut idx = vec![0; dims.len()];
                for k in (0..dims.len()).rev() {
                    idx[k] = rem % dims[k] + 1;
                    rem /= dims[k];
                }
                let parts: Vec<String> = idx.iter().map(|j| j.to_string()).collect();
                out.push(format!("{}.{}", s.name, parts.join(".")));
            }
        }
        out
    }
}

pub(crate) fn check_support(
    name: &str,
    support: Constraint,
    shape: Shape,
    v: &[f64],
) -> Result<(), PplError> {
    let k = if support == Constraint::Simplex {
        *shape.dims().last().unwrap_or(&1)
    } else {
        1
    };
    for row in v.chunks(k.max(1)) {
        if !support.contains_event(row) {
            return Err(PplError::OutOfSupport {
                site: name.to_string(),
                value: row[0],
                support: support.to_string(),
            });
        }
    }
    Ok(())
}

/// Data for [`Model::observe`]: a slice of values, or `None` to take them from a
/// conditioning handler (or to draw them in predictive runs).
#[derive(Clone, Copy, Debug)]
pub struct Obs<'a>(pub Option<&'a [f64]>);

impl<'a> From<&'a [f64]> for Obs<'a> {
    fn from(x: &'a [f64]) -> Self {
        Obs(Some(x))
    }
}
impl<'a> From<&'a Vec<f64>> for Obs<'a> {
    fn from(x: &'a Vec<f64>) -> Self {
        Obs(Some(x.as_slice()))
    }
}
impl<'a, const N: usize> From<&'a [f64; N]> for Obs<'a> {
    fn from(x: &'a [f64; N]) -> Self {
        Obs(Some(x.as_slice()))
    }
}
impl<'a> From<Option<&'a [f64]>> for Obs<'a> {
    fn from(x: Option<&'a [f64]>) -> Self {
        Obs(x)
    }
}

/// How latent sample sites get their values.
pub(crate) enum LatentMode<'t> {
    /// Draw from the distribution (prior), unless substituted.
    Draw,
    /// Read from the flat unconstrained vector `u` with the given layout.
    Flat { u: Var<'t>, layout: &'t Layout },
}

/// The context a model runs in. Created by the handlers in [`crate::handlers`].
pub struct Model<'t> {
    pub(crate) tape: &'t Tape,
    pub(crate) rng: &'t mut dyn Rng,
    pub(crate) latent: LatentMode<'t>,
    pub(crate) substitute: Option<&'t Values>,
    pub(crate) condition: Option<&'t Values>,
    /// Observed sites are drawn instead of read (prior/posterior predictive).
    pub(crate) predictive: bool,
    pub(crate) record: bool,
    pub(crate) plates: Vec<(String, usize)>,
    pub(crate) terms: Vec<Var<'t>>,
    pub(crate) cursor: usize,
    pub(crate) trace: Trace,
}

impl<'t> Model<'t> {
    pub(crate) fn new(tape: &'t Tape, rng: &'t mut dyn Rng, latent: LatentMode<'t>) -> Model<'t> {
        Model {
            tape,
            rng,
            latent,
            substitute: None,
            condition: None,
            predictive: false,
            record: true,
            plates: Vec::new(),
            terms: Vec::new(),
            cursor: 0,
            trace: Trace::default(),
        }
    }

    /// The autodiff tape, for building values with [`Tape::constant`] and friends.
    pub fn tape(&self) -> &'t Tape {
        self.tape
    }

    /// A constant vector on the tape (e.g. a covariate).
    pub fn data(&self, xs: &[f64]) -> Var<'t> {
        self.tape.constant_vector(xs)
    }

    /// The batch shape imposed by the enclosing plates (outermost first).
    pub fn plate_shape(&self) -> Shape {
        let dims: Vec<usize> = self.plates.iter().map(|p| p.1).collect();
        Shape::new(&dims).unwrap_or(Shape::SCALAR)
    }

    /// The full shape of a site: batch broadcast against the plates, then the event.
    fn site_shape(
        &self,
        name: &str,
        dist: &dyn Distribution<'t>,
    ) -> Result<(Shape, Shape), PplError> {
        let plate = self.plate_shape();
        let batch =
            Shape::broadcast(dist.batch_shape(), plate).ok_or_else(|| PplError::ShapeMismatch {
                context: format!("site `{name}`: distribution batch shape vs plates"),
                left: dist.batch_shape().into(),
                right: plate.into(),
            })?;
        let mut dims = batch.dims().to_vec();
        dims.extend_from_slice(dist.event_shape().dims());
        let full = Shape::new(&dims).ok_or_else(|| PplError::ShapeMismatch {
            context: format!("site `{name}`: too many dimensions"),
            left: batch.into(),
            right: dist.event_shape().into(),
        })?;
        Ok((batch, full))
    }

    fn check_new_name(&self, name: &str) -> Result<(), PplError> {
        if self.record && self.trace.sites.iter().any(|s| s.name == name) {
            return Err(PplError::DuplicateSite(name.to_string()));
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn push_site(
        &mut self,
        name: &str,
        kind: SiteKind,
        shape: Shape,
        value: Vec<f64>,
        lp: f64,
        support: Constraint,
    ) {
        if self.record {
            let plates = self.plates.iter().map(|p| p.0.clone()).collect();
            self.trace.sites.push(Site {
                name: name.to_string(),
                kind,
                shape,
                value,
                log_prob: lp,
                support,
                plates,
            });
        }
    }

    /// A latent random variable `name ~ dist`, expanded over the enclosing plates.
    pub fn sample<D: Distribution<'t>>(
        &mut self,
        name: &str,
        dist: D,
    ) -> Result<Var<'t>, PplError> {
        self.check_new_name(name)?;
        let (batch, full) = self.site_shape(name, &dist)?;
        if let Some(v) = self.condition.and_then(|c| c.get(name)) {
            self.observe_values(name, &dist, full, v)?;
            return Ok(self.tape.constant(v, full));
        }
        let support = dist.support();
        let (x, lp_term) = match &self.latent {
            LatentMode::Flat { u, layout } => {
                let slot = layout
                    .slots
                    .get(self.cursor)
                    .filter(|s| s.name == name)
                    .ok_or_else(|| {
                        PplError::UnknownSite(format!(
                            "{name} (the model's latent sites differ from its layout)"
                        ))
                    })?;
                if slot.shape != full {
                    return Err(PplError::SiteShape {
                        site: name.into(),
                        expected: slot.shape.len(),
                        got: full.len(),
                    });
                }
                self.cursor += 1;
                let (x, log_det) = slot
                    .support
                    .forward_var(u.slice(slot.offset, slot.len), full);
                let lp = dist.log_prob_sum(self.tape, Operand::Var(x));
                self.terms.push(log_det);
                (x, lp)
            }
            LatentMode::Draw => {
                let values = match self.substitute.and_then(|s| s.get(name)) {
                    Some(v) => {
                        if v.len() != full.len() {
                            return Err(PplError::SiteShape {
                                site: name.into(),
                                expected: full.len(),
                                got: v.len(),
                            });
                        }
                        check_support(name, support, full, v)?;
                        v.clone()
                    }
                    None => draw(&dist, batch, full, self.rng),
                };
                let x = self.tape.constant(&values, full);
                let lp = dist.log_prob_sum(self.tape, Operand::Var(x));
                (x, lp)
            }
        };
        self.terms.push(lp_term);
        if self.record {
            self.push_site(
                name,
                SiteKind::Latent,
                full,
                x.value(),
                lp_term.scalar(),
                support,
            );
        }
        Ok(x)
    }

    fn observe_values(
        &mut self,
        name: &str,
        dist: &dyn Distribution<'t>,
        full: Shape,
        v: &[f64],
    ) -> Result<(), PplError> {
        if v.len() != full.len() {
            return Err(PplError::SiteShape {
                site: name.into(),
                expected: full.len(),
                got: v.len(),
            });
        }
        let lp = dist.log_prob_sum(self.tape, Operand::Data(v, full));
        self.terms.push(lp);
        if self.record {
            self.push_site(
                name,
                SiteKind::Observed,
                full,
                v.to_vec(),
                lp.scalar(),
                dist.support(),
            );
        }
        Ok(())
    }

    /// An observed random variable: `data ~ dist`, expanded over the enclosing plates.
    /// `data` must have the site's full shape. With `None`, the data come from a
    /// conditioning handler; in predictive runs the site is drawn instead.
    pub fn observe<'a, D: Distribution<'t>>(
        &mut self,
        name: &str,
        dist: D,
        data: impl Into<Obs<'a>>,
    ) -> Result<(), PplError> {
        self.check_new_name(name)?;
        let (batch, full) = self.site_shape(name, &dist)?;
        let given = self
            .condition
            .and_then(|c| c.get(name))
            .map(|v| v.as_slice())
            .or(data.into().0);
        if self.predictive {
            let v = draw(&dist, batch, full, self.rng);
            return self.observe_values(name, &dist, full, &v);
        }
        match given {
            Some(v) => self.observe_values(name, &dist, full, v),
            None => Err(PplError::MissingObservation(name.to_string())),
        }
    }

    /// Records a named deterministic value and returns it.
    pub fn deterministic(&mut self, name: &str, value: Var<'t>) -> Result<Var<'t>, PplError> {
        self.check_new_name(name)?;
        if self.record {
            self.push_site(
                name,
                SiteKind::Deterministic,
                value.shape(),
                value.value(),
                0.0,
                Constraint::Real,
            );
        }
        Ok(value)
    }

    /// Runs `body` inside a plate of `size` conditionally independent elements: every
    /// site inside gets this size as a batch dimension (after those of enclosing plates).
    pub fn plate<R>(
        &mut self,
        name: &str,
        size: usize,
        body: impl FnOnce(&mut Self) -> Result<R, PplError>,
    ) -> Result<R, PplError> {
        if self.plates.iter().any(|p| p.0 == name) {
            return Err(PplError::DuplicateSite(format!("plate {name}")));
        }
        self.plates.push((name.to_string(), size));
        let out = body(self);
        self.plates.pop();
        out
    }

    /// The log joint accumulated so far as one tape scalar.
    pub(crate) fn log_joint(&self) -> Var<'t> {
        if self.terms.is_empty() {
            return self.tape.constant_scalar(0.0);
        }
        self.tape.concat(&self.terms).sum()
    }
}

/// Draws a value of the site's full shape: the distribution's batch draws, repeated
/// independently where the plates broadcast them.
fn draw<'t>(dist: &dyn Distribution<'t>, batch: Shape, full: Shape, rng: &mut dyn Rng) -> Vec<f64> {
    let own = dist.batch_shape();
    let event = dist.event_shape().len().max(1);
    if own.len() == batch.len() {
        return dist.sample(rng);
    }
    // Output element i reads parameter element map(i); the c-th use of a parameter
    // element takes the c-th independent batch draw, so all outputs are independent.
    let map = crate::ad::shape_broadcast(own, batch);
    let reps = batch.len() / own.len().max(1);
    let draws: Vec<Vec<f64>> = (0..reps).map(|_| dist.sample(rng)).collect();
    let mut used = vec![0usize; own.len()];
    let mut out = Vec::with_capacity(full.len());
    for i in 0..batch.len() {
        let j = map.index(i);
        let c = used[j].min(reps - 1);
        used[j] += 1;
        out.extend_from_slice(&draws[c][j * event..(j + 1) * event]);
    }
    out
}
