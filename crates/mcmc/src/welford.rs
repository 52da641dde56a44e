//! Streaming (co)variance estimates of the warm-up draws (Welford 1962), as Stan's
//! `welford_var_estimator` and `welford_covar_estimator`.

/// Running mean and sum of squared deviations: diagonal (d) or full (d × d).
#[derive(Debug, Clone)]
pub(crate) struct Welford {
    n: usize,
    mean: Vec<f64>,
    m2: Vec<f64>,
    dense: bool,
    delta: Vec<f64>,
}

impl Welford {
    /// An empty estimator of the variances (`dense == false`) or the covariance.
    pub(crate) fn new(dim: usize, dense: bool) -> Self {
        Self {
            n: 0,
            mean: vec![0.0; dim],
            m2: vec![0.0; if dense { dim * dim } else { dim }],
            dense,
            delta: vec![0.0; dim],
        }
    }

    /// Forgets every draw.
    pub(crate) fn restart(&mut self) {
        self.n = 0;
        self.mean.fill(0.0);
        self.m2.fill(0.0);
    }

    /// Draws added since the last restart.
    pub(crate) fn count(&self) -> usize {
        self.n
    }

    /// Adds one draw.
    pub(crate) fn add(&mut self, x: &[f64]) {
        self.n += 1;
        let inv_n = 1.0 / self.n as f64;
        for ((d, m), xi) in self.delta.iter_mut().zip(self.mean.iter_mut()).zip(x) {
            *d = xi - *m;
            *m += *d * inv_n;
        }
        if self.dense {
            // m2 += (x − mean_old)(x − mean_new)ᵀ, with x − mean_new = (1 − 1/n)·delta.
            let dim = x.len();
            let scale = 1.0 - inv_n;
            for (i, row) in self.m2.chunks_exact_mut(dim).enumerate() {
                let di = self.delta[i];
                for (r, dj) in row.iter_mut().zip(&self.delta) {
                    // (dᵢ·dⱼ)·s keeps the estimate exactly symmetric.
                    *r += di * dj * scale;
                }
            }
        } else {
            for ((s, d), (xi, m)) in self
                .m2
                .iter_mut()
                .zip(&self.delta)
                .zip(x.iter().zip(&self.mean))
            {
                *s += d * (xi - m);
            }
        }
    }

    /// Sums of squared deviations from the mean (diagonal, or row-major d × d).
    pub(crate) fn m2(&self) -> &[f64] {
        &self.m2
    }

    /// Sample (co)variance m2 / (n − 1) (zero for fewer than two draws).
    pub(crate) fn estimate(&self) -> Vec<f64> {
        if self.n < 2 {
            return vec![0.0; self.m2.len()];
        }
        let c = 1.0 / (self.n as f64 - 1.0);
        self.m2.iter().map(|v| v * c).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_two_pass_estimates() {
        let xs = [[1.0, 2.0], [2.0, 1.5], [4.0, -1.0], [0.5, 0.0]];
        let mut diag = Welford::new(2, false);
        let mut dense = Welford::new(2, true);
        for x in &xs {
            diag.add(x);
            dense.add(x);
        }
        let n = xs.len() as f64;
        let mean = [
            xs.iter().map(|x| x[0]).sum::<f64>() / n,
            xs.iter().map(|x| x[1]).sum::<f64>() / n,
        ];
        let cov = |i: usize, j: usize| {
            xs.iter()
                .map(|x| (x[i] - mean[i]) * (x[j] - mean[j]))
                .sum::<f64>()
                / (n - 1.0)
        };
        let d = diag.estimate();
        let c = dense.estimate();
        for i in 0..2 {
            assert!((d[i] - cov(i, i)).abs() < 1e-12);
            for j in 0..2 {
                assert!((c[i * 2 + j] - cov(i, j)).abs() < 1e-12);
            }
        }
        assert_eq!(diag.count(), 4);
        diag.restart();
        assert_eq!(diag.count(), 0);
    }
}
