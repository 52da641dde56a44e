//! An adaptive Runge–Kutta ODE solver: Dormand–Prince 5(4) with local
//! extrapolation and an error-per-step controller (Hairer, Nørsett & Wanner,
//! *Solving Ordinary Differential Equations I*, 2nd ed., §II.4–5), for the
//! SIR and Lotka–Volterra tasks.
//!
//! sbibm solves those models with DifferentialEquations.jl's `Tsit5` (another
//! 5(4) pair) at `reltol = abstol = 1e-8` (diffeqtorch's defaults) and at most
//! 10⁵ iterations (Julia's `maxiters`). [`Dopri5::default`] uses the same
//! tolerances and limit. The solver steps exactly onto every output time
//! instead of interpolating, so outputs carry the full order of the method.
//!
//! ```
//! use simulators::ode::Dopri5;
//! // y' = -y, y(0) = 1: y(t) = e^{-t}.
//! let mut out = [[0.0]; 2];
//! Dopri5::default().solve(|_t, y: &[f64; 1]| [-y[0]], 0.0, [1.0], &[1.0, 2.0], &mut out)?;
//! assert!((out[1][0] - (-2.0f64).exp()).abs() < 1e-8);
//! # Ok::<(), simulators::ode::OdeError>(())
//! ```

/// Why the solver stopped without reaching the last output time.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum OdeError {
    /// More than `max_steps` step attempts.
    #[error("more than {max_steps} steps before t = {t}")]
    MaxSteps {
        /// The limit.
        max_steps: usize,
        /// How far the solution got.
        t: f64,
    },
    /// The step size fell below the resolution of t: the solution is blowing
    /// up or is too stiff for an explicit method.
    #[error("step size {h} too small at t = {t}")]
    StepTooSmall {
        /// The last step size tried.
        h: f64,
        /// Where.
        t: f64,
    },
    /// The initial state or the derivative there is not finite.
    #[error("the initial state or its derivative is not finite")]
    NonFiniteStart,
    /// Output times must be finite, not before `t0`, and non-decreasing.
    #[error("output times must be finite, not before t0 and non-decreasing")]
    BadTimes,
    /// `out` must have one row per output time.
    #[error("{got} output rows for {expected} output times")]
    OutputLength {
        /// The number of output times.
        expected: usize,
        /// The number of rows given.
        got: usize,
    },
    /// Tolerances must be positive and finite (max_steps at least 1).
    #[error("tolerances must be positive and finite, max_steps at least 1")]
    BadSettings,
}

/// Solver settings: plain fields, defaults from sbibm's diffeqtorch setup.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dopri5 {
    /// Relative tolerance of the local error (diffeqtorch default `1e-8`).
    pub rtol: f64,
    /// Absolute tolerance of the local error (diffeqtorch default `1e-8`).
    pub atol: f64,
    /// Limit on step attempts, accepted or rejected (DifferentialEquations.jl's
    /// default `maxiters = 1e5`).
    pub max_steps: usize,
}

impl Default for Dopri5 {
    fn default() -> Self {
        Dopri5 {
            rtol: 1e-8,
            atol: 1e-8,
            max_steps: 100_000,
        }
    }
}

/// Work done by one [`Dopri5::solve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OdeStats {
    /// Accepted steps.
    pub accepted: usize,
    /// Rejected steps.
    pub rejected: usize,
    /// Evaluations of the right-hand side.
    pub evaluations: usize,
}

