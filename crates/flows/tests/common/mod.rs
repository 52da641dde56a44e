//! Shared helpers of the integration tests: named tolerances, finite differences.
#![allow(dead_code)]

use flows::{ConditionalDensity, MnleConfig, NsfConfig, Rows, RowsView, Trainable};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Named tolerances (statrs' `prec` habit).
pub mod prec {
    /// Step of central finite differences, relative to max(1, |θ|).
    pub const FD_STEP: f64 = 1e-6;
    /// Agreement of an analytic gradient with central differences:
    /// |g − fd| ≤ FD_TOL · (1 + |g|). Central differences at h = 1e-6 have
    /// truncation error ~h² and round-off ~ε·|f|/h ≈ 1e-10·|f|; |f| ≤ ~1e4 here.
    pub const FD_TOL: f64 = 1e-5;
    /// Agreement of two f64 computations of the same sum in a different order.
    pub const SUM_TOL: f64 = 1e-10;
    /// A probability mass or density integrating to 1 by exact summation.
    pub const MASS_TOL: f64 = 1e-12;
}

pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// Central differences of `f` at `x`.
pub fn fd_grad(f: impl Fn(&[f64]) -> f64, x: &[f64]) -> Vec<f64> {
    (0..x.len())
        .map(|i| {
            let h = prec::FD_STEP * x[i].abs().max(1.0);
            let mut xp = x.to_vec();
            let mut xm = x.to_vec();
            xp[i] += h;
            xm[i] -= h;
            (f(&xp) - f(&xm)) / (2.0 * h)
        })
        .collect()
}

/// |a − b| ≤ tol · (1 + |a|) (false if either is NaN).
pub fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + a.abs())
}

/// Whether analytic and finite-difference gradients agree within `FD_TOL`.
pub fn grads_agree(analytic: &[f64], fd: &[f64], tol: f64) -> Result<(), String> {
    for (i, (a, f)) in analytic.iter().zip(fd).enumerate() {
        if !close(*a, *f, tol) {
            return Err(format!(
                "component {i}: analytic {a}, finite difference {f}"
            ));
        }
    }
    Ok(())
}

/// Checks `sum_log_prob_grad_context` against central differences of `sum_log_prob`,
/// and against the sum of single-row log-probabilities.
pub fn check_context_gradient(
    q: &dyn ConditionalDensity,
    xs: RowsView<'_>,
    theta: &[f64],
) -> Result<(), String> {
    let mut grad = vec![0.0; theta.len()];
    let total = q
        .sum_log_prob_grad_context(xs, theta, &mut grad)
        .map_err(|e| e.to_string())?;
    let single: f64 = xs.iter().map(|x| q.log_prob(x, theta).unwrap()).sum();
    if !close(total, single, prec::SUM_TOL) {
        return Err(format!("sum {total} vs single-row sum {single}"));
    }
    let fd = fd_grad(|t| q.sum_log_prob(xs, t).unwrap(), theta);
    grads_agree(&grad, &fd, prec::FD_TOL)
}

/// Checks `loss_grad` against central differences at `n_checked` parameters
/// spread over the vector (skipping parameters that are exactly zero: MADE's masked
/// weights, whose gradient is held at zero).
pub fn check_parameter_gradient<T: Trainable + Clone>(
    q: &T,
    xs: RowsView<'_>,
    contexts: RowsView<'_>,
    n_checked: usize,
) -> Result<(), String> {
    let mut grad = vec![0.0; q.parameters().len()];
    q.loss_grad(xs, contexts, &mut grad)
        .map_err(|e| e.to_string())?;
    let n = grad.len();
    let step = (n / n_checked).max(1);
    for i in (0..n).step_by(step).chain([n - 1]) {
        let p0 = q.parameters()[i];
        if p0 == 0.0 {
            continue;
        }
        let h = 1e-6 * p0.abs().max(1.0);
        let shifted = |d: f64| {
            let mut p = q.parameters().to_vec();
            p[i] = p0 + d;
            let mut q2 = q.clone();
            q2.set_parameters(&p).unwrap();
            q2
        };
        let (qp, qm) = (shifted(h), shifted(-h));
        let fd = (qp.loss(xs, contexts).unwrap() - qm.loss(xs, contexts).unwrap()) / (2.0 * h);
        grads_agree(&[grad[i]], &[fd], prec::FD_TOL).map_err(|e| format!("parameter {i}: {e}"))?;
    }
    Ok(())
}

/// A fresh path in the temporary folder, unique to this process and `tag`.
pub fn temp_path(tag: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("flows-test-{}-{tag}.json", std::process::id()))
}

/// Rows from a closure per row.
pub fn rows_from(n: usize, cols: usize, mut f: impl FnMut(usize, &mut [f64])) -> Rows {
    let mut r = Rows::zeros(n, cols).unwrap();
    for i in 0..n {
        f(i, r.row_mut(i));
    }
    r
}

/// Simpson's rule on [a, b] with `n` (even) intervals.
pub fn simpson(f: impl Fn(f64) -> f64, a: f64, b: f64, n: usize) -> f64 {
    let h = (b - a) / n as f64;
    let mut s = f(a) + f(b);
    for i in 1..n {
        s += if i % 2 == 1 { 4.0 } else { 2.0 } * f(a + i as f64 * h);
    }
    s * h / 3.0
}

