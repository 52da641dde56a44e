//! Bijections to unconstrained space: log|det J| against the determinant of a
//! finite-difference Jacobian, tape gradients against finite differences, and a
//! simplex-valued latent site inside a model.

mod common;

use common::*;
use ppl::{Constraint, Dirichlet, LogJoint, Model, Normal, Shape, Tape};
use proptest::prelude::*;

/// Tolerance for log|det J| from a central-difference Jacobian (step 1e-6): each entry
/// carries ~1e-10 error, the determinant of a ≤ 4×4 matrix of O(1) entries ~1e-9.
const LOGDET_TOL: f64 = 1e-6;

/// ln|det M| of a square row-major matrix by Gaussian elimination with partial pivoting.
fn ln_abs_det(mut m: Vec<f64>, n: usize) -> f64 {
    let mut acc = 0.0;
    for c in 0..n {
        let p = (c..n)
            .max_by(|&a, &b| m[a * n + c].abs().total_cmp(&m[b * n + c].abs()))
            .unwrap();
        if p != c {
            for k in 0..n {
                m.swap(p * n + k, c * n + k);
            }
        }
        let piv = m[c * n + c];
        acc += piv.abs().ln();
        for r in c + 1..n {
            let f = m[r * n + c] / piv;
            for k in c..n {
                m[r * n + k] -= f * m[c * n + k];
            }
        }
    }
    acc
}

/// The constraints with a bijection, each with the event shape to test it on.
fn cases() -> Vec<(Constraint, Shape)> {
    vec![
        (Constraint::Real, Shape::vector(3)),
        (Constraint::Positive, Shape::vector(3)),
        (Constraint::GreaterThan(-1.5), Shape::vector(3)),
        (Constraint::Interval(-2.0, 5.0), Shape::vector(3)),
        (Constraint::UnitInterval, Shape::vector(3)),
        (Constraint::Simplex, Shape::vector(3)),
        (Constraint::Simplex, Shape::vector(4)),
        (Constraint::Simplex, Shape::matrix(2, 3)),
    ]
}

/// The free coordinates of a constrained value: all of them, or the first K−1 of each
/// simplex row (the last is 1 minus the others).
fn free(c: Constraint, shape: Shape, x: &[f64]) -> Vec<f64> {
    if c != Constraint::Simplex {
        return x.to_vec();
    }
    let k = *shape.dims().last().unwrap();
    x.chunks(k).flat_map(|r| r[..k - 1].to_vec()).collect()
}

proptest! {
    #[test]
    fn log_det_is_the_log_jacobian_determinant(u in proptest::collection::vec(-3.0..3.0f64, 4)) {
        for (c, shape) in cases() {
            let n = c.unconstrained_len(shape).unwrap();
            let u: Vec<f64> = (0..n).map(|i| u[i % u.len()] * (1.0 + 0.1 * i as f64)).collect();
            let tape = Tape::new();
            let (x, log_det) = c.forward_var(tape.vector(&u), shape);
            let x = x.value();
            prop_assert!(c.contains_event(&x) || c == Constraint::Simplex && x.chunks(*shape.dims().last().unwrap()).all(|r| c.contains_event(r)));
            // x on the tape equals the plain-f64 forward map.
            let plain = c.forward(&u, shape);
            for (a, b) in x.iter().zip(&plain) {
                prop_assert!((a - b).abs() <= 1e-14 * (1.0 + b.abs()));
            }
            // Numerical Jacobian of the free coordinates (block diagonal over simplex rows).
            let mut jac = vec![0.0; n * n];
            for j in 0..n {
                let col = (0..n).map(|i| {
                    central_diff(&|v| free(c, shape, &c.forward(v, shape))[i], &u, j)
                });
                for (i, d) in col.enumerate() {
                    jac[i * n + j] = d;
                }
            }
            let fd = ln_abs_det(jac, n);
            prop_assert!((log_det.scalar() - fd).abs() <= LOGDET_TOL * (1.0 + fd.abs()), "{c}: {} vs {fd}", log_det.scalar());
        }
    }

    #[test]
    fn tape_gradients_of_bijections_match_finite_differences(
        u in proptest::collection::vec(-3.0..3.0f64, 6),
        w in proptest::collection::vec(0.5..2.0f64, 6),
    ) {
        for (c, shape) in cases() {
            let n = c.unconstrained_len(shape).unwrap();
            let u = &u[..n];
            // f(u) = Σ wᵢ xᵢ(u) + log|det J|(u): every output and the Jacobian term matter.
            let f = |v: &[f64]| -> f64 {
                let tape = Tape::new();
                let (x, ld) = c.forward_var(tape.vector(v), shape);
                x.value().iter().zip(w.iter().cycle()).map(|(a, b)| a * b).sum::<f64>() + ld.scalar()
            };
            let tape = Tape::new();
            let uv = tape.vector(u);
            let (x, ld) = c.forward_var(uv, shape);
            let weights: Vec<f64> = w.iter().cycle().take(shape.len()).copied().collect();
            let out = x.reshape(Shape::vector(shape.len())).dot(tape.constant_vector(&weights)) + ld;
            tape.backward(out).unwrap();
            let g = uv.grad();
            for (i, &gi) in g.iter().enumerate() {
                let fd = central_diff(&f, u, i);
                prop_assert!((gi - fd).abs() <= FD_TOL * (1.0 + fd.abs()), "{c} ∂/∂u{i}: {gi} vs {fd}");
            }
        }
    }
}

