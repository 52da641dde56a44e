//! Stan's warm-up: dual averaging of the step size and the windows of metric estimation.

use crate::Adaptation;

/// Nesterov dual averaging of log ε (Hoffman & Gelman 2014, Algorithm 6; Stan's
/// `stepsize_adaptation`).
#[derive(Debug, Clone)]
pub(crate) struct DualAveraging {
    counter: f64,
    s_bar: f64,
    x_bar: f64,
    mu: f64,
    delta: f64,
    gamma: f64,
    kappa: f64,
    t0: f64,
    /// Upper bound on log ε (nuts-rs caps ε at π; Stan does not cap it).
    max_log_step: f64,
    /// The last, unaveraged log ε.
    x: f64,
}

impl DualAveraging {
    /// Aims at acceptance statistic `delta`, shrinking log ε towards `mu`.
    pub(crate) fn new(settings: &Adaptation, delta: f64, mu: f64) -> Self {
        Self {
            counter: 0.0,
            s_bar: 0.0,
            x_bar: 0.0,
            mu,
            delta,
            gamma: settings.gamma,
            kappa: settings.kappa,
            t0: settings.t0,
            max_log_step: f64::INFINITY,
            x: mu - 10f64.ln(),
        }
    }

    /// Caps every step size at `max` (nuts-rs' `max_step_size`, π).
    pub(crate) fn with_max_step_size(mut self, max: f64) -> Self {
        self.max_log_step = max.ln();
        self
    }

    /// Moves the current and the averaged step size to `eps` and the shrinkage target to
    /// 10ε, keeping the running statistics and the iteration count (nuts-rs'
    /// `DualAverage::set_initial_step_size`).
    pub(crate) fn set_initial(&mut self, eps: f64) {
        self.x = eps.ln();
        self.x_bar = self.x;
        self.mu = (10.0 * eps).ln();
    }

    /// The current, unaveraged step size.
    pub(crate) fn step_size(&self) -> f64 {
        self.x.exp()
    }

    /// Starts over with a new shrinkage target (at each metric update).
    pub(crate) fn restart(&mut self, mu: f64) {
        self.mu = mu;
        self.counter = 0.0;
        self.s_bar = 0.0;
        self.x_bar = 0.0;
    }

    /// Learns from one transition's acceptance statistic; returns the next step size.
    pub(crate) fn learn(&mut self, accept_stat: f64) -> f64 {
        self.counter += 1.0;
        let a = accept_stat.min(1.0);
        let eta = 1.0 / (self.counter + self.t0);
        self.s_bar = (1.0 - eta) * self.s_bar + eta * (self.delta - a);
        let x = (self.mu - self.s_bar * self.counter.sqrt() / self.gamma).min(self.max_log_step);
        let x_eta = self.counter.powf(-self.kappa);
        self.x_bar = (1.0 - x_eta) * self.x_bar + x_eta * x;
        self.x = x;
        x.exp()
    }

    /// The averaged step size used after warm-up.
    pub(crate) fn final_step_size(&self) -> f64 {
        self.x_bar.exp()
    }
}

/// What a warm-up iteration does for the metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WindowStep {
    /// Add this iteration's draw to the (co)variance estimate.
    pub(crate) collect: bool,
    /// A slow window ends here: update the metric, re-initialize the step size.
    pub(crate) end: bool,
}

/// Stan's `windowed_adaptation`: a fast interval, slow windows doubling in size (the last
/// one stretched to the terminal interval), a fast terminal interval.
#[derive(Debug, Clone)]
pub(crate) struct Windows {
    num_warmup: i64,
    init_buffer: i64,
    term_buffer: i64,
    counter: i64,
    window_size: i64,
    next_window: i64,
}

