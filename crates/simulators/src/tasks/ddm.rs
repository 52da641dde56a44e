//! The drift-diffusion model (DDM) of two-choice reaction times, simulated
//! exactly on a time grid: Gaussian increments, a Brownian-bridge test for
//! crossings between grid points, and the crossing time drawn within the step.

use rand::{Rng, RngExt};
use rand_distr::{Distribution as _, StandardNormal};

use crate::error::{ConfigError, SimulationError, check_output, check_theta, check_x_len};
use crate::interface::{Prior, Simulator, Task, TaskInfo};
use crate::prior::BoxUniform;

/// Settings of the [`Ddm`] simulator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DdmSettings {
    /// Time step in seconds (default 1e-3, REFERENCES.md §2). The scheme is
    /// exact at any step up to the chance that one step touches both bounds
    /// (see [`Ddm`]); a smaller step only costs time.
    pub dt: f64,
    /// Decision times beyond this limit (seconds) end the trial with
    /// [`SimulationError::MaxTimeReached`]. Default 20 s: the probability of
    /// no decision by time t is at most about (4/π)·e^{−λ₁ t} with
    /// λ₁ = v²/2 + π²/(2a²) ≥ π²/8 over the prior (a < 2), so ≈ 2·10⁻¹¹ at
    /// 20 s: no simulation of a 10⁵ training set is expected to reach it,
    /// and a trial that does costs at most 2·10⁴ steps (≈ 20 typical trials).
    pub max_time: f64,
}

impl Default for DdmSettings {
    fn default() -> Self {
        Self {
            dt: 1e-3,
            max_time: 20.0,
        }
    }
}

/// The most steps one trial may take (`max_time / dt`): about 10 s of
/// computing, so that no setting makes a simulation look hung.
pub const DDM_MAX_STEPS: f64 = 1e9;

/// A crossing whose bridge probability is below e^{−2·18} ≈ 2·10⁻¹⁶ (under
/// the resolution of a uniform f64 draw) is not tested for: the test costs a
/// uniform draw and two exponentials, and is needed only near a bound.
const BRIDGE_CUTOFF: f64 = 18.0;

/// The drift-diffusion model of two-choice reaction times (REFERENCES.md §2;
/// the MNLE paper, Boelts et al., eLife 2022).
///
/// θ = [v, a, w, τ]: drift v, boundary separation a > 0, relative start
/// w ∈ (0, 1), non-decision time τ ≥ 0. The evidence X follows
/// dX = v dt + dW from X₀ = w·a until it leaves (0, a) at the decision time
/// T; x = [rt, choice] with rt = T + τ and choice 1.0 for the upper bound a,
/// 0.0 for the lower bound 0 (sbi's MNLE layout: the continuous column
/// first, the discrete one last, as `flows::Mnle` expects). The prior is
/// the paper's box: v ~ U(−2, 2), a ~ U(0.5, 2), w ~ U(0.3, 0.7),
/// τ ~ U(0.2, 1.8).
///
/// Simulation: the increments X_{n+1} − X_n = v·dt + √dt·ξ are exact for
/// Brownian motion with drift (Euler–Maruyama is exact here), so the only
/// error of the plain scheme is monitoring the bounds at grid points, which
/// misses excursions between them and makes decisions late by O(√dt) in
/// the bound (Broadie–Glasserman–Kou: the bound moves out by ≈ 0.58·√dt).
/// Two corrections make the scheme exact:
///
/// - between grid points inside (0, a), the path crosses the upper bound
///   with the Brownian-bridge probability exp(−2 (a − X_n)(a − X_{n+1}) / dt)
///   (the lower one with exp(−2 X_n X_{n+1} / dt)), tested with one uniform
///   draw;
/// - within the step, the crossing time is drawn from its exact conditional
///   law: for a bridge starting d₀ from the bound and ending d₁ from it
///   (d₁ < 0 past it), the change of time u = s·dt/(dt − s) turns it into
///   Brownian motion with drift −d₁/dt hitting d₀, so u, conditioned on a
///   hit, is inverse Gaussian with mean d₀·dt/|d₁| and shape d₀², and
///   s = u·dt/(u + dt) (Michael–Schucany–Haas sampler).
///
/// What remains is the chance that one step touches both bounds (treated as
/// the two single-bound events; ≈ e^{−a²/(2 dt)}, 10⁻⁵⁴ at a = 0.5 and the
/// default step), the skipped bridge tests (below 2·10⁻¹⁶ per step) and
/// [`DdmSettings::max_time`]. `tests/tasks_ddm.rs` measures the residual bias:
/// the decision-time distribution passes a KS test against the closed form
/// also at a 20× coarser step, where the uncorrected scheme fails.
///
/// Normals come from rand_distr's ziggurat: one u64 from the caller's
/// generator per step in ≈ 99% of steps; a uniform draw is added for steps
/// within ≈ 4√dt of a bound. No exact likelihood here: the Wiener
/// first-passage density lives in `ppl::Wiener`, and `simulators` depends on
/// no workspace crate; [`Ddm::prob_upper`] gives the choice probability.
#[derive(Debug, Clone, PartialEq)]
pub struct Ddm {
    prior: BoxUniform,
    settings: DdmSettings,
}

