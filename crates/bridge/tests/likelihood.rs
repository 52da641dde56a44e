//! `NeuralLikelihood` with estimators whose density is known exactly (test doubles):
//! log density and gradient equal the built-in distributions' to 1e-10, for one θ, per-row
//! θ and gathered θ; the gathered path makes one estimator call per group; dimension
//! errors are errors.

use std::sync::atomic::{AtomicUsize, Ordering};

use bridge::NeuralLikelihood;
use flows::{ConditionalDensity, FlowError, Rows, RowsView, XSupport};
use ppl::special::{LN_SQRT_2PI, ln_gamma};
use ppl::{
    Distribution, Gamma, LogJoint, Model, ModelFn, Normal, Operand, Poisson, PplError, Shape, Tape,
};
use proptest::prelude::*;
use rand::Rng;

/// Agreement required with the built-in distribution (issue 8).
const TOL: f64 = 1e-10;

/// x ~ Poisson(θ): the exact likelihood behind the estimator interface.
#[derive(Default)]
struct ExactPoisson {
    calls: AtomicUsize,
}

impl ConditionalDensity for ExactPoisson {
    fn x_dim(&self) -> usize {
        1
    }
    fn context_dim(&self) -> usize {
        1
    }
    fn x_support(&self) -> XSupport {
        XSupport::Integers { min: 0, max: 1000 }
    }
    fn log_prob_batch(
        &self,
        xs: RowsView<'_>,
        contexts: RowsView<'_>,
        out: &mut [f64],
    ) -> Result<(), FlowError> {
        for (i, o) in out.iter_mut().enumerate().take(xs.len()) {
            let (x, l) = (xs.row(i)[0], contexts.row(i)[0]);
            *o = x * l.ln() - l - ln_gamma(x + 1.0);
        }
        Ok(())
    }
    fn sum_log_prob_grad_context(
        &self,
        xs: RowsView<'_>,
        context: &[f64],
        grad: &mut [f64],
    ) -> Result<f64, FlowError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let l = context[0];
        let mut lp = 0.0;
        for i in 0..xs.len() {
            let x = xs.row(i)[0];
            lp += x * l.ln() - l - ln_gamma(x + 1.0);
            grad[0] += x / l - 1.0;
        }
        Ok(lp)
    }
    fn sample(&self, _context: &[f64], n: usize, _rng: &mut dyn Rng) -> Result<Rows, FlowError> {
        Rows::new(vec![0.0; n], 1)
    }
}

/// x = (x₁, x₂) iid N(θ₀, e^{θ₁}): a 2-D row and a 2-D θ.
struct ExactGaussian;

impl ConditionalDensity for ExactGaussian {
    fn x_dim(&self) -> usize {
        2
    }
    fn context_dim(&self) -> usize {
        2
    }
    fn log_prob_batch(
        &self,
        xs: RowsView<'_>,
        contexts: RowsView<'_>,
        out: &mut [f64],
    ) -> Result<(), FlowError> {
        for (i, o) in out.iter_mut().enumerate().take(xs.len()) {
            let mut g = [0.0; 2];
            *o = gauss(xs.row(i), contexts.row(i), &mut g);
        }
        Ok(())
    }
    fn sum_log_prob_grad_context(
        &self,
        xs: RowsView<'_>,
        context: &[f64],
        grad: &mut [f64],
    ) -> Result<f64, FlowError> {
        (0..xs.len())
            .map(|i| Ok(gauss(xs.row(i), context, grad)))
            .sum()
    }
    fn sample(&self, _context: &[f64], n: usize, _rng: &mut dyn Rng) -> Result<Rows, FlowError> {
        Rows::new(vec![0.0; 2 * n], 2)
    }
}

fn gauss(x: &[f64], theta: &[f64], grad: &mut [f64]) -> f64 {
    let (mu, ls) = (theta[0], theta[1]);
    let s = ls.exp();
    x.iter()
        .map(|&xi| {
            let z = (xi - mu) / s;
            grad[0] += z / s;
            grad[1] += z * z - 1.0;
            -0.5 * z * z - ls - LN_SQRT_2PI
        })
        .sum()
}

fn chips() -> (Vec<f64>, Vec<usize>) {
    let data = ppl::cookies::Cookies::load().unwrap();
    (data.chips, data.location)
}

