//! The drift-diffusion simulator against closed forms written here, apart from
//! the crate: the choice probability (z-test) and the first-passage time per
//! choice (Kolmogorov–Smirnov against the large-time series of the CDF), at
//! the default step and at a 20× coarser one; the uncorrected scheme (bounds
//! checked at grid points only) as a negative control the same tests reject.

mod common;

use std::f64::consts::PI;

use common::{Z_BUDGET, rng};
use rand::Rng;
use rand_distr::{Distribution as _, StandardNormal};
use simulators::tasks::{Ddm, DdmSettings};
use simulators::{ConfigError, SimulationError, Simulator, Task};

/// A KS test passes above this p-value (fixed seeds: a false alarm has
/// probability 0.01 per comparison when the seed changes).
const KS_ALPHA: f64 = 0.01;

/// (v, a, w) points: symmetric, small a, large a and |v|, start near a bound.
const POINTS: [[f64; 3]; 5] = [
    [0.5, 1.0, 0.5],
    [-1.5, 0.5, 0.35],
    [2.0, 2.0, 0.6],
    [-2.0, 1.2, 0.7],
    [0.0, 0.8, 0.4],
];

/// P(upper) = (1 − e^{−2vaw}) / (1 − e^{−2va}), w at v = 0.
fn p_upper(v: f64, a: f64, w: f64) -> f64 {
    if v == 0.0 {
        w
    } else {
        (1.0 - (-2.0 * v * a * w).exp()) / (1.0 - (-2.0 * v * a).exp())
    }
}

/// P(T ≤ t, lower) = P(lower) − (π/a²) e^{−vaw} Σ_k k sin(kπw) e^{−λ_k t}/λ_k,
/// λ_k = v²/2 + k²π²/(2a²): the large-time series of the density
/// (Navarro & Fuss 2009) integrated from t to ∞ term by term; terms up to
/// λ_k t > 40 (the tail is below e^{−40}·k/λ_k).
fn cdf_lower(t: f64, v: f64, a: f64, w: f64) -> f64 {
    let p_lower = 1.0 - p_upper(v, a, w);
    if t <= 0.0 {
        return 0.0;
    }
    let k_max = ((2.0 * a * a * 40.0 / t).sqrt() / PI).ceil() as usize + 1;
    let tail: f64 = (1..=k_max)
        .map(|k| {
            let k = k as f64;
            let lambda = 0.5 * v * v + k * k * PI * PI / (2.0 * a * a);
            k * (k * PI * w).sin() * (-lambda * t).exp() / lambda
        })
        .sum();
    p_lower - PI / (a * a) * (-v * a * w).exp() * tail
}

/// The same for the upper bound: v → −v, w → 1 − w.
fn cdf_upper(t: f64, v: f64, a: f64, w: f64) -> f64 {
    cdf_lower(t, -v, a, 1.0 - w)
}

/// The asymptotic Kolmogorov p-value of statistic `d` from `n` draws, with
/// Stephens' finite-n correction.
fn ks_p_value(d: f64, n: usize) -> f64 {
    let sn = (n as f64).sqrt();
    let lambda = (sn + 0.12 + 0.11 / sn) * d;
    let p: f64 = (1..=100)
        .map(|k| {
            let k = k as f64;
            let sign = if k % 2.0 == 1.0 { 2.0 } else { -2.0 };
            sign * (-2.0 * k * k * lambda * lambda).exp()
        })
        .sum();
    p.clamp(0.0, 1.0)
}

/// KS statistic of the sample against a CDF.
fn ks_statistic(mut sample: Vec<f64>, cdf: impl Fn(f64) -> f64) -> f64 {
    sample.sort_by(f64::total_cmp);
    let n = sample.len() as f64;
    sample.iter().enumerate().fold(0.0f64, |d, (i, &t)| {
        let f = cdf(t);
        d.max(f - i as f64 / n).max((i + 1) as f64 / n - f)
    })
}

/// Decision times per choice (lower, upper) of `n` trials.
type Draws = (Vec<f64>, Vec<f64>);

