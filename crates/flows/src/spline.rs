//! The rational-quadratic spline of Durkan et al. (2019), as nflows'
//! `unconstrained_rational_quadratic_spline` with linear tails: monotone on
//! [−B, B] with K bins, the identity outside, derivative 1 at ±B.
//!
//! Parameters per feature (nflows' order): K unnormalized widths, K unnormalized
//! heights (both divided by √hidden before the softmax, as nflows does), K − 1
//! unnormalized inner derivatives. Minimum bin width, height and derivative 10⁻³.
//! The backward pass is hand-derived reverse mode through the softmaxes, the
//! cumulative sums and the rational-quadratic formula.

use crate::nn::{sigmoid, softplus};

/// nflows' `DEFAULT_MIN_BIN_WIDTH`, `DEFAULT_MIN_BIN_HEIGHT`, `DEFAULT_MIN_DERIVATIVE`.
const MIN_BIN: f64 = 1e-3;
const MIN_DERIVATIVE: f64 = 1e-3;
/// Largest number of bins (working arrays live on the stack).
pub(crate) const MAX_BINS: usize = 64;

/// One spline's shape: bins, tail bound and the softmax input scale 1/√hidden.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Spline {
    pub(crate) bins: usize,
    pub(crate) tail_bound: f64,
    pub(crate) input_scale: f64,
}

/// Knots of one spline: cumulative widths and heights, and knot derivatives; per
/// bin its height, slope and inverse width (the rows' maps only look these up).
pub(crate) struct Knots {
    sw: [f64; MAX_BINS],
    sh: [f64; MAX_BINS],
    cw: [f64; MAX_BINS + 1],
    ch: [f64; MAX_BINS + 1],
    d: [f64; MAX_BINS + 1],
    h: [f64; MAX_BINS],
    s: [f64; MAX_BINS],
    w_inv: [f64; MAX_BINS],
}

/// Adjoints of a spline's knots: of the two softmax outputs and of the knot
/// derivatives. A knot position c_i is a sum over the bins before it, so a row in
/// bin i adds its c_i adjoint to every earlier bin's width (height): it is kept as
/// one entry per bin (`cw`, `ch`) and summed over the later bins once, in
/// [`Spline::params_backward`].
pub(crate) struct KnotGrad {
    w: [f64; MAX_BINS],
    h: [f64; MAX_BINS],
    cw: [f64; MAX_BINS],
    ch: [f64; MAX_BINS],
    d: [f64; MAX_BINS + 1],
}

impl KnotGrad {
    pub(crate) fn new() -> Self {
        Self {
            w: [0.0; MAX_BINS],
            h: [0.0; MAX_BINS],
            cw: [0.0; MAX_BINS],
            ch: [0.0; MAX_BINS],
            d: [0.0; MAX_BINS + 1],
        }
    }
}

/// One input's place in a spline and the rational quadratic's parts there: what
/// the forward map computes and the reverse mode reuses.
#[derive(Clone, Copy, Default)]
pub(crate) struct Local {
    /// Inside [−B, B] (else the identity, and the rest is unset).
    inside: bool,
    i: usize,
    w_inv: f64,
    h: f64,
    s: f64,
    d0: f64,
    d1: f64,
    xi: f64,
    t: f64,
    num: f64,
    /// 1/den and 1/dnum (dnum = s² pp), from one division.
    den_inv: f64,
    dnum_inv: f64,
    pp: f64,
    /// The output v.
    pub(crate) v: f64,
    /// dv/du (1 outside): products of these over transforms need one logarithm.
    pub(crate) slope: f64,
}

fn softmax(x: &[f64], scale: f64, out: &mut [f64]) {
    let m = x.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b)) * scale;
    let mut s = 0.0;
    for (o, &v) in out.iter_mut().zip(x) {
        *o = (v * scale - m).exp();
        s += *o;
    }
    out.iter_mut().for_each(|o| *o /= s);
}

