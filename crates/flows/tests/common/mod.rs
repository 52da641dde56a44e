//! Shared helpers of the integration tests: named tolerances, finite differences.
#![allow(dead_code)]

use flows::{ConditionalDensity, Rows, RowsView, Trainable};
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
        let mut qp = q.clone();
        qp.parameters_mut()[i] = p0 + h;
        let mut qm = q.clone();
        qm.parameters_mut()[i] = p0 - h;
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
