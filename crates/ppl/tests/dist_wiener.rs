//! The Wiener first-passage-time distribution: log density and partials against an
//! independent 50-digit computation (mpmath, `scripts/make_wiener_fixture.py`) and published
//! values, gradients against finite differences, normalization and choice probabilities
//! by quadrature against the closed form, constructor and shape errors, plates.

mod common;

use common::*;
use ppl::{
    Constraint, Distribution, LogJoint, Model, Normal, Operand, PplError, Shape, Tape, Wiener,
};
use proptest::prelude::*;

/// ln p to this absolute tolerance (relative where |ln p| > 1) against the 50-digit fixture.
const FIXTURE_LP_TOL: f64 = 1e-10;
/// Partials against mpmath's numerical derivative of the 50-digit density (relative,
/// absolute below 1).
const FIXTURE_GRAD_RTOL: f64 = 1e-7;
/// Published values are given to 15 significant digits.
const PUBLISHED_TOL: f64 = 1e-12;
/// Normalization and choice probabilities by trapezoidal quadrature in ln t (the
/// integrand decays doubly exponentially at both ends, so the rule converges
/// geometrically; 1e-8 is the brief's budget).
const QUAD_TOL: f64 = 1e-8;

/// (ln p, [∂v, ∂a, ∂w, ∂τ, ∂rt]) of one trial, every argument a tape variable.
fn eval(choice: f64, rt: f64, v: f64, a: f64, w: f64, tau: f64) -> (f64, [f64; 5]) {
    let tape = Tape::new();
    let p: Vec<_> = [v, a, w, tau].iter().map(|&x| tape.scalar(x)).collect();
    let x = tape.vector(&[rt, choice]);
    let d = Wiener::new(p[0], p[1], p[2], p[3]).unwrap();
    let lp = d.log_prob(&tape, Operand::Var(x));
    let lp_value = lp.scalar();
    tape.backward(lp).unwrap();
    assert_eq!(x.grad()[1], 0.0, "no partial in the discrete choice");
    let g = [
        p[0].grad()[0],
        p[1].grad()[0],
        p[2].grad()[0],
        p[3].grad()[0],
        x.grad()[0],
    ];
    (lp_value, g)
}

/// ln p of one trial from constants.
fn lp(choice: f64, rt: f64, v: f64, a: f64, w: f64, tau: f64) -> f64 {
    let tape = Tape::new();
    let d = Wiener::new(v, a, w, tau).unwrap();
    d.log_prob(&tape, Operand::from(&[rt, choice][..])).scalar()
}

fn fixture() -> Vec<[f64; 11]> {
    let text = include_str!("data/wiener_fixture.csv");
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<f64> = l.split(',').map(|x| x.parse().unwrap()).collect();
            f.try_into().unwrap()
        })
        .collect()
}

#[test]
fn log_density_and_partials_match_the_50_digit_fixture() {
    let rows = fixture();
    assert!(rows.len() >= 200);
    let (mut max_lp, mut max_grad) = (0.0f64, 0.0f64);
    for r in &rows {
        let [choice, rt, v, a, w, tau, lp_ref, dv, da, dw, dtau] = *r;
        let (lp, g) = eval(choice, rt, v, a, w, tau);
        let what = format!("choice {choice} rt {rt} v {v} a {a} w {w} tau {tau}");
        let err = (lp - lp_ref).abs() / lp_ref.abs().max(1.0);
        assert!(err <= FIXTURE_LP_TOL, "ln p {what}: {lp} vs {lp_ref}");
        max_lp = max_lp.max(err);
        for (k, (&got, want)) in g.iter().zip([dv, da, dw, dtau, -dtau]).enumerate() {
            let e = (got - want).abs() / want.abs().max(1.0);
            assert!(
                e <= FIXTURE_GRAD_RTOL,
                "partial {k} {what}: {got} vs {want}"
            );
            max_grad = max_grad.max(e);
        }
    }
    // The measured errors (~1e-13 and ~1e-11) are far inside the budgets.
    assert!(max_lp < FIXTURE_LP_TOL && max_grad < FIXTURE_GRAD_RTOL);
}