impl Windows {
    /// The schedule for `num_warmup` iterations. As Stan: no metric adaptation below 20
    /// warm-up iterations; when the three stages do not fit, 15% / 75% / 10% of warm-up.
    pub(crate) fn new(num_warmup: usize, settings: &Adaptation) -> Self {
        let w = num_warmup as i64;
        let (init, term, base) = if num_warmup < 20 {
            (0, 0, 0)
        } else if settings.init_buffer + settings.base_window + settings.term_buffer > num_warmup {
            let init = (0.15 * w as f64) as i64;
            let term = (0.1 * w as f64) as i64;
            (init, term, w - init - term)
        } else {
            (
                settings.init_buffer as i64,
                settings.term_buffer as i64,
                settings.base_window as i64,
            )
        };
        let num_warmup = if num_warmup < 20 { 0 } else { w };
        Self {
            num_warmup,
            init_buffer: init,
            term_buffer: term,
            counter: 0,
            window_size: base,
            next_window: init + base - 1,
        }
    }

    /// Advances one warm-up iteration.
    pub(crate) fn step(&mut self) -> WindowStep {
        let c = self.counter;
        let collect =
            c >= self.init_buffer && c < self.num_warmup - self.term_buffer && c != self.num_warmup;
        let end = c == self.next_window && c != self.num_warmup;
        if end {
            self.compute_next_window();
        }
        self.counter += 1;
        WindowStep { collect, end }
    }

    fn compute_next_window(&mut self) {
        let last = self.num_warmup - self.term_buffer - 1;
        if self.next_window == last {
            return;
        }
        self.window_size *= 2;
        self.next_window = self.counter + self.window_size;
        if self.next_window == last {
            return;
        }
        // If the window after this one would overrun the slow phase, stretch this one.
        if self.next_window + 2 * self.window_size >= self.num_warmup - self.term_buffer {
            self.next_window = last;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(num_warmup: usize) -> (Vec<usize>, Vec<usize>) {
        let mut w = Windows::new(num_warmup, &Adaptation::default());
        let mut ends = Vec::new();
        let mut collected = Vec::new();
        for i in 0..num_warmup {
            let s = w.step();
            if s.end {
                ends.push(i);
            }
            if s.collect {
                collected.push(i);
            }
        }
        (ends, collected)
    }

    #[test]
    fn stan_windows_for_1000_warmup() {
        let (ends, collected) = schedule(1000);
        assert_eq!(ends, vec![99, 149, 249, 449, 949]);
        assert_eq!(collected.first(), Some(&75));
        assert_eq!(collected.last(), Some(&949));
        assert_eq!(collected.len(), 875);
    }

    #[test]
    fn short_warmups() {
        assert_eq!(schedule(10).0, Vec::<usize>::new());
        // 100 < 75 + 25 + 50: 15 / 75 / 10.
        let (ends, collected) = schedule(100);
        assert_eq!(ends, vec![89]);
        assert_eq!(collected.first(), Some(&15));
        assert_eq!(schedule(150).0, vec![99]);
        assert_eq!(schedule(200).0, vec![99, 149]);
    }

    #[test]
    fn dual_averaging_moves_towards_the_target() {
        let mut da = DualAveraging::new(&Adaptation::default(), 0.8, (10.0f64).ln());
        // Always accepting: the step size must grow; never accepting: shrink.
        let mut eps = 1.0;
        for _ in 0..50 {
            eps = da.learn(1.0);
        }
        assert!(eps > 1.0);
        da.restart(0.0);
        for _ in 0..50 {
            eps = da.learn(0.0);
        }
        assert!(eps < 1.0 && da.final_step_size() < 1.0);
    }

    #[test]
    fn step_size_cap_and_reset_keep_the_statistics() {
        let mut da = DualAveraging::new(&Adaptation::default(), 0.8, 0.0).with_max_step_size(2.0);
        for _ in 0..200 {
            da.learn(1.0);
        }
        assert_eq!(da.step_size(), 2.0);
        assert!(da.final_step_size() <= 2.0);
        // A new starting step size moves ε and x̄ but not the running mean of the error:
        // the next always-accepting iteration still pushes ε towards the cap.
        da.set_initial(0.1);
        assert!((da.step_size() - 0.1).abs() < 1e-15);
        assert!((da.final_step_size() - 0.1).abs() < 1e-15);
        assert!(da.learn(1.0) > 1.0);
    }
}