#[test]
fn discrete_supports_have_no_unconstrained_form() {
    for c in [
        Constraint::NonNegativeInteger,
        Constraint::Boolean,
        Constraint::IntegerInterval(0, 3),
    ] {
        assert!(c.unconstrained_len(Shape::vector(2)).is_err(), "{c}");
        assert!(c.is_discrete());
    }
    assert!(
        Constraint::Simplex
            .unconstrained_len(Shape::vector(1))
            .is_err()
    );
    assert!(Constraint::Simplex.contains_event(&[0.2, 0.3, 0.5]));
    assert!(!Constraint::Simplex.contains_event(&[0.2, 0.3, 0.6]));
    assert!(!Constraint::Positive.contains(0.0));
    assert!(Constraint::IntegerInterval(0, 3).contains(3.0));
    assert!(!Constraint::IntegerInterval(0, 3).contains(1.5));
}

/// A simplex-valued latent site: p ~ Dirichlet(α), a Normal observation of p₁.
/// On u (K−1 = 2 coordinates) the density is Dirichlet(p(u)) · |J| · N(y | p₁, 0.1).
fn simplex_model(m: &mut Model<'_>) -> Result<(), ppl::PplError> {
    let p = m.sample("p", Dirichlet::new(vec![2.0, 3.0, 4.0])?)?;
    m.observe("y", Normal::new(p.slice(0, 1), 0.1)?, &[0.25])
}

#[test]
fn simplex_latent_site_in_a_model() {
    let alpha = [2.0, 3.0, 4.0];
    let mut lj = LogJoint::new(simplex_model).unwrap();
    assert_eq!(lj.dim(), 2);
    let u = [0.3, -0.4];
    let mut g = [0.0; 2];
    let lp = lj.log_density_grad(&u, &mut g).unwrap();
    // By hand: the Dirichlet density, Stan's stick-breaking log-Jacobian, the Normal.
    let tape = Tape::new();
    let (x, ld) = Constraint::Simplex.forward_var(tape.vector(&u), Shape::vector(3));
    let p = x.value();
    let ln_dir = ppl::special::ln_gamma(9.0)
        - alpha
            .iter()
            .map(|&a| ppl::special::ln_gamma(a))
            .sum::<f64>()
        + alpha
            .iter()
            .zip(&p)
            .map(|(a, x)| (a - 1.0) * x.ln())
            .sum::<f64>();
    let ln_norm = -0.5 * ((0.25 - p[0]) / 0.1f64).powi(2) - 0.1f64.ln() - ppl::special::LN_SQRT_2PI;
    assert_close(
        lp,
        ln_dir + ld.scalar() + ln_norm,
        1e-12,
        "simplex model log density",
    );
    for (i, &gi) in g.iter().enumerate() {
        let fd = central_diff(
            &|v| {
                LogJoint::new(simplex_model)
                    .unwrap()
                    .log_density(v)
                    .unwrap()
            },
            &u,
            i,
        );
        assert_close(gi, fd, FD_TOL, "simplex model gradient");
    }
    let named = lj.constrain(&u).unwrap();
    assert!(Constraint::Simplex.contains_event(&named["p"]));
    let back = lj.unconstrain(&named).unwrap();
    assert_close(back[0], u[0], 1e-12, "unconstrain");
    assert_close(back[1], u[1], 1e-12, "unconstrain");
}
