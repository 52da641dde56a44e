//! Phase-space points and the leapfrog integrator.

use rand::Rng;

use crate::linalg::dot;
use crate::metric::EuclideanMetric;
use crate::{LogDensity, LogpError};

/// A point of the chain: position, log density and its gradient.
#[derive(Debug, Clone)]
pub(crate) struct State {
    pub(crate) q: Vec<f64>,
    pub(crate) grad: Vec<f64>,
    pub(crate) logp: f64,
    /// Hamiltonian at the phase-space point this state was taken from.
    pub(crate) energy: f64,
}

impl State {
    pub(crate) fn new(dim: usize) -> Self {
        Self {
            q: vec![0.0; dim],
            grad: vec![0.0; dim],
            logp: 0.0,
            energy: 0.0,
        }
    }

    /// Copies the position part of `z` (with its Hamiltonian `energy`).
    pub(crate) fn set_from(&mut self, z: &Point, energy: f64) {
        self.q.copy_from_slice(&z.q);
        self.grad.copy_from_slice(&z.grad);
        self.logp = z.logp;
        self.energy = energy;
    }
}

/// A phase-space point with the quantities NUTS reads at every step.
#[derive(Debug, Clone)]
pub(crate) struct Point {
    pub(crate) q: Vec<f64>,
    pub(crate) p: Vec<f64>,
    /// Velocity M⁻¹ p (Stan's "sharp" momentum, ∂τ/∂p).
    pub(crate) v: Vec<f64>,
    pub(crate) grad: Vec<f64>,
    pub(crate) logp: f64,
    pub(crate) kinetic: f64,
}

impl Point {
    pub(crate) fn new(dim: usize) -> Self {
        Self {
            q: vec![0.0; dim],
            p: vec![0.0; dim],
            v: vec![0.0; dim],
            grad: vec![0.0; dim],
            logp: 0.0,
            kinetic: 0.0,
        }
    }

    /// H = −log p(q) + ½ pᵀ M⁻¹ p.
    pub(crate) fn energy(&self) -> f64 {
        self.kinetic - self.logp
    }

    /// Copies everything from `other` (same dimension).
    pub(crate) fn copy_from(&mut self, other: &Point) {
        self.q.copy_from_slice(&other.q);
        self.p.copy_from_slice(&other.p);
        self.v.copy_from_slice(&other.v);
        self.grad.copy_from_slice(&other.grad);
        self.logp = other.logp;
        self.kinetic = other.kinetic;
    }
}

/// The density, the metric and the count of gradient evaluations.
pub(crate) struct Hamiltonian<'d, D: ?Sized> {
    pub(crate) density: &'d mut D,
    pub(crate) metric: EuclideanMetric,
    pub(crate) grad_evals: u64,
}

impl<D: LogDensity + ?Sized> Hamiltonian<'_, D> {
    /// Starts `z` at `state` with a fresh momentum p ~ N(0, M).
    pub(crate) fn start<R: Rng>(&self, state: &State, z: &mut Point, rng: &mut R) {
        z.q.copy_from_slice(&state.q);
        z.grad.copy_from_slice(&state.grad);
        z.logp = state.logp;
        self.metric.sample_momentum(rng, &mut z.p);
        self.refresh_kinetic(z);
    }

    /// Recomputes v and the kinetic energy from p.
    pub(crate) fn refresh_kinetic(&self, z: &mut Point) {
        self.metric.velocity(&z.p, &mut z.v);
        z.kinetic = 0.5 * dot(&z.p, &z.v);
    }

    /// One leapfrog step of signed size `eps`. `Ok(false)` when the new point is not
    /// usable (a recoverable density error or a non-finite energy): a divergence.
    pub(crate) fn leapfrog(&mut self, z: &mut Point, eps: f64) -> Result<bool, LogpError> {
        // The potential is −log p, so a momentum half step adds ε/2 · ∇log p.
        self.metric
            .kick_drift(0.5 * eps, eps, &z.grad, &mut z.p, &mut z.v, &mut z.q);
        self.grad_evals += 1;
        match self.density.logp_grad(&z.q, &mut z.grad) {
            Ok(lp) if lp.is_finite() => z.logp = lp,
            Ok(_) => return Ok(false),
            Err(e) if e.is_recoverable() => return Ok(false),
            Err(e) => return Err(e),
        }
        z.kinetic = self
            .metric
            .kick_kinetic(0.5 * eps, &z.grad, &mut z.p, &mut z.v);
        Ok(z.kinetic.is_finite())
    }

    /// Evaluates the density at `state.q` into `state`; `Ok(false)` when the log density or
    /// its gradient is not finite there.
    pub(crate) fn evaluate(&mut self, state: &mut State) -> Result<bool, LogpError> {
        self.grad_evals += 1;
        match self.density.logp_grad(&state.q, &mut state.grad) {
            Ok(lp) if lp.is_finite() && state.grad.iter().all(|g| g.is_finite()) => {
                state.logp = lp;
                Ok(true)
            }
            Ok(_) => Ok(false),
            Err(e) if e.is_recoverable() => Ok(false),
            Err(e) => Err(e),
        }
    }
}