#[test]
fn published_rwiener_values_used_by_stans_tests() {
    // stan-dev/math test/prob/wiener/wiener_test.hpp: RWiener::dwiener(y, alpha, tau,
    // beta, delta, give_log = TRUE), the density of hitting the upper bound.
    let cases = [
        // (y, alpha, tau, beta, delta, ln p)
        (1.1, 2.1, 0.3, 0.55, 0.4, -0.892976431870503),
        (2.1, 4.1, 0.6, 0.05, 0.1, -5.28933922584833),
        (1.2, 10.1, 0.35, 0.95, 0.5, -1.36212169454714),
        (50.1, 4.3, 1.05, 0.65, 0.15, -15.3049368722015),
        (1.51, 1.1, 0.9, 0.2, 10.5, -26.4531852275477),
    ];
    for (y, a, tau, w, v, want) in cases {
        assert_close(
            lp(1.0, y, v, a, w, tau),
            want,
            PUBLISHED_TOL,
            "RWiener value",
        );
    }
    // The older stan-dev/stan src/test/unit-distribution/univariate/continuous/wiener/
    // wiener_test.hpp (same source), printed to fewer digits: within half a unit of the
    // last printed digit.
    let short = [
        (2.1, 4.1, 1.9, 0.05, 0.1, -34.6844, 5e-5),
        (0.1, 10.1, 0.05, 0.95, 0.5, 0.587463, 5e-7),
        (50.1, 4.3, 10.05, 0.65, 0.15, -12.80167, 5e-6),
        (50.1, 1.1, 1.05, 0.99, 10.5, -2906.315, 5e-4),
    ];
    for (y, a, tau, w, v, want, half_ulp) in short {
        let got = lp(1.0, y, v, a, w, tau);
        assert!(
            (got - want).abs() <= half_ulp,
            "RWiener value: {got} vs {want}"
        );
    }
}

/// ∫₀^∞ f(t, choice) dt by the trapezoidal rule in s = ln t.
fn integral(choice: f64, v: f64, a: f64, w: f64) -> f64 {
    let (lo, hi, h) = ((1e-8 * a * a).ln(), (200.0 * a * a).ln(), 0.01);
    let n = ((hi - lo) / h).ceil() as usize;
    (0..=n)
        .map(|i| {
            let s = lo + i as f64 * h;
            (lp(choice, s.exp(), v, a, w, 0.0) + s).exp() * h
        })
        .sum()
}

#[test]
fn densities_integrate_to_one_with_the_closed_form_choice_probability() {
    for &(v, a, w) in &[
        (0.0, 1.0, 0.5),
        (1.3, 0.7, 0.3),
        (-2.0, 1.5, 0.62),
        (4.5, 0.5, 0.1),
        (-0.7, 2.0, 0.9),
        (0.4, 1.2, 0.02),
    ] {
        let up = integral(1.0, v, a, w);
        let low = integral(0.0, v, a, w);
        // The scale function of the diffusion: P(upper) = (1 − e^{−2vaw}) / (1 − e^{−2va}).
        let p_up: f64 = if v == 0.0 {
            w
        } else {
            (-2.0 * v * a * w).exp_m1() / (-2.0 * v * a).exp_m1()
        };
        let what = format!("v {v} a {a} w {w}");
        assert!(
            (up + low - 1.0).abs() < QUAD_TOL,
            "total {what}: {}",
            up + low
        );
        assert!(
            (up - p_up).abs() < QUAD_TOL,
            "P(upper) {what}: {up} vs {p_up}"
        );
    }
}

#[test]
fn relative_precision_is_kept_as_the_start_nears_either_bound() {
    // As w → 0 both densities are proportional to w (to O(w²)), as w → 1 to 1 − w: the
    // series are summed in image pairs that are O(w) or O(1 − w), so no digits are lost.
    for &t in &[0.01, 0.15, 0.6, 4.0] {
        for choice in [0.0, 1.0] {
            let near0 = lp(choice, t, 0.7, 1.1, 2e-12, 0.0) - lp(choice, t, 0.7, 1.1, 1e-12, 0.0);
            assert_close(near0, 2f64.ln(), 1e-9, "w -> 0");
            let (w1, w2) = (1.0 - 2f64.powi(-40), 1.0 - 2f64.powi(-41));
            let near1 = lp(choice, t, 0.7, 1.1, w1, 0.0) - lp(choice, t, 0.7, 1.1, w2, 0.0);
            assert_close(near1, 2f64.ln(), 1e-9, "w -> 1");
        }
    }
}

#[test]
fn constructor_refuses_invalid_parameters() {
    let bad = |r: Result<Wiener<'_>, PplError>, param: &str| match r {
        Err(PplError::InvalidParameter { parameter, .. }) => assert_eq!(parameter, param),
        other => panic!("expected InvalidParameter({param}), got {other:?}"),
    };
    bad(Wiener::new(f64::NAN, 1.0, 0.5, 0.1), "drift");
    bad(Wiener::new(f64::INFINITY, 1.0, 0.5, 0.1), "drift");
    for a in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        bad(Wiener::new(0.0, a, 0.5, 0.1), "boundary");
    }
    for w in [0.0, 1.0, -0.1, 1.5, f64::NAN] {
        bad(Wiener::new(0.0, 1.0, w, 0.1), "start");
    }
    for tau in [-1e-9, f64::NAN, f64::INFINITY] {
        bad(Wiener::new(0.0, 1.0, 0.5, tau), "ndt");
    }
    assert!(matches!(
        Wiener::new(vec![0.0, 1.0], vec![1.0, 2.0, 3.0], 0.5, 0.0),
        Err(PplError::ShapeMismatch { .. })
    ));
}

