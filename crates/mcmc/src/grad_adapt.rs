//! nuts-rs' warm-up for a diagonal metric ([`Warmup::GradDiag`](crate::Warmup::GradDiag)),
//! after pymc-devs/nuts-rs 0.19: the schedule of `adapt_strategy.rs` (`GlobalStrategy::adapt`),
//! the estimate of `transform/adapt/diagonal.rs` and `math/cpu_math.rs`
//! (`array_update_var_inv_std_draw_grad`), the step size of `stepsize/adapt.rs`.
//!
//! Differences from nuts-rs, none of which changes what is estimated: the variances are
//! Welford's (nuts-rs sums squared deviations from the previous mean), a draw counts when it
//! differs from the transition's starting point (nuts-rs also drops divergent transitions'
//! draws that lie within 4 steps of it), and the step size is re-initialized by Stan's
//! heuristic (crossing an acceptance of 0.8) rather than nuts-rs' (crossing the target).
//! One difference does: where the initial gradient is zero the metric starts at 1, not
//! at nuts-rs' 1e20 (see [`initial_inverse_metric`]).

use crate::adapt::DualAveraging;
use crate::nuts::Transition;
use crate::welford::Welford;
use crate::{Adaptation, GradDiag};

/// Bounds of M⁻¹ᵢᵢ (nuts-rs' `LOWER_LIMIT`, `UPPER_LIMIT`).
const LIMITS: (f64, f64) = (1e-20, 1e20);

/// M⁻¹ᵢᵢ = 1 / |gᵢ| from one gradient, as nuts-rs starts, clamped to [`LIMITS`]; 1 where
/// gᵢ is zero or not finite. (nuts-rs puts 1e20 where gᵢ = 0, which sends the step-size
/// search down by tens of halvings when a chain starts at a mode.)
pub(crate) fn initial_inverse_metric(grad: &[f64]) -> Vec<f64> {
    grad.iter()
        .map(|g| {
            if g.is_finite() && *g != 0.0 {
                g.abs().recip().clamp(LIMITS.0, LIMITS.1)
            } else {
                1.0
            }
        })
        .collect()
}

/// Draws and gradients of one window.
#[derive(Debug, Clone)]
struct Estimate {
    draws: Welford,
    grads: Welford,
}

impl Estimate {
    fn new(dim: usize) -> Self {
        Self {
            draws: Welford::new(dim, false),
            grads: Welford::new(dim, false),
        }
    }

    fn add(&mut self, q: &[f64], grad: &[f64]) {
        self.draws.add(q);
        self.grads.add(grad);
    }

    fn count(&self) -> usize {
        self.draws.count()
    }
}

/// What the warm-up does after one transition.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct GradStep {
    /// The metric changed ([`GradDiagAdapt::inverse_metric`]).
    pub(crate) metric_changed: bool,
    /// First metric change: find a new step size with the heuristic and pass it to
    /// [`GradDiagAdapt::set_step_size`].
    pub(crate) reinit_step_size: bool,
    /// Step size of the next transition.
    pub(crate) step_size: f64,
}

/// The state of the warm-up of one chain.
#[derive(Debug, Clone)]
pub(crate) struct GradDiagAdapt {
    foreground: Estimate,
    background: Estimate,
    inv: Vec<f64>,
    dual: DualAveraging,
    num_warmup: usize,
    early_end: usize,
    final_window: usize,
    early_window: usize,
    window: usize,
    growth: f64,
    initial_metric: bool,
}

impl GradDiagAdapt {
    /// Starts from the initial point `q` with gradient `grad` (already the metric's
    /// starting point, see [`initial_inverse_metric`]) and step size `eps`.
    pub(crate) fn new(
        q: &[f64],
        grad: &[f64],
        eps: f64,
        num_warmup: usize,
        target_accept: f64,
        schedule: &GradDiag,
        dual: &Adaptation,
    ) -> Self {
        let dim = q.len();
        let mut foreground = Estimate::new(dim);
        let mut background = Estimate::new(dim);
        foreground.add(q, grad);
        background.add(q, grad);
        let mut da = DualAveraging::new(dual, target_accept, (10.0 * eps).ln())
            .with_max_step_size(schedule.max_step_size);
        da.set_initial(eps);
        let n = num_warmup as f64;
        let step_size_window = (schedule.step_size_fraction * n) as usize;
        Self {
            foreground,
            background,
            inv: initial_inverse_metric(grad),
            dual: da,
            num_warmup,
            early_end: (schedule.early_fraction * n) as usize,
            final_window: num_warmup.saturating_sub(step_size_window),
            early_window: schedule.early_window_size,
            window: schedule.window_size,
            growth: schedule.window_growth,
            initial_metric: true,
        }
    }

    /// The current M⁻¹ diagonal.
    pub(crate) fn inverse_metric(&self) -> &[f64] {
        &self.inv
    }

    /// The step size the heuristic found after the first metric change.
    pub(crate) fn set_step_size(&mut self, eps: f64) {
        self.dual.set_initial(eps);
    }

    /// The averaged step size, for sampling.
    pub(crate) fn final_step_size(&self) -> f64 {
        self.dual.final_step_size()
    }