/// log density and gradient of two models at `u` agree to TOL (relative).
fn assert_same<A: ModelFn, B: ModelFn>(a: A, b: B, u: &[f64]) {
    let (mut la, mut lb) = (LogJoint::new(a).unwrap(), LogJoint::new(b).unwrap());
    assert_eq!(la.dim(), lb.dim());
    let (mut ga, mut gb) = (vec![0.0; u.len()], vec![0.0; u.len()]);
    let va = la.log_density_grad(u, &mut ga).unwrap();
    let vb = lb.log_density_grad(u, &mut gb).unwrap();
    assert!(
        (va - vb).abs() <= TOL * vb.abs().max(1.0),
        "log density {va} vs {vb}"
    );
    for (i, (x, y)) in ga.iter().zip(&gb).enumerate() {
        assert!(
            (x - y).abs() <= TOL * y.abs().max(1.0),
            "grad[{i}] {x} vs {y}"
        );
    }
}

proptest! {
    #[test]
    fn one_theta_for_every_row(u in -1.0..3.5f64) {
        let (x, _) = chips();
        let est = ExactPoisson::default();
        let nle = |m: &mut Model<'_>| -> Result<(), PplError> {
            let lam = m.sample("lam", Gamma::new(2.0, 0.2)?)?;
            m.plate("data", x.len(), |m| m.observe("obs", NeuralLikelihood::new(&est, lam)?, &x))
        };
        let exact = |m: &mut Model<'_>| -> Result<(), PplError> {
            let lam = m.sample("lam", Gamma::new(2.0, 0.2)?)?;
            m.plate("data", x.len(), |m| m.observe("obs", Poisson::new(lam)?, &x))
        };
        assert_same(nle, exact, &[u]);
    }

    #[test]
    fn gathered_theta_rows_sorted_or_not(u in proptest::collection::vec(0.5..3.0f64, 5), shuffle in any::<bool>()) {
        let (mut x, mut loc) = chips();
        if shuffle {
            // Interleave the locations so the rows of one group are not contiguous.
            let mut order: Vec<usize> = (0..x.len()).collect();
            order.sort_by_key(|&i| (i % 30, loc[i]));
            x = order.iter().map(|&i| x[i]).collect();
            loc = order.iter().map(|&i| loc[i]).collect();
        }
        let est = ExactPoisson::default();
        let nle = |m: &mut Model<'_>| -> Result<(), PplError> {
            let lam = m.plate("loc", 5, |m| m.sample("lam", Gamma::new(2.0, 0.2)?))?;
            m.plate("data", x.len(), |m| m.observe("obs", NeuralLikelihood::new(&est, lam.gather(&loc))?, &x))
        };
        let exact = |m: &mut Model<'_>| -> Result<(), PplError> {
            let lam = m.plate("loc", 5, |m| m.sample("lam", Gamma::new(2.0, 0.2)?))?;
            m.plate("data", x.len(), |m| m.observe("obs", Poisson::new(lam.gather(&loc))?, &x))
        };
        assert_same(nle, exact, &u);
    }

    #[test]
    fn per_row_theta_from_a_covariate(u in proptest::collection::vec(0.5..3.0f64, 5)) {
        // θ_i = λ_{loc_i} · c_i: every row its own θ (no gather at the top).
        let (x, loc) = chips();
        let c: Vec<f64> = (0..x.len()).map(|i| 0.8 + 0.004 * i as f64).collect();
        let est = ExactPoisson::default();
        let nle = |m: &mut Model<'_>| -> Result<(), PplError> {
            let lam = m.plate("loc", 5, |m| m.sample("lam", Gamma::new(2.0, 0.2)?))?;
            let theta = lam.gather(&loc) * m.data(&c);
            m.plate("data", x.len(), |m| m.observe("obs", NeuralLikelihood::new(&est, theta)?, &x))
        };
        let exact = |m: &mut Model<'_>| -> Result<(), PplError> {
            let lam = m.plate("loc", 5, |m| m.sample("lam", Gamma::new(2.0, 0.2)?))?;
            let theta = lam.gather(&loc) * m.data(&c);
            m.plate("data", x.len(), |m| m.observe("obs", Poisson::new(theta)?, &x))
        };
        assert_same(nle, exact, &u);
    }

    #[test]
    fn two_dimensional_rows_and_theta(u in proptest::collection::vec(-1.0..1.0f64, 6)) {
        // 3 groups with θ_g = (μ_g, ln σ_g); 12 rows of 2 values; rows gathered by group.
        let groups = 3;
        let group: Vec<usize> = (0..12).map(|i| (i * 7) % groups).collect();
        let x: Vec<f64> = (0..24).map(|i| ((i * 37) % 11) as f64 * 0.2 - 1.0).collect();
        // Flat latent (μ_1..μ_G, lnσ_1..lnσ_G), interleaved into rows (μ_g, lnσ_g).
        let interleave: Vec<usize> = (0..groups).flat_map(|g| [g, groups + g]).collect();
        let est = ExactGaussian;
        let nle = |m: &mut Model<'_>| -> Result<(), PplError> {
            let flat = m.plate("p", 2 * groups, |m| m.sample("flat", Normal::new(0.0, 1.0)?))?;
            let theta = flat.gather(&interleave).reshape(Shape::matrix(groups, 2));
            m.plate("rows", 12, |m| m.observe("x", NeuralLikelihood::new(&est, theta.gather(&group))?, &x))
        };
        // The same density with built-in Normals on the flattened rows.
        let idx2: Vec<usize> = group.iter().flat_map(|&g| [g, g]).collect();
        let exact = |m: &mut Model<'_>| -> Result<(), PplError> {
            let flat = m.plate("p", 2 * groups, |m| m.sample("flat", Normal::new(0.0, 1.0)?))?;
            let mu = flat.slice(0, groups).gather(&idx2);
            let sigma = flat.slice(groups, groups).exp().gather(&idx2);
            m.plate("values", 24, |m| m.observe("x", Normal::new(mu, sigma)?, &x))
        };
        assert_same(nle, exact, &u);
    }
}