#[test]
fn values_of_the_wrong_width_or_nan_are_tape_errors_and_out_of_support_is_minus_infinity() {
    let d = Wiener::new(0.5, 1.0, 0.5, 0.2).unwrap();
    assert_eq!(d.event_shape(), Shape::vector(2));
    assert_eq!(d.support(), Constraint::RtChoice);
    for (data, shape) in [
        (vec![1.0, 0.0, 1.0], Shape::vector(3)),
        (vec![1.0], Shape::vector(1)),
        (vec![1.0, 0.0, 1.0, 2.0, 1.0, 1.0], Shape::matrix(2, 3)),
    ] {
        let tape = Tape::new();
        let _ = d.log_prob(&tape, Operand::Data(&data, shape));
        assert!(matches!(tape.error(), Some(PplError::ShapeMismatch { .. })));
    }
    for row in [[f64::NAN, 1.0], [1.0, f64::NAN]] {
        let tape = Tape::new();
        let _ = d.log_prob(&tape, Operand::from(&row[..]));
        assert!(matches!(tape.error(), Some(PplError::Data(_))), "{row:?}");
    }
    // rt ≤ τ, rt = ∞ and choices other than 0 and 1: −∞ with zero partials.
    for row in [
        [0.2, 1.0],
        [0.1, 0.0],
        [f64::INFINITY, 1.0],
        [1.0, 0.5],
        [1.0, 2.0],
        [1.0, -1.0],
    ] {
        let (lp, g) = eval(row[1], row[0], 0.5, 1.0, 0.5, 0.2);
        assert_eq!(lp, f64::NEG_INFINITY, "{row:?}");
        assert_eq!(g, [0.0; 5], "{row:?}");
    }
}

#[test]
fn a_plate_of_trials_gathered_from_subjects_is_the_sum_of_single_trials() {
    // 3 subjects with their own drift, 7 trials each (rows interleaved), one fused node.
    let (subjects, per) = (3, 7);
    let subject: Vec<usize> = (0..subjects * per).map(|i| i % subjects).collect();
    let data: Vec<f64> = (0..subjects * per)
        .flat_map(|i| [0.35 + 0.11 * i as f64, (i % 2) as f64])
        .collect();
    let (a, w, tau) = (1.3, 0.45, 0.25);
    let (s2, d2) = (subject.clone(), data.clone());
    let model = move |m: &mut Model<'_>| -> Result<(), PplError> {
        let v = m.plate("subject", subjects, |m| {
            m.sample("v", Normal::new(0.0, 2.0)?)
        })?;
        m.plate("trial", s2.len(), |m| {
            m.observe("x", Wiener::new(v.gather(&s2), a, w, tau)?, &d2)
        })
    };
    let mut joint = LogJoint::new(model).unwrap();
    let u = [0.8, -1.1, 0.1];
    let mut g = [0.0; 3];
    let lp = joint.log_density_grad(&u, &mut g).unwrap();
    let mut lp_sum = 0.0;
    let mut g_sum = [0.0; 3];
    for (s, &us) in u.iter().enumerate() {
        lp_sum += -0.5 * (us / 2.0) * (us / 2.0) - 2f64.ln() - ppl::special::LN_SQRT_2PI;
        g_sum[s] -= us / 4.0;
    }
    for (i, &s) in subject.iter().enumerate() {
        let (l, d) = eval(data[2 * i + 1], data[2 * i], u[s], a, w, tau);
        lp_sum += l;
        g_sum[s] += d[0];
    }
    assert_close(lp, lp_sum, 1e-12, "plate log density");
    for s in 0..3 {
        assert_close(g[s], g_sum[s], 1e-12, "plate gradient");
    }
    // Batch shapes: [N, 2] values against [N] parameters give [N]; the node count is
    // one node for the fused density whatever N.
    let tape = Tape::new();
    let v = tape.vector(&[0.1, 0.2, 0.3]);
    let before = tape.len();
    let x = Wiener::new(v, a, w, tau)
        .unwrap()
        .log_prob(&tape, Operand::Data(&data[..6], Shape::matrix(3, 2)));
    assert_eq!(x.shape(), Shape::vector(3));
    assert_eq!(tape.len(), before + 1);
}

