//! Multivariate distributions (Dirichlet, MultivariateNormal): log densities against
//! statrs and closed forms, gradients against finite differences over flat parameter
//! vectors, component moments against closed forms, constructor errors, no panic or NaN.

mod common;

use common::*;
use ppl::{
    Constraint, Dirichlet, Distribution, MultivariateNormal, Operand, Param, PplError, Shape, Tape,
    Var,
};
use proptest::prelude::*;
use statrs::distribution::Continuous;
use statrs::function::gamma::ln_gamma;

/// ½ ln(2π), written out independently of the crate's constant.
const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

/// Relative tolerance for identities between two exact computations in f64 (the same
/// density through two parameterizations, a matrix rebuilt from its factor).
const IDENTITY_RTOL: f64 = 1e-12;

fn mat<'t>(values: &[f64], d: usize) -> Param<'t> {
    Param::Data(values.to_vec(), Shape::matrix(d, d))
}

/// log_prob of one event `x` (a constant row) as an f64.
fn lp_row<'t>(d: &dyn Distribution<'t>, tape: &'t Tape, x: &[f64]) -> f64 {
    d.log_prob(tape, Operand::from(x)).scalar()
}

// ---------------------------------------------------------------- Dirichlet

#[test]
fn dirichlet_with_two_components_is_statrs_beta() {
    let tape = Tape::new();
    for &(a, b) in &[(1.0, 1.0), (0.5, 0.5), (2.0, 7.5), (30.0, 0.8)] {
        let d = Dirichlet::new(vec![a, b]).unwrap();
        let s = statrs::distribution::Beta::new(a, b).unwrap();
        for &x in &[0.01, 0.25, 0.5, 0.9, 0.999] {
            assert_logpdf(
                lp_row(&d, &tape, &[x, 1.0 - x]),
                s.ln_pdf(x),
                "Dirichlet(a, b) vs Beta",
            );
        }
    }
}

#[test]
fn dirichlet_matches_closed_form_and_rejects_rows_off_the_simplex() {
    let tape = Tape::new();
    let alpha = [0.7, 2.0, 4.5];
    let d = Dirichlet::new(alpha.to_vec()).unwrap();
    let by_hand = |x: &[f64]| {
        ln_gamma(alpha.iter().sum()) - alpha.iter().map(|&a| ln_gamma(a)).sum::<f64>()
            + alpha
                .iter()
                .zip(x)
                .map(|(a, x)| (a - 1.0) * x.ln())
                .sum::<f64>()
    };
    for x in [[0.2, 0.3, 0.5], [0.001, 0.499, 0.5], [0.9, 0.05, 0.05]] {
        assert_logpdf(lp_row(&d, &tape, &x), by_hand(&x), "Dirichlet by hand");
    }
    for bad in [
        [0.5, 0.6, 0.1],
        [0.0, 0.5, 0.5],
        [-0.1, 0.6, 0.5],
        [0.2, 0.3, 0.5 + 1e-8],
        [f64::NAN, 0.5, 0.5],
        [f64::INFINITY, 0.5, 0.5],
    ] {
        assert_eq!(lp_row(&d, &tape, &bad), f64::NEG_INFINITY, "{bad:?}");
    }
    assert_eq!(d.support(), Constraint::Simplex);
    assert_eq!(d.event_shape(), Shape::vector(3));
    assert_eq!(d.batch_shape(), Shape::SCALAR);
}

