//! Handlers: ways to run a model.
//!
//! - [`Run`]: prior draws, traces, conditioning, substitution and predictive sampling;
//! - [`LogJoint`]: the log joint density and its gradient over the flattened
//!   unconstrained latent vector (with the log-Jacobian of every bijection), ready for
//!   a gradient-based sampler;
//! - [`posterior_predictive`]: observed sites drawn given each posterior draw.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::ad::Tape;
use crate::error::PplError;
use crate::model::{LatentMode, Layout, Model, Trace, Values};

/// A model: a function of the [`Model`] context. Closures capturing data qualify.
pub trait ModelFn: for<'t> Fn(&mut Model<'t>) -> Result<(), PplError> {}
impl<F> ModelFn for F where F: for<'t> Fn(&mut Model<'t>) -> Result<(), PplError> {}

/// Settings for one run of a model; [`Run::trace`] executes it.
///
/// ```
/// use ppl::{Model, Normal, PplError, Run};
/// let model = |m: &mut Model<'_>| -> Result<(), PplError> {
///     let mu = m.sample("mu", Normal::new(0.0, 1.0)?)?;
///     m.plate("data", 3, |m| m.observe("y", Normal::new(mu, 1.0)?, &[0.1, -0.3, 0.5]))
/// };
/// let trace = Run::new(42).trace(&model).unwrap();
/// assert_eq!(trace.get("y").unwrap().value.len(), 3);
/// // A prior predictive run draws the observed site too.
/// let pp = Run::new(42).predictive().trace(&model).unwrap();
/// assert_ne!(pp.value("y").unwrap(), &[0.1, -0.3, 0.5]);
/// ```
#[derive(Clone, Debug, Default)]
pub struct Run {
    seed: u64,
    substitute: Option<Values>,
    condition: Option<Values>,
    predictive: bool,
}

impl Run {
    /// A run whose draws come from a ChaCha8 stream seeded with `seed`.
    pub fn new(seed: u64) -> Run {
        Run {
            seed,
            ..Run::default()
        }
    }
    /// Fixes latent sites to the given values (NumPyro's `substitute`).
    pub fn substitute(mut self, values: Values) -> Run {
        self.substitute = Some(values);
        self
    }
    /// Makes the named sites observed with the given values (NumPyro's `condition`).
    pub fn condition(mut self, values: Values) -> Run {
        self.condition = Some(values);
        self
    }
    /// Draws observed sites instead of reading their data (predictive sampling).
    pub fn predictive(mut self) -> Run {
        self.predictive = true;
        self
    }

    /// Runs the model once and returns its trace: site names, shapes, values, log-probs.
    pub fn trace<F: ModelFn + ?Sized>(&self, model: &F) -> Result<Trace, PplError> {
        let tape = Tape::new();
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let mut m = Model::new(&tape, &mut rng, LatentMode::Draw);
        m.substitute = self.substitute.as_ref();
        m.condition = self.condition.as_ref();
        m.predictive = self.predictive;
        model(&mut m)?;
        if let Some(e) = tape.error() {
            return Err(e);
        }
        let given = self
            .substitute
            .iter()
            .chain(self.condition.iter())
            .flat_map(|v| v.keys());
        if let Some(n) = given.into_iter().find(|n| m.trace.get(n).is_none()) {
            return Err(PplError::UnknownSite(n.clone()));
        }
        Ok(m.trace)
    }
}

/// Posterior (or any) predictive: for each draw of the latent sites, the observed sites
/// drawn from the model. Draw `i` uses the RNG stream `(seed, i)`, so results do not
/// depend on how the work is split.
pub fn posterior_predictive<F: ModelFn + ?Sized>(
    model: &F,
    draws: &[Values],
    seed: u64,
) -> Result<Vec<Trace>, PplError> {
    draws
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(i as u64);
            let tape = Tape::new();
            let mut m = Model::new(&tape, &mut rng, LatentMode::Draw);
            m.substitute = Some(d);
            m.predictive = true;
            model(&mut m)?;
            if let Some(e) = tape.error() {
                return Err(e);
            }
            Ok(m.trace)
        })
        .collect()
}

