//! Effective sample size from the autocovariance of several chains: Geyer's
//! initial monotone sequence, as ArviZ's `_ess` (Vehtari et al. 2021, eq. 10–11).

use std::f64::consts::TAU;

/// `np.finfo(float).resolution`: ArviZ treats draws spanning less than this as constant.
const CONSTANT_RESOLUTION: f64 = 1e-15;

/// A radix-2 complex FFT of one power-of-two length, with its twiddle factors
/// computed directly (not by recurrence) so every factor is accurate to an ulp.
struct Fft {
    len: usize,
    cos: Vec<f64>,
    sin: Vec<f64>,
}

impl Fft {
    fn new(len: usize) -> Self {
        debug_assert!(len.is_power_of_two());
        let half = len / 2;
        let angle = |k: usize| TAU * k as f64 / len as f64;
        Fft {
            len,
            cos: (0..half).map(|k| angle(k).cos()).collect(),
            sin: (0..half).map(|k| angle(k).sin()).collect(),
        }
    }

    /// In place: X_k = Σ_j x_j e^{−2πijk/len}.
    fn forward(&self, re: &mut [f64], im: &mut [f64]) {
        let n = self.len;
        // Bit-reversal permutation.
        let mut j = 0;
        for i in 1..n {
            let mut bit = n >> 1;
            while j & bit != 0 {
                j ^= bit;
                bit >>= 1;
            }
            j |= bit;
            if i < j {
                re.swap(i, j);
                im.swap(i, j);
            }
        }
        let mut size = 2;
        while size <= n {
            let half = size / 2;
            let stride = n / size;
            for start in (0..n).step_by(size) {
                for k in 0..half {
                    let (wr, wi) = (self.cos[k * stride], -self.sin[k * stride]);
                    let (a, b) = (start + k, start + k + half);
                    let tr = re[b] * wr - im[b] * wi;
                    let ti = re[b] * wi + im[b] * wr;
                    re[b] = re[a] - tr;
                    im[b] = im[a] - ti;
                    re[a] += tr;
                    im[a] += ti;
                }
            }
            size *= 2;
        }
    }
}

/// Autocovariances at every lag 0..n (divisor n) of one or two chains, as
/// ArviZ's `autocov`: each chain is centred and zero-padded to at least 2n (so
/// the circular correlation is the linear one), transformed, squared in modulus
/// and transformed back. Two real chains share one complex transform each way,
/// as the real and imaginary parts.
fn autocov_pair(
    fft: &Fft,
    a: &[f64],
    b: Option<&[f64]>,
    re: &mut [f64],
    im: &mut [f64],
) -> [Vec<f64>; 2] {
    let n = a.len();
    re.fill(0.0);
    im.fill(0.0);
    let ma = mean(a);
    for (r, &v) in re.iter_mut().zip(a) {
        *r = v - ma;
    }
    if let Some(b) = b {
        let mb = mean(b);
        for (i, &v) in im.iter_mut().zip(b) {
            *i = v - mb;
        }
    }
    fft.forward(re, im);
    // With Z = A + iB for real a, b: A_k = (Z_k + conj Z_{−k})/2 and
    // B_k = (Z_k − conj Z_{−k})/(2i). Store |A_k|² as real, |B_k|² as imaginary part.
    let len = fft.len;
    for k in 0..=len / 2 {
        let j = (len - k) % len;
        let (p, q, r, s) = (re[k], im[k], re[j], im[j]);
        let power_a = ((p + r) * (p + r) + (q - s) * (q - s)) / 4.0;
        let power_b = ((p - r) * (p - r) + (q + s) * (q + s)) / 4.0;
        re[k] = power_a;
        re[j] = power_a;
        im[k] = power_b;
        im[j] = power_b;
    }
    // Each power spectrum is real and even, so its forward transform is real and
    // equals len × its inverse transform.
    fft.forward(re, im);
    let scale = 1.0 / (len as f64 * n as f64);
    [
        re[..n].iter().map(|&c| c * scale).collect(),
        im[..n].iter().map(|&c| c * scale).collect(),
    ]
}

/// The mean of non-empty `x`, summed relative to `x[0]`: exact for constant
/// input, so a constant chain has exactly zero variance. (ArviZ's numpy sums
/// happen to give exact zeros for its test cases too; this makes it certain.)
pub(crate) fn mean(x: &[f64]) -> f64 {
    let x0 = x[0];
    x0 + x.iter().map(|&v| v - x0).sum::<f64>() / x.len() as f64
}

/// Sample variance with `ddof` (numpy's two-pass `np.var`).
pub(crate) fn variance(x: &[f64], ddof: usize) -> f64 {
    let m = mean(x);
    x.iter().map(|&v| (v - m) * (v - m)).sum::<f64>() / (x.len() - ddof) as f64
}

