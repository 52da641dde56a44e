//! Hand-written f64 log densities and gradients on the unconstrained scale: the
//! independent references for the tape (tests) and the baselines of the benchmark.
#![allow(dead_code)]

use ppl::cookies::Cookies;
use ppl::special::{LN_SQRT_2PI, digamma, ln_gamma};

/// log Gamma(x | shape a, rate b).
pub fn gamma_lp(x: f64, a: f64, b: f64) -> f64 {
    a * b.ln() - ln_gamma(a) + (a - 1.0) * x.ln() - b * x
}

/// The hierarchical cookie model on the unconstrained scale, by hand:
/// u = (ln mu, ln sigma, ln lam_1..5); returns the log density and its gradient.
pub fn hierarchical_by_hand(data: &Cookies, u: &[f64]) -> (f64, Vec<f64>) {
    let (mu, s) = (u[0].exp(), u[1].exp());
    let lam: Vec<f64> = u[2..].iter().map(|v| v.exp()).collect();
    let (a, b) = (mu * mu / (s * s), mu / (s * s));
    let mut lp = gamma_lp(mu, 2.0, 0.2) + u[0] + (-s) + u[1];
    let mut g = vec![0.0; u.len()];
    // d/dmu, d/ds in the constrained scale first.
    let mut dmu = 1.0 / mu - 0.2;
    let mut ds = -1.0;
    for (l, &lm) in lam.iter().enumerate() {
        lp += gamma_lp(lm, a, b) + u[2 + l];
        let (da, db) = (b.ln() - digamma(a) + lm.ln(), a / b - lm);
        dmu += da * 2.0 * mu / (s * s) + db / (s * s);
        ds += da * (-2.0 * mu * mu / s.powi(3)) + db * (-2.0 * mu / s.powi(3));
        g[2 + l] = ((a - 1.0) / lm - b) * lm + 1.0;
    }
    for (&x, &l) in data.chips.iter().zip(&data.location) {
        lp += x * lam[l].ln() - lam[l] - ln_gamma(x + 1.0);
        g[2 + l] += (x / lam[l] - 1.0) * lam[l];
    }
    g[0] = dmu * mu + 1.0;
    g[1] = ds * s + 1.0;
    (lp, g)
}

/// Hierarchical normal model by hand: `mu ~ N(0, 5)`, `tau ~ Exponential(1)`,
/// `theta_g ~ N(mu, tau)`, `y_i ~ N(theta_{g_i}, 1)`; u = (mu, ln tau, theta_1..G).
pub fn hier_normal_by_hand(y: &[f64], group: &[usize], u: &[f64], g: &mut [f64]) -> f64 {
    let (mu, tau) = (u[0], u[1].exp());
    let theta = &u[2..];
    g.fill(0.0);
    let mut lp = -0.5 * (mu / 5.0).powi(2) - 5f64.ln() - LN_SQRT_2PI;
    g[0] = -mu / 25.0;
    lp += -tau + u[1];
    let mut dtau = -1.0;
    for (k, &t) in theta.iter().enumerate() {
        let z = (t - mu) / tau;
        lp += -0.5 * z * z - tau.ln() - LN_SQRT_2PI;
        g[0] += z / tau;
        dtau += (z * z - 1.0) / tau;
        g[2 + k] = -z / tau;
    }
    g[1] = dtau * tau + 1.0;
    for (&yi, &k) in y.iter().zip(group) {
        let r = yi - theta[k];
        lp += -0.5 * r * r - LN_SQRT_2PI;
        g[2 + k] += r;
    }
    lp
}
