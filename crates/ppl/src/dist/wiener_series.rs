//! The Wiener first-passage-time density in log space, with analytic partials.
//!
//! The density of hitting the lower bound 0 at time t (Navarro & Fuss 2009,
//! REFERENCES.md §2) is f(t | v, a, w) = a⁻² exp(−v a w − v² t / 2) g(u | w), u = t / a²,
//! with two series for g:
//! - small time: g = (2πu³)^(−1/2) Σ_{k∈ℤ} (w + 2k) exp(−(w + 2k)² / (2u));
//! - large time: g = π Σ_{k≥1} k exp(−k²π²u / 2) sin(kπw).
//!
//! The series is chosen by Navarro & Fuss's term counts (the one needing fewer terms at
//! ε = 1e-12, which switches at u ≈ 0.2). In its regime each series is then summed, with
//! its two derivative series ∂/∂u and ∂/∂w, until the next terms are below 1e-18 of the
//! sum (the terms decay like a Gaussian in k, so the tail is far below the last term):
//! this relative stopping rule bounds the error of ln g and of the derivatives of ln g
//! directly, so the derivative series never stop early where g's own bound would be
//! loose (Gondan et al. 2014's concern).
//!
//! Log space without cancellation:
//! - small time: the drift factor and the k = 0 image combine into one Gaussian,
//!   ln f = ln a − 1.5 ln t − ½ ln 2π − (a w + v t)² / (2t) + ln T, with
//!   T = S · exp(w² / (2u)) ≥ its leading term and the images summed in pairs that are
//!   O(w) (for w ≤ ½: images k and −k) or O(1 − w) (for w > ½: images k and −k − 1), so
//!   the density keeps full relative precision as w → 0 or w → 1;
//! - large time: the k = 1 exponential is factored out and sin(kπw) is formed from
//!   min(w, 1 − w), so ln g keeps its precision near both edges.

use std::f64::consts::PI;
use std::sync::OnceLock;

use crate::special::LN_SQRT_2PI;

/// Relative size of the next term at which a series stops.
const SERIES_RTOL: f64 = 1e-18;
/// Cap on the number of terms (pairs) of either series; never reached in its regime
/// (at most ~8 terms for u ≥ 0.2 and ~4 pairs for u < 0.2), a guard for f64 extremes.
const MAX_TERMS: usize = 200;
/// The ε of Navarro & Fuss's term counts that choose the series.
const SWITCH_EPS: f64 = 1e-12;

/// Whether the small-time series needs no more terms than the large-time one
/// (Navarro & Fuss 2009, eqs. 13 and 16, at ε = [`SWITCH_EPS`]).
fn small_time_is_shorter(u: f64) -> bool {
    if u >= 1.0 {
        // Also u = ∞ (t / a² overflows): the large-time series.
        return false;
    }
    let c = 2.0 * (2.0 * PI * u).sqrt() * SWITCH_EPS;
    let ks = if c < 1.0 {
        (2.0 + (-2.0 * u * c.ln()).sqrt()).max(u.sqrt() + 1.0)
    } else {
        2.0
    };
    let c = PI * u * SWITCH_EPS;
    let k1 = 1.0 / (PI * u.sqrt());
    let kl = if c < 1.0 {
        (-2.0 * c.ln() / (PI * PI * u)).sqrt().max(k1)
    } else {
        k1
    };
    ks <= kl
}