/// ∫ f over ℝ: x = c + s·t/(1 − t²) maps t ∈ (−1, 1) onto the line; Simpson's rule
/// in t with `n` intervals (the flows' tails can be much wider than the data).
pub fn line(f: impl Fn(f64) -> f64, c: f64, s: f64, n: usize) -> f64 {
    let g = |t: f64| {
        let d = 1.0 - t * t;
        if d <= 0.0 {
            return 0.0;
        }
        let w = s * (1.0 + t * t) / (d * d);
        let v = f(c + s * t / d);
        if v == 0.0 { 0.0 } else { v * w }
    };
    simpson(g, -1.0, 1.0, n)
}

/// Training-like data: x ~ 2 + 3·N(0, 1) per coordinate, θ ~ U(0, 1)ᵈ.
pub fn training_data(d: usize, c: usize, seed: u64) -> (Rows, Rows) {
    use rand::RngExt;
    let mut r = rng(seed);
    let xs = rows_from(100, d, |_, row| {
        row.iter_mut()
            .for_each(|v| *v = 2.0 + 3.0 * r.sample::<f64, _>(rand_distr::StandardNormal))
    });
    let ctx = rows_from(100, c, |_, row| {
        row.iter_mut().for_each(|v| *v = r.random::<f64>())
    });
    (xs, ctx)
}

/// Simpson nodes and weights for ∫ over ℝ with the map of [`line`]: (x, weight).
pub fn line_nodes(c: f64, s: f64, n: usize) -> Vec<(f64, f64)> {
    let h = 2.0 / n as f64;
    (1..n)
        .map(|i| {
            let t = -1.0 + i as f64 * h;
            let d = 1.0 - t * t;
            let simpson = if i % 2 == 1 { 4.0 } else { 2.0 } * h / 3.0;
            (c + s * t / d, simpson * s * (1.0 + t * t) / (d * d))
        })
        .collect()
}

/// Mass, means, variances and covariance of a 2-D density by tensor-product
/// quadrature over the plane (one density evaluation per node).
pub fn moments_2d(pdf: impl Fn(f64, f64) -> f64, c: f64, s: f64, n: usize) -> [f64; 6] {
    let nodes = line_nodes(c, s, n);
    let mut pts = Vec::with_capacity(nodes.len() * nodes.len());
    for &(x1, w1) in &nodes {
        for &(x2, w2) in &nodes {
            let p = pdf(x1, x2);
            if p > 0.0 {
                pts.push((x1, x2, w1 * w2 * p));
            }
        }
    }
    let mass: f64 = pts.iter().map(|p| p.2).sum();
    let m1 = pts.iter().map(|p| p.0 * p.2).sum::<f64>() / mass;
    let m2 = pts.iter().map(|p| p.1 * p.2).sum::<f64>() / mass;
    let v1 = pts.iter().map(|p| (p.0 - m1).powi(2) * p.2).sum::<f64>() / mass;
    let v2 = pts.iter().map(|p| (p.1 - m2).powi(2) * p.2).sum::<f64>() / mass;
    let c12 = pts
        .iter()
        .map(|p| (p.0 - m1) * (p.1 - m2) * p.2)
        .sum::<f64>()
        / mass;
    [mass, m1, m2, v1, v2, c12]
}

/// The linear-Gaussian task: x | θ ~ N(Aθ + b, Σ), x ∈ ℝ², θ ~ U(−2, 2)². Trains
/// the estimator made by `make` (from the training data) for 40 epochs of
/// batch 100 on 4 000 simulations, Adam at lr 2e-3; returns the mean
/// log-likelihood gap to the true density on 2 000 held-out simulations before
/// and after training.
pub fn linear_gaussian_gaps<Q: Trainable>(
    make: impl Fn(RowsView<'_>, RowsView<'_>) -> Q,
) -> (f64, f64) {
    use rand::RngExt;
    let (a, b) = ([[1.0, 0.5], [-0.3, 2.0]], [0.5, -1.0]);
    // Σ = L Lᵀ with L = [[0.8, 0], [0.4, 0.5]]
    let l = [[0.8, 0.0], [0.4, 0.5]];
    let simulate = |n: usize, seed: u64| {
        let mut r = rng(seed);
        let theta = rows_from(n, 2, |_, t| {
            t.iter_mut()
                .for_each(|v| *v = 4.0 * r.random::<f64>() - 2.0)
        });
        let x = rows_from(n, 2, |i, x| {
            let t = theta.row(i);
            let e: [f64; 2] = [
                r.sample(rand_distr::StandardNormal),
                r.sample(rand_distr::StandardNormal),
            ];
            for k in 0..2 {
                x[k] = a[k][0] * t[0] + a[k][1] * t[1] + b[k] + l[k][0] * e[0] + l[k][1] * e[1];
            }
        });
        (x, theta)
    };
    let true_lp = |x: &[f64], t: &[f64]| {
        let r0 = x[0] - (a[0][0] * t[0] + a[0][1] * t[1] + b[0]);
        let r1 = x[1] - (a[1][0] * t[0] + a[1][1] * t[1] + b[1]);
        let e0 = r0 / l[0][0];
        let e1 = (r1 - l[1][0] * e0) / l[1][1];
        -0.5 * (e0 * e0 + e1 * e1) - (2.0 * std::f64::consts::PI).ln() - (l[0][0] * l[1][1]).ln()
    };
    let (x, theta) = simulate(4_000, 13);
    let (xv, tv) = simulate(2_000, 14);
    let gap = |q: &Q| {
        let mut lp = vec![0.0; xv.len()];
        q.log_prob_batch(xv.view(), tv.view(), &mut lp).unwrap();
        (0..xv.len())
            .map(|i| true_lp(xv.row(i), tv.row(i)) - lp[i])
            .sum::<f64>()
            / xv.len() as f64
    };
    let mut q = make(x.view(), theta.view());
    let before = gap(&q);
    train_epochs(&mut q, &x, &theta, 2e-3, 40);
    (before, gap(&q))
}

