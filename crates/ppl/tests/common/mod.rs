//! Shared test helpers: finite-difference gradient checks, Monte-Carlo moment checks,
//! and named tolerances (statrs' `prec` habit: no bare magic numbers in tests).
#![allow(dead_code)]

use ppl::{Distribution, Operand, Shape, Tape, Var};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Relative tolerance for comparing log densities with an independent implementation.
pub const LOGPDF_RTOL: f64 = 1e-10;
/// Central finite-difference step (relative to max(1, |x|)).
pub const FD_STEP: f64 = 1e-6;
/// Tolerance of a central difference with step 1e-6 on smooth functions of moderate
/// curvature: truncation O(h²·f''') plus rounding O(ε/h) ≈ 1e-10, with margin.
pub const FD_TOL: f64 = 1e-5;
/// Monte-Carlo budget: sample means must be within this many standard errors.
pub const MC_SIGMAS: f64 = 5.0;

/// A fixed-seed RNG.
pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// Central finite difference of `f` along coordinate `i` of `x`.
pub fn central_diff(f: &dyn Fn(&[f64]) -> f64, x: &[f64], i: usize) -> f64 {
    let h = FD_STEP * x[i].abs().max(1.0);
    let mut xp = x.to_vec();
    let mut xm = x.to_vec();
    xp[i] += h;
    xm[i] -= h;
    (f(&xp) - f(&xm)) / (2.0 * (xp[i] - x[i]))
}

/// Asserts |a − b| ≤ tol·(1 + |b|).
pub fn assert_close(a: f64, b: f64, tol: f64, what: &str) {
    assert!(
        (a - b).abs() <= tol * (1.0 + b.abs()),
        "{what}: {a} vs {b} (diff {:e}, tol {tol:e})",
        (a - b).abs()
    );
}

/// Checks the tape gradient of Σ log_prob against central differences, in every
/// parameter (scalar, each a tape variable) and — if `wrt_value` — in the value.
///
/// `make(params)` builds the distribution from tape scalars.
pub fn check_gradient<F>(make: F, params: &[f64], value: f64, wrt_value: bool)
where
    F: for<'t> Fn(&[Var<'t>]) -> Box<dyn Distribution<'t> + 't>,
{
    let eval = |all: &[f64]| -> f64 {
        let tape = Tape::new();
        let ps: Vec<Var<'_>> = all[..params.len()]
            .iter()
            .map(|&p| tape.scalar(p))
            .collect();
        let d = make(&ps);
        let x = tape.scalar(all[params.len()]);
        d.log_prob(&tape, Operand::Var(x)).sum().scalar()
    };
    let mut all = params.to_vec();
    all.push(value);
    let tape = Tape::new();
    let ps: Vec<Var<'_>> = params.iter().map(|&p| tape.scalar(p)).collect();
    let d = make(&ps);
    let x = tape.scalar(value);
    let lp = d.log_prob(&tape, Operand::Var(x)).sum();
    tape.backward(lp).unwrap();
    let mut grads: Vec<f64> = ps.iter().map(|p| p.grad()[0]).collect();
    if wrt_value {
        grads.push(x.grad()[0]);
    }
    for (i, &g) in grads.iter().enumerate() {
        let fd = central_diff(&eval, &all, i);
        assert_close(g, fd, FD_TOL, &format!("{} ∂/∂arg{i} at {all:?}", d.name()));
    }
}

/// Draws `n` samples of a scalar distribution (batch shape scalar) and checks that
/// the sample mean is within [`MC_SIGMAS`] standard errors of `mean`, and the sample
/// variance within [`MC_SIGMAS`] standard errors of `var` (using the fourth central
/// moment estimate for the variance's standard error).
pub fn check_moments(d: &dyn Distribution<'_>, n: usize, seed: u64) {
    let mean = d.mean().expect("closed-form mean")[0];
    let var = d.variance().expect("closed-form variance")[0];
    let mut r = rng(seed);
    let xs: Vec<f64> = (0..n).map(|_| d.sample(&mut r)[0]).collect();
    let m = xs.iter().sum::<f64>() / n as f64;
    let v = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n as f64 - 1.0);
    let m4 = xs.iter().map(|x| (x - m).powi(4)).sum::<f64>() / n as f64;
    let se_mean = (var / n as f64).sqrt();
    let se_var = ((m4 - v * v) / n as f64).sqrt();
    assert!(
        (m - mean).abs() <= MC_SIGMAS * se_mean,
        "{}: sample mean {m} vs {mean} (se {se_mean})",
        d.name()
    );
    assert!(
        (v - var).abs() <= MC_SIGMAS * se_var,
        "{}: sample variance {v} vs {var} (se {se_var})",
        d.name()
    );
}