/// The u below which [`small_time_is_shorter`] holds. Navarro & Fuss's bounds do not
/// depend on w, so the choice is one threshold in u (≈ 0.203), found once by bisection
/// instead of two logarithms and three square roots per trial.
fn switch_u() -> f64 {
    static SWITCH: OnceLock<f64> = OnceLock::new();
    *SWITCH.get_or_init(|| {
        let (mut lo, mut hi) = (1e-3, 1.0);
        for _ in 0..60 {
            let mid = 0.5 * (lo + hi);
            if small_time_is_shorter(mid) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        lo
    })
}

/// ln T and its partials (∂ ln T / ∂u, ∂ ln T / ∂w), T = exp(w²/(2u)) Σ_k (w+2k) e^{−(w+2k)²/(2u)}.
/// `wc` = 1 − w to full precision.
fn small_time(u: f64, w: f64, wc: f64) -> (f64, f64, f64) {
    if w <= 0.5 {
        small_time_near_lower(u, w)
    } else {
        let (ln, du, dwc) = small_time_near_upper(u, wc);
        (ln, du, -dwc)
    }
}

/// [`small_time`] for w ≤ ½: T = w + Σ_{m≥1} P_m with P_m the images k = ±m,
/// P_m = E [w (1 + e^{−2x}) − 2m (1 − e^{−2x})], E = e^{−2m(m−w)/u}, x = 2mw/u.
fn small_time_near_lower(u: f64, w: f64) -> (f64, f64, f64) {
    let (mut t, mut tw, mut tu) = (w, 1.0, 0.0);
    for m in 1..=MAX_TERMS {
        let m = m as f64;
        let e = (-2.0 * m * (m - w) / u).exp();
        if e == 0.0 {
            break;
        }
        let x = 2.0 * m * w / u;
        let d = -(-2.0 * x).exp_m1(); // 1 − e^{−2x}, accurate for small x
        let e2 = 1.0 - d;
        let c = 1.0 + e2;
        let inner = w * c - 2.0 * m * d;
        let p = e * inner;
        let pw = e * (2.0 * m / u * inner + c - 4.0 * m * e2 * (w + 2.0 * m) / u);
        let pu = 2.0 * m * (m - w) / (u * u) * p + e * 2.0 * e2 * (w + 2.0 * m) * x / u;
        t += p;
        tw += pw;
        tu += pu;
        if p.abs().max(pw.abs()).max((u * pu).abs()) < SERIES_RTOL * t.abs() {
            break;
        }
    }
    (t.ln(), tu / t, tw / t)
}

/// [`small_time`] for w > ½ in terms of w' = 1 − w: T = Σ_{n odd} V_n with V_n the images
/// w + 2k = n − w' and −(n + w'), V_n = E [n (1 − e^{−2y}) − w' (1 + e^{−2y})],
/// E = e^{−(n−1)(n+1−2w')/(2u)}, y = n w'/u. Returns (ln T, ∂/∂u, ∂/∂w').
fn small_time_near_upper(u: f64, wc: f64) -> (f64, f64, f64) {
    let (mut t, mut tw, mut tu) = (0.0, 0.0, 0.0);
    for j in 0..MAX_TERMS {
        let n = (2 * j + 1) as f64;
        let le = -(n - 1.0) * (n + 1.0 - 2.0 * wc) / (2.0 * u);
        let e = le.exp();
        if e == 0.0 {
            break;
        }
        let y = n * wc / u;
        let d = -(-2.0 * y).exp_m1();
        let e2 = 1.0 - d;
        let c = 1.0 + e2;
        let inner = n * d - wc * c;
        let p = e * inner;
        let pw = e * ((n - 1.0) / u * inner + 2.0 * e2 * n * (n + wc) / u - c);
        let pu = -le / u * p - e * 2.0 * e2 * (n + wc) * y / u;
        t += p;
        tw += pw;
        tu += pu;
        if j > 0 && p.abs().max(pw.abs()).max((u * pu).abs()) < SERIES_RTOL * t.abs() {
            break;
        }
    }
    (t.ln(), tu / t, tw / t)
}

/// ln L and its partials (∂ ln L / ∂u, ∂ ln L / ∂w) for
/// L = Σ_{k≥1} k e^{−(k²−1)π²u/2} sin(kπw), so that g = π e^{−π²u/2} L.
fn large_time(u: f64, w: f64, wc: f64) -> (f64, f64, f64) {
    // sin(kπw) = (−1)^{k+1} sin(kπw') and cos(kπw) = (−1)^k cos(kπw') for w' = 1 − w.
    let (base, flip) = if w <= 0.5 { (w, false) } else { (wc, true) };
    let half_pi2 = 0.5 * PI * PI;
    let h = half_pi2 * u;
    // e_k = e^{−(k²−1)h} by e_{k+1} = e_k q_k, q_k = e^{−(2k+1)h} = q_{k−1} e^{−2h}; and
    // (sin, cos)(kπ·base) by rotation. Both recurrences lose ~kε relative, and the terms
    // k ≥ 2 are damped by e^{−3h} ≤ e^{−3} in this regime: far below the budget.
    let (s1, c1) = (PI * base).sin_cos();
    let r = (-2.0 * h).exp();
    let (mut e, mut q) = (1.0, (-3.0 * h).exp());
    let (mut sk, mut ck) = (s1, c1);
    let (mut l, mut lw, mut lu) = (0.0, 0.0, 0.0);
    for k in 1..=MAX_TERMS {
        let kf = k as f64;
        if e == 0.0 {
            break;
        }
        let (s, c) = match (flip, k % 2 == 0) {
            (false, _) => (sk, ck),
            (true, true) => (-sk, ck),
            (true, false) => (sk, -ck),
        };
        let b = kf * e;
        let p = b * s;
        let pw = b * kf * PI * c;
        // −(k²−1)·h·p: zero for k = 1, also when u = ∞.
        let pu = if k == 1 {
            0.0
        } else {
            -(kf * kf - 1.0) * half_pi2 * p
        };
        l += p;
        lw += pw;
        lu += pu;
        // Past the peak of k³e^{−k²π²u/2} every later term is smaller than this bound.
        let bound = b * (1.0 + kf * PI + (kf * kf - 1.0) * h);
        if k >= 2 && kf * kf * PI * PI * u >= 3.0 && bound < SERIES_RTOL * l.abs() {
            break;
        }
        e *= q;
        q *= r;
        (sk, ck) = (sk * c1 + ck * s1, ck * c1 - sk * s1);
    }
    (l.ln(), lu / l, lw / l)
}

/// ln f(t | v, a, w) for the **lower** bound, with ∂/∂(v, a, w, t) written into `d`;
/// `wc` = 1 − w (passed separately so that w near 1 keeps its precision). Requires
/// a > 0, 0 < w < 1, t > 0, all finite. Where f64 cannot represent a term (parameters
/// ~1e150 apart in scale) the result is −∞ with zero partials, never NaN.
pub(crate) fn lower_lp(v: f64, a: f64, w: f64, wc: f64, t: f64, d: &mut [f64; 4]) -> f64 {
    let u = t / (a * a);
    let z = a * w + v * t;
    let lp;
    if u < switch_u() {
        let (ln_t_series, gu, gw) = small_time(u, w, wc);
        let zt = z / t;
        lp = a.ln() - 1.5 * t.ln() - LN_SQRT_2PI - 0.5 * z * zt + ln_t_series;
        d[0] = -z;
        d[1] = 1.0 / a - zt * w - 2.0 * u * gu / a;
        d[2] = -zt * a + gw;
        d[3] = (-1.5 + u * gu) / t + zt * (0.5 * zt - v);
    } else {
        let (ln_l, lu, lw) = large_time(u, w, wc);
        let gu = -0.5 * PI * PI + lu;
        lp = -2.0 * a.ln() - v * (a * w + 0.5 * v * t) + PI.ln() - 0.5 * PI * PI * u + ln_l;
        d[0] = -z;
        d[1] = -2.0 / a - v * w - 2.0 * u * gu / a;
        d[2] = -v * a + lw;
        d[3] = -0.5 * v * v + gu / a / a;
    }
    if lp.is_nan() || lp == f64::INFINITY || lp == f64::NEG_INFINITY || d.iter().any(|x| x.is_nan())
    {
        *d = [0.0; 4];
        return f64::NEG_INFINITY;
    }
    lp
}

/// ln p(rt, choice | v, a, w, τ) with ∂/∂(v, a, w, τ, rt) in `d`: the lower-bound density
/// at t = rt − τ for choice 0, and for choice 1 the same with v → −v, w → 1 − w.
/// Choices other than 0 and 1, rt ≤ τ and rt = ∞ give −∞ with zero partials.
pub(crate) fn wiener_lp(
    rt: f64,
    choice: f64,
    v: f64,
    a: f64,
    w: f64,
    tau: f64,
    d: &mut [f64; 5],
) -> f64 {
    *d = [0.0; 5];
    let t = rt - tau;
    if !(t > 0.0 && t < f64::INFINITY) || (choice != 0.0 && choice != 1.0) {
        return f64::NEG_INFINITY;
    }
    let mut g = [0.0; 4];
    let lp = if choice == 0.0 {
        lower_lp(v, a, w, 1.0 - w, t, &mut g)
    } else {
        let lp = lower_lp(-v, a, 1.0 - w, w, t, &mut g);
        g[0] = -g[0];
        g[2] = -g[2];
        lp
    };
    *d = [g[0], g[1], g[2], -g[3], g[3]];
    lp
}