#[test]
fn dirichlet_batches_rows_and_checks_the_event_size() {
    let tape = Tape::new();
    let alpha = [[1.5, 2.0, 0.5], [3.0, 3.0, 3.0]];
    let d = Dirichlet::new(Param::Data(alpha.concat(), Shape::matrix(2, 3))).unwrap();
    assert_eq!(d.batch_shape(), Shape::vector(2));
    let x = [0.2, 0.3, 0.5];
    let single = |a: &[f64]| lp_row(&Dirichlet::new(a.to_vec()).unwrap(), &tape, &x);
    // One row broadcast against the batch of two.
    let out = d.log_prob(&tape, Operand::from(&x[..])).value();
    assert_eq!(out.len(), 2);
    assert_logpdf(out[0], single(&alpha[0]), "batch row 0");
    assert_logpdf(out[1], single(&alpha[1]), "batch row 1");
    // Two rows of values, one per batch element.
    let xs = [0.2, 0.3, 0.5, 0.1, 0.1, 0.8];
    let out = d
        .log_prob(&tape, Operand::Data(&xs, Shape::matrix(2, 3)))
        .value();
    assert_logpdf(
        out[1],
        lp_row(&Dirichlet::new(alpha[1].to_vec()).unwrap(), &tape, &xs[3..]),
        "row 1",
    );
    assert!(tape.error().is_none());
    // A value whose last dimension is not K.
    let _ = d.log_prob(&tape, Operand::from(&[0.5, 0.5][..]));
    assert!(matches!(tape.error(), Some(PplError::ShapeMismatch { .. })));
}

#[test]
fn dirichlet_moments_match_closed_forms() {
    // 40,000 draws: every component's mean and variance within 5 standard errors; the
    // small α = 0.1 component exercises the log-space draw.
    let d = Dirichlet::new(vec![0.1, 2.0, 4.5]).unwrap();
    let draws = check_component_moments(&d, 40_000, 51);
    assert!(draws.iter().all(
        |x| x.iter().all(|v| *v >= 0.0) && (x.iter().sum::<f64>() - 1.0).abs() < IDENTITY_RTOL
    ));
    let m = d.mean().unwrap();
    assert_close(m[1], 2.0 / 6.6, IDENTITY_RTOL, "mean α/α₀");
    let v = d.variance().unwrap();
    assert_close(
        v[2],
        4.5 * (6.6 - 4.5) / (6.6 * 6.6 * 7.6),
        IDENTITY_RTOL,
        "variance α(α₀ − α)/(α₀²(α₀ + 1))",
    );
    let batched =
        Dirichlet::new(Param::Data(vec![1.0, 1.0, 5.0, 0.5], Shape::matrix(2, 2))).unwrap();
    check_component_moments(&batched, 40_000, 52);
}

#[test]
fn dirichlet_draws_with_tiny_concentration_stay_on_the_simplex() {
    // Gamma(0.001) draws underflow to 0 about half the time; normalizing in log space
    // still gives a simplex (never 0/0).
    let d = Dirichlet::new(vec![1e-3, 1e-3, 1e-3]).unwrap();
    let mut r = rng(53);
    for _ in 0..2_000 {
        let x = d.sample(&mut r);
        assert!(x.iter().all(|v| v.is_finite() && *v >= 0.0), "{x:?}");
        assert!((x.iter().sum::<f64>() - 1.0).abs() < IDENTITY_RTOL, "{x:?}");
    }
}

#[test]
fn rows_outside_the_support_add_no_gradient() {
    // A batch of one good row and bad rows gives the good row's gradient exactly.
    let grads = |rows: &[f64], n: usize, event: usize, mvn: bool| -> Vec<f64> {
        let tape = Tape::new();
        let p = tape.vector(&[1.5, 0.7, 2.0]);
        let x = tape.var(rows, Shape::matrix(n, event));
        let l = tape.var(
            &[1.0, 0.0, 0.0, 0.5, 2.0, 0.0, -0.3, 0.2, 0.8],
            Shape::matrix(3, 3),
        );
        let lp = if mvn {
            MultivariateNormal::new(p, l)
                .unwrap()
                .log_prob(&tape, Operand::Var(x))
        } else {
            Dirichlet::new(p).unwrap().log_prob(&tape, Operand::Var(x))
        };
        assert!(lp.value()[1..].iter().all(|v| *v == f64::NEG_INFINITY));
        tape.backward(lp.sum()).unwrap();
        let gx = x.grad();
        assert!(gx[event..].iter().all(|g| *g == 0.0), "{gx:?}");
        [p.grad(), l.grad(), gx[..event].to_vec()].concat()
    };
    let good = [0.2, 0.3, 0.5];
    for (mvn, bad) in [
        (true, [f64::INFINITY, 0.0, 0.0, f64::NAN, 1.0, 1.0]),
        (false, [0.0, 0.5, 0.5, 0.4, 0.4, 0.4]),
    ] {
        let alone = grads(&good, 1, 3, mvn);
        let mixed = grads(&[&good[..], &bad].concat(), 3, 3, mvn);
        assert_eq!(alone, mixed, "mvn = {mvn}");
        assert!(alone.iter().all(|g| g.is_finite()));
    }
}