/// The log joint density of a model over its flattened unconstrained latent vector,
/// with gradient: what a gradient-based sampler needs.
///
/// Each latent site `x = T(u)` reads its slice of `u`; the density is
/// Σ log p(latents) + Σ log|det ∂T/∂u| + Σ log p(observed). The tape is reused between
/// evaluations, so steady-state evaluation does not grow memory.
///
/// ```
/// use ppl::{Gamma, LogJoint, Model, Poisson, PplError};
/// let chips = vec![12.0, 9.0, 7.0];
/// let model = move |m: &mut Model<'_>| -> Result<(), PplError> {
///     let lam = m.sample("lam", Gamma::new(2.0, 0.2)?)?;
///     m.plate("data", chips.len(), |m| m.observe("obs", Poisson::new(lam)?, &chips))
/// };
/// let mut lj = LogJoint::new(model).unwrap();
/// assert_eq!(lj.dim(), 1);
/// let mut grad = [0.0];
/// let lp = lj.log_density_grad(&[2.0], &mut grad).unwrap();
/// assert!(lp.is_finite() && grad[0].is_finite());
/// assert!((lj.constrain(&[2.0]).unwrap()["lam"][0] - 2f64.exp()).abs() < 1e-12);
/// ```
pub struct LogJoint<F> {
    model: F,
    layout: Layout,
    condition: Option<Values>,
    tape: Tape,
    rng: ChaCha8Rng,
}

impl<F: ModelFn> LogJoint<F> {
    /// Traces the model once (prior draws, seed 0) to find its latent sites.
    pub fn new(model: F) -> Result<LogJoint<F>, PplError> {
        LogJoint::build(model, None)
    }

    /// As [`LogJoint::new`], with the named sites conditioned on the given values.
    pub fn with_condition(model: F, condition: Values) -> Result<LogJoint<F>, PplError> {
        LogJoint::build(model, Some(condition))
    }

    fn build(model: F, condition: Option<Values>) -> Result<LogJoint<F>, PplError> {
        let mut run = Run::new(0);
        if let Some(c) = &condition {
            run = run.condition(c.clone());
        }
        let trace = run.trace(&model)?;
        let layout = Layout::from_trace(&trace)?;
        Ok(LogJoint {
            model,
            layout,
            condition,
            tape: Tape::new(),
            rng: ChaCha8Rng::seed_from_u64(0),
        })
    }

    /// The unconstrained dimension.
    pub fn dim(&self) -> usize {
        self.layout.dim
    }

    /// Where each latent site sits in the flat vector.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The log joint density at `u`; writes ∂/∂u into `grad`.
    ///
    /// Errors: [`PplError::FlatLength`] for a wrong length, [`PplError::NonFinite`] when
    /// the density or its gradient is NaN or infinite (e.g. a parameter left its
    /// support numerically: a sampler treats that as a divergence), and any error of
    /// the model itself (e.g. an invalid distribution parameter at this point).
    pub fn log_density_grad(&mut self, u: &[f64], grad: &mut [f64]) -> Result<f64, PplError> {
        if u.len() != self.layout.dim || grad.len() != self.layout.dim {
            return Err(PplError::FlatLength {
                expected: self.layout.dim,
                got: u.len().min(grad.len()),
            });
        }
        self.tape.reset();
        let tape = &self.tape;
        let uv = tape.vector(u);
        let mut m = Model::new(
            tape,
            &mut self.rng,
            LatentMode::Flat {
                u: uv,
                layout: &self.layout,
            },
        );
        m.condition = self.condition.as_ref();
        m.record = false;
        (self.model)(&mut m)?;
        if m.cursor != self.layout.slots.len() {
            return Err(PplError::UnknownSite(format!(
                "{} (the model visited fewer latent sites than its layout)",
                self.layout.slots[m.cursor].name
            )));
        }
        let lp = m.log_joint();
        tape.backward(lp)?;
        let value = lp.scalar();
        uv.grad_into(grad);
        if !value.is_finite() {
            return Err(PplError::NonFinite(format!("log density = {value}")));
        }
        if let Some(i) = grad.iter().position(|g| !g.is_finite()) {
            return Err(PplError::NonFinite(format!("gradient[{i}] = {}", grad[i])));
        }
        Ok(value)
    }

    /// The log joint density at `u` (the gradient is computed and dropped).
    pub fn log_density(&mut self, u: &[f64]) -> Result<f64, PplError> {
        let mut g = vec![0.0; self.layout.dim];
        self.log_density_grad(u, &mut g)
    }

    /// Named constrained values of a flat unconstrained vector.
    pub fn constrain(&self, u: &[f64]) -> Result<Values, PplError> {
        self.layout.constrain(u)
    }

    /// The flat unconstrained vector of named constrained values.
    pub fn unconstrain(&self, values: &Values) -> Result<Vec<f64>, PplError> {
        self.layout.unconstrain(values)
    }
}