#[test]
fn gathered_rows_cost_one_estimator_call_per_group() {
    let (x, loc) = chips();
    let est = ExactPoisson::default();
    let model = |m: &mut Model<'_>| -> Result<(), PplError> {
        let lam = m.plate("loc", 5, |m| m.sample("lam", Gamma::new(2.0, 0.2)?))?;
        m.plate("data", x.len(), |m| {
            m.observe("obs", NeuralLikelihood::new(&est, lam.gather(&loc))?, &x)
        })
    };
    let mut lj = LogJoint::new(model).unwrap();
    let before = est.calls.load(Ordering::Relaxed);
    let mut g = [0.0; 5];
    lj.log_density_grad(&[2.2; 5], &mut g).unwrap();
    assert_eq!(est.calls.load(Ordering::Relaxed) - before, 5);
}

/// Per-trial covariates through a table of cells: θ = (μ_g + β·c, ln σ) for group g and
/// condition c ∈ {0, 1}, one row per (group, condition) built with `Tape::stack`, each
/// trial gathering its cell's row. Same density and gradient as built-in Normals, and one
/// estimator call per cell present (the grouping fast path still applies).
#[test]
fn per_trial_covariates_through_a_table_of_cells() {
    let (groups, trials) = (3, 20);
    let group: Vec<usize> = (0..trials).map(|i| (i * 7) % groups).collect();
    let cond: Vec<usize> = (0..trials).map(|i| (i / 3) % 2).collect();
    let cell: Vec<usize> = group.iter().zip(&cond).map(|(g, c)| 2 * g + c).collect();
    let cell_group: Vec<usize> = (0..2 * groups).map(|k| k / 2).collect();
    let cell_cond: Vec<f64> = (0..2 * groups).map(|k| (k % 2) as f64).collect();
    let x: Vec<f64> = (0..2 * trials)
        .map(|i| ((i * 37) % 11) as f64 * 0.2 - 1.0)
        .collect();
    let est = ExactGaussian;
    let nle = |m: &mut Model<'_>| -> Result<(), PplError> {
        let mu = m.plate("g", groups, |m| m.sample("mu", Normal::new(0.0, 1.0)?))?;
        let beta = m.sample("beta", Normal::new(0.0, 1.0)?)?;
        let ls = m.sample("ls", Normal::new(0.0, 1.0)?)?;
        let drift = mu.gather(&cell_group) + beta * m.data(&cell_cond);
        let table = m.tape().stack(&[drift, ls]);
        m.plate("rows", trials, |m| {
            m.observe("x", NeuralLikelihood::new(&est, table.gather(&cell))?, &x)
        })
    };
    let exact = |m: &mut Model<'_>| -> Result<(), PplError> {
        let mu = m.plate("g", groups, |m| m.sample("mu", Normal::new(0.0, 1.0)?))?;
        let beta = m.sample("beta", Normal::new(0.0, 1.0)?)?;
        let ls = m.sample("ls", Normal::new(0.0, 1.0)?)?;
        let twice = |v: &[usize]| -> Vec<usize> { v.iter().flat_map(|&i| [i, i]).collect() };
        let c2: Vec<f64> = cond.iter().flat_map(|&c| [c as f64, c as f64]).collect();
        let mean = mu.gather(&twice(&group)) + beta * m.data(&c2);
        m.plate("values", 2 * trials, |m| {
            m.observe("x", Normal::new(mean, ls.exp())?, &x)
        })
    };
    for u in [[0.3, -0.2, 0.9, 0.5, -0.4], [-1.0, 1.0, 0.0, -0.5, 0.7]] {
        assert_same(nle, exact, &u);
    }
}