#[test]
fn dirichlet_constructor_errors() {
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            Dirichlet::new(vec![1.0, bad]),
            Err(PplError::InvalidParameter {
                distribution: "Dirichlet",
                parameter: "concentration",
                ..
            })
        ));
    }
    // A row whose total overflows.
    assert!(matches!(
        Dirichlet::new(vec![1e308, 1e308]),
        Err(PplError::InvalidParameter { parameter: "concentration", value, .. }) if value == f64::INFINITY
    ));
    // K < 2, or no event dimension at all.
    assert!(matches!(
        Dirichlet::new(vec![1.0]),
        Err(PplError::ShapeMismatch { .. })
    ));
    assert!(matches!(
        Dirichlet::new(2.0),
        Err(PplError::ShapeMismatch { .. })
    ));
}

/// Simplex-preserving directions eᵢ − eⱼ (i < j) over coordinates `start..start + k` of `n`.
fn simplex_dirs(start: usize, k: usize, n: usize) -> Vec<Vec<f64>> {
    let mut out = Vec::new();
    for i in start..start + k {
        for j in i + 1..start + k {
            let mut v = vec![0.0; n];
            v[i] = 1.0;
            v[j] = -1.0;
            out.push(v);
        }
    }
    out
}

/// Σ log p of a value slice `x[k..2k]` under Dirichlet(`x[..k]`), both on the tape.
fn dirichlet_lp(x: Var<'_>, k: usize) -> Var<'_> {
    let d = Dirichlet::new(x.slice(0, k)).unwrap();
    d.log_prob(x.tape(), Operand::Var(x.slice(k, k))).sum()
}

// ---------------------------------------------------------------- MultivariateNormal

/// A 3-d lower-triangular factor with a positive diagonal.
const L3: [f64; 9] = [1.2, 0.0, 0.0, -0.4, 0.7, 0.0, 0.9, 0.3, 2.0];

#[test]
fn mvn_in_one_dimension_is_statrs_normal() {
    let tape = Tape::new();
    for &(mu, sigma) in &[(0.0, 1.0), (-3.0, 0.1), (5.0, 20.0)] {
        let d = MultivariateNormal::new(vec![mu], mat(&[sigma], 1)).unwrap();
        let dc = MultivariateNormal::from_covariance(vec![mu], vec![sigma * sigma]).unwrap();
        let s = statrs::distribution::Normal::new(mu, sigma).unwrap();
        for &x in &[-10.0, 0.0, 0.3, 25.0] {
            assert_logpdf(lp_row(&d, &tape, &[x]), s.ln_pdf(x), "MVN d = 1");
            assert_logpdf(
                lp_row(&dc, &tape, &[x]),
                s.ln_pdf(x),
                "MVN d = 1 from covariance",
            );
        }
        assert_eq!(lp_row(&d, &tape, &[f64::NAN]), f64::NEG_INFINITY);
        assert_eq!(lp_row(&d, &tape, &[f64::INFINITY]), f64::NEG_INFINITY);
    }
}

#[test]
fn mvn_with_diagonal_factor_is_a_product_of_normals() {
    let tape = Tape::new();
    let d = MultivariateNormal::new(vec![1.0, -2.0], mat(&[0.5, 0.0, 0.0, 3.0], 2)).unwrap();
    let (s0, s1) = (
        statrs::distribution::Normal::new(1.0, 0.5).unwrap(),
        statrs::distribution::Normal::new(-2.0, 3.0).unwrap(),
    );
    for x in [[0.0, 0.0], [1.3, -7.0], [-4.0, 10.0]] {
        assert_logpdf(
            lp_row(&d, &tape, &x),
            s0.ln_pdf(x[0]) + s1.ln_pdf(x[1]),
            "diagonal MVN",
        );
    }
}

#[test]
fn mvn_in_two_dimensions_matches_the_closed_form_and_from_covariance() {
    let tape = Tape::new();
    let (l00, l10, l11) = (1.5, -0.8, 0.6);
    let mu = [0.5, -1.0];
    // Σ = L Lᵀ, and the 2 × 2 inverse and determinant by hand.
    let (s00, s01, s11) = (l00 * l00, l00 * l10, l10 * l10 + l11 * l11);
    let det = s00 * s11 - s01 * s01;
    let by_hand = |x: [f64; 2]| {
        let (r0, r1) = (x[0] - mu[0], x[1] - mu[1]);
        let q = (s11 * r0 * r0 - 2.0 * s01 * r0 * r1 + s00 * r1 * r1) / det;
        -0.5 * q - 0.5 * det.ln() - 2.0 * HALF_LN_2PI
    };
    let d = MultivariateNormal::new(mu.to_vec(), mat(&[l00, 0.0, l10, l11], 2)).unwrap();
    let dc = MultivariateNormal::from_covariance(mu.to_vec(), vec![s00, s01, s01, s11]).unwrap();
    for x in [[0.0, 0.0], [2.0, -3.0], [-1.0, 4.0]] {
        assert_logpdf(lp_row(&d, &tape, &x), by_hand(x), "2-d MVN by hand");
        assert_close(
            lp_row(&dc, &tape, &x),
            by_hand(x),
            IDENTITY_RTOL,
            "2-d MVN from covariance",
        );
    }
    assert_eq!(d.support(), Constraint::RealVector);
    assert_eq!(d.event_shape(), Shape::vector(2));
    assert_eq!(d.dim(), 2);
}

#[test]
fn from_covariance_recovers_the_cholesky_factor() {
    let tape = Tape::new();
    let mut cov = [0.0; 9];
    for i in 0..3 {
        for j in 0..3 {
            cov[i * 3 + j] = (0..3).map(|k| L3[i * 3 + k] * L3[j * 3 + k]).sum();
        }
    }
    let mu = vec![0.1, 0.2, -0.3];
    let a = MultivariateNormal::new(mu.clone(), mat(&L3, 3)).unwrap();
    let b = MultivariateNormal::from_covariance(mu, cov.to_vec()).unwrap();
    for (va, vb) in a.variance().unwrap().iter().zip(&b.variance().unwrap()) {
        assert_close(*va, *vb, IDENTITY_RTOL, "diag(L Lᵀ)");
    }
    for x in [[0.0, 0.0, 0.0], [1.0, -2.0, 3.0]] {
        assert_close(
            lp_row(&b, &tape, &x),
            lp_row(&a, &tape, &x),
            IDENTITY_RTOL,
            "same density",
        );
    }
}

#[test]
fn mvn_batches_loc_factor_and_values() {
    let tape = Tape::new();
    let l2 = [1.0, 0.0, 0.5, 2.0];
    let l2b = [0.3, 0.0, -1.0, 1.0];
    let single = |mu: &[f64], l: &[f64], x: &[f64]| {
        lp_row(
            &MultivariateNormal::new(mu.to_vec(), mat(l, 2)).unwrap(),
            &tape,
            x,
        )
    };
    // Batched loc [3, 2], one factor.
    let locs = [0.0, 0.0, 1.0, -1.0, 2.0, 5.0];
    let d = MultivariateNormal::new(Param::Data(locs.to_vec(), Shape::matrix(3, 2)), mat(&l2, 2))
        .unwrap();
    assert_eq!(d.batch_shape(), Shape::vector(3));
    let x = [0.5, 0.5];
    let out = d.log_prob(&tape, Operand::from(&x[..])).value();
    for b in 0..3 {
        assert_logpdf(
            out[b],
            single(&locs[2 * b..2 * b + 2], &l2, &x),
            "batched loc",
        );
    }
    assert_eq!(d.mean().unwrap(), locs.to_vec());
    // Batched factor [2, 2, 2], one loc, two value rows.
    let ls = Param::Data([l2, l2b].concat(), Shape::new(&[2, 2, 2]).unwrap());
    let d = MultivariateNormal::new(vec![1.0, 1.0], ls).unwrap();
    assert_eq!(d.batch_shape(), Shape::vector(2));
    let xs = [0.0, 1.0, 3.0, -2.0];
    let out = d
        .log_prob(&tape, Operand::Data(&xs, Shape::matrix(2, 2)))
        .value();
    assert_logpdf(
        out[0],
        single(&[1.0, 1.0], &l2, &xs[..2]),
        "batched factor row 0",
    );
    assert_logpdf(
        out[1],
        single(&[1.0, 1.0], &l2b, &xs[2..]),
        "batched factor row 1",
    );
    let var = d.variance().unwrap();
    assert_close(var[3], 1.0 + 1.0, IDENTITY_RTOL, "diag(L Lᵀ) of row 1");
    assert!(tape.error().is_none());
    // A value of the wrong dimension is an error on the tape.
    let _ = d.log_prob(&tape, Operand::from(&[1.0, 2.0, 3.0][..]));
    assert!(matches!(tape.error(), Some(PplError::ShapeMismatch { .. })));
}

#[test]
fn mvn_gradient_matches_the_analytic_formulas() {
    // ∂/∂x = −w, ∂/∂μ = w with w = Σ⁻¹(x − μ); ∂/∂L has no entries above the diagonal.
    let tape = Tape::new();
    let l = tape.var(&L3, Shape::matrix(3, 3));
    let mu = tape.vector(&[0.1, 0.2, -0.3]);
    let x = tape.vector(&[1.0, -1.0, 2.0]);
    let d = MultivariateNormal::new(mu, l).unwrap();
    tape.backward(d.log_prob(&tape, Operand::Var(x)).sum())
        .unwrap();
    let (gx, gm, gl) = (x.grad(), mu.grad(), l.grad());
    for i in 0..3 {
        assert_close(gx[i], -gm[i], IDENTITY_RTOL, "∂/∂x = −∂/∂μ");
    }
    // Σ w = x − μ.
    let r = [0.9, -1.2, 2.3];
    for i in 0..3 {
        let sw: f64 = (0..3)
            .map(|j| (0..3).map(|k| L3[i * 3 + k] * L3[j * 3 + k]).sum::<f64>() * gm[j])
            .sum();
        assert_close(sw, r[i], IDENTITY_RTOL, "Σ·∂/∂μ = x − μ");
    }
    assert_eq!([gl[1], gl[2], gl[5]], [0.0; 3]);
}

#[test]
fn mvn_moments_match_closed_forms() {
    // 40,000 draws: each component's mean and variance within 5 standard errors, and the
    // (0, 2) covariance within 5 standard errors of the products' sample standard deviation.
    const N: usize = 40_000;
    let d = MultivariateNormal::new(vec![1.0, -2.0, 0.5], mat(&L3, 3)).unwrap();
    let draws = check_component_moments(&d, N, 61);
    let cov02: f64 = (0..3).map(|k| L3[k] * L3[6 + k]).sum();
    let m = d.mean().unwrap();
    let prods: Vec<f64> = draws
        .iter()
        .map(|x| (x[0] - m[0]) * (x[2] - m[2]))
        .collect();
    let (c, v, _) = sample_stats(&prods);
    let se = (v / N as f64).sqrt();
    assert!(
        (c - cov02).abs() <= MC_SIGMAS * se,
        "covariance (0, 2): {c} vs {cov02} (se {se})"
    );
    let batched = MultivariateNormal::new(
        Param::Data(vec![0.0, 0.0, 3.0, 3.0], Shape::matrix(2, 2)),
        mat(&[2.0, 0.0, 1.0, 0.5], 2),
    )
    .unwrap();
    check_component_moments(&batched, N, 62);
}

#[test]
fn mvn_constructor_errors() {
    let is_bad = |r: Result<MultivariateNormal<'_>, PplError>, p: &str| matches!(r, Err(PplError::InvalidParameter { distribution: "MultivariateNormal", parameter, .. }) if parameter == p);
    let eye = [1.0, 0.0, 0.0, 1.0];
    for bad in [f64::NAN, f64::INFINITY] {
        assert!(is_bad(
            MultivariateNormal::new(vec![0.0, bad], mat(&eye, 2)),
            "loc"
        ));
        assert!(is_bad(
            MultivariateNormal::new(vec![0.0, 0.0], mat(&[1.0, 0.0, bad, 1.0], 2)),
            "scale_tril"
        ));
        assert!(is_bad(
            MultivariateNormal::from_covariance(vec![0.0, 0.0], vec![1.0, 0.0, 0.0, bad]),
            "covariance_matrix"
        ));
    }
    // Diagonal ≤ 0, an entry above the diagonal.
    for l in [
        [0.0, 0.0, 0.0, 1.0],
        [1.0, 0.0, 0.0, -1.0],
        [1.0, 0.1, 0.0, 1.0],
    ] {
        assert!(is_bad(
            MultivariateNormal::new(vec![0.0, 0.0], mat(&l, 2)),
            "scale_tril"
        ));
    }
    // Not symmetric; symmetric but not positive definite.
    for c in [
        [1.0, 0.5, 0.4, 1.0],
        [1.0, 2.0, 2.0, 1.0],
        [0.0, 0.0, 0.0, 1.0],
    ] {
        assert!(is_bad(
            MultivariateNormal::from_covariance(vec![0.0, 0.0], c.to_vec()),
            "covariance_matrix"
        ));
    }
    // Dimensions: loc [3] vs factor [2, 2]; a non-square factor; a vector factor; a
    // covariance of the wrong length; a scalar loc.
    let shape_err = |r: Result<MultivariateNormal<'_>, PplError>| {
        matches!(r, Err(PplError::ShapeMismatch { .. }))
    };
    assert!(shape_err(MultivariateNormal::new(
        vec![0.0; 3],
        mat(&eye, 2)
    )));
    assert!(shape_err(MultivariateNormal::new(
        vec![0.0; 2],
        Param::Data(vec![1.0; 6], Shape::matrix(2, 3))
    )));
    assert!(shape_err(MultivariateNormal::new(
        vec![0.0; 2],
        vec![1.0, 1.0]
    )));
    assert!(shape_err(MultivariateNormal::from_covariance(
        vec![0.0; 2],
        vec![1.0; 3]
    )));
    assert!(shape_err(MultivariateNormal::new(0.0, mat(&[1.0], 1))));
    // Batch shapes that do not broadcast.
    let locs = Param::Data(vec![0.0; 6], Shape::matrix(3, 2));
    let ls = Param::Data([eye, eye].concat(), Shape::new(&[2, 2, 2]).unwrap());
    assert!(shape_err(MultivariateNormal::new(locs, ls)));
}