impl Default for Ddm {
    fn default() -> Self {
        Self::new()
    }
}

impl Ddm {
    /// The prior's lower ends for [v, a, w, τ].
    pub const PRIOR_LOW: [f64; 4] = [-2.0, 0.5, 0.3, 0.2];
    /// The prior's upper ends for [v, a, w, τ].
    pub const PRIOR_HIGH: [f64; 4] = [2.0, 2.0, 0.7, 1.8];

    /// The task with the default settings (dt = 1 ms, 20 s limit).
    pub fn new() -> Self {
        Ddm {
            prior: BoxUniform::trusted(Self::PRIOR_LOW.to_vec(), Self::PRIOR_HIGH.to_vec()),
            settings: DdmSettings::default(),
        }
    }

    /// The task with other settings: needs a finite `dt > 0`, a finite
    /// `max_time > dt`, and at most [`DDM_MAX_STEPS`] steps per trial.
    pub fn with_settings(settings: DdmSettings) -> Result<Self, ConfigError> {
        let DdmSettings { dt, max_time } = settings;
        if !(dt.is_finite() && dt > 0.0) {
            return Err(ConfigError::BadParameter {
                name: "dt",
                index: 0,
                value: dt,
            });
        }
        if !(max_time.is_finite() && max_time > dt && max_time / dt <= DDM_MAX_STEPS) {
            return Err(ConfigError::BadParameter {
                name: "max_time",
                index: 0,
                value: max_time,
            });
        }
        Ok(Ddm {
            settings,
            ..Self::new()
        })
    }

    /// The settings.
    pub fn settings(&self) -> &DdmSettings {
        &self.settings
    }

    /// The box prior of the MNLE paper.
    pub fn box_prior(&self) -> &BoxUniform {
        &self.prior
    }

    /// P(choice = upper | v, a, w) = (1 − e^{−2vaw}) / (1 − e^{−2va}), w at
    /// v = 0; computed without overflow for any finite v·a. NaN for θ the
    /// simulator refuses.
    pub fn prob_upper(v: f64, a: f64, w: f64) -> f64 {
        if !(v.is_finite() && a.is_finite() && a > 0.0 && w > 0.0 && w < 1.0) {
            return f64::NAN;
        }
        let (p, q) = (-2.0 * v * a * w, -2.0 * v * a);
        if q == 0.0 {
            w
        } else if q > 0.0 {
            // (e^p − 1)/(e^q − 1) = e^{p−q} (1 − e^{−p}) / (1 − e^{−q}), 0 < p < q.
            (p - q).exp() * (-p).exp_m1() / (-q).exp_m1()
        } else {
            p.exp_m1() / q.exp_m1()
        }
    }