    /// Learns from warm-up transition `draw` (0-based), which ended at `q` with gradient
    /// `grad`; `moved` tells whether `q` differs from the transition's starting point.
    pub(crate) fn step(
        &mut self,
        draw: usize,
        t: &Transition,
        q: &[f64],
        grad: &[f64],
        moved: bool,
    ) -> GradStep {
        if draw >= self.final_window {
            self.dual.learn(t.accept_stat_sym);
            let last = draw + 1 == self.num_warmup;
            let step_size = if last {
                self.dual.final_step_size()
            } else {
                self.dual.step_size()
            };
            return GradStep {
                metric_changed: false,
                reinit_step_size: false,
                step_size,
            };
        }
        let early = draw < self.early_end;
        if draw == self.early_end {
            // Never shrink below what the background already holds.
            self.window = self.window.max(self.background.count());
        }
        if moved {
            self.foreground.add(q, grad);
            self.background.add(q, grad);
        }
        let switch_at = if early {
            self.early_window
        } else {
            self.window
        };
        let next_window = if early {
            self.early_window
        } else {
            (self.window + 1).max((self.window as f64 * self.growth).round() as usize)
        };
        let late = draw + next_window > self.final_window;
        if self.background.count() >= switch_at && !late {
            self.foreground = std::mem::replace(&mut self.background, Estimate::new(q.len()));
            if !early {
                self.window = next_window;
            }
        }
        let metric_changed = self.update_metric();
        self.dual.learn(if late {
            t.accept_stat_sym
        } else {
            t.accept_stat
        });
        let reinit_step_size = metric_changed && self.initial_metric;
        if reinit_step_size {
            self.initial_metric = false;
        }
        GradStep {
            metric_changed,
            reinit_step_size,
            step_size: self.dual.step_size(),
        }
    }

    /// M⁻¹ᵢᵢ = sqrt(Var xᵢ / Var gᵢ) from the foreground estimate, once it holds 3 draws;
    /// coordinates where the ratio is 0 or not finite keep their value.
    fn update_metric(&mut self) -> bool {
        if self.foreground.count() < 3 {
            return false;
        }
        let (draws, grads) = (self.foreground.draws.m2(), self.foreground.grads.m2());
        for ((v, d), g) in self.inv.iter_mut().zip(draws).zip(grads) {
            let ratio = (d / g).sqrt();
            if ratio.is_finite() && ratio > 0.0 {
                *v = ratio.clamp(LIMITS.0, LIMITS.1);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transition(accept_stat: f64) -> Transition {
        Transition {
            accept_stat,
            accept_stat_sym: accept_stat,
            tree_depth: 1,
            n_leapfrog: 1,
            divergent: false,
        }
    }

    fn adapter(num_warmup: usize, q: &[f64], grad: &[f64]) -> GradDiagAdapt {
        GradDiagAdapt::new(
            q,
            grad,
            0.5,
            num_warmup,
            0.8,
            &GradDiag::default(),
            &Adaptation::default(),
        )
    }

    #[test]
    fn nuts_rs_window_schedule_for_1000_warmup() {
        // nuts-rs' `GlobalStrategy::adapt` by hand, every draw moving, the initial point
        // counted: windows of 10 until draw 300 (switches at 8, 18, …, 298), then 80 and
        // 120; a 180-draw window would end after draw 850, so the window begun at 379
        // grows to the end of the metric phase (draw 849).
        let mut a = adapter(1000, &[0.0], &[0.0]);
        let mut switches = Vec::new();
        for draw in 0..1000 {
            a.step(draw, &transition(0.8), &[draw as f64], &[1.0], true);
            if a.background.count() == 0 {
                switches.push(draw);
            }
        }
        let mut expected: Vec<usize> = (8..300).step_by(10).collect();
        expected.extend([378, 498]);
        assert_eq!(switches, expected);
        assert_eq!(a.foreground.count(), 849 - 379 + 1);
    }

    #[test]
    fn gaussian_draws_give_the_variances_exactly() {
        // For N(0, diag σ²) the gradient is −x/σ², a linear map of the draw: the sample
        // variances' ratio is σ⁴ for any draws, and sqrt of it σ² to rounding.
        let sd = [1e-3, 1.0, 1e3];
        let grad =
            |x: &[f64]| -> Vec<f64> { x.iter().zip(&sd).map(|(x, s)| -x / (s * s)).collect() };
        let point = |k: usize| -> Vec<f64> {
            sd.iter()
                .enumerate()
                .map(|(i, s)| s * ((k * 7 + i * 3 + 1) as f64).sin())
                .collect()
        };
        let x0 = point(0);
        let mut a = adapter(200, &x0, &grad(&x0));
        // The initial metric is 1 / |∂ log p|.
        for (v, g) in a.inverse_metric().iter().zip(grad(&x0)) {
            assert!((v * g.abs() - 1.0).abs() < 1e-12);
        }
        for draw in 1..100 {
            let x = point(draw);
            a.step(draw, &transition(0.8), &x, &grad(&x), true);
        }
        for (v, s) in a.inverse_metric().iter().zip(&sd) {
            assert!((v / (s * s) - 1.0).abs() < 1e-9, "{v} for σ² = {}", s * s);
        }
    }

    #[test]
    fn draws_that_did_not_move_are_skipped_and_bad_gradients_tolerated() {
        let mut a = adapter(100, &[1.0, 1.0], &[0.0, f64::NAN]);
        // A zero or NaN gradient says nothing about the scale: 1.
        assert_eq!(a.inverse_metric(), &[1.0, 1.0]);
        let before = a.foreground.count();
        a.step(0, &transition(0.8), &[1.0, 1.0], &[0.0, 0.0], false);
        assert_eq!(a.foreground.count(), before);
        // A coordinate whose gradient never varies keeps its value.
        for draw in 1..10 {
            let x = [draw as f64, 1.0];
            a.step(draw, &transition(0.8), &x, &[-x[0], 2.0], true);
        }
        assert!(a.inverse_metric()[0].is_finite() && a.inverse_metric()[0] > 0.0);
        assert_eq!(a.inverse_metric()[1], 1.0);
    }
}