fn simulate(ddm: &Ddm, [v, a, w]: [f64; 3], n: usize, seed: u64) -> Draws {
    let tau = 0.3;
    let mut r = rng(seed);
    let (mut lower, mut upper) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let x = ddm.simulate_vec(&[v, a, w, tau], &mut r).unwrap();
        if x[1] == 1.0 { &mut upper } else { &mut lower }.push(x[0] - tau);
    }
    (lower, upper)
}

/// The uncorrected scheme: Euler–Maruyama with the bounds checked at grid
/// points only, the decision at the end of the step.
fn simulate_uncorrected([v, a, w]: [f64; 3], dt: f64, n: usize, seed: u64) -> Draws {
    let mut r = rng(seed);
    let (mut lower, mut upper) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let (mut x, mut steps) = (w * a, 0u64);
        while x > 0.0 && x < a {
            let z: f64 = StandardNormal.sample(&mut r as &mut dyn Rng);
            x += v * dt + dt.sqrt() * z;
            steps += 1;
        }
        if x >= a { &mut upper } else { &mut lower }.push(steps as f64 * dt);
    }
    (lower, upper)
}

/// z-score of P(upper) and the KS p-values of the decision times per choice
/// (a choice with fewer than 50 draws is not tested: `None`).
fn scores(point: [f64; 3], (lower, upper): Draws) -> (f64, [Option<f64>; 2]) {
    let [v, a, w] = point;
    let n = lower.len() + upper.len();
    let p = p_upper(v, a, w);
    let z = (upper.len() as f64 / n as f64 - p) / (p * (1.0 - p) / n as f64).sqrt();
    let ks = |draws: Vec<f64>, p_choice: f64, cdf: fn(f64, f64, f64, f64) -> f64| {
        let m = draws.len();
        (m >= 50).then(|| {
            let d = ks_statistic(draws, |t| cdf(t, v, a, w) / p_choice);
            ks_p_value(d, m)
        })
    };
    (z, [ks(lower, 1.0 - p, cdf_lower), ks(upper, p, cdf_upper)])
}

#[test]
fn closed_form_cdf_starts_at_zero_ends_at_the_choice_probability_and_rises() {
    for [v, a, w] in POINTS {
        let p = p_upper(v, a, w);
        // At t → 0 the two closed forms must agree: Σ_k terms = P(lower) e^{vaw} a²/π.
        let t0 = 1e-4 * a * a;
        assert!(cdf_lower(t0, v, a, w).abs() < 1e-9, "{v} {a} {w}");
        assert!(cdf_upper(t0, v, a, w).abs() < 1e-9, "{v} {a} {w}");
        let big = 200.0 * a * a;
        common::assert_close("lower at ∞", cdf_lower(big, v, a, w), 1.0 - p, 1e-12);
        common::assert_close("upper at ∞", cdf_upper(big, v, a, w), p, 1e-12);
        let mut last = [0.0, 0.0];
        for i in 1..=400 {
            let t = 0.01 * a * a * i as f64;
            let now = [cdf_lower(t, v, a, w), cdf_upper(t, v, a, w)];
            assert!(now[0] >= last[0] - 1e-12 && now[1] >= last[1] - 1e-12);
            last = now;
        }
    }
}

/// Mean decision time: optional stopping of X_t − v t gives
/// a·P(upper) = w·a + v·E[T], so E[T] = a (P(upper) − w)/v, and
/// E[T] = w (1 − w) a² at v = 0.
fn mean_decision_time(v: f64, a: f64, w: f64) -> f64 {
    if v == 0.0 {
        w * (1.0 - w) * a * a
    } else {
        a * (p_upper(v, a, w) - w) / v
    }
}

/// Asserts P(upper) within [`Z_BUDGET`] binomial standard errors, the mean
/// decision time within [`Z_BUDGET`] standard errors (sample sd), and KS
/// p-values above [`KS_ALPHA`] for the decision times of each choice.
fn assert_matches(what: &str, point: [f64; 3], draws: Draws) {
    let [v, a, w] = point;
    let all: Vec<f64> = draws.0.iter().chain(&draws.1).copied().collect();
    let (mean, var) = common::mean_var(&all);
    let z_mean = (mean - mean_decision_time(v, a, w)) / (var / all.len() as f64).sqrt();
    let (z, ks) = scores(point, draws);
    assert!(z.abs() < Z_BUDGET, "{what} {point:?}: P(upper) z = {z:.2}");
    assert!(
        z_mean.abs() < Z_BUDGET,
        "{what} {point:?}: E[T] z = {z_mean:.2}"
    );
    for p in ks.into_iter().flatten() {
        assert!(p > KS_ALPHA, "{what} {point:?}: KS p = {p:.2e} ({ks:?})");
    }
}

