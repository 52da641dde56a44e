//! The Dormand–Prince solver against analytic solutions and conserved
//! quantities, and its failures as error values.

mod common;

use common::assert_close;
use simulators::ode::{Dopri5, OdeError};

/// Relative accuracy expected at sbibm's tolerances (rtol = atol = 1e-8):
/// the global error of a 5(4) pair with local error control stays within a
/// small multiple of the tolerance over these horizons.
const AT_SBIBM_TOL: f64 = 1e-6;

#[test]
fn exponential_decay() {
    let times: Vec<f64> = (0..=10).map(|k| k as f64).collect();
    let mut out = vec![[0.0]; times.len()];
    let stats = Dopri5::default()
        .solve(
            |_t, y: &[f64; 1]| [-0.7 * y[0]],
            0.0,
            [2.0],
            &times,
            &mut out,
        )
        .unwrap();
    for (t, y) in times.iter().zip(&out) {
        assert_close("2 e^{-0.7 t}", y[0], 2.0 * (-0.7 * t).exp(), 1e-8);
    }
    // Six new evaluations per step attempt, plus f(t0) and one in the starting-step estimate.
    assert_eq!(stats.evaluations, 6 * (stats.accepted + stats.rejected) + 2);
    assert!(stats.accepted > 10);
}

#[test]
fn harmonic_oscillator_over_many_periods() {
    // y'' = -ω² y: (y, y') = (cos ωt, -ω sin ωt).
    let w = 3.0;
    let times: Vec<f64> = (0..=20).map(|k| 1.5 * k as f64).collect();
    let mut out = vec![[0.0; 2]; times.len()];
    Dopri5::default()
        .solve(
            |_t, y: &[f64; 2]| [y[1], -w * w * y[0]],
            0.0,
            [1.0, 0.0],
            &times,
            &mut out,
        )
        .unwrap();
    for (t, y) in times.iter().zip(&out) {
        assert_close("cos ωt", y[0], (w * t).cos(), AT_SBIBM_TOL);
        assert_close("-ω sin ωt", y[1], -w * (w * t).sin(), AT_SBIBM_TOL);
    }
}

#[test]
fn tight_tolerances_reach_near_machine_precision() {
    // Logistic growth y' = r y (1 − y/K), y(0) = y0:
    // y(t) = K / (1 + (K/y0 − 1) e^{−rt}).
    let (r, k, y0) = (0.8, 50.0, 0.5);
    let times = [0.5, 3.0, 7.0, 20.0];
    let mut out = [[0.0]; 4];
    let solver = Dopri5 {
        rtol: 1e-12,
        atol: 1e-12,
        ..Dopri5::default()
    };
    solver
        .solve(
            |_t, y: &[f64; 1]| [r * y[0] * (1.0 - y[0] / k)],
            0.0,
            [y0],
            &times,
            &mut out,
        )
        .unwrap();
    for (t, y) in times.iter().zip(&out) {
        let exact = k / (1.0 + (k / y0 - 1.0) * (-r * t).exp());
        assert_close("logistic", y[0], exact, 1e-10);
    }
}

#[test]
fn output_at_the_start_and_repeated_times() {
    let mut out = [[0.0]; 3];
    Dopri5::default()
        .solve(
            |t, _y: &[f64; 1]| [t.cos()],
            0.0,
            [0.0],
            &[0.0, 1.0, 1.0],
            &mut out,
        )
        .unwrap();
    assert_eq!(out[0][0], 0.0);
    assert_close("sin 1", out[1][0], 1f64.sin(), 1e-8);
    assert_eq!(out[1], out[2]);
}

#[test]
fn lotka_volterra_conserves_its_first_integral() {
    // V = δx − γ ln x + βy − α ln y is constant along solutions.
    let (a, b, g, d) = (0.9, 0.05, 0.8, 0.06);
    let v = |u: &[f64; 2]| d * u[0] - g * u[0].ln() + b * u[1] - a * u[1].ln();
    let times: Vec<f64> = (1..=40).map(|k| 0.5 * k as f64).collect();
    let mut out = vec![[0.0; 2]; times.len()];
    let y0 = [30.0, 1.0];
    Dopri5::default()
        .solve(
            |_t, u: &[f64; 2]| [a * u[0] - b * u[0] * u[1], -g * u[1] + d * u[0] * u[1]],
            0.0,
            y0,
            &times,
            &mut out,
        )
        .unwrap();
    for u in &out {
        assert_close("first integral", v(u), v(&y0), AT_SBIBM_TOL);
    }
}

#[test]
fn failures_are_errors() {
    // y' = y², y(0) = 1 blows up at t = 1: the solver stops there.
    let mut out = [[0.0]];
    let err = Dopri5::default()
        .solve(
            |_t, y: &[f64; 1]| [y[0] * y[0]],
            0.0,
            [1.0],
            &[2.0],
            &mut out,
        )
        .unwrap_err();
    assert!(
        matches!(err, OdeError::StepTooSmall { t, .. } | OdeError::MaxSteps { t, .. } if (t - 1.0).abs() < 1e-6),
        "{err:?}"
    );
    let few = Dopri5 {
        max_steps: 5,
        ..Dopri5::default()
    };
    assert_eq!(
        few.solve(
            |t, _y: &[f64; 1]| [(50.0 * t).sin()],
            0.0,
            [0.0],
            &[10.0],
            &mut out
        )
        .map_err(|e| matches!(e, OdeError::MaxSteps { max_steps: 5, .. })),
        Err(true)
    );
    let f = |_t: f64, y: &[f64; 1]| [-y[0]];
    let solver = Dopri5::default();
    assert_eq!(
        solver.solve(f, 0.0, [1.0], &[1.0, 0.5], &mut [[0.0]; 2]),
        Err(OdeError::BadTimes)
    );
    assert_eq!(
        solver.solve(f, 1.0, [1.0], &[0.5], &mut out),
        Err(OdeError::BadTimes)
    );
    assert_eq!(
        solver.solve(f, 0.0, [1.0], &[f64::NAN], &mut out),
        Err(OdeError::BadTimes)
    );
    assert_eq!(
        solver.solve(f, 0.0, [f64::NAN], &[1.0], &mut out),
        Err(OdeError::NonFiniteStart)
    );
    assert_eq!(
        solver.solve(f, 0.0, [1.0], &[1.0, 2.0], &mut out),
        Err(OdeError::OutputLength {
            expected: 2,
            got: 1
        })
    );
    let bad = Dopri5 {
        rtol: 0.0,
        ..Dopri5::default()
    };
    assert_eq!(
        bad.solve(f, 0.0, [1.0], &[1.0], &mut out),
        Err(OdeError::BadSettings)
    );
}