// Dormand & Prince (1980) coefficients, as tabulated by Hairer et al. (Table 5.2).
const C2: f64 = 1.0 / 5.0;
const C3: f64 = 3.0 / 10.0;
const C4: f64 = 4.0 / 5.0;
const C5: f64 = 8.0 / 9.0;
const A21: f64 = 1.0 / 5.0;
const A31: f64 = 3.0 / 40.0;
const A32: f64 = 9.0 / 40.0;
const A41: f64 = 44.0 / 45.0;
const A42: f64 = -56.0 / 15.0;
const A43: f64 = 32.0 / 9.0;
const A51: f64 = 19372.0 / 6561.0;
const A52: f64 = -25360.0 / 2187.0;
const A53: f64 = 64448.0 / 6561.0;
const A54: f64 = -212.0 / 729.0;
const A61: f64 = 9017.0 / 3168.0;
const A62: f64 = -355.0 / 33.0;
const A63: f64 = 46732.0 / 5247.0;
const A64: f64 = 49.0 / 176.0;
const A65: f64 = -5103.0 / 18656.0;
const B1: f64 = 35.0 / 384.0;
const B3: f64 = 500.0 / 1113.0;
const B4: f64 = 125.0 / 192.0;
const B5: f64 = -2187.0 / 6784.0;
const B6: f64 = 11.0 / 84.0;
// Fifth- minus fourth-order weights: the local error estimate.
const E1: f64 = 71.0 / 57600.0;
const E3: f64 = -71.0 / 16695.0;
const E4: f64 = 71.0 / 1920.0;
const E5: f64 = -17253.0 / 339200.0;
const E6: f64 = 22.0 / 525.0;
const E7: f64 = -1.0 / 40.0;

/// Step-size controller: safety factor and limits on the change per step.
const SAFETY: f64 = 0.9;
const FAC_MIN: f64 = 0.2;
const FAC_MAX: f64 = 10.0;

fn axpy<const N: usize>(y: &[f64; N], h: f64, terms: &[(f64, &[f64; N])]) -> [f64; N] {
    let mut out = *y;
    for (i, o) in out.iter_mut().enumerate() {
        let s: f64 = terms.iter().map(|(c, k)| c * k[i]).sum();
        *o += h * s;
    }
    out
}

impl Dopri5 {
    /// Solves y' = f(t, y), y(t0) = y0, writing y(`times[k]`) into `out[k]`.
    ///
    /// `times` must be finite, non-decreasing and not before `t0`; `out` has
    /// one row per time. Failures (too many steps, a step size collapsing as
    /// the solution blows up) are errors, never NaN in `out`.
    pub fn solve<const N: usize, F>(
        &self,
        mut f: F,
        t0: f64,
        y0: [f64; N],
        times: &[f64],
        out: &mut [[f64; N]],
    ) -> Result<OdeStats, OdeError>
    where
        F: FnMut(f64, &[f64; N]) -> [f64; N],
    {
        let ok_tol = |v: f64| v.is_finite() && v > 0.0;
        if !ok_tol(self.rtol) || !ok_tol(self.atol) || self.max_steps == 0 {
            return Err(OdeError::BadSettings);
        }
        if out.len() != times.len() {
            return Err(OdeError::OutputLength {
                expected: times.len(),
                got: out.len(),
            });
        }
        let mut prev = t0;
        for &t in times {
            if !(t.is_finite() && t >= prev) {
                return Err(OdeError::BadTimes);
            }
            prev = t;
        }
        if !t0.is_finite() {
            return Err(OdeError::BadTimes);
        }
        let mut stats = OdeStats::default();
        let mut y = y0;
        let mut k1 = f(t0, &y);
        stats.evaluations += 1;
        if y.iter().chain(&k1).any(|v| !v.is_finite()) {
            return Err(OdeError::NonFiniteStart);
        }
        let mut t = t0;
        let t_end = times.last().copied().unwrap_or(t0);
        let mut h = self.initial_step(&mut f, t0, &y, &k1, t_end - t0, &mut stats);
        for (target, row) in times.iter().zip(out.iter_mut()) {
            while t < *target {
                if stats.accepted + stats.rejected >= self.max_steps {
                    return Err(OdeError::MaxSteps {
                        max_steps: self.max_steps,
                        t,
                    });
                }
                let remaining = target - t;
                // Land exactly on the target; snap when within a hair of it.
                let last = h >= remaining || remaining - h < 1e-12 * remaining.max(t.abs());
                let h_step = if last { remaining } else { h };
                if h_step <= 16.0 * f64::EPSILON * t.abs().max(1.0) && !last {
                    return Err(OdeError::StepTooSmall { h: h_step, t });
                }
                let (y_new, k7, err) = self.step(&mut f, t, &y, &k1, h_step, &mut stats);
                let factor = if err == 0.0 {
                    FAC_MAX
                } else if err.is_finite() {
                    (SAFETY * err.powf(-0.2)).clamp(FAC_MIN, FAC_MAX)
                } else {
                    FAC_MIN
                };
                if err <= 1.0 {
                    stats.accepted += 1;
                    t = if last { *target } else { t + h_step };
                    y = y_new;
                    k1 = k7;
                    // A step shortened to hit a target says nothing against
                    // the longer step the controller wanted.
                    h = if last {
                        h.max(h_step * factor)
                    } else {
                        h_step * factor
                    };
                } else {
                    stats.rejected += 1;
                    h = h_step * factor.min(1.0);
                    if h <= 16.0 * f64::EPSILON * t.abs().max(1.0) {
                        return Err(OdeError::StepTooSmall { h, t });
                    }
                }
            }
            *row = y;
        }
        Ok(stats)
    }