/// ArviZ's `_ess` on already split (and maybe transformed) chains of equal length ≥ 2.
///
/// Draws that span less than 1e-15 count as fully independent (the ESS is the
/// number of draws), as in ArviZ; a NaN autocorrelation gives NaN.
pub(crate) fn ess_of_split(chains: &[Vec<f64>]) -> f64 {
    let n_chain = chains.len();
    let n_draw = chains[0].len();
    let size = (n_chain * n_draw) as f64;
    let (min, max) = chains
        .iter()
        .flatten()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    if max - min < CONSTANT_RESOLUTION {
        return size;
    }

    let fft = Fft::new((2 * n_draw).next_power_of_two());
    let mut re = vec![0.0; fft.len];
    let mut im = vec![0.0; fft.len];
    let mut acov_mean = vec![0.0; n_draw];
    for pair in chains.chunks(2) {
        let second = pair.get(1).map(Vec::as_slice);
        let acovs = autocov_pair(&fft, &pair[0], second, &mut re, &mut im);
        for acov in &acovs[..pair.len()] {
            for (m, a) in acov_mean.iter_mut().zip(acov) {
                *m += a;
            }
        }
    }
    let chain_mean: Vec<f64> = chains.iter().map(|c| mean(c)).collect();
    for m in &mut acov_mean {
        *m /= n_chain as f64;
    }

    let n = n_draw as f64;
    let mean_var = acov_mean[0] * n / (n - 1.0);
    let mut var_plus = mean_var * (n - 1.0) / n;
    if n_chain > 1 {
        var_plus += variance(&chain_mean, 1);
    }
    let rho = |lag: usize| 1.0 - (mean_var - acov_mean[lag]) / var_plus;

    let mut rho_hat = vec![0.0; n_draw];
    let mut rho_even = 1.0;
    rho_hat[0] = rho_even;
    let mut rho_odd = rho(1);
    rho_hat[1] = rho_odd;

    // Geyer's initial positive sequence: sum pairs while their sum is positive.
    let mut t = 1;
    while t + 3 < n_draw && rho_even + rho_odd > 0.0 {
        rho_even = rho(t + 1);
        rho_odd = rho(t + 2);
        if rho_even + rho_odd >= 0.0 {
            rho_hat[t + 1] = rho_even;
            rho_hat[t + 2] = rho_odd;
        }
        t += 2;
    }
    // ArviZ's max_t = t − 2 may be −1; keep max_t + 1 (≥ 0) instead.
    let last = t - 1;
    if rho_even > 0.0 {
        rho_hat[last] = rho_even;
    }
    // Geyer's initial monotone sequence: pair sums must not increase.
    let mut t = 1;
    while t + 3 <= last {
        if rho_hat[t + 1] + rho_hat[t + 2] > rho_hat[t - 1] + rho_hat[t] {
            rho_hat[t + 1] = (rho_hat[t - 1] + rho_hat[t]) / 2.0;
            rho_hat[t + 2] = rho_hat[t + 1];
        }
        t += 2;
    }

    let tau_hat = -1.0 + 2.0 * rho_hat[..last].iter().sum::<f64>() + rho_hat[last];
    // Python's max(tau_hat, bound) keeps a NaN tau_hat.
    let bound = 1.0 / size.log10();
    let tau_hat = if bound > tau_hat { bound } else { tau_hat };
    if tau_hat.is_nan() || rho_hat.iter().any(|r| r.is_nan()) {
        return f64::NAN;
    }
    size / tau_hat
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fft_autocov_equals_direct_sum() {
        let wave = |k: usize| -> Vec<f64> {
            (0..37)
                .map(|i| ((i * k) % 101) as f64 / 10.0 - 5.0)
                .collect()
        };
        let (a, b) = (wave(7919), wave(104_729));
        let n = a.len();
        let fft = Fft::new((2 * n).next_power_of_two());
        let (mut re, mut im) = (vec![0.0; fft.len], vec![0.0; fft.len]);
        let paired = autocov_pair(&fft, &a, Some(&b), &mut re, &mut im);
        let [alone, _] = autocov_pair(&fft, &b, None, &mut re, &mut im);
        for (x, fast) in [(&a, &paired[0]), (&b, &paired[1]), (&b, &alone)] {
            let m = x.iter().sum::<f64>() / n as f64;
            for (lag, f) in fast.iter().enumerate() {
                let direct = (0..n - lag)
                    .map(|i| (x[i] - m) * (x[i + lag] - m))
                    .sum::<f64>()
                    / n as f64;
                assert!((f - direct).abs() < 1e-13, "lag {lag}: {f} vs {direct}");
            }
        }
    }

    #[test]
    fn constant_draws_count_as_independent() {
        let chains = vec![vec![2.0; 5]; 3];
        assert_eq!(ess_of_split(&chains), 15.0);
    }
}