#[test]
fn per_row_log_prob_and_its_gradient_match_poisson() {
    let est = ExactPoisson::default();
    let x = [3.0, 0.0, 7.0];
    let w = [0.5, -1.0, 2.0];
    let eval = |use_nle: bool| {
        let tape = Tape::new();
        let lam = tape.vector(&[2.0, 4.0, 6.5]);
        let lp = if use_nle {
            NeuralLikelihood::new(&est, lam)
                .unwrap()
                .log_prob(&tape, Operand::from(&x[..]))
        } else {
            Poisson::new(lam)
                .unwrap()
                .log_prob(&tape, Operand::from(&x[..]))
        };
        let out = lp.dot(tape.constant_vector(&w));
        tape.backward(out).unwrap();
        (lp.value(), lam.grad())
    };
    let (a, b) = (eval(true), eval(false));
    for (p, q) in a.0.iter().zip(&b.0).chain(a.1.iter().zip(&b.1)) {
        assert!((p - q).abs() <= TOL * q.abs().max(1.0), "{p} vs {q}");
    }
}

#[test]
fn support_and_shapes_follow_the_estimator() {
    let tape = Tape::new();
    let p = ExactPoisson::default();
    let shared = NeuralLikelihood::new(&p, 3.0).unwrap();
    assert_eq!(shared.batch_shape(), Shape::SCALAR);
    assert_eq!(shared.support(), ppl::Constraint::IntegerInterval(0, 1000));
    let rows = NeuralLikelihood::new(&p, tape.vector(&[1.0, 2.0])).unwrap();
    assert_eq!(rows.batch_shape(), Shape::vector(2));
    let g = NeuralLikelihood::new(&ExactGaussian, vec![0.0, 0.0]).unwrap();
    assert_eq!(
        (g.batch_shape(), g.event_shape()),
        (Shape::SCALAR, Shape::vector(2))
    );
    assert_eq!(g.support(), ppl::Constraint::RealVector);
}

#[test]
fn dimension_errors_are_errors() {
    let tape = Tape::new();
    // θ of width 3 for an estimator with a 2-D context.
    let bad = NeuralLikelihood::new(&ExactGaussian, tape.var(&[0.0; 6], Shape::matrix(2, 3)));
    assert!(matches!(bad, Err(PplError::ShapeMismatch { .. })));
    assert!(matches!(
        NeuralLikelihood::new(&ExactGaussian, vec![0.0; 3]),
        Err(PplError::ShapeMismatch { .. })
    ));
    assert!(matches!(
        NeuralLikelihood::new(&ExactGaussian, vec![0.0, f64::NAN]),
        Err(PplError::InvalidParameter { .. })
    ));
    // Two θ rows but three x rows: the model reports a shape mismatch.
    let est = ExactPoisson::default();
    let model = |m: &mut Model<'_>| -> Result<(), PplError> {
        let lam = m.plate("loc", 2, |m| m.sample("lam", Gamma::new(2.0, 0.2)?))?;
        m.observe("obs", NeuralLikelihood::new(&est, lam)?, &[1.0, 2.0, 3.0])
    };
    assert!(matches!(
        ppl::Run::new(0).trace(&model),
        Err(PplError::SiteShape { .. } | PplError::ShapeMismatch { .. })
    ));
    // Rows of x whose width does not divide the data.
    let g = NeuralLikelihood::new(&ExactGaussian, vec![0.0, 0.0]).unwrap();
    let _ = g.log_prob_sum(&tape, Operand::from(&[1.0, 2.0, 3.0][..]));
    assert!(matches!(tape.error(), Some(PplError::ShapeMismatch { .. })));
}