    /// One trial: the decision time T and whether the upper bound was hit.
    fn first_passage(
        &self,
        v: f64,
        a: f64,
        w: f64,
        rng: &mut dyn Rng,
    ) -> Result<(f64, bool), SimulationError> {
        let DdmSettings { dt, max_time } = self.settings;
        let (sd, drift, cutoff) = (dt.sqrt(), v * dt, BRIDGE_CUTOFF * dt);
        let steps = (max_time / dt).ceil() as u64;
        let mut x = w * a;
        for n in 0..steps {
            let z: f64 = StandardNormal.sample(rng);
            let y = x + drift + sd * z;
            let (up0, up1) = (a - x, a - y);
            let hit = if y >= a {
                Some(true)
            } else if y <= 0.0 {
                Some(false)
            } else if up0 * up1 < cutoff || x * y < cutoff {
                let p_up = (-2.0 * up0 * up1 / dt).exp();
                let p_low = (-2.0 * x * y / dt).exp();
                let u: f64 = rng.random();
                if u < p_up {
                    Some(true)
                } else if u < p_up + p_low {
                    Some(false)
                } else {
                    None
                }
            } else {
                None
            };
            if let Some(upper) = hit {
                let (d0, d1) = if upper { (up0, up1) } else { (x, y) };
                let frac = crossing_fraction(d0 / sd, d1 / sd, rng);
                return Ok(((n as f64 + frac) * dt, upper));
            }
            x = y;
        }
        Err(SimulationError::MaxTimeReached { max_time })
    }
}

/// Where in a step of unit length a Brownian bridge, started `alpha` from a
/// bound and ending `beta` from it (negative: past it; both in units of
/// √dt), first hits the bound, given that it does: s = u/(1 + u) with u
/// inverse Gaussian of mean α/|β| and shape α² (see [`Ddm`]), drawn by
/// Michael, Schucany & Haas (1976) in a form that stays finite at β = 0
/// (where u is Lévy, α²/ξ²). Always in [0, 1].
fn crossing_fraction(alpha: f64, beta: f64, rng: &mut dyn Rng) -> f64 {
    let nu = beta.abs();
    let z: f64 = StandardNormal.sample(rng);
    let y = z * z;
    // The smaller root of (ν u − α)² = y u, written without cancellation.
    let small =
        2.0 * alpha * alpha / ((2.0 * alpha * nu + y) + (y * (4.0 * alpha * nu + y)).sqrt());
    let keep: f64 = rng.random();
    let u = if keep * (alpha + nu * small) <= alpha {
        small
    } else {
        // The larger root: the product of the roots is α²/ν².
        alpha * alpha / (nu * nu * small)
    };
    let frac = 1.0 / (1.0 + 1.0 / u);
    // NaN only from 0/0 or ∞/∞ at measure-zero draws or absurd θ.
    if (0.0..=1.0).contains(&frac) {
        frac
    } else {
        1.0
    }
}

/// θ = [v, a, w, τ] with a > 0, 0 < w < 1, τ ≥ 0, all finite.
fn check_ddm_theta(theta: &[f64]) -> Result<[f64; 4], SimulationError> {
    check_theta(theta, 4)?;
    let [v, a, w, tau] = [theta[0], theta[1], theta[2], theta[3]];
    let bad = |index: usize| SimulationError::InvalidTheta {
        index,
        value: theta[index],
    };
    if a <= 0.0 {
        return Err(bad(1));
    }
    if !(w > 0.0 && w < 1.0) {
        return Err(bad(2));
    }
    if tau < 0.0 {
        return Err(bad(3));
    }
    Ok([v, a, w, tau])
}

impl Simulator for Ddm {
    fn theta_dim(&self) -> usize {
        4
    }

    fn x_dim(&self) -> usize {
        2
    }

    fn simulate(
        &self,
        theta: &[f64],
        rng: &mut dyn Rng,
        x: &mut [f64],
    ) -> Result<(), SimulationError> {
        let [v, a, w, tau] = check_ddm_theta(theta)?;
        check_x_len(x, 2)?;
        let (t, upper) = self.first_passage(v, a, w, rng)?;
        x[0] = t + tau;
        x[1] = if upper { 1.0 } else { 0.0 };
        check_output(x)
    }
}

impl Task for Ddm {
    fn info(&self) -> TaskInfo {
        TaskInfo {
            name: "ddm",
            display_name: "Drift-diffusion model",
            theta_dim: 4,
            x_dim: 2,
            parameter_names: ["v", "a", "w", "tau"].map(String::from).to_vec(),
            reference: "the drift-diffusion model and prior of the MNLE paper \
                        (Boelts et al., eLife 2022); x = [rt, choice] (REFERENCES.md §2)",
        }
    }

    fn prior(&self) -> &dyn Prior {
        &self.prior
    }
}