/// Trials per parameter point: the uncorrected scheme's bias at dt = 1e-3
/// gives KS p-values from 3e-6 to 1e-80 at 20,000 trials (below), so this n
/// has the power to see a bias of that size; about 0.1 s per point.
const N: usize = 20_000;

#[test]
fn choice_probability_and_decision_times_match_the_closed_forms() {
    let ddm = Ddm::new();
    for (i, point) in POINTS.into_iter().enumerate() {
        assert_matches("dt = 1e-3", point, simulate(&ddm, point, N, 100 + i as u64));
    }
}

/// The residual bias of the bridge test with the exact crossing time: none
/// measurable at a 20× coarser step (dt = 0.02, √dt = 0.14, up to 28% of the
/// smallest a): measured P(upper) |z| ≤ 1.1 and KS p ≥ 0.09 over the points.
#[test]
fn the_corrected_scheme_stays_exact_at_a_coarse_step() {
    let coarse = Ddm::with_settings(DdmSettings {
        dt: 0.02,
        ..DdmSettings::default()
    })
    .unwrap();
    for (i, point) in POINTS.into_iter().enumerate() {
        assert_matches(
            "dt = 0.02",
            point,
            simulate(&coarse, point, N, 200 + i as u64),
        );
    }
}

/// Negative control: the same tests reject the uncorrected scheme at the
/// default step. Measured (20,000 trials, dt = 1e-3): KS p-values per choice
/// (lower, upper) 3e-7 and 4e-10 at (0.5, 1, 0.5); 9e-81 and 5e-18 at
/// (−1.5, 0.5, 0.35); 0.11 and 3e-6 at (2, 2, 0.6); 1e-12 and 1e-5 at
/// (−2, 1.2, 0.7); 2e-22 and 9e-18 at (0, 0.8, 0.4); P(upper) z = −6.3 at
/// (−2, 1.2, 0.7); the mean decision time is late by 8 to 16 ms (4.6 to 19
/// standard errors) at the five points: the bounds move out by ≈ 0.58·√dt.
#[test]
fn the_tests_reject_the_uncorrected_scheme() {
    for (i, point) in POINTS.into_iter().enumerate() {
        let draws = simulate_uncorrected(point, 1e-3, N, 300 + i as u64);
        let (_, ks) = scores(point, draws);
        let worst = ks.into_iter().flatten().fold(1.0, f64::min);
        assert!(worst < KS_ALPHA, "{point:?}: KS p = {worst:.2e}");
    }
}

#[test]
fn prob_upper_matches_the_closed_form_and_survives_large_drifts() {
    for [v, a, w] in POINTS {
        common::assert_close(
            "P(upper)",
            Ddm::prob_upper(v, a, w),
            p_upper(v, a, w),
            1e-12,
        );
    }
    // e^{2·400} overflows in the textbook form; the limits are 1 − e^{−2vaw} and,
    // for −v, e^{−2|v|a(1−w)} (1 − e^{−2|v|aw}) / (1 − e^{−2|v|a}).
    common::assert_close("v a = 400", Ddm::prob_upper(200.0, 2.0, 0.5), 1.0, 1e-12);
    let ln_p = Ddm::prob_upper(-200.0, 2.0, 0.5).ln();
    common::assert_close("ln P(upper), v a = −400", ln_p, -400.0, 1e-12);
    assert!(Ddm::prob_upper(1.0, 0.0, 0.5).is_nan());
}