/// log p(x) for a constant scalar value, as an f64.
pub fn lp<'t>(d: &dyn Distribution<'t>, tape: &'t Tape, x: f64) -> f64 {
    d.log_prob(tape, Operand::Scalar(x)).scalar()
}

/// The shape of a scalar batch.
pub fn scalar() -> Shape {
    Shape::SCALAR
}

/// Asserts two log densities agree: equal if either is infinite, else to [`LOGPDF_RTOL`].
pub fn assert_logpdf(a: f64, b: f64, what: &str) {
    if a.is_infinite() || b.is_infinite() {
        assert_eq!(a, b, "{what}");
    } else {
        assert_close(a, b, LOGPDF_RTOL, what);
    }
}

/// Checks the tape gradient of a scalar function of a flat vector along each direction
/// `v` in `dirs` (∇f·v) against the central difference (f(x + hv) − f(x − hv)) / 2h,
/// with h = [`FD_STEP`]·max(1, |xᵢ|) over the coordinates `v` moves.
///
/// `f` receives `x` as one tape vector; slice and reshape it into the parameters.
/// Directions let a check stay on a constraint set (e.g. eᵢ − eⱼ on a simplex).
pub fn check_gradient_along<F>(f: F, x: &[f64], dirs: &[Vec<f64>], what: &str)
where
    F: for<'t> Fn(Var<'t>) -> Var<'t>,
{
    let eval = |y: &[f64]| -> f64 {
        let tape = Tape::new();
        f(tape.vector(y)).scalar()
    };
    let tape = Tape::new();
    let xv = tape.vector(x);
    let out = f(xv);
    tape.backward(out).unwrap();
    let g = xv.grad();
    for v in dirs {
        let scale = x
            .iter()
            .zip(v)
            .filter(|(_, v)| **v != 0.0)
            .map(|(x, _)| x.abs())
            .fold(1.0, f64::max);
        let h = FD_STEP * scale;
        let shifted =
            |s: f64| -> Vec<f64> { x.iter().zip(v).map(|(x, v)| x + s * h * v).collect() };
        let fd = (eval(&shifted(1.0)) - eval(&shifted(-1.0))) / (2.0 * h);
        let analytic: f64 = g.iter().zip(v).map(|(g, v)| g * v).sum();
        assert_close(analytic, fd, FD_TOL, &format!("{what}: ∇f·{v:?} at {x:?}"));
    }
}

/// The unit vectors e₀ … e_{n−1}.
pub fn unit_vectors(n: usize) -> Vec<Vec<f64>> {
    (0..n)
        .map(|i| (0..n).map(|j| if i == j { 1.0 } else { 0.0 }).collect())
        .collect()
}

/// Mean, variance and (n − 1)-normalized fourth-moment standard error of the variance
/// of `xs`: the statistics behind [`check_moments`].
pub fn sample_stats(xs: &[f64]) -> (f64, f64, f64) {
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    let v = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
    let m4 = xs.iter().map(|x| (x - m).powi(4)).sum::<f64>() / n;
    (m, v, ((m4 - v * v) / n).sqrt())
}

/// [`check_moments`] for every component of a multivariate (or batched) distribution:
/// draws `n` samples and checks each component's sample mean and variance against
/// `mean()` and `variance()` within [`MC_SIGMAS`] standard errors. Returns the draws,
/// `n` rows of `batch_len × event_len` values.
pub fn check_component_moments(d: &dyn Distribution<'_>, n: usize, seed: u64) -> Vec<Vec<f64>> {
    let mean = d.mean().expect("closed-form mean");
    let var = d.variance().expect("closed-form variance");
    let mut r = rng(seed);
    let draws: Vec<Vec<f64>> = (0..n).map(|_| d.sample(&mut r)).collect();
    for c in 0..mean.len() {
        let xs: Vec<f64> = draws.iter().map(|row| row[c]).collect();
        let (m, v, se_var) = sample_stats(&xs);
        let se_mean = (var[c] / n as f64).sqrt();
        assert!(
            (m - mean[c]).abs() <= MC_SIGMAS * se_mean,
            "{} component {c}: sample mean {m} vs {} (se {se_mean})",
            d.name(),
            mean[c]
        );
        assert!(
            (v - var[c]).abs() <= MC_SIGMAS * se_var,
            "{} component {c}: sample variance {v} vs {} (se {se_var})",
            d.name(),
            var[c]
        );
    }
    draws
}