/// `epochs` passes of Adam (learning rate `lr`) over `(x, θ)` in batches of 100 rows.
pub fn train_epochs<Q: Trainable>(q: &mut Q, x: &Rows, theta: &Rows, lr: f64, epochs: usize) {
    let mut adam = flows::Adam::new(
        flows::AdamConfig {
            learning_rate: lr,
            ..flows::AdamConfig::default()
        },
        q.parameters().len(),
    )
    .unwrap();
    for _epoch in 0..epochs {
        for k in 0..x.len() / 100 {
            let (s, e) = (k * 100, k * 100 + 100);
            q.train_step(&mut adam, x.view().slice(s, e), theta.view().slice(s, e))
                .unwrap();
        }
    }
}

/// The small MNLE of the tests: a choice in {0, 1}, a 2-transform NSF of 16 units.
pub fn small_mnle_config() -> MnleConfig {
    MnleConfig {
        flow: NsfConfig {
            hidden_features: 16,
            num_transforms: 2,
            ..NsfConfig::default()
        },
        ..MnleConfig::new(0, 1)
    }
}

/// The training loop's fast path gives exactly the default path's numbers: block
/// gradients in the internal order, summed with weights and converted once, equal
/// the weighted sum of `loss_grad`s bit for bit, and `adam_step` equals
/// `Adam::step` on a copy followed by `set_parameters`. A gradient that would move a
/// masked weight (all ones) or is NaN is an error that leaves the parameters as
/// they were.
pub fn check_internal_training_path<T: Trainable + Clone>(
    q: &T,
    xs: RowsView<'_>,
    contexts: RowsView<'_>,
) -> Result<(), String> {
    let n = xs.len();
    let cut = [(0, n / 3), (n / 3, n)];
    let w = |a: usize, b: usize| (b - a) as f64 / n as f64;
    let mut internal = vec![0.0; q.internal_grad_len()];
    let mut sum = vec![0.0; internal.len()];
    let mut want = vec![0.0; q.parameters().len()];
    let mut one = want.clone();
    for (a, b) in cut {
        let (x, c) = (xs.slice(a, b), contexts.slice(a, b));
        let l1 = q
            .loss_grad_internal(x, c, &mut internal)
            .map_err(|e| e.to_string())?;
        let l2 = q.loss_grad(x, c, &mut one).map_err(|e| e.to_string())?;
        if l1 != l2 {
            return Err(format!("losses {l1} vs {l2}"));
        }
        for (t, v) in sum.iter_mut().zip(&internal) {
            *t += w(a, b) * v;
        }
        for (t, v) in want.iter_mut().zip(&one) {
            *t += w(a, b) * v;
        }
    }
    let mut grad = vec![0.0; want.len()];
    q.grad_from_internal(&sum, &mut grad)
        .map_err(|e| e.to_string())?;
    if grad != want {
        return Err("the converted sum differs from the sum of loss_grad".into());
    }
    let config = flows::AdamConfig::default();
    let mut fast = q.clone();
    let mut adam = flows::Adam::new(config, grad.len()).map_err(|e| e.to_string())?;
    let mut slow_adam = adam.clone();
    let mut slow = q.clone();
    for _ in 0..3 {
        fast.adam_step(&mut adam, &grad)
            .map_err(|e| e.to_string())?;
        let mut p = slow.parameters().to_vec();
        slow_adam.step(&mut p, &grad).map_err(|e| e.to_string())?;
        slow.set_parameters(&p).map_err(|e| e.to_string())?;
    }
    if fast.parameters() != slow.parameters() || fast.parameters() == q.parameters() {
        return Err("adam_step differs from Adam::step + set_parameters".into());
    }
    let before = fast.parameters().to_vec();
    let mut nan = grad.clone();
    nan[0] = f64::NAN;
    for bad in [vec![1.0; grad.len()], nan] {
        if fast.adam_step(&mut adam, &bad).is_ok() || fast.parameters() != before {
            return Err("a bad gradient was applied".into());
        }
    }
    Ok(())
}