/// Flat parameters of a 3-d MVN on the tape: loc `x[0..3]`, factor `x[3..12]`, value `x[12..15]`.
fn mvn_lp(x: Var<'_>) -> Var<'_> {
    let d =
        MultivariateNormal::new(x.slice(0, 3), x.slice(3, 9).reshape(Shape::matrix(3, 3))).unwrap();
    d.log_prob(x.tape(), Operand::Var(x.slice(12, 3))).sum()
}

proptest! {
    #[test]
    fn dirichlet_gradient(
        alpha in proptest::collection::vec(0.3..10.0f64, 3),
        w in proptest::collection::vec(0.05..1.0f64, 3),
    ) {
        let total: f64 = w.iter().sum();
        let flat: Vec<f64> = alpha.iter().copied().chain(w.iter().map(|w| w / total)).collect();
        // Coordinates for α; simplex-preserving directions for x.
        let mut dirs: Vec<Vec<f64>> = unit_vectors(6).into_iter().take(3).collect();
        dirs.extend(simplex_dirs(3, 3, 6));
        check_gradient_along(|x| dirichlet_lp(x, 3), &flat, &dirs, "Dirichlet");
    }

    #[test]
    fn mvn_gradient(
        loc in proptest::collection::vec(-3.0..3.0f64, 3),
        diag in proptest::collection::vec(0.5..2.0f64, 3),
        off in proptest::collection::vec(-1.0..1.0f64, 3),
        x in proptest::collection::vec(-4.0..4.0f64, 3),
    ) {
        let l = [diag[0], 0.0, 0.0, off[0], diag[1], 0.0, off[1], off[2], diag[2]];
        let flat: Vec<f64> = loc.iter().chain(&l).chain(&x).copied().collect();
        // Every coordinate except the factor's upper triangle (which must stay 0).
        let upper = [3 + 1, 3 + 2, 3 + 5];
        let dirs: Vec<Vec<f64>> = unit_vectors(15).into_iter().enumerate().filter(|(i, _)| !upper.contains(i)).map(|(_, v)| v).collect();
        check_gradient_along(mvn_lp, &flat, &dirs, "MultivariateNormal");
    }

    #[test]
    fn batched_mvn_gradient(x in proptest::collection::vec(-2.0..2.0f64, 4), l10 in -1.0..1.0f64) {
        // Loc [2, 2] and values [2, 2] on the tape, a constant factor.
        let flat: Vec<f64> = [0.3, -0.2, 1.0, 0.5].iter().chain(&x).copied().collect();
        check_gradient_along(
            |v| {
                let d = MultivariateNormal::new(v.slice(0, 4).reshape(Shape::matrix(2, 2)), mat(&[0.8, 0.0, l10, 1.3], 2)).unwrap();
                d.log_prob(v.tape(), Operand::Var(v.slice(4, 4).reshape(Shape::matrix(2, 2)))).sum()
            },
            &flat,
            &unit_vectors(8),
            "batched MultivariateNormal",
        );
    }

    #[test]
    fn scalar_parameter_constructors_never_panic_or_nan(
        a in proptest::num::f64::ANY,
        b in proptest::num::f64::ANY,
        x in proptest::num::f64::ANY,
        y in proptest::num::f64::ANY,
    ) {
        let tape = Tape::new();
        let mut r = rng(70);
        if let Ok(d) = Dirichlet::new(vec![a, b]) {
            for row in [[x, y], [x, 1.0 - x]] {
                prop_assert!(!lp_row(&d, &tape, &row).is_nan(), "Dirichlet({a}, {b}) at {row:?}");
            }
            let _ = d.sample(&mut r);
        }
        if let Ok(d) = MultivariateNormal::new(vec![a], mat(&[b], 1)) {
            prop_assert!(!lp_row(&d, &tape, &[x]).is_nan(), "MVN({a}, {b}) at {x}");
            let _ = d.sample(&mut r);
        }
        if let Ok(d) = MultivariateNormal::from_covariance(vec![a, x], vec![b, 0.0, 0.0, y]) {
            prop_assert!(!lp_row(&d, &tape, &[x, a]).is_nan(), "MVN({a}, {x}; diag {b}, {y})");
        }
    }
}