#[test]
fn simulations_are_reproducible_and_in_the_layout_of_mnle() {
    let ddm = Ddm::new();
    let theta = [0.3, 1.0, 0.5, 0.25];
    let run = |seed: u64| -> Vec<f64> {
        let mut r = rng(seed);
        (0..50)
            .flat_map(|_| ddm.simulate_vec(&theta, &mut r).unwrap())
            .collect()
    };
    let x = run(9);
    assert_eq!(x, run(9));
    assert_ne!(x, run(10));
    for row in x.chunks(2) {
        assert!(row[0] > theta[3], "rt = T + τ > τ: {row:?}");
        assert!(row[1] == 0.0 || row[1] == 1.0, "choice: {row:?}");
    }
    let info = ddm.info();
    assert_eq!((info.name, info.theta_dim, info.x_dim), ("ddm", 4, 2));
    assert_eq!(info.parameter_names, ["v", "a", "w", "tau"]);
    let bounds = ddm.prior().bounds();
    let ends: Vec<(f64, f64)> = bounds.iter().map(|b| (b.low, b.high)).collect();
    assert_eq!(ends, [(-2.0, 2.0), (0.5, 2.0), (0.3, 0.7), (0.2, 1.8)]);
    assert!(ddm.likelihood().is_none() && ddm.reference_posterior().is_none());
    assert!(ddm.observation(1).is_none());
}

#[test]
fn invalid_theta_is_refused() {
    let ddm = Ddm::new();
    let mut r = rng(11);
    let cases: [([f64; 4], usize); 9] = [
        ([f64::NAN, 1.0, 0.5, 0.3], 0),
        ([0.0, 0.0, 0.5, 0.3], 1),
        ([0.0, -1.0, 0.5, 0.3], 1),
        ([0.0, f64::INFINITY, 0.5, 0.3], 1),
        ([0.0, 1.0, 0.0, 0.3], 2),
        ([0.0, 1.0, 1.0, 0.3], 2),
        ([0.0, 1.0, -0.2, 0.3], 2),
        ([0.0, 1.0, 0.5, -1e-9], 3),
        ([0.0, 1.0, 0.5, f64::NEG_INFINITY], 3),
    ];
    for (theta, index) in cases {
        let err = ddm.simulate_vec(&theta, &mut r).unwrap_err();
        assert!(
            matches!(err, SimulationError::InvalidTheta { index: i, .. } if i == index),
            "{theta:?}: {err:?}"
        );
    }
    // τ = 0 and w, a anywhere in their open ranges are valid.
    assert!(ddm.simulate_vec(&[0.0, 5.0, 0.01, 0.0], &mut r).is_ok());
}

#[test]
fn the_time_limit_is_a_named_outcome() {
    // a = 3, w = 0.5, v = 0: T > 0.05 s with probability 1 − 2e-38.
    let ddm = Ddm::with_settings(DdmSettings {
        dt: 1e-3,
        max_time: 0.05,
    })
    .unwrap();
    let err = ddm
        .simulate_vec(&[0.0, 3.0, 0.5, 0.3], &mut rng(12))
        .unwrap_err();
    assert_eq!(err, SimulationError::MaxTimeReached { max_time: 0.05 });
    assert!(err.to_string().contains("time limit"), "{err}");
    // An absurd bound separation ends at the limit too, not in a hang.
    let err = Ddm::new()
        .simulate_vec(&[0.0, 1e300, 0.5, 0.3], &mut rng(13))
        .unwrap_err();
    assert_eq!(err, SimulationError::MaxTimeReached { max_time: 20.0 });
}

#[test]
fn settings_are_checked() {
    let bad = |dt: f64, max_time: f64| Ddm::with_settings(DdmSettings { dt, max_time });
    for dt in [0.0, -1e-3, f64::NAN, f64::INFINITY] {
        assert!(
            matches!(
                bad(dt, 1.0),
                Err(ConfigError::BadParameter { name: "dt", .. })
            ),
            "dt = {dt}"
        );
    }
    for max_time in [1e-3, 1e-4, f64::NAN, f64::INFINITY, 1e7] {
        assert!(
            matches!(
                bad(1e-3, max_time),
                Err(ConfigError::BadParameter {
                    name: "max_time",
                    ..
                })
            ),
            "max_time = {max_time}"
        );
    }
    let ok = bad(1e-4, 5.0).unwrap();
    assert_eq!(
        *ok.settings(),
        DdmSettings {
            dt: 1e-4,
            max_time: 5.0
        }
    );
    assert_eq!(*Ddm::new().settings(), DdmSettings::default());
}
