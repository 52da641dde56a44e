//! The few vector and matrix operations the samplers need (row-major, no allocation).

/// Independent partial sums of the reductions below: a single running sum is one long
/// chain of dependent additions (latency-bound, about 4 cycles an element); eight lanes
/// let the compiler keep several additions in flight and use SIMD.
pub(crate) const LANES: usize = 8;

/// x · y.
pub(crate) fn dot(x: &[f64], y: &[f64]) -> f64 {
    let ((xc, xt), (yc, yt)) = (x.as_chunks::<LANES>(), y.as_chunks::<LANES>());
    let mut acc = [0.0; LANES];
    for (a, b) in xc.iter().zip(yc) {
        for k in 0..LANES {
            acc[k] += a[k] * b[k];
        }
    }
    acc.iter().sum::<f64>() + xt.iter().zip(yt).map(|(a, b)| a * b).sum::<f64>()
}

/// (p · (a + b), r · (a + b)) in one pass.
pub(crate) fn dot_sum2(p: &[f64], r: &[f64], a: &[f64], b: &[f64]) -> (f64, f64) {
    let ((pc, pt), (rc, rt)) = (p.as_chunks::<LANES>(), r.as_chunks::<LANES>());
    let ((ac, at), (bc, bt)) = (a.as_chunks::<LANES>(), b.as_chunks::<LANES>());
    let mut acc_p = [0.0; LANES];
    let mut acc_r = [0.0; LANES];
    for (((p, r), a), b) in pc.iter().zip(rc).zip(ac).zip(bc) {
        for k in 0..LANES {
            let s = a[k] + b[k];
            acc_p[k] += p[k] * s;
            acc_r[k] += r[k] * s;
        }
    }
    for (((p, r), a), b) in pt.iter().zip(rt).zip(at).zip(bt) {
        let s = a + b;
        acc_p[0] += p * s;
        acc_r[0] += r * s;
    }
    (acc_p.iter().sum(), acc_r.iter().sum())
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

    #[test]
    fn lane_sums_match_plain_sums() {
        for n in [0, 1, 7, 8, 9, 100] {
            let x: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin()).collect();
            let y: Vec<f64> = (0..n).map(|i| (i as f64 * 0.11).cos()).collect();
            let z: Vec<f64> = (0..n).map(|i| 1.0 / (1.0 + i as f64)).collect();
            let plain: f64 = x.iter().zip(&y).map(|(a, b)| a * b).sum();
            let plain_sum: f64 = x
                .iter()
                .zip(&y)
                .zip(&z)
                .map(|((p, a), b)| p * (a + b))
                .sum();
            assert!((dot(&x, &y) - plain).abs() < 1e-12);
            let (s1, s2) = dot_sum2(&x, &z, &y, &z);
            let plain_2: f64 = z
                .iter()
                .zip(&y)
                .zip(&z)
                .map(|((p, a), b)| p * (a + b))
                .sum();
            assert!((s1 - plain_sum).abs() < 1e-12 && (s2 - plain_2).abs() < 1e-12);
        }
    }
}