    /// One Dormand–Prince step of size h from (t, y) with k1 = f(t, y):
    /// the fifth-order solution, f at it (FSAL), and the scaled error norm.
    fn step<const N: usize, F>(
        &self,
        f: &mut F,
        t: f64,
        y: &[f64; N],
        k1: &[f64; N],
        h: f64,
        stats: &mut OdeStats,
    ) -> ([f64; N], [f64; N], f64)
    where
        F: FnMut(f64, &[f64; N]) -> [f64; N],
    {
        let k2 = f(t + C2 * h, &axpy(y, h, &[(A21, k1)]));
        let k3 = f(t + C3 * h, &axpy(y, h, &[(A31, k1), (A32, &k2)]));
        let k4 = f(
            t + C4 * h,
            &axpy(y, h, &[(A41, k1), (A42, &k2), (A43, &k3)]),
        );
        let k5 = f(
            t + C5 * h,
            &axpy(y, h, &[(A51, k1), (A52, &k2), (A53, &k3), (A54, &k4)]),
        );
        let k6 = f(
            t + h,
            &axpy(
                y,
                h,
                &[(A61, k1), (A62, &k2), (A63, &k3), (A64, &k4), (A65, &k5)],
            ),
        );
        let y_new = axpy(
            y,
            h,
            &[(B1, k1), (B3, &k3), (B4, &k4), (B5, &k5), (B6, &k6)],
        );
        let k7 = f(t + h, &y_new);
        stats.evaluations += 6;
        let mut sum = 0.0;
        for i in 0..N {
            let e =
                h * (E1 * k1[i] + E3 * k3[i] + E4 * k4[i] + E5 * k5[i] + E6 * k6[i] + E7 * k7[i]);
            let sc = self.atol + self.rtol * y[i].abs().max(y_new[i].abs());
            sum += (e / sc) * (e / sc);
        }
        let mut err = (sum / N.max(1) as f64).sqrt();
        if y_new.iter().chain(&k7).any(|v| !v.is_finite()) {
            err = f64::INFINITY;
        }
        (y_new, k7, err)
    }

    /// Hairer et al.'s starting step size (§II.4, "Starting Step Size").
    fn initial_step<const N: usize, F>(
        &self,
        f: &mut F,
        t0: f64,
        y0: &[f64; N],
        f0: &[f64; N],
        span: f64,
        stats: &mut OdeStats,
    ) -> f64
    where
        F: FnMut(f64, &[f64; N]) -> [f64; N],
    {
        if span <= 0.0 {
            return 0.0;
        }
        let norm = |v: &[f64; N]| {
            let s: f64 = (0..N)
                .map(|i| {
                    let sc = self.atol + self.rtol * y0[i].abs();
                    (v[i] / sc) * (v[i] / sc)
                })
                .sum();
            (s / N.max(1) as f64).sqrt()
        };
        let (d0, d1) = (norm(y0), norm(f0));
        let h0 = if d0 < 1e-5 || d1 < 1e-5 {
            1e-6
        } else {
            0.01 * d0 / d1
        }
        .min(span);
        let y1 = axpy(y0, h0, &[(1.0, f0)]);
        let f1 = f(t0 + h0, &y1);
        stats.evaluations += 1;
        let diff: [f64; N] = std::array::from_fn(|i| f1[i] - f0[i]);
        let d2 = norm(&diff) / h0;
        let h1 = if !d2.is_finite() {
            h0 * 1e-3
        } else if d1.max(d2) <= 1e-15 {
            (h0 * 1e-3).max(1e-6)
        } else {
            (0.01 / d1.max(d2)).powf(0.2)
        };
        (100.0 * h0).min(h1).min(span)
    }
}