#[test]
fn draws_have_the_closed_form_choice_probability_and_quadrature_mean_time() {
    // 4,000 draws at fixed seed: P(upper) within 5 binomial standard errors of the
    // scale-function value, mean rt within 5 standard errors (plus the sampler's
    // 1e-4·a² step bias) of ∫ t f(t) dt by quadrature.
    let (v, a, w, tau) = (0.8, 1.4, 0.4, 0.3);
    let n = 4000;
    let d = Wiener::new(v, a, w, tau).unwrap();
    let mut r = rng(7);
    let draws: Vec<f64> = (0..n).flat_map(|_| d.sample(&mut r)).collect();
    let (rts, choices): (Vec<f64>, Vec<f64>) = draws.chunks(2).map(|c| (c[0], c[1])).unzip();
    assert!(choices.iter().all(|&c| c == 0.0 || c == 1.0));
    assert!(rts.iter().all(|&t| t > tau));
    let p_up = (-2.0 * v * a * w).exp_m1() / (-2.0 * v * a).exp_m1();
    let freq = choices.iter().sum::<f64>() / n as f64;
    let se = (p_up * (1.0 - p_up) / n as f64).sqrt();
    assert!((freq - p_up).abs() < MC_SIGMAS * se, "{freq} vs {p_up}");
    // Mean and variance of rt by the same quadrature as above.
    let moment = |k: i32| -> f64 {
        let (lo, hi, h) = ((1e-8 * a * a).ln(), (200.0 * a * a).ln(), 0.01);
        let n = ((hi - lo) / h).ceil() as usize;
        (0..=n)
            .map(|i| {
                let s = lo + i as f64 * h;
                let f = (lp(0.0, s.exp(), v, a, w, 0.0) + s).exp()
                    + (lp(1.0, s.exp(), v, a, w, 0.0) + s).exp();
                f * (s.exp() + tau).powi(k) * h
            })
            .sum()
    };
    let (m1, m2) = (moment(1), moment(2));
    let mean = rts.iter().sum::<f64>() / n as f64;
    let se = ((m2 - m1 * m1) / n as f64).sqrt();
    assert!(
        (mean - m1).abs() < MC_SIGMAS * se + 1e-4 * a * a,
        "{mean} vs {m1}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn gradients_match_central_differences(
        v in -5.0f64..5.0, a in 0.3f64..3.0, w in 0.1f64..0.9, tau in 0.0f64..0.5,
        ln_t in (1e-2f64).ln()..(10.0f64).ln(), choice in 0..2u8,
    ) {
        let rt = tau + ln_t.exp();
        let c = f64::from(choice);
        let (_, g) = eval(c, rt, v, a, w, tau);
        let x = [v, a, w, tau, rt];
        let f = |p: &[f64]| lp(c, p[4], p[0], p[1], p[2], p[3]);
        for (i, &gi) in g.iter().enumerate() {
            let fd = central_diff(&f, &x, i);
            // t ≥ 0.01 keeps the step 1e-6·max(1, rt) small against t; smaller t are
            // covered by the fixture.
            prop_assert!((gi - fd).abs() <= FD_TOL * (1.0 + fd.abs()), "partial {}: {} vs {}", i, gi, fd);
        }
    }

    #[test]
    fn no_nan_for_any_finite_parameters(
        v in proptest::num::f64::NORMAL | proptest::num::f64::ZERO,
        a in proptest::num::f64::POSITIVE,
        w in prop_oneof![0.0f64..1.0, 1e-300f64..1e-8, Just(1.0 - f64::EPSILON / 2.0)],
        tau in proptest::num::f64::POSITIVE | proptest::num::f64::ZERO,
        t in proptest::num::f64::POSITIVE,
        choice in prop_oneof![Just(0.0), Just(1.0)],
        other in proptest::num::f64::ANY,
    ) {
        let valid = v.is_finite() && a.is_finite() && w > 0.0 && tau.is_finite();
        prop_assert_eq!(Wiener::new(v, a, w, tau).is_ok(), valid);
        if valid {
            // In support (t = rt − τ > 0 unless rounding says otherwise), and with an
            // arbitrary rt or an arbitrary choice: never NaN, never +∞.
            for (rt, c) in [(tau + t, choice), (other, choice), (tau + t, other)] {
                if rt.is_nan() || c.is_nan() {
                    continue;
                }
                let (l, g) = eval(c, rt, v, a, w, tau);
                prop_assert!(!l.is_nan() && l != f64::INFINITY, "ln p {}", l);
                prop_assert!(g.iter().all(|x| !x.is_nan()), "{:?}", g);
            }
        }
    }
}
