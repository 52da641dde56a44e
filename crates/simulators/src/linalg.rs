//! Small dense symmetric positive definite algebra (row-major `n × n`), enough
//! for the Gaussian priors and posteriors of the benchmark tasks (n ≤ 10s).

/// The lower Cholesky factor L of a symmetric positive definite `a` (a = L Lᵀ),
/// or `None` when `a` is not (numerically) positive definite or not symmetric.
pub(crate) fn cholesky(a: &[f64], n: usize) -> Option<Vec<f64>> {
    if a.len() != n * n || a.iter().any(|v| !v.is_finite()) {
        return None;
    }
    for i in 0..n {
        for j in 0..i {
            let (u, v) = (a[i * n + j], a[j * n + i]);
            if (u - v).abs() > 1e-12 * (1.0 + u.abs().max(v.abs())) {
                return None;
            }
        }
    }
    cholesky_core(a, n, false)
}

/// The Cholesky factor of a matrix known to be symmetric positive definite (a
/// built-in constant): never fails; a pivot that is not positive, which such
/// a matrix does not have, would be replaced by the smallest positive f64.
pub(crate) fn cholesky_trusted(a: &[f64], n: usize) -> Vec<f64> {
    cholesky_core(a, n, true).unwrap_or_else(|| vec![0.0; n * n])
}

fn cholesky_core(a: &[f64], n: usize, clamp: bool) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum();
            let a_ij = a.get(i * n + j).copied().unwrap_or(0.0);
            if i == j {
                let mut d = a_ij - s;
                if !(d > 0.0 && d.is_finite()) {
                    if !clamp {
                        return None;
                    }
                    d = f64::MIN_POSITIVE;
                }
                l[i * n + i] = d.sqrt();
            } else {
                l[i * n + j] = (a_ij - s) / l[j * n + j];
            }
        }
    }
    Some(l)
}

/// Solves L z = b for lower-triangular L, in place.
pub(crate) fn solve_lower(l: &[f64], n: usize, b: &mut [f64]) {
    for i in 0..n {
        let s: f64 = (0..i).map(|k| l[i * n + k] * b[k]).sum();
        b[i] = (b[i] - s) / l[i * n + i];
    }
}

/// Solves Lᵀ z = b for lower-triangular L, in place.
pub(crate) fn solve_lower_transpose(l: &[f64], n: usize, b: &mut [f64]) {
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|k| l[k * n + i] * b[k]).sum();
        b[i] = (b[i] - s) / l[i * n + i];
    }
}

/// The inverse of a = L Lᵀ from its Cholesky factor.
pub(crate) fn inverse_from_cholesky(l: &[f64], n: usize) -> Vec<f64> {
    let mut inv = vec![0.0; n * n];
    let mut col = vec![0.0; n];
    for j in 0..n {
        col.iter_mut().for_each(|c| *c = 0.0);
        col[j] = 1.0;
        solve_lower(l, n, &mut col);
        solve_lower_transpose(l, n, &mut col);
        for i in 0..n {
            inv[i * n + j] = col[i];
        }
    }
    // Exact symmetry, so the result passes `cholesky`'s check.
    for i in 0..n {
        for j in 0..i {
            let m = 0.5 * (inv[i * n + j] + inv[j * n + i]);
            inv[i * n + j] = m;
            inv[j * n + i] = m;
        }
    }
    inv
}

/// log det(a) = 2 Σ ln L_ii from a's Cholesky factor.
pub(crate) fn log_det_from_cholesky(l: &[f64], n: usize) -> f64 {
    2.0 * (0..n).map(|i| l[i * n + i].ln()).sum::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_inverse_and_log_det_of_a_3x3() {
        let a = [4.0, 2.0, 0.4, 2.0, 5.0, 1.0, 0.4, 1.0, 3.0];
        let l = cholesky(&a, 3).expect("positive definite");
        // L Lᵀ reproduces a.
        for i in 0..3 {
            for j in 0..3 {
                let s: f64 = (0..3).map(|k| l[i * 3 + k] * l[j * 3 + k]).sum();
                assert!((s - a[i * 3 + j]).abs() < 1e-12);
            }
        }
        let inv = inverse_from_cholesky(&l, 3);
        for i in 0..3 {
            for j in 0..3 {
                let s: f64 = (0..3).map(|k| a[i * 3 + k] * inv[k * 3 + j]).sum();
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((s - want).abs() < 1e-12);
            }
        }
        // det by cofactor expansion: 4(15-1) - 2(6-0.4) + 0.4(2-2) = 44.8
        assert!((log_det_from_cholesky(&l, 3) - 44.8f64.ln()).abs() < 1e-12);
    }

    #[test]
    fn cholesky_refuses_indefinite_asymmetric_and_nan() {
        assert!(cholesky(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
        assert!(cholesky(&[1.0, 0.5, 0.0, 1.0], 2).is_none());
        assert!(cholesky(&[1.0, f64::NAN, f64::NAN, 1.0], 2).is_none());
        assert!(cholesky(&[1.0, 0.0, 0.0], 2).is_none());
    }
}
