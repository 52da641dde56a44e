//! The few vector and matrix operations the samplers need (row-major, no allocation).

/// x · y.
pub(crate) fn dot(x: &[f64], y: &[f64]) -> f64 {
    x.iter().zip(y).map(|(a, b)| a * b).sum()
}

/// p · (a + b), without forming a + b.
pub(crate) fn dot_sum(p: &[f64], a: &[f64], b: &[f64]) -> f64 {
    p.iter().zip(a).zip(b).map(|((p, a), b)| p * (a + b)).sum()
}

/// y += alpha · x.
pub(crate) fn axpy(alpha: f64, x: &[f64], y: &mut [f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

/// y += x.
pub(crate) fn add_assign(y: &mut [f64], x: &[f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += xi;
    }
}

/// out = A x for a row-major n × n matrix A.
pub(crate) fn matvec(a: &[f64], x: &[f64], out: &mut [f64]) {
    let n = x.len();
    for (row, o) in a.chunks_exact(n).zip(out.iter_mut()) {
        *o = dot(row, x);
    }
}

/// The lower Cholesky factor L (row-major, A = L Lᵀ) of a symmetric positive definite
/// n × n matrix, or `None` when A is not numerically positive definite.
pub(crate) fn cholesky(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let s = a[i * n + j] - dot(&l[i * n..i * n + j], &l[j * n..j * n + j]);
            if i == j {
                if !(s > 0.0 && s.is_finite()) {
                    return None;
                }
                l[i * n + i] = s.sqrt();
            } else {
                l[i * n + j] = s / l[j * n + j];
            }
        }
    }
    Some(l)
}

/// Solves Lᵀ x = z in place (x overwrites z) for the lower-triangular row-major L.
pub(crate) fn solve_lower_transpose_in_place(l: &[f64], z: &mut [f64]) {
    let n = z.len();
    for i in (0..n).rev() {
        let mut s = z[i];
        for j in i + 1..n {
            s -= l[j * n + i] * z[j];
        }
        z[i] = s / l[i * n + i];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_reconstructs_and_solves() {
        let a = [4.0, 2.0, 0.4, 2.0, 5.0, 1.0, 0.4, 1.0, 3.0];
        let l = cholesky(&a, 3).expect("positive definite");
        for i in 0..3 {
            for j in 0..3 {
                let s: f64 = (0..3).map(|k| l[i * 3 + k] * l[j * 3 + k]).sum();
                assert!((s - a[i * 3 + j]).abs() < 1e-12);
            }
        }
        let x = [0.3, -1.0, 2.0];
        let mut z = [0.0; 3];
        // z = Lᵀ x
        for (i, zi) in z.iter_mut().enumerate() {
            *zi = (0..3).map(|k| l[k * 3 + i] * x[k]).sum();
        }
        solve_lower_transpose_in_place(&l, &mut z);
        for (a, b) in z.iter().zip(&x) {
            assert!((a - b).abs() < 1e-12);
        }
        assert!(cholesky(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
    }
}
