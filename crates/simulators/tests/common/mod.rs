//! Shared helpers of the integration tests: seeded generators, sample
//! moments and the tolerances the statistical checks use.

#![allow(dead_code)]

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// A Monte-Carlo estimate may be this many standard errors from its target.
/// With fixed seeds the tests are deterministic; 4.5 standard errors leaves
/// room for a change of random stream without flaky failures (a false alarm
/// has probability ≈ 7e-6 per comparison).
pub const Z_BUDGET: f64 = 4.5;

/// Floating-point agreement of two computations of the same closed form.
pub const EXACT: f64 = 1e-12;

/// A reproducible generator.
pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// Sample mean and variance (n − 1 denominator).
pub fn mean_var(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0);
    (mean, var)
}

/// Column `j` of a row-major matrix with `cols` columns.
pub fn column(rows: &[f64], cols: usize, j: usize) -> Vec<f64> {
    rows.iter().skip(j).step_by(cols).copied().collect()
}

/// Asserts that the sample mean of `values` is within [`Z_BUDGET`] standard
/// errors of `mean`, using the known variance `var` of one value.
pub fn assert_mean(what: &str, values: &[f64], mean: f64, var: f64) {
    let (m, _) = mean_var(values);
    let se = (var / values.len() as f64).sqrt();
    let z = (m - mean) / se;
    assert!(
        z.abs() < Z_BUDGET,
        "{what}: sample mean {m} vs {mean} (z = {z:.2}, n = {})",
        values.len()
    );
}

/// Asserts that the sample variance of `values` is within [`Z_BUDGET`]
/// standard errors of `var`, the standard error taken as var·√(2/(n−1))
/// (exact for normal data; `kurtosis_excess` widens it for other shapes).
pub fn assert_var(what: &str, values: &[f64], var: f64, kurtosis_excess: f64) {
    let (_, v) = mean_var(values);
    let n = values.len() as f64;
    let se = var * ((2.0 + kurtosis_excess) / (n - 1.0)).sqrt();
    let z = (v - var) / se;
    assert!(
        z.abs() < Z_BUDGET,
        "{what}: sample variance {v} vs {var} (z = {z:.2}, n = {n})"
    );
}

/// |a − b| ≤ tol · max(1, |b|).
pub fn assert_close(what: &str, a: f64, b: f64, tol: f64) {
    assert!(
        (a - b).abs() <= tol * b.abs().max(1.0),
        "{what}: {a} vs {b} (tolerance {tol})"
    );
}