impl Spline {
    /// Parameters per feature: 3K − 1.
    pub(crate) fn n_params(&self) -> usize {
        3 * self.bins - 1
    }
    pub(crate) fn knots(&self, p: &[f64]) -> Knots {
        let k = self.bins;
        let b = self.tail_bound;
        let mut kn = Knots {
            sw: [0.0; MAX_BINS],
            sh: [0.0; MAX_BINS],
            cw: [0.0; MAX_BINS + 1],
            ch: [0.0; MAX_BINS + 1],
            d: [1.0; MAX_BINS + 1],
            h: [0.0; MAX_BINS],
            s: [0.0; MAX_BINS],
            w_inv: [0.0; MAX_BINS],
        };
        softmax(&p[..k], self.input_scale, &mut kn.sw[..k]);
        softmax(&p[k..2 * k], self.input_scale, &mut kn.sh[..k]);
        let shrink = 1.0 - MIN_BIN * k as f64;
        kn.cw[0] = -b;
        kn.ch[0] = -b;
        for j in 0..k {
            kn.cw[j + 1] = kn.cw[j] + 2.0 * b * (MIN_BIN + shrink * kn.sw[j]);
            kn.ch[j + 1] = kn.ch[j] + 2.0 * b * (MIN_BIN + shrink * kn.sh[j]);
        }
        kn.cw[k] = b;
        kn.ch[k] = b;
        // d₀ = d_K = min + softplus(ln(e^{1−min} − 1)) = 1: linear tails join smoothly.
        for j in 1..k {
            kn.d[j] = MIN_DERIVATIVE + softplus(p[2 * k + j - 1]);
        }
        for j in 0..k {
            let (w, h) = (kn.cw[j + 1] - kn.cw[j], kn.ch[j + 1] - kn.ch[j]);
            (kn.h[j], kn.s[j], kn.w_inv[j]) = (h, h / w, 1.0 / w);
        }
        kn
    }
    /// Bin of `x` among knots `c[0..=K]` (nflows' `searchsorted`, the last knot
    /// nudged up so x = B falls in the last bin).
    fn bin(&self, c: &[f64], x: f64) -> usize {
        let k = self.bins;
        let n = c[..k].iter().filter(|&&cj| x >= cj).count();
        n.clamp(1, k) - 1
    }
    fn inside(&self, x: f64) -> bool {
        x >= -self.tail_bound && x <= self.tail_bound
    }
    /// (v, log dv/du) at `u` for parameters `p`.
    pub(crate) fn forward(&self, p: &[f64], u: f64) -> (f64, f64) {
        if !self.inside(u) {
            return (u, 0.0);
        }
        self.forward_with(&self.knots(p), u)
    }
    /// (v, log dv/du) at `u` for precomputed knots.
    #[inline]
    pub(crate) fn forward_with(&self, kn: &Knots, u: f64) -> (f64, f64) {
        let l = self.local(kn, u);
        (l.v, l.slope.ln())
    }
    /// The forward map at `u` for precomputed knots, with the parts
    /// [`Spline::backward_local`] needs.
    #[inline]
    pub(crate) fn local(&self, kn: &Knots, u: f64) -> Local {
        if !self.inside(u) {
            return Local {
                v: u,
                slope: 1.0,
                ..Local::default()
            };
        }
        let i = self.bin(&kn.cw, u);
        let (w_inv, h, s) = (kn.w_inv[i], kn.h[i], kn.s[i]);
        let (d0, d1) = (kn.d[i], kn.d[i + 1]);
        let xi = (u - kn.cw[i]) * w_inv;
        let t = xi * (1.0 - xi);
        let num = h * (s * xi * xi + d0 * t);
        let den = s + (d0 + d1 - 2.0 * s) * t;
        let pp = d1 * xi * xi + 2.0 * s * t + d0 * (1.0 - xi) * (1.0 - xi);
        // dv/du = dnum / den² with dnum = s² pp: the quotient rule on num/den with
        // ξ = (u − c_i)/w. One division gives 1/den and 1/dnum (the reverse mode's).
        let dnum = s * s * pp;
        let q = 1.0 / (den * den * dnum);
        let (den_inv, dnum_inv) = (q * dnum * den, q * den * den);
        let slope = dnum * den_inv * den_inv;
        Local {
            inside: true,
            i,
            w_inv,
            h,
            s,
            d0,
            d1,
            xi,
            t,
            num,
            den_inv,
            dnum_inv,
            pp,
            v: kn.ch[i] + num * den_inv,
            slope,
        }
    }
    /// Reverse mode of L = v̄ · v + log dv/du: writes ∂L/∂p into `dp` (length
    /// `n_params`) and returns ∂L/∂u.
    pub(crate) fn backward(&self, p: &[f64], u: f64, vbar: f64, dp: &mut [f64]) -> f64 {
        dp.fill(0.0);
        if !self.inside(u) {
            return vbar;
        }
        let kn = self.knots(p);
        let mut g = KnotGrad::new();
        let du = self.backward_local(&self.local(&kn, u), vbar, &mut g);
        self.params_backward(p, &kn, &g, dp);
        du
    }
    /// Reverse mode of L = v̄ · v + log dv/du at the point `l` of
    /// [`Spline::local`]: **adds** the adjoints of the knots into `g`, returns ∂L/∂u.
    #[inline]
    pub(crate) fn backward_local(&self, l: &Local, vbar: f64, g: &mut KnotGrad) -> f64 {
        if !l.inside {
            return vbar;
        }
        let Local {
            i,
            w_inv,
            h,
            s,
            d0,
            d1,
            xi,
            t,
            num,
            den_inv,
            dnum_inv,
            pp,
            ..
        } = *l;
        // adjoints of the local quantities
        let num_b = vbar * den_inv;
        let den_b = -(num_b * num + 2.0) * den_inv;
        let dnum_b = dnum_inv;
        let mut h_b = num_b * (s * xi * xi + d0 * t);
        let mut s_b = num_b * h * xi * xi;
        let mut d0_b = num_b * h * t;
        let mut t_b = num_b * h * d0;
        let mut xi_b = num_b * h * 2.0 * s * xi;
        s_b += den_b * (1.0 - 2.0 * t);
        d0_b += den_b * t;
        let mut d1_b = den_b * t;
        t_b += den_b * (d0 + d1 - 2.0 * s);
        s_b += dnum_b * (2.0 * s * pp + s * s * 2.0 * t);
        d1_b += dnum_b * s * s * xi * xi;
        d0_b += dnum_b * s * s * (1.0 - xi) * (1.0 - xi);
        t_b += dnum_b * s * s * 2.0 * s;
        xi_b += dnum_b * s * s * (2.0 * d1 * xi - 2.0 * d0 * (1.0 - xi));
        xi_b += t_b * (1.0 - 2.0 * xi);
        let ch_b = vbar;
        // s = h/w, ξ = (u − c_i)/w.
        h_b += s_b * w_inv;
        let u_b = xi_b * w_inv;
        let w_b = -(s_b * s + xi_b * xi) * w_inv;
        let cw_b = -u_b;
        // W_j = 2B·w_j, c_i = −B + ∑_{j<i} W_j, with w = min + shrink · softmax: c_i's
        // adjoint reaches every j < i, summed in `params_backward`.
        let shrink = 2.0 * self.tail_bound * (1.0 - MIN_BIN * self.bins as f64);
        g.cw[i] += cw_b * shrink;
        g.ch[i] += ch_b * shrink;
        g.w[i] += w_b * shrink;
        g.h[i] += h_b * shrink;
        g.d[i] += d0_b;
        g.d[i + 1] += d1_b;
        u_b
    }
    /// From knot adjoints to parameter adjoints (through the softmaxes and the
    /// softplus of the inner derivatives): writes `dp`.
    pub(crate) fn params_backward(&self, p: &[f64], kn: &Knots, g: &KnotGrad, dp: &mut [f64]) {
        let k = self.bins;
        for (own, later, sm, off) in [(&g.w, &g.cw, &kn.sw, 0), (&g.h, &g.ch, &kn.sh, k)] {
            // Bin j's adjoint: its own, plus the knot adjoints of the bins after it.
            let mut gs = [0.0; MAX_BINS];
            let mut acc = 0.0;
            for j in (0..k).rev() {
                gs[j] = own[j] + acc;
                acc += later[j];
            }
            let dot: f64 = (0..k).map(|j| gs[j] * sm[j]).sum();
            for j in 0..k {
                dp[off + j] = sm[j] * (gs[j] - dot) * self.input_scale;
            }
        }
        for j in 1..k {
            dp[2 * k + j - 1] = g.d[j] * sigmoid(p[2 * k + j - 1]);
        }
    }
    /// The inverse: u with forward(p, u).0 = v.
    pub(crate) fn inverse(&self, p: &[f64], v: f64) -> f64 {
        if !self.inside(v) {
            return v;
        }
        let kn = self.knots(p);
        let i = self.bin(&kn.ch, v);
        let (w, h) = (kn.cw[i + 1] - kn.cw[i], kn.ch[i + 1] - kn.ch[i]);
        let s = h / w;
        let (d0, d1) = (kn.d[i], kn.d[i + 1]);
        let y = v - kn.ch[i];
        let a = y * (d0 + d1 - 2.0 * s) + h * (s - d0);
        let bq = h * d0 - y * (d0 + d1 - 2.0 * s);
        let c = -s * y;
        let disc = (bq * bq - 4.0 * a * c).max(0.0);
        let root = (2.0 * c) / (-bq - disc.sqrt());
        root * w + kn.cw[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    fn random_params(seed: u64, n: usize) -> Vec<f64> {
        let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        (0..n).map(|_| 6.0 * r.random::<f64>() - 3.0).collect()
    }

    const SP: Spline = Spline {
        bins: 10,
        tail_bound: 3.0,
        input_scale: 0.5,
    };

    #[test]
    fn monotone_onto_and_inverse() {
        let p = random_params(1, SP.n_params());
        assert_eq!(SP.forward(&p, -3.0).0, -3.0);
        assert!((SP.forward(&p, 3.0).0 - 3.0).abs() < 1e-12);
        let mut prev = f64::NEG_INFINITY;
        for j in 0..=6000 {
            let u = -3.5 + 7.0 * j as f64 / 6000.0;
            let (v, ld) = SP.forward(&p, u);
            assert!(v > prev);
            prev = v;
            assert!((SP.inverse(&p, v) - u).abs() < 1e-9, "u = {u}");
            // log-derivative against a central difference
            let h = 1e-6;
            let fd = ((SP.forward(&p, u + h).0 - SP.forward(&p, u - h).0) / (2.0 * h)).ln();
            if (u.abs() - 3.0).abs() > 2e-6 {
                assert!((fd - ld).abs() < 1e-5, "u = {u}: {fd} vs {ld}");
            }
        }
    }

    #[test]
    fn backward_matches_finite_differences() {
        for seed in 0..20 {
            let p = random_params(seed, SP.n_params());
            let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(seed + 100);
            let u = 6.4 * r.random::<f64>() - 3.2;
            let vbar = r.random::<f64>() - 0.5;
            let f = |p: &[f64], u: f64| {
                let (v, ld) = SP.forward(p, u);
                vbar * v + ld
            };
            let mut dp = vec![0.0; SP.n_params()];
            let du = SP.backward(&p, u, vbar, &mut dp);
            let h = 1e-6;
            let fd_u = (f(&p, u + h) - f(&p, u - h)) / (2.0 * h);
            assert!(
                (du - fd_u).abs() < 1e-5 * (1.0 + du.abs()),
                "seed {seed}: du {du} vs {fd_u}"
            );
            for j in 0..p.len() {
                let (mut pp, mut pm) = (p.clone(), p.clone());
                pp[j] += h;
                pm[j] -= h;
                let fd = (f(&pp, u) - f(&pm, u)) / (2.0 * h);
                assert!(
                    (dp[j] - fd).abs() < 1e-5 * (1.0 + fd.abs()),
                    "seed {seed} param {j}: {} vs {fd}",
                    dp[j]
                );
            }
        }
    }
}
